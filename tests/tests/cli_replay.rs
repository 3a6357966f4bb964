//! `apprentice replay` and `apprentice convert`, run as a painter would run them.

use std::path::Path;

use apprentice_e2e::{apprentice, examples_dir, file_names, stderr};

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn load_png(p: &Path) -> image::RgbaImage {
    image::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).to_rgba8()
}

fn distinct_colours(img: &image::RgbaImage) -> usize {
    let mut seen: Vec<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

#[test]
fn every_example_replays_to_a_picture_of_its_canvas_size() {
    let tmp = tempfile::tempdir().unwrap();
    let mut examples: Vec<_> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl" || e == "binpb"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "{examples:?}");
    for example in examples {
        let out = tmp.path().join("out.png");
        let run = apprentice(&["replay", path_str(&example), "-o", path_str(&out)]);
        assert!(run.status.success(), "{}: {}", example.display(), stderr(&run));
        let history = apprentice::ops::history::read_path(&example).unwrap();
        let header = history.header.unwrap();
        let img = load_png(&out);
        assert_eq!(img.dimensions(), (header.width, header.height), "{}", example.display());
        assert!(distinct_colours(&img) > 50, "{} looks blank", example.display());
    }
}

#[test]
fn json_and_binary_twins_render_the_same_picture() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.png"), tmp.path().join("b.png"));
    let ex = examples_dir();
    for (input, out) in [(ex.join("still-life.jsonl"), &a), (ex.join("still-life.binpb"), &b)] {
        let run = apprentice(&["replay", path_str(&input), "-o", path_str(out)]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn frames_and_timelapse_show_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, frames, gif) =
        (tmp.path().join("final.png"), tmp.path().join("frames"), tmp.path().join("t.gif"));
    let example = examples_dir().join("still-life.jsonl");
    let run = apprentice(&[
        "replay",
        path_str(&example),
        "-o",
        path_str(&out),
        "--frames",
        path_str(&frames),
        "--every",
        "10",
        "--gif",
        path_str(&gif),
        "--gif-size",
        "160",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));

    let history = apprentice::ops::history::read_path(&example).unwrap();
    let effective = apprentice::ops::timeline::effective(&history.ops).len();
    let names = file_names(&frames);
    assert_eq!(names.len(), effective.div_ceil(10), "{names:?}");
    assert_eq!(names[0], "frame-000010.png");
    assert_eq!(names.last().unwrap(), &format!("frame-{effective:06}.png"));
    // Early frames show less than the finished picture; the last frame is it.
    let first = load_png(&frames.join(&names[0]));
    let last = load_png(&frames.join(names.last().unwrap()));
    let finished = load_png(&out);
    assert_eq!(last, finished);
    assert!(distinct_colours(&first) < distinct_colours(&finished));

    let decoder =
        image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&gif).unwrap()))
            .unwrap();
    let gif_frames = image::AnimationDecoder::into_frames(decoder).collect_frames().unwrap();
    assert_eq!(gif_frames.len(), names.len());
    assert_eq!(gif_frames[0].buffer().dimensions(), (160, 120));
}

#[test]
fn a_bad_history_exits_2_with_one_line_naming_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        concat!(
            "{\"header\":{\"width\":64,\"height\":64}}\n",
            "{\"op\":{\"fill\":{\"x\":1,\"y\":1}}}\n",
            "{\"op\":{\"stroke\":{\"tool\":\"TOOL_BRUSH\",\"brush\":{\"size\":-3},\"points\":[{\"x\":1,\"y\":1}]}}}\n",
        ),
    )
    .unwrap();
    let out = tmp.path().join("out.png");
    let run = apprentice(&["replay", path_str(&bad), "-o", path_str(&out)]);
    assert_eq!(run.status.code(), Some(2));
    let err = stderr(&run);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.jsonl: line 3: op.stroke.brush.size: must be a number in (0, 2048], got -3"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written for a bad history");
}

#[test]
fn unusable_arguments_exit_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let example = examples_dir().join("hello.jsonl");
    let missing = tmp.path().join("nope.jsonl");
    let cases: [(Vec<&str>, &str); 4] = [
        (vec!["replay", path_str(&missing), "-o", "x.png"], "cannot read"),
        (vec!["replay", path_str(&example), "-o", "x.jpg"], "must be a .png file"),
        (
            vec!["replay", path_str(&example), "-o", "x.png", "--gif", "t.mp4"],
            "--gif t.mp4 must be a .gif file",
        ),
        (vec!["replay", path_str(&example), "-o", "x.png", "--every", "0"], "--every"),
    ];
    for (args, expected) in cases {
        let run = apprentice(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(expected), "{args:?}: {}", stderr(&run));
    }
}

#[test]
fn help_explains_the_commands() {
    let run = apprentice(&["--help"]);
    assert!(run.status.success());
    let text = String::from_utf8_lossy(&run.stdout);
    for word in ["replay", "convert", "history", "Examples:"] {
        assert!(text.contains(word), "--help lacks {word:?}:\n{text}");
    }
    let run = apprentice(&["replay", "--help"]);
    let text = String::from_utf8_lossy(&run.stdout);
    for word in ["--frames", "--every", "--gif", "OUT.png"] {
        assert!(text.contains(word), "replay --help lacks {word:?}:\n{text}");
    }
}

#[test]
fn convert_round_trips_through_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    let example = examples_dir().join("still-life.jsonl");
    for (from, to) in
        [(example.as_path(), p("a.jsonl")), (example.as_path(), p("b.binpb")), (&p("b.binpb"), p("c.jsonl"))]
    {
        let run = apprentice(&["convert", path_str(from), path_str(&to)]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    assert_eq!(std::fs::read(p("a.jsonl")).unwrap(), std::fs::read(p("c.jsonl")).unwrap());
    assert_eq!(
        std::fs::read(p("b.binpb")).unwrap(),
        std::fs::read(examples_dir().join("still-life.binpb")).unwrap()
    );
}
