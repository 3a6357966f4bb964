//! The magic brush end to end: the real daemon's streaming MagicBrush call over a
//! real socket (tonic client), histories with magic-brush ops rendered with and
//! without recorded pixels, and `apprentice magic` on real files.

use apprentice_e2e::{Daemon, apprentice, stderr};
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::magic_brush_event::Event;
use pb::op::Kind;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

async fn client(d: &Daemon) -> ApprenticeClient<Channel> {
    ApprenticeClient::connect(d.url()).await.expect("connect").max_decoding_message_size(256 << 20)
}

/// A 96×64 picture: sky-blue top, a green band below, and a red blot in the sky where
/// the tests brush: something to take away.
fn history(ops: Vec<pb::Op>) -> pb::History {
    let fill = |y: f32, r: f32, g: f32, b: f32| pb::Op {
        kind: Some(Kind::Fill(pb::Fill {
            x: 1.0,
            y,
            color: Some(pb::Color { r, g, b, a: None }),
            tolerance: 0.0,
            contiguous: false,
        })),
    };
    let bar = pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 30.0,
                color: Some(pb::Color { r: 0.3, g: 0.7, b: 0.3, a: None }),
                hardness: Some(1.0),
                ..Default::default()
            }),
            points: vec![
                pb::Point { x: -20.0, y: 56.0, ..Default::default() },
                pb::Point { x: 120.0, y: 56.0, ..Default::default() },
            ],
        })),
    };
    let blot = pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 8.0,
                color: Some(pb::Color { r: 0.9, g: 0.1, b: 0.1, a: None }),
                hardness: Some(1.0),
                ..Default::default()
            }),
            points: vec![
                pb::Point { x: 42.0, y: 22.0, ..Default::default() },
                pb::Point { x: 48.0, y: 22.0, ..Default::default() },
            ],
        })),
    };
    let mut all = vec![fill(1.0, 0.55, 0.75, 0.95), bar, blot];
    all.extend(ops);
    pb::History {
        header: Some(pb::Header {
            width: 96,
            height: 64,
            background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
            ..Default::default()
        }),
        ops: all,
    }
}

fn dab(guidance: Option<pb::magic_brush::Guidance>) -> pb::MagicBrush {
    pb::MagicBrush {
        path: vec![pb::PathPoint { x: 30.0, y: 20.0 }, pb::PathPoint { x: 60.0, y: 24.0 }],
        radius: 8.0,
        guidance,
        strength: 1.0,
        seed: 5,
        result: None,
        // Texture cloned from the canvas nearby, as the editors' magic brush asks by default.
        texture: 1.0,
    }
}

fn request(h: &pb::History, dab: pb::MagicBrush, steps: u32) -> pb::MagicBrushRequest {
    pb::MagicBrushRequest {
        source: Some(pb::magic_brush_request::Source::History(h.clone())),
        dab: Some(dab),
        steps,
    }
}

/// Every event of a MagicBrush call: the progress steps, then the done event.
async fn run(
    c: &mut ApprenticeClient<Channel>,
    r: pb::MagicBrushRequest,
) -> (Vec<(u32, u32)>, pb::MagicBrushDone) {
    let mut stream = c.magic_brush(r).await.unwrap().into_inner();
    let mut steps = Vec::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap().event.unwrap() {
            Event::Progress(p) => {
                assert!(done.is_none(), "progress after done");
                steps.push((p.step, p.steps));
            }
            Event::Done(d) => done = Some(d),
        }
    }
    (steps, done.expect("a done event"))
}

async fn render(c: &mut ApprenticeClient<Channel>, h: pb::History) -> image::RgbaImage {
    let png = c
        .render(pb::RenderRequest { source: Some(pb::render_request::Source::History(h)), max_side: 0 })
        .await
        .unwrap()
        .into_inner()
        .png;
    image::load_from_memory(&png).unwrap().to_rgba8()
}

/// Pixels that differ, as (x, y).
fn changed(a: &image::RgbaImage, b: &image::RgbaImage) -> Vec<(u32, u32)> {
    a.enumerate_pixels().filter(|(x, y, p)| b.get_pixel(*x, *y) != *p).map(|(x, y, _)| (x, y)).collect()
}

