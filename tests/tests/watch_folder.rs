//! `apprentice watch`: jobs dropped into an inbox, results in an outbox.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apprentice_e2e::{apprentice, apprentice_bin, examples_dir, stderr};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn small_png(path: &Path) {
    let img = image::RgbaImage::from_fn(48, 32, |x, y| image::Rgba([(x * 5) as u8, (y * 7) as u8, 120, 255]));
    img.save(path).unwrap();
}

fn wait_for(path: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn once_does_every_job_and_explains_the_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(examples_dir().join("hello.jsonl"), inbox.join("hello.jsonl")).unwrap();
    std::fs::copy(examples_dir().join("still-life.binpb"), inbox.join("still.render.binpb")).unwrap();
    small_png(&inbox.join("pic.png"));
    std::fs::write(
        inbox.join("bad.jsonl"),
        "{\"header\":{\"width\":8,\"height\":8}}\n{\"op\":{\"undo\":{\"count\":0}}}\n",
    )
    .unwrap();
    std::fs::write(inbox.join("notes.txt"), "hello").unwrap();
    std::fs::write(inbox.join("half.jsonl.part"), "{\"hea").unwrap();
    let outside = tmp.path().join("secret.jsonl");
    std::fs::copy(examples_dir().join("hello.jsonl"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("link.jsonl")).unwrap();

    let run =
        apprentice(&["watch", s(&inbox), s(&outbox), "--once", "--continue-ops", "5", "--paint-ops", "20"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("2 of 5 jobs failed"), "{}", stderr(&run));

    let continued = apprentice::ops::history::read_path(&outbox.join("hello.continued.jsonl")).unwrap();
    let original = apprentice::ops::history::read_path(&examples_dir().join("hello.jsonl")).unwrap();
    assert_eq!(continued.ops.len(), original.ops.len() + 5);
    assert_eq!(continued.ops[..original.ops.len()], original.ops[..]);
    assert_eq!(image::open(outbox.join("hello.png")).unwrap().width(), 128);
    assert_eq!(image::open(outbox.join("still.render.png")).unwrap().width(), 320);
    assert_eq!(apprentice::ops::history::read_path(&outbox.join("pic.history.jsonl")).unwrap().ops.len(), 20);
    assert_eq!(image::open(outbox.join("pic.painted.png")).unwrap().height(), 32);

    let why = std::fs::read_to_string(outbox.join("bad.jsonl.error.txt")).unwrap();
    assert!(why.contains("line 2: op.undo.count"), "{why}");
    let why = std::fs::read_to_string(outbox.join("notes.txt.error.txt")).unwrap();
    assert!(why.contains("unsupported job"), "{why}");

    // Jobs are moved aside, never deleted; links and partial files are left alone.
    for done in ["hello.jsonl", "still.render.binpb", "pic.png"] {
        assert!(inbox.join("done").join(done).exists(), "{done}");
    }
    assert!(inbox.join("failed/bad.jsonl").exists() && inbox.join("failed/notes.txt").exists());
    assert!(inbox.join("half.jsonl.part").exists());
    assert!(inbox.join("link.jsonl").symlink_metadata().unwrap().file_type().is_symlink());
    assert!(!outbox.join("link.continued.jsonl").exists() && outside.exists());
}

#[test]
fn the_watcher_waits_for_files_to_settle_and_keeps_going_after_a_bad_job() {
    let tmp = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    let mut child = Command::new(apprentice_bin())
        .args(["watch", s(&inbox), s(&outbox), "--continue-ops", "3", "--settle-ms", "800"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // A slow writer: half the file, a pause shorter than the settle time, the rest.
    let text = std::fs::read_to_string(examples_dir().join("hello.jsonl")).unwrap();
    let (first, rest) = text.split_at(text.len() / 2);
    std::fs::write(inbox.join("slow.jsonl"), first).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .append(true)
        .open(inbox.join("slow.jsonl"))
        .unwrap()
        .write_all(rest.as_bytes())
        .unwrap();
    assert!(wait_for(&outbox.join("slow.continued.jsonl")), "the slow file was done");
    assert!(!outbox.join("slow.jsonl.error.txt").exists(), "and not taken half-written");

    std::fs::write(inbox.join("broken.jsonl"), "not json\n").unwrap();
    assert!(wait_for(&outbox.join("broken.jsonl.error.txt")));
    // Write, then rename in: the usual way to drop a job.
    std::fs::copy(examples_dir().join("hello.jsonl"), inbox.join("next.jsonl.part")).unwrap();
    std::fs::rename(inbox.join("next.jsonl.part"), inbox.join("next.jsonl")).unwrap();
    assert!(wait_for(&outbox.join("next.continued.jsonl")), "still running after a bad job");
    assert!(child.try_wait().unwrap().is_none());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn nothing_dropped_in_or_made_before_is_ever_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    let hello = examples_dir().join("hello.jsonl");
    let run = |inbox: &Path| apprentice(&["watch", s(inbox), s(&outbox), "--once", "--continue-ops", "2"]);

    std::fs::copy(&hello, inbox.join("a.jsonl")).unwrap();
    assert!(run(&inbox).status.success());
    // The same name again, different content: the first job and its results stay as they were.
    let mut second = std::fs::read_to_string(&hello).unwrap();
    second.push_str("{\"op\":{\"undo\":{\"count\":1}}}\n");
    std::fs::write(inbox.join("a.jsonl"), &second).unwrap();
    let first_result = std::fs::read(outbox.join("a.png")).unwrap();
    assert!(run(&inbox).status.success());
    assert_eq!(std::fs::read(inbox.join("done/a.jsonl")).unwrap(), std::fs::read(&hello).unwrap());
    assert_eq!(std::fs::read_to_string(inbox.join("done/a-1.jsonl")).unwrap(), second);
    assert_eq!(std::fs::read(outbox.join("a.png")).unwrap(), first_result);
    assert!(outbox.join("a-1.png").exists() && outbox.join("a-1.continued.jsonl").exists());

    // A folder where the job would be filed: the job goes beside it, done once, not again and again.
    std::fs::create_dir_all(inbox.join("done/b.jsonl")).unwrap();
    std::fs::copy(&hello, inbox.join("b.jsonl")).unwrap();
    let out = run(&inbox);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(inbox.join("done/b-1.jsonl").is_file() && !inbox.join("b.jsonl").exists());
}

#[test]
fn one_folder_for_inbox_and_outbox_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("jobs");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(examples_dir().join("hello.jsonl"), folder.join("a.jsonl")).unwrap();
    let respelled = folder.join(".");
    let out = apprentice(&["watch", s(&folder), s(&respelled), "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("one folder"), "{}", stderr(&out));
    assert!(folder.join("a.jsonl").exists(), "the job is left where it was");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1, "and nothing was made");
}

#[test]
fn a_job_file_over_the_size_limit_fails_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(examples_dir().join("still-life.jsonl"), inbox.join("big.jsonl")).unwrap();
    let out = apprentice(&["watch", s(&inbox), s(&outbox), "--once", "--max-job-bytes", "1000"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let why = std::fs::read_to_string(outbox.join("big.jsonl.error.txt")).unwrap();
    assert!(why.contains("--max-job-bytes"), "{why}");
    assert!(inbox.join("failed/big.jsonl").exists());
}
