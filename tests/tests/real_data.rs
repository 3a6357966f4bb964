//! Real data through the command line, on small fixtures written here (the
//! real packages are fetched by daemon/scripts/fetch-data.sh, never by tests):
//! Chinese characters in hanzi-writer-data's format and kanji in KanjiVG's
//! become stroke-order histories, held-out ones are kept for the next-stroke
//! test of `eval`, and photographs become teacher histories.

use std::path::{Path, PathBuf};

use apprentice::training::hanzi::held_out;
use apprentice_e2e::{apprentice, file_names, stderr};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A package as `npm pack` unpacks it: `DIR/package/十.json`, … Medians are
/// `[x, y]` in a 1024-unit box with y up; the outlines are not read.
fn package(dir: &Path, characters: &[(char, &str)]) -> PathBuf {
    let root = dir.join("hanzi-writer-data");
    std::fs::create_dir_all(root.join("package")).unwrap();
    std::fs::write(root.join("package/package.json"), r#"{"name": "hanzi-writer-data"}"#).unwrap();
    for (ch, medians) in characters {
        let n = serde_json::from_str::<Vec<serde_json::Value>>(medians).unwrap().len();
        let outlines = vec!["\"M 0 0 Z\""; n].join(", ");
        let text = format!(r#"{{"strokes": [{outlines}], "medians": {medians}}}"#);
        std::fs::write(root.join(format!("package/{ch}.json")), text).unwrap();
    }
    root
}

const TWO: &str = "[[[260, 620], [740, 620]], [[130, 200], [870, 200]]]";
const THREE: &str = "[[[250, 700], [750, 700]], [[300, 450], [700, 450]], [[150, 150], [850, 150]]]";
/// Written horizontal first, though the vertical stroke starts higher.
const TEN: &str = "[[[110, 440], [930, 470]], [[460, 810], [505, -30]]]";
/// The vertical stroke starts a little higher than the horizontal one, but
/// within 1/32 of the box: the rule calls them level and takes the leftmost.
const BELOW: &str = "[[[120, 720], [880, 730]], [[480, 740], [500, -40]], [[560, 520], [700, 420]]]";

#[test]
fn characters_become_stroke_histories_and_held_out_ones_only_meet_eval() {
    // The split is a hash of the code point: 十 and 下 are held out, 二 and 三 are not.
    assert!(held_out('十') && held_out('下') && !held_out('二') && !held_out('三'));
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package(tmp.path(), &[('二', TWO), ('三', THREE), ('十', TEN), ('下', BELOW)]);
    let data = tmp.path().join("data");
    let run = apprentice(&["data", "--out", s(&data), "--hanzi", s(&pkg), "--size", "64"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let names = file_names(&data);
    assert_eq!(names, ["hanzi-04E09.binpb", "hanzi-04E8C.binpb"], "only 三 and 二; no scenes");
    let three = apprentice::ops::history::read_path(&data.join("hanzi-04E09.binpb")).unwrap();
    assert_eq!(three.header.as_ref().unwrap().width, 64);
    assert_eq!(three.ops.len(), 3, "one brush stroke per stroke of 三");

    // The next-stroke test runs on the held-out characters, with the built-in model…
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--hanzi", s(&pkg), "--hanzi-size", "64", "--pictures", "0"];
        args.extend_from_slice(extra);
        let run = apprentice(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        String::from_utf8(run.stdout).unwrap()
    };
    let table = eval(&[]);
    // 十 after 0 strokes, 下 after 0 and 1: three positions.
    assert!(table.contains("2 held-out characters, 3 positions"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("| transformer (temperature 0.7) | ")), "{table}");
    // The rule is right twice on 下 and wrong on 十; a random pick, right (1/2 + 1/3 + 1/2) / 3 of the time.
    assert!(table.contains("| rule: highest start, then leftmost | 66.7 % |"), "{table}");
    assert!(table.contains("| chance: a random remaining stroke | 44.4 % |"), "{table}");
    assert!(!table.contains("copy fidelity"), "--pictures 0 leaves fidelity out: {table}");

    // …and with a model file trained on the characters that were written.
    let model = tmp.path().join("hanzi.safetensors");
    let run = apprentice(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&model),
        "--size",
        "tiny",
        "--steps",
        "2",
        "--batch",
        "2",
        "--window",
        "4",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(eval(&["--model", s(&model)]).contains("3 positions"));
}

#[test]
fn reinforce_with_the_stroke_order_reward_writes_a_model_that_eval_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package(tmp.path(), &[('二', TWO), ('三', THREE), ('十', TEN), ('下', BELOW)]);
    let data = tmp.path().join("data");
    let run = apprentice(&["data", "--out", s(&data), "--hanzi", s(&pkg), "--size", "64"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let init = tmp.path().join("tiny.safetensors");
    let mut train = vec!["train", "--data", s(&data), "--out", s(&init)];
    train.extend(["--size", "tiny", "--steps", "2", "--batch", "2", "--window", "4"]);
    let run = apprentice(&train);
    assert!(run.status.success(), "{}", stderr(&run));

    let out = tmp.path().join("order.safetensors");
    let reinforce = |hanzi: &Path, extra: &[&str]| {
        let mut args = vec!["reinforce", "--init", s(&init), "--hanzi", s(hanzi), "--out", s(&out)];
        args.extend_from_slice(&["--steps", "2", "--episodes", "2", "--group", "2", "--eval-every", "2"]);
        args.extend_from_slice(extra);
        apprentice(&args)
    };
    // 二 and 三 are the training split: one is kept out for the run's figure, one is written.
    let run = reinforce(&pkg, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("step 2/2: reward"), "{}", stderr(&run));
    assert!(stderr(&run).contains("next-stroke accuracy on the characters kept out"), "{}", stderr(&run));
    let run = apprentice(&[
        "eval",
        "--hanzi",
        s(&pkg),
        "--hanzi-size",
        "64",
        "--pictures",
        "0",
        "--model",
        s(&out),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8(run.stdout).unwrap().contains("3 positions"));

    // With an anchor: histories whose pictures the policy must go on painting as it started.
    let run = reinforce(&pkg, &["--anchor", s(&data)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("on the anchor"), "{}", stderr(&run));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = reinforce(&pkg, &["--anchor", s(&empty)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("empty"), "{}", stderr(&run));

    // A finer view is carried over exactly, which a shape prior's offsets cannot be (the tiny
    // size has one): refused, naming it.
    let run = reinforce(&pkg, &["--finer"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("shape prior's offsets cannot be carried"), "{}", stderr(&run));

    let run = reinforce(&pkg, &["--augment-rate", "2"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--augment-rate must be in [0, 1], got 2"), "{}", stderr(&run));
    // Held-out characters are never trained on: a package of them alone has nothing to write.
    let held = package(&tmp.path().join("held"), &[('十', TEN), ('下', BELOW)]);
    let run = reinforce(&held, &[]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("need at least 2 training characters"), "{}", stderr(&run));
    // Copying or stroke order: one of the two sources, never neither.
    let run = apprentice(&["reinforce", "--init", s(&init), "--out", s(&out)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--data") && stderr(&run).contains("--hanzi"), "{}", stderr(&run));
}

#[test]
fn a_damaged_character_file_exits_2_naming_file_and_field_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package(tmp.path(), &[('二', TWO), ('三', "[[[250, 700], [750, 700]], [[300, \"x\"]]]")]);
    let data = tmp.path().join("data");
    let run = apprentice(&["data", "--out", s(&data), "--hanzi", s(&pkg)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let message = stderr(&run);
    assert!(message.contains("三.json: medians[1][0]: expected a pair of numbers [x, y]"), "{message}");
    assert!(!data.exists(), "every file is checked before anything is written");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in
        [["data", "--out", s(&data), "--hanzi", s(&empty)], ["eval", "--pictures", "0", "--hanzi", s(&empty)]]
    {
        let run = apprentice(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(stderr(&run).contains("no character files"), "{}", stderr(&run));
    }
}

/// KanjiVG as its wheel unpacks: `DIR/kanji/05341.svg`, one path per stroke in a
/// 109-unit box with y down, and variant forms beside (`05341-Kaisho.svg`).
fn kanjivg(dir: &Path, characters: &[(char, &[&str])]) -> PathBuf {
    let root = dir.join("kanjivg");
    std::fs::create_dir_all(root.join("kanji")).unwrap();
    for (ch, paths) in characters {
        let code = format!("{:05x}", u32::from(*ch));
        let paths: String = paths
            .iter()
            .enumerate()
            .map(|(i, d)| format!("<path id=\"kvg:{code}-s{}\" d=\"{d}\"/>\n", i + 1))
            .collect();
        let text = format!("<svg><g id=\"kvg:StrokePaths_{code}\">\n{paths}</g></svg>");
        std::fs::write(root.join(format!("kanji/{code}.svg")), &text).unwrap();
        std::fs::write(root.join(format!("kanji/{code}-Kaisho.svg")), "not read").unwrap();
    }
    root
}

#[test]
fn kanjivg_files_become_histories_beside_hanzi_writer_ones_and_held_out_ones_only_meet_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let two: &[&str] = &["M30,40c10,0,40,0,50,0", "M15,80L95,80"];
    let ten: &[&str] = &["M12,51c20,-1,50,-4,85,-5", "M52,12c1,1,2,4,2,6c0,10,0,60,0,80"];
    let under: &[&str] = &["M14,25L95,24", "M53,24.5V100", "M60,45c5,3,10,6,15,10"];
    let pkg = kanjivg(tmp.path(), &[('二', two), ('十', ten), ('下', under)]);
    let data = tmp.path().join("data");
    let run = apprentice(&["data", "--out", s(&data), "--hanzi", s(&pkg), "--size", "64", "--augment", "1"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let names = file_names(&data);
    // Tagged, so that they can share a folder with hanzi-writer's 二 (hanzi-04E8C.binpb).
    assert_eq!(names, ["hanzi-04E8C-kvg-a1.binpb", "hanzi-04E8C-kvg.binpb"], "only 二; 十 and 下 held out");
    let two = apprentice::ops::history::read_path(&data.join("hanzi-04E8C-kvg.binpb")).unwrap();
    let starts: Vec<(f32, f32)> = two
        .ops
        .iter()
        .map(|op| match &op.kind {
            Some(apprentice::ops::pb::op::Kind::Stroke(st)) => (st.points[0].x, st.points[0].y),
            other => panic!("{other:?}"),
        })
        .collect();
    // The 109-unit box fills the canvas as hanzi-writer's glyph box does: (30, 40) → (17.6, 23.5).
    let expect = [(30.0 * 64.0 / 109.0, 40.0 * 64.0 / 109.0), (15.0 * 64.0 / 109.0, 80.0 * 64.0 / 109.0)];
    for (got, want) in starts.iter().zip(expect) {
        assert!((got.0 - want.0).abs() < 0.1 && (got.1 - want.1).abs() < 0.1, "{starts:?}");
    }

    let run = apprentice(&["eval", "--hanzi", s(&pkg), "--hanzi-size", "64", "--pictures", "0"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8(run.stdout).unwrap();
    // 十 after 0 strokes, 下 after 0 and 1; the rule is wrong on 十 (its vertical starts higher).
    assert!(table.contains("2 held-out characters, 3 positions"), "{table}");
    assert!(table.contains("| rule: highest start, then leftmost | 66.7 % |"), "{table}");

    // A damaged stroke is named, file and stroke, and nothing is written.
    std::fs::write(pkg.join("kanji/04e8c.svg"), r#"<path id="kvg:04e8c-s1" d="M1,2 c3,4"/>"#).unwrap();
    let out = tmp.path().join("data2");
    let run = apprentice(&["data", "--out", s(&out), "--hanzi", s(&pkg)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("04e8c.svg: stroke 1 (kvg:04e8c-s1): c: 2 numbers"), "{}", stderr(&run));
    assert!(!out.exists());
}

#[test]
fn photographs_become_teacher_histories_of_seeded_crops() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    image::RgbaImage::from_fn(90, 60, |x, y| image::Rgba([(x * 2) as u8, (y * 4) as u8, 120, 255]))
        .save(photos.join("field.png"))
        .unwrap();
    let make = |out: &Path| {
        let run = apprentice(&[
            "data",
            "--out",
            s(out),
            "--photos",
            s(&photos),
            "--crops",
            "2",
            "--size",
            "32",
            "--ops",
            "12",
            "--seed",
            "5",
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    make(&a);
    make(&b);
    for name in ["photo-field-000.binpb", "photo-field-001.binpb"] {
        let h = apprentice::ops::history::read_path(&a.join(name)).unwrap();
        assert_eq!((h.header.as_ref().unwrap().width, h.ops.len()), (32, 12), "{name}");
        assert_eq!(std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap(), "same seed");
    }
    assert_eq!(std::fs::read_dir(&a).unwrap().count(), 2, "no scenes when photographs are given");

    std::fs::write(photos.join("broken.png"), b"not a picture").unwrap();
    let run = apprentice(&["data", "--out", s(&tmp.path().join("c")), "--photos", s(&photos)]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("broken.png: not a readable PNG"), "{}", stderr(&run));
}