#[tokio::test]
async fn magic_brush_streams_progress_then_the_op_with_its_pixels() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let h = history(vec![]);
    let (steps, done) = run(&mut c, request(&h, dab(None), 4)).await;
    assert_eq!(steps, [(0, 4), (1, 4), (2, 4), (3, 4)]);
    assert_eq!(done.model, "brush (built in)");
    assert_eq!(done.note, "");
    let op = done.op.unwrap();
    let Some(Kind::MagicBrush(m)) = &op.kind else { panic!("a magic-brush op: {op:?}") };
    let patch = m.result.as_ref().expect("the pixels are recorded");
    assert!(patch.width >= 46 && patch.height >= 16, "{}x{}", patch.width, patch.height);
    apprentice::ops::validate::op(&op, h.header.as_ref().unwrap()).expect("the op is valid as it is");

    // Same request, same pixels; the op renders to a picture changed only around the path.
    let (_, again) = run(&mut c, request(&h, dab(None), 4)).await;
    assert_eq!(again.op.as_ref(), Some(&op));
    let before = render(&mut c, h.clone()).await;
    let after = render(&mut c, history(vec![op.clone()])).await;
    let diff = changed(&before, &after);
    assert!(!diff.is_empty());
    assert!(
        diff.iter().all(|&(x, y)| (20..=70).contains(&x) && (10..=34).contains(&y)),
        "only near the path"
    );
    // The blot is brushed away: sky all around it, sky is what fills the hole.
    let [r, g, b, _] = after.get_pixel(45, 22).0;
    assert!(
        [r, g, b].iter().zip([140, 191, 242]).all(|(&v, s)| (i32::from(v) - s).abs() < 40),
        "sky where the blot was: {:?}",
        [r, g, b]
    );

    // A prompt is not read by the built-in model: said, not silently dropped.
    let prompt = Some(pb::magic_brush::Guidance::Prompt("a red barn".into()));
    let (_, noted) = run(&mut c, request(&h, dab(prompt), 2)).await;
    assert!(noted.note.contains("reads no text"), "{}", noted.note);
}

#[tokio::test]
async fn histories_with_magic_ops_replay_identically_with_or_without_recorded_pixels() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let unrecorded = history(vec![pb::Op { kind: Some(Kind::MagicBrush(dab(None))) }]);
    let plain = render(&mut c, history(vec![])).await;
    let first = render(&mut c, unrecorded.clone()).await;
    assert_eq!(first, render(&mut c, unrecorded.clone()).await, "the built-in brush is deterministic");
    let diff = changed(&plain, &first);
    assert!(!diff.is_empty() && diff.iter().all(|&(x, y)| (20..=70).contains(&x) && (10..=34).contains(&y)));

    // Recorded pixels replay as they are: a daemon in another home gives the same picture,
    // and so does the command line.
    let (_, done) = run(&mut c, request(&history(vec![]), dab(None), 4)).await;
    let recorded = history(vec![done.op.unwrap()]);
    let other = Daemon::start(&[]);
    let mut c2 = client(&other).await;
    let here = render(&mut c, recorded.clone()).await;
    assert_eq!(here, render(&mut c2, recorded.clone()).await);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("recorded.jsonl");
    apprentice::ops::history::write_path(&recorded, &file).unwrap();
    let png = tmp.path().join("recorded.png");
    let out = apprentice(&["replay", file.to_str().unwrap(), "-o", png.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(image::open(&png).unwrap().to_rgba8(), here);

    // `replay --record` writes the pixels into a history that had none: it replays the same.
    let bare = tmp.path().join("bare.jsonl");
    apprentice::ops::history::write_path(&unrecorded, &bare).unwrap();
    let (kept, kept_png) = (tmp.path().join("kept.jsonl"), tmp.path().join("kept.png"));
    let out = apprentice(&[
        "replay",
        bare.to_str().unwrap(),
        "-o",
        kept_png.to_str().unwrap(),
        "--record",
        kept.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kept = apprentice::ops::history::read_path(&kept).unwrap();
    assert!(matches!(&kept.ops[3].kind, Some(Kind::MagicBrush(m)) if m.result.is_some()));
    assert_eq!(render(&mut c2, kept).await, first);
    assert_eq!(image::open(&kept_png).unwrap().to_rgba8(), first);
}

#[tokio::test]
async fn magic_brush_is_cancellable_and_checks_its_limits() {
    let d = Daemon::start(&[]);
    let mut c = client(&d).await;
    let h = history(vec![]);

    // Cancel after the first step of fifty: the daemon stops and keeps answering.
    let mut stream = c.magic_brush(request(&h, dab(None), 50)).await.unwrap().into_inner();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let info =
        tokio::time::timeout(std::time::Duration::from_secs(5), c.get_info(pb::GetInfoRequest {})).await;
    assert!(info.expect("a prompt answer").is_ok());

    // A deadline ends the stream between steps.
    let mut req = tonic::Request::new(request(&h, pb::MagicBrush { radius: 400.0, ..dab(None) }, 50));
    req.set_timeout(std::time::Duration::from_millis(200));
    let mut stream = c.magic_brush(req).await.unwrap().into_inner();
    let end = loop {
        match stream.next().await {
            Some(Ok(e)) => assert!(!matches!(e.event, Some(Event::Done(_))), "finished within 200 ms?"),
            Some(Err(e)) => break Some(e.code()),
            None => break None,
        }
    };
    assert!(matches!(end, Some(Code::DeadlineExceeded | Code::Cancelled) | None), "{end:?}");

    let error = |r: pb::MagicBrushRequest| {
        let mut c = c.clone();
        async move { c.magic_brush(r).await.map(|_| ()).unwrap_err() }
    };
    let e = error(request(&h, dab(None), 51)).await;
    assert_eq!((e.code(), e.message()), (Code::ResourceExhausted, "steps: 51, more than the limit of 50"));
    let e = error(request(&h, pb::MagicBrush { radius: 0.0, ..dab(None) }, 4)).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("dab.radius: "), "{}", e.message());
    let e = error(request(&h, pb::MagicBrush { texture: 1.5, ..dab(None) }, 4)).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("dab.texture: "), "{}", e.message());
    let e = error(pb::MagicBrushRequest { dab: None, ..request(&h, dab(None), 4) }).await;
    assert!(e.message().starts_with("dab: "), "{}", e.message());
    let mut big = history(vec![]);
    big.header.as_mut().unwrap().width = 4000;
    big.header.as_mut().unwrap().height = 4000;
    let sweep = pb::MagicBrush {
        path: vec![pb::PathPoint { x: 100.0, y: 100.0 }, pb::PathPoint { x: 3900.0, y: 3900.0 }],
        ..dab(None)
    };
    let e = error(request(&big, sweep, 4)).await;
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().starts_with("dab: the brushed region is "), "{}", e.message());
}

