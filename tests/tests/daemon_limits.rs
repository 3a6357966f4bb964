//! The daemon's memory and time are bounded: pictures are sized from their headers before
//! they are decoded, heavy calls share a memory budget (waiting their turn), and work
//! stops at its caller's deadline with DEADLINE_EXCEEDED.

use std::time::{Duration, Instant};

use apprentice_e2e::Daemon;
use apprentice_e2e::fuzz::crc32;
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use tonic::Code;
use tonic::transport::Channel;

async fn client(d: &Daemon) -> ApprenticeClient<Channel> {
    ApprenticeClient::connect(d.url()).await.unwrap().max_decoding_message_size(256 << 20)
}

/// A few dozen bytes that claim to be a `side`² RGBA picture: the header a
/// decompression bomb starts with.
fn png_claiming(side: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]); // 8-bit RGBA
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

fn header(w: u32, h: u32) -> pb::Header {
    pb::Header { width: w, height: h, ..Default::default() }
}

fn stroke(i: usize, size: f32) -> pb::Op {
    let y = (i % 500) as f32 * 4.0;
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState { size, ..Default::default() }),
            points: vec![
                pb::Point { x: 0.0, y, ..Default::default() },
                pb::Point { x: 2000.0, y: 2000.0 - y, ..Default::default() },
            ],
        })),
    }
}

#[tokio::test]
async fn a_picture_declaring_a_huge_size_is_refused_before_it_is_decoded() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let bomb = png_claiming(11_585);
    assert!(bomb.len() < 100);
    let request = pb::ContinueRequest {
        source: Some(pb::continue_request::Source::History(pb::History {
            header: Some(header(64, 64)),
            ops: vec![],
        })),
        count: 1,
        reference_png: bomb.clone(),
        ..Default::default()
    };
    let e = c.r#continue(request).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("reference_png") && e.message().contains("11585x11585"), "{e:?}");

    let id = c
        .open_session(pb::OpenSessionRequest {
            document_id: "doc".into(),
            header: Some(header(64, 64)),
            editor: "t".into(),
            editor_version: "1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .session_id;
    let e = c
        .upload_snapshot(pb::UploadSnapshotRequest {
            session_id: id,
            op_count: 0,
            image: Some(pb::upload_snapshot_request::Image::Png(bomb)),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("11585x11585 image for a 64x64 canvas"), "{e:?}");
}

#[tokio::test]
async fn a_render_past_its_deadline_ends_with_deadline_exceeded_and_frees_the_daemon() {
    // Room for one 4096² Render (384 MiB) at a time.
    let d = Daemon::start_with_settings("[server]\nmax_work_mib = 400\n");
    let mut c = client(&d).await;
    // Seconds of painting: many big strokes on a big canvas.
    let slow =
        pb::History { header: Some(header(4096, 4096)), ops: (0..3000).map(|i| stroke(i, 400.0)).collect() };
    let mut request = tonic::Request::new(pb::RenderRequest {
        source: Some(pb::render_request::Source::History(slow)),
        max_side: 64,
    });
    request.set_timeout(Duration::from_millis(700));
    let start = Instant::now();
    let e = c.render(request).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    // The replay stopped and gave its memory back: another 4096² Render is admitted and
    // done long before the first one's painting would have ended.
    let blank = pb::History { header: Some(header(4096, 4096)), ops: vec![] };
    let mut request = tonic::Request::new(pb::RenderRequest {
        source: Some(pb::render_request::Source::History(blank)),
        max_side: 64,
    });
    request.set_timeout(Duration::from_secs(5));
    let start = Instant::now();
    c.render(request).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
}

#[tokio::test]
async fn a_continue_past_its_deadline_stops_while_its_painter_starts() {
    // Room for one 4096² Continue (1 GiB) at a time.
    let d = Daemon::start_with_settings("[server]\nmax_work_mib = 1100\n");
    let mut c = client(&d).await;
    // Big strokes on a big canvas, painted twice before the first op: the canvas as it is
    // (on every core) and, as the painter starts, as it was before the model's context
    // (op by op, about 4 s more). The deadline falls in the second: a second after the
    // first takes on this machine, as a Render of the same history measures it.
    let slow =
        pb::History { header: Some(header(4096, 4096)), ops: (0..1000).map(|i| stroke(i, 400.0)).collect() };
    let start = Instant::now();
    let render =
        pb::RenderRequest { source: Some(pb::render_request::Source::History(slow.clone())), max_side: 64 };
    c.render(render).await.unwrap();
    let deadline = start.elapsed() + Duration::from_secs(1);
    let continuing = |history: pb::History, timeout: Duration| {
        let mut request = tonic::Request::new(pb::ContinueRequest {
            source: Some(pb::continue_request::Source::History(history)),
            count: 1,
            ..Default::default()
        });
        request.set_timeout(timeout);
        request
    };
    let start = Instant::now();
    let e = match c.r#continue(continuing(slow, deadline)).await {
        Ok(stream) => stream.into_inner().message().await.expect_err("the first op comes past the deadline"),
        Err(e) => e,
    };
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    // Not when the first op would have been ready (3 s or more later).
    let late = start.elapsed().saturating_sub(deadline);
    assert!(late < Duration::from_millis(1500), "{late:?} past the deadline of {deadline:?}");
    // The painter stopped and gave its memory back: another 4096² Continue is admitted at once.
    let blank = pb::History { header: Some(header(4096, 4096)), ops: vec![] };
    let start = Instant::now();
    let mut stream = c.r#continue(continuing(blank, Duration::from_secs(30))).await.unwrap().into_inner();
    while stream.message().await.unwrap().is_some() {}
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn heavy_calls_beyond_the_memory_budget_wait_their_turn_or_are_refused() {
    // 48 MiB: one 1024² Render (24 MiB) at a time... two at most.
    let d = Daemon::start_with_settings("[server]\nmax_work_mib = 48\n");
    let c = client(&d).await;
    let history =
        pb::History { header: Some(header(1024, 1024)), ops: (0..40).map(|i| stroke(i, 60.0)).collect() };
    let calls = (0..6).map(|_| {
        let (mut c, h) = (c.clone(), history.clone());
        tokio::spawn(async move {
            c.render(pb::RenderRequest { source: Some(pb::render_request::Source::History(h)), max_side: 32 })
                .await
        })
    });
    for call in calls {
        let r = call.await.unwrap().expect("queued, then rendered");
        assert_eq!((r.get_ref().width, r.get_ref().height), (32, 32));
    }
    // A call bigger than the whole budget is refused with a hint, not queued forever.
    let big = pb::History { header: Some(header(4096, 4096)), ops: vec![] };
    let e = c
        .clone()
        .render(pb::RenderRequest { source: Some(pb::render_request::Source::History(big)), max_side: 32 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("max_work_mib") && e.metadata().get("retry-after-ms").is_some(), "{e:?}");
}
