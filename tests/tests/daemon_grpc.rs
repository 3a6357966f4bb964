//! The real daemon, driven over a real socket by a Rust tonic client.

use apprentice_e2e::{Daemon, examples_dir};
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

async fn client(d: &Daemon) -> ApprenticeClient<Channel> {
    ApprenticeClient::connect(d.url()).await.expect("connect").max_decoding_message_size(256 << 20)
}

fn header(w: u32, h: u32) -> pb::Header {
    pb::Header {
        width: w,
        height: h,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        ..Default::default()
    }
}

fn dab(x: f32, y: f32) -> pb::Op {
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 6.0,
                color: Some(pb::Color { r: 0.8, g: 0.1, b: 0.1, a: None }),
                ..Default::default()
            }),
            points: vec![
                pb::Point { x, y, ..Default::default() },
                pb::Point { x: x + 10.0, y, ..Default::default() },
            ],
        })),
    }
}

async fn open(c: &mut ApprenticeClient<Channel>, doc: &str, h: pb::Header) -> String {
    c.open_session(pb::OpenSessionRequest {
        document_id: doc.into(),
        header: Some(h),
        editor: "test".into(),
        editor_version: "1".into(),
    })
    .await
    .expect("open session")
    .into_inner()
    .session_id
}

async fn append(
    c: &mut ApprenticeClient<Channel>,
    id: &str,
    sequence: u64,
    ops: Vec<pb::Op>,
) -> Result<pb::AppendOpsResponse, tonic::Status> {
    c.append_ops(pb::AppendOpsRequest { session_id: id.into(), sequence, ops }).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn a_session_stores_batches_in_order_and_retries_do_not_duplicate() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let id = open(&mut c, "doc-a", header(64, 64)).await;
    let batch = |k: f32| vec![dab(k, 10.0), dab(k, 20.0)];

    let r = append(&mut c, &id, 0, batch(1.0)).await.unwrap();
    assert_eq!((r.next_sequence, r.op_count, r.duplicate), (1, 2, false));
    append(&mut c, &id, 1, batch(2.0)).await.unwrap();
    let retry = append(&mut c, &id, 1, batch(2.0)).await.unwrap();
    assert_eq!((retry.next_sequence, retry.op_count, retry.duplicate), (2, 4, true));

    let gap = append(&mut c, &id, 5, batch(3.0)).await.unwrap_err();
    assert_eq!(gap.code(), Code::FailedPrecondition);
    assert!(gap.message().contains("next expected sequence is 2"), "{}", gap.message());
    assert_eq!(gap.metadata().get("apprentice-expected-sequence").unwrap(), "2");

    let history = c
        .get_history(pb::GetHistoryRequest { session_id: id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.ops, [batch(1.0), batch(2.0)].concat());
    assert_eq!(history.header, Some(header(64, 64)));

    // Re-opening the document resumes where it was.
    let again = c
        .open_session(pb::OpenSessionRequest {
            document_id: "doc-a".into(),
            header: Some(header(64, 64)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.session_id.as_str(), again.next_sequence, again.op_count), (id.as_str(), 2, 4));
    let list = c.list_sessions(pb::ListSessionsRequest {}).await.unwrap().into_inner();
    assert_eq!(list.sessions.len(), 1);
    assert_eq!(list.sessions[0].op_count, 4);
}

#[tokio::test]
async fn bad_input_gets_a_status_that_names_the_field() {
    let d = Daemon::start(&["--store", ":memory:"]);
    let mut c = client(&d).await;
    let id = open(&mut c, "doc", header(32, 32)).await;

    let mut bad = dab(1.0, 1.0);
    if let Some(Kind::Stroke(s)) = &mut bad.kind {
        s.brush.as_mut().unwrap().size = f32::NAN;
    }
    let e = append(&mut c, &id, 0, vec![dab(1.0, 1.0), bad]).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("ops[1].stroke.brush.size: must be a number"), "{}", e.message());
    let e = append(&mut c, &id, 0, vec![dab(1.0, 1.0); 10_001]).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("limit of 10000"), "{}", e.message());
    let many_points = pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Pencil as i32,
            brush: Some(pb::BrushState { size: 1.0, ..Default::default() }),
            points: vec![pb::Point::default(); 100_001],
        })),
    };
    let e = append(&mut c, &id, 0, vec![many_points]).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().starts_with("ops[0].stroke.points"), "{}", e.message());
    assert_eq!(append(&mut c, "no-such-session", 0, vec![]).await.unwrap_err().code(), Code::NotFound);
    let history = c
        .get_history(pb::GetHistoryRequest { session_id: id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(history.ops.is_empty(), "refused batches store nothing");

    let e = c
        .open_session(pb::OpenSessionRequest {
            document_id: "big".into(),
            header: Some(header(20_000, 10)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().starts_with("header.width"), "{}", e.message());
    let e = c
        .open_session(pb::OpenSessionRequest {
            document_id: String::new(),
            header: Some(header(8, 8)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.message().starts_with("document_id")), (Code::InvalidArgument, true));

    let cont = |count, painter: &str| pb::ContinueRequest {
        source: Some(pb::continue_request::Source::SessionId(id.clone())),
        count,
        painter: painter.into(),
        ..Default::default()
    };
    let e = c.r#continue(cont(0, "")).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "count: must be at least 1"));
    let e = c.r#continue(cont(5, "teacher")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("reference_png: the teacher painter copies a reference"),
        "{}",
        e.message()
    );
    let e = c.r#continue(cont(5, "picasso")).await.unwrap_err();
    assert!(
        e.message().contains("unknown painter \"picasso\" (available: transformer, search, teacher, sketch)"),
        "{}",
        e.message()
    );

    // A message over the size limit is refused before it is decoded (tonic answers OUT_OF_RANGE).
    let patch = pb::Op {
        kind: Some(Kind::RasterPatch(pb::RasterPatch {
            width: 4096,
            height: 4200,
            rgba: vec![0; 4096 * 4200 * 4],
            ..Default::default()
        })),
    };
    let e = append(&mut c, &id, 0, vec![patch]).await.unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{}", e.message());
    assert!(e.message().contains("message length too large"), "{}", e.message());
}

#[tokio::test]
async fn continue_streams_valid_ops_and_stops_when_the_client_goes() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let id = open(&mut c, "doc", header(96, 64)).await;
    append(&mut c, &id, 0, vec![dab(10.0, 10.0), dab(40.0, 30.0)]).await.unwrap();

    let request = |count| pb::ContinueRequest {
        source: Some(pb::continue_request::Source::SessionId(id.clone())),
        count,
        seed: 3,
        ..Default::default()
    };
    let mut stream = c.r#continue(request(25)).await.unwrap().into_inner();
    let mut ops = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        assert_eq!(event.index as usize, ops.len());
        let op = event.op.unwrap();
        apprentice::ops::validate::op(&op, &header(96, 64)).expect("streamed ops are valid");
        ops.push(op);
    }
    assert_eq!(ops.len(), 25);

    // Cancel after two of a million-op run: the daemon stops painting and keeps answering.
    let mut long = c.r#continue(request(100_000)).await.unwrap().into_inner();
    long.next().await.unwrap().unwrap();
    long.next().await.unwrap().unwrap();
    drop(long);
    let info =
        tokio::time::timeout(std::time::Duration::from_secs(5), c.get_info(pb::GetInfoRequest {})).await;
    assert_eq!(
        info.expect("prompt answer").unwrap().into_inner().painters,
        ["transformer", "search", "teacher", "sketch"]
    );

    // A deadline ends the stream with DEADLINE_EXCEEDED.
    let mut req = tonic::Request::new(request(100_000));
    req.set_timeout(std::time::Duration::from_millis(300));
    let mut stream = c.r#continue(req).await.unwrap().into_inner();
    let mut got = 0;
    let end = loop {
        match stream.next().await {
            Some(Ok(_)) => got += 1,
            Some(Err(e)) => break Some(e.code()),
            None => break None,
        }
    };
    assert!(got < 100_000);
    assert!(matches!(end, Some(Code::DeadlineExceeded | Code::Cancelled) | None), "{end:?}");
}

#[tokio::test]
async fn render_matches_the_cli_and_snapshots_resync_the_canvas() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let example = examples_dir().join("still-life.jsonl");
    let history = apprentice::ops::history::read_path(&example).unwrap();
    let rendered = c
        .render(pb::RenderRequest {
            source: Some(pb::render_request::Source::History(history.clone())),
            max_side: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rendered.width, rendered.height), (320, 240));
    let tmp = tempfile::tempdir().unwrap();
    let cli_png = tmp.path().join("cli.png");
    let run =
        apprentice_e2e::apprentice(&["replay", example.to_str().unwrap(), "-o", cli_png.to_str().unwrap()]);
    assert!(run.status.success());
    let pixels = |png: &[u8]| image::load_from_memory(png).unwrap().to_rgba8();
    assert_eq!(pixels(&rendered.png), pixels(&std::fs::read(&cli_png).unwrap()));

    let thumb = c
        .render(pb::RenderRequest {
            source: Some(pb::render_request::Source::History(history)),
            max_side: 100,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((thumb.width, thumb.height), (100, 75));

    // The editor says its canvas is all green after op 1: the daemon's view follows.
    let id = open(&mut c, "doc", header(40, 30)).await;
    append(&mut c, &id, 0, vec![dab(5.0, 5.0)]).await.unwrap();
    let green: Vec<u8> = [30u8, 200, 60, 255].repeat(40 * 30);
    c.upload_snapshot(pb::UploadSnapshotRequest {
        session_id: id.clone(),
        op_count: 1,
        image: Some(pb::upload_snapshot_request::Image::Rgba(green)),
    })
    .await
    .unwrap();
    append(&mut c, &id, 1, vec![dab(5.0, 20.0)]).await.unwrap();
    let session_png = c
        .render(pb::RenderRequest {
            source: Some(pb::render_request::Source::SessionId(id.clone())),
            max_side: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .png;
    let img = pixels(&session_png);
    assert_eq!(img.get_pixel(35, 5).0, [30, 200, 60, 255], "from the snapshot");
    assert_eq!(img.get_pixel(10, 5).0, [30, 200, 60, 255], "op 0 is inside the snapshot, not repainted");
    assert_eq!(img.get_pixel(10, 20).0, [204, 26, 26, 255], "op 1 painted over the snapshot");

    let e = c
        .upload_snapshot(pb::UploadSnapshotRequest {
            session_id: id,
            op_count: 9,
            image: Some(pb::upload_snapshot_request::Image::Rgba(vec![0; 40 * 30 * 4])),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().starts_with("op_count:"), "{}", e.message());
}

#[tokio::test]
async fn health_and_reflection_answer_like_any_grpc_server() {
    let d = Daemon::start(&[]);
    let channel = Channel::from_shared(d.url()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let r = health
        .check(tonic_health::pb::HealthCheckRequest { service: "apprentice.v1.Apprentice".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses =
        reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"apprentice.v1.Apprentice") && names.contains(&"grpc.health.v1.Health"),
        "{names:?}"
    );

    // v1alpha too: what grpcio's Python reflection client speaks.
    use tonic_reflection::pb::v1alpha as alpha;
    let mut reflection = alpha::server_reflection_client::ServerReflectionClient::new(
        Channel::from_shared(d.url()).unwrap().connect().await.unwrap(),
    );
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut responses =
        reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    assert!(list.service.iter().any(|s| s.name == "apprentice.v1.Apprentice"));
}

#[tokio::test]
async fn a_token_is_required_on_every_call_when_configured() {
    let d = Daemon::start(&["--token", "s3cret"]);
    let mut c = client(&d).await;
    let e = c.get_info(pb::GetInfoRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let mut wrong = tonic::Request::new(pb::GetInfoRequest {});
    wrong.metadata_mut().insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(c.get_info(wrong).await.unwrap_err().code(), Code::Unauthenticated);
    let mut right = tonic::Request::new(pb::GetInfoRequest {});
    right.metadata_mut().insert("authorization", "Bearer s3cret".parse().unwrap());
    c.get_info(right).await.unwrap();
    // Health is guarded too.
    let channel = Channel::from_shared(d.url()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let e = health.check(tonic_health::pb::HealthCheckRequest::default()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn listening_beyond_loopback_generates_a_private_token() {
    let d = Daemon::start(&["--address", "0.0.0.0:0"]);
    let token_file = d.home.path().join("config/token");
    let token = std::fs::read_to_string(&token_file).expect("a token file was generated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let port = d.address.rsplit(':').next().unwrap();
    let mut c = ApprenticeClient::connect(format!("http://127.0.0.1:{port}")).await.unwrap();
    assert_eq!(c.get_info(pb::GetInfoRequest {}).await.unwrap_err().code(), Code::Unauthenticated);
    let mut right = tonic::Request::new(pb::GetInfoRequest {});
    right.metadata_mut().insert("authorization", format!("Bearer {}", token.trim()).parse().unwrap());
    c.get_info(right).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_shuts_down_gracefully_even_with_a_stream_open() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    c.get_info(pb::GetInfoRequest {}).await.unwrap();
    let history = pb::History { header: Some(header(32, 32)), ops: vec![] };
    let request = pb::ContinueRequest {
        source: Some(pb::continue_request::Source::History(history)),
        count: 100_000,
        ..Default::default()
    };
    let mut open_stream = c.r#continue(request).await.unwrap().into_inner();
    open_stream.next().await.unwrap().unwrap();
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || d.terminate()).await.unwrap();
    assert!(status.success(), "{status:?}");
    // The grace period for open calls is 5 s.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn copy_mode_continue_paints_towards_the_reference_with_the_teacher() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    // The reference: left half orange, right half blue, at twice the canvas size (it is scaled).
    let reference = image::RgbaImage::from_fn(128, 96, |x, _| {
        if x < 64 { image::Rgba([230, 140, 30, 255]) } else { image::Rgba([40, 80, 200, 255]) }
    });
    let mut png = Vec::new();
    reference.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let history = pb::History { header: Some(header(64, 48)), ops: vec![] };
    let request = pb::ContinueRequest {
        source: Some(pb::continue_request::Source::History(history.clone())),
        count: 60,
        reference_png: png,
        ..Default::default()
    };
    let mut stream = c.r#continue(request).await.unwrap().into_inner();
    let mut ops = Vec::new();
    while let Some(event) = stream.next().await {
        ops.push(event.unwrap().op.unwrap());
    }
    assert!(matches!(ops[0].kind, Some(Kind::Fill(_))), "the teacher blocks in first");
    let painted = pb::History { ops, ..history };
    let png = c
        .render(pb::RenderRequest { source: Some(pb::render_request::Source::History(painted)), max_side: 0 })
        .await
        .unwrap()
        .into_inner()
        .png;
    let img = image::load_from_memory(&png).unwrap().to_rgba8();
    let (left, right) = (img.get_pixel(10, 24).0, img.get_pixel(54, 24).0);
    assert!(left[0] > 180 && left[2] < 90, "left is orange: {left:?}");
    assert!(right[2] > 150 && right[0] < 100, "right is blue: {right:?}");
}

#[tokio::test]
async fn long_histories_come_in_pages_and_sessions_can_be_deleted() {
    // A 1 MiB message limit, so that a modest session is "too big" to send whole.
    let d = Daemon::start_with_settings("[server]\nmax_message_mib = 1\n");
    let mut c = client(&d).await;
    let id = open(&mut c, "doc", header(64, 48)).await;
    for sequence in 0..30 {
        let ops = (0..1000).map(|i| dab(i as f32 % 50.0, 10.0)).collect();
        append(&mut c, &id, sequence, ops).await.unwrap();
    }
    let whole = pb::GetHistoryRequest { session_id: id.clone(), ..Default::default() };
    let e = c.get_history(whole).await.unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    assert!(e.message().contains("start_op, max_ops"), "the status says how: {e:?}");
    // ... and how big a page fits: pages of that many ops come back whole.
    let fits: u64 =
        e.message().rsplit("max_ops = ").next().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((1000..30_000).contains(&fits), "{fits} ops of ~30 bytes fit in 1 MiB");

    let mut ops = Vec::new();
    loop {
        let page =
            pb::GetHistoryRequest { session_id: id.clone(), start_op: ops.len() as u64, max_ops: fits };
        let page = c.get_history(page).await.unwrap().into_inner();
        assert_eq!(page.header, Some(header(64, 48)));
        if page.ops.is_empty() {
            break;
        }
        ops.extend(page.ops);
    }
    assert_eq!(ops.len(), 30_000);
    assert_eq!(ops[29_999], dab(999.0 % 50.0, 10.0));

    let deleted = c.delete_session(pb::DeleteSessionRequest { session_id: id.clone() }).await.unwrap();
    assert_eq!(deleted.into_inner().ops_deleted, 30_000);
    let e = c.get_history(pb::GetHistoryRequest { session_id: id, ..Default::default() }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(c.list_sessions(pb::ListSessionsRequest {}).await.unwrap().into_inner().sessions.is_empty());
}

#[tokio::test]
async fn continue_can_imagine_with_the_magic_brush_and_show_what_it_imagined() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let history = pb::History { header: Some(header(64, 48)), ops: vec![dab(10.0, 10.0), dab(30.0, 30.0)] };
    let request = |imagine: pb::Imagine| pb::ContinueRequest {
        source: Some(pb::continue_request::Source::History(history.clone())),
        count: 7,
        seed: 5,
        imagine: Some(imagine),
        ..Default::default()
    };
    // Imagined again every 3 ops, each picture shown before the ops that paint towards it; the
    // style it cannot find is said in the first event.
    let imagine = pb::Imagine {
        strength: 0.6,
        guidance: Some(pb::imagine::Guidance::Style("nowhere".into())),
        every: 3,
        preview: true,
    };
    let mut stream = c.r#continue(request(imagine.clone())).await.unwrap().into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    let shown: Vec<u32> = events.iter().filter(|e| !e.imagined_png.is_empty()).map(|e| e.index).collect();
    assert_eq!(shown, [0, 3, 6], "imagined before ops 0, 3 and 6");
    let ops: Vec<&pb::Op> = events.iter().filter_map(|e| e.op.as_ref()).collect();
    assert_eq!(ops.len(), 7);
    for op in &ops {
        apprentice::ops::validate::op(op, &header(64, 48)).expect("streamed ops are valid");
    }
    assert!(
        events.iter().all(|e| e.op.is_none() != e.imagined_png.is_empty()),
        "a picture or an op, not both"
    );
    assert!(events[0].note.contains("nowhere"), "{:?}", events[0].note);
    assert!(events[1..].iter().all(|e| e.note.is_empty()));
    let picture = image::load_from_memory(&events[0].imagined_png).unwrap();
    assert_eq!((picture.width(), picture.height()), (64, 48));

    // Without preview, only ops; the same seed, the same ops.
    let quiet = pb::Imagine { preview: false, ..imagine };
    let mut stream = c.r#continue(request(quiet)).await.unwrap().into_inner();
    let mut again = Vec::new();
    while let Some(event) = stream.next().await {
        again.push(event.unwrap().op.expect("every event is an op"));
    }
    assert_eq!(again.iter().collect::<Vec<_>>(), ops);

    // A prompt the built-in brush cannot read is said, not ignored in silence.
    let prompt = pb::Imagine {
        guidance: Some(pb::imagine::Guidance::Prompt("a red barn".into())),
        ..Default::default()
    };
    let first = c.r#continue(request(prompt)).await.unwrap().into_inner().next().await.unwrap().unwrap();
    assert!(first.note.contains("reads no text"), "{:?}", first.note);

    // What cannot imagine is refused, naming the field.
    let refused = |mut r: pb::ContinueRequest, painter: &str, png: Vec<u8>| {
        r.painter = painter.into();
        r.reference_png = png;
        r
    };
    let mut png = Vec::new();
    image::RgbaImage::new(8, 8)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    for (r, field) in [
        (refused(request(pb::Imagine::default()), "transformer", vec![]), "imagine"),
        (refused(request(pb::Imagine::default()), "", png), "imagine"),
        (request(pb::Imagine { strength: 1.5, ..Default::default() }), "imagine.strength"),
    ] {
        let e = c.r#continue(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(e.message().starts_with(&format!("{field}:")), "{}", e.message());
    }
}