#[test]
fn the_watch_folder_records_the_pixels_of_magic_brush_dabs() {
    let tmp = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    let h = history(vec![pb::Op { kind: Some(Kind::MagicBrush(dab(None))) }]);
    apprentice::ops::history::write_path(&h, &inbox.join("sky.record.jsonl")).unwrap();
    let out = apprentice(&["watch", inbox.to_str().unwrap(), outbox.to_str().unwrap(), "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let recorded = apprentice::ops::history::read_path(&outbox.join("sky.recorded.jsonl")).unwrap();
    assert!(matches!(&recorded.ops[3].kind, Some(Kind::MagicBrush(m)) if m.result.is_some()));
    assert_eq!(recorded.ops[..3], h.ops[..3]);
    assert!(outbox.join("sky.record.png").exists());
}

#[test]
fn the_magic_command_repaints_under_the_path_and_names_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).display().to_string();
    let img = image::RgbaImage::from_fn(80, 60, |x, y| image::Rgba([(x * 3) as u8, (y * 4) as u8, 120, 255]));
    img.save(p("in.png")).unwrap();
    let out =
        apprentice(&["magic", &p("in.png"), "--path", "20,20;50,30", "--radius", "6", "-o", &p("out.png")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result = image::open(p("out.png")).unwrap().to_rgba8();
    let diff = changed(&img, &result);
    assert!(!diff.is_empty() && diff.iter().all(|&(x, y)| (12..=58).contains(&x) && (12..=38).contains(&y)));

    // A mask picture works the same way; a prompt is warned about.
    let mut mask = image::RgbaImage::from_pixel(80, 60, image::Rgba([0, 0, 0, 255]));
    for (x, y) in (40..60).flat_map(|x| (10..30).map(move |y| (x, y))) {
        mask.put_pixel(x, y, image::Rgba([255, 255, 255, 255]));
    }
    mask.save(p("mask.png")).unwrap();
    let out = apprentice(&[
        "magic",
        &p("in.png"),
        "--mask",
        &p("mask.png"),
        "--prompt",
        "a cat",
        "-o",
        &p("m.png"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("reads no text"), "{}", stderr(&out));

    // A style (a picture in the data folder's styles/) colours the fill.
    std::fs::create_dir_all(tmp.path().join("data/styles")).unwrap();
    image::RgbaImage::from_pixel(8, 8, image::Rgba([230, 30, 20, 255]))
        .save(p("data/styles/red.png"))
        .unwrap();
    let out = apprentice(&[
        "magic",
        &p("in.png"),
        "--path",
        "20,20;50,30",
        "--radius",
        "6",
        "--style",
        "red",
        "--data-dir",
        &p("data"),
        "-o",
        &p("red.png"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let [r, g, b, _] = image::open(p("red.png")).unwrap().to_rgba8().get_pixel(35, 25).0;
    assert!(r > 180 && g < 90 && b < 90, "red under the path: {:?}", [r, g, b]);

    for (args, field) in [
        (vec!["--path", "20,x", "--radius", "6"], "--path: "),
        (vec!["--path", "20,20", "--radius", "0"], "--radius must be in (0, 1024]"),
        (vec!["--path", "20,20", "--radius", "6", "--strength", "2"], "--strength must be in [0, 1]"),
        (vec!["--path", "20,20", "--radius", "6", "--style", "nope"], "--style: no style \"nope\""),
        (vec!["--path", "500,500", "--radius", "6"], "the mask covers no pixel"),
    ] {
        let (input, data) = (p("in.png"), p("data"));
        let mut all = vec!["magic", &input, "-o", "x.png", "--data-dir", &data];
        all.extend(args);
        let out = apprentice(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(field), "{field} in {err}");
    }
}

#[test]
fn continue_on_the_command_line_can_imagine_with_the_brush_and_keep_what_it_imagined() {
    let dir = tempfile::tempdir().unwrap();
    let still_life = apprentice_e2e::examples_dir().join("still-life.jsonl");
    let (out, imagined) = (dir.path().join("out.jsonl"), dir.path().join("imagined"));
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let run = apprentice(&[
        "continue",
        &s(&still_life),
        "--steps",
        "5",
        "--imagine",
        "--imagine-strength",
        "0.4",
        "--reimagine-every",
        "2",
        "--imagined",
        &s(&imagined),
        "-o",
        &s(&out),
    ]); // fmt: skip
    assert!(run.status.success(), "{}", stderr(&run));
    let mut kept: Vec<String> = std::fs::read_dir(&imagined)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, ["imagined-000.png", "imagined-001.png", "imagined-002.png"], "before ops 0, 2 and 4");
    let picture = image::open(imagined.join("imagined-000.png")).unwrap();
    assert_eq!((picture.width(), picture.height()), (320, 240));
    // Bad settings exit 2 naming the flag.
    for (flag, value) in [("--imagine-strength", "0"), ("--reimagine-every", "0")] {
        let bad = apprentice(&["continue", &s(&still_life), "--imagine", flag, value, "-o", &s(&out)]);
        assert_eq!(bad.status.code(), Some(2));
        assert!(stderr(&bad).contains(flag), "{}", stderr(&bad));
    }
    let bad = apprentice(&["continue", &s(&still_life), "--imagine", "--painter", "sketch", "-o", &s(&out)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("only the search painter imagines"), "{}", stderr(&bad));
}

#[test]
fn paint_can_let_search_choose_magic_brush_dabs_and_records_their_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("gradient.png");
    image::RgbaImage::from_fn(64, 48, |x, y| {
        image::Rgba([230 - 2 * x as u8, 80 + 2 * y as u8, 60 + x as u8 + y as u8, 255])
    })
    .save(&picture)
    .unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (out, history) = (dir.path().join("copy.png"), dir.path().join("copy.jsonl"));
    // Search tries a dab every 5 ops and keeps it only when it beats every stroke proposed:
    // over 100 ops it tries 20 (the default model keeps several on this gradient; over 30 ops,
    // since it was distilled from search, none).
    let run = apprentice(&[
        "paint",
        &s(&picture),
        "--ops",
        "100",
        "--magic-brush",
        "-o",
        &s(&out),
        "--history",
        &s(&history),
    ]); // fmt: skip
    assert!(run.status.success(), "{}", stderr(&run));
    let text = std::fs::read_to_string(&history).unwrap();
    let dabs: Vec<&str> = text.lines().filter(|l| l.contains("\"magicBrush\"")).collect();
    assert!(!dabs.is_empty(), "search chose a dab on a gradient");
    assert!(dabs.iter().all(|l| l.contains("\"result\"")), "each with its pixels");
    let bad = apprentice(&["paint", &s(&picture), "--magic-brush", "--painter", "teacher", "-o", &s(&out)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("only the search painter"), "{}", stderr(&bad));
}
