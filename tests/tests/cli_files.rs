//! The command line never loses a file the user has: outputs are written whole or not
//! at all, and an output that is an input is refused before any work.

use std::path::Path;
use std::process::Command;

use apprentice_e2e::{apprentice, apprentice_bin, examples_dir, stderr};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let photo = tmp.path().join("photo.png");
    image::RgbaImage::from_pixel(16, 16, image::Rgba([200, 30, 30, 255])).save(&photo).unwrap();
    let before = std::fs::read(&photo).unwrap();
    let out =
        apprentice(&["paint", s(&photo), "--ops", "5", "-o", s(&tmp.path().join(".").join("photo.png"))]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("same file as PICTURE"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&photo).unwrap(), before);

    let history = tmp.path().join("a.jsonl");
    std::fs::copy(examples_dir().join("hello.jsonl"), &history).unwrap();
    let before = std::fs::read(&history).unwrap();
    for args in [
        vec!["continue", s(&history), "--steps", "2", "-o", s(&history)],
        vec!["convert", s(&history), s(&history)],
        vec!["replay", s(&history), "-o", s(&photo), "--record", s(&history)],
    ] {
        let out = apprentice(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("would destroy it"), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read(&history).unwrap(), before);
}

/// Runs the CLI with files limited to `kib` KiB, as on a nearly full disk: a write past
/// the limit fails (EFBIG; the signal that would kill the process is ignored).
fn apprentice_on_a_full_disk(kib: u32, args: &[&str]) -> std::process::Output {
    let script = format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\"");
    Command::new("bash").arg("-c").arg(script).arg(apprentice_bin()).args(args).output().unwrap()
}

#[test]
fn a_write_that_fails_on_a_full_disk_leaves_the_earlier_output_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let good_history = std::fs::read(examples_dir().join("hello.jsonl")).unwrap();
    let out_jsonl = tmp.path().join("out.jsonl");
    std::fs::write(&out_jsonl, &good_history).unwrap();
    let still_life = examples_dir().join("still-life.jsonl");
    assert!(std::fs::metadata(&still_life).unwrap().len() > 8 * 1024, "the new output must pass the limit");

    let out =
        apprentice_on_a_full_disk(8, &["continue", s(&still_life), "--steps", "3", "-o", s(&out_jsonl)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&out_jsonl).unwrap(), good_history, "the earlier file is untouched");

    // The same for a timelapse written frame by frame.
    let gif = tmp.path().join("t.gif");
    std::fs::write(&gif, b"GIF89a: an earlier timelapse").unwrap();
    let png = tmp.path().join("t.png");
    let out = apprentice_on_a_full_disk(8, &["replay", s(&still_life), "-o", s(&png), "--gif", s(&gif)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(&gif).unwrap(), b"GIF89a: an earlier timelapse");

    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "no temporary file is left behind: {names:?}");
}
