//! The watch folder: jobs dropped into an inbox are done and their results
//! written to an outbox, one after another, for as long as it runs.
//!
//! - `NAME.jsonl` / `NAME.binpb`: continued by N ops → `NAME.continued.jsonl` and `NAME.png`;
//! - `NAME.render.jsonl` / `NAME.render.binpb`: rendered only → `NAME.render.png`;
//! - `NAME.record.jsonl` / `NAME.record.binpb`: magic-brush dabs painted and their pixels
//!   recorded → `NAME.recorded.jsonl` (replays the same anywhere) and `NAME.record.png`;
//! - `NAME.png`: painted as a process → `NAME.history.jsonl` and `NAME.painted.png`.
//!
//! A job file is taken once its size and modification time have not changed
//! for the settle time, so a file still being written is left alone; names
//! that start with `.` or end in `.part`, `.tmp` or `~` are never taken (write
//! under such a name, then rename). Links are never followed. A finished job
//! moves to `INBOX/done/`, a failed one to `INBOX/failed/` with
//! `OUTBOX/NAME.error.txt` saying why; nothing dropped in is ever deleted.
//!
//! Nothing is ever replaced either: a job whose name is already taken in `done/`
//! (or `failed/`) is moved under a numbered name (`a-1.jsonl`), and a job whose
//! results would replace earlier results gets numbered results (`a-1.png`,
//! `a-1.continued.jsonl`). Results are written atomically. The inbox and the outbox
//! must differ (results would become jobs), and a job file larger than the size
//! limit fails without being read.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify::{RecursiveMode, Watcher};

use crate::canvas_view::png_of;
use crate::files;
use crate::jobs::{self, JobOptions};
use crate::ops::{HistoryFormat, history};

pub struct WatchOptions {
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    pub settle: Duration,
    /// Ops added to each history.
    pub continue_ops: u32,
    /// Ops used to paint each picture.
    pub paint_ops: u32,
    pub painter: String,
    /// Do what is in the inbox now, then return.
    pub once: bool,
    /// A job file larger than this fails unread (it would be held in memory whole).
    pub max_job_bytes: u64,
}

/// The default size limit of a job file: far above any real history or picture.
pub const DEFAULT_MAX_JOB_BYTES: u64 = 256 << 20;

/// What became of one job.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done(PathBuf),
    Failed(PathBuf, String),
}

fn ignored_name(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") || name.ends_with('~')
}

/// Writes a job's result files to `dir` atomically, under their names or, when any of
/// them is taken, all under the first free numbered names (so they stay a set).
fn write_results(dir: &Path, results: &[(String, Vec<u8>)]) -> Result<(), String> {
    let taken = |n: u32| {
        results.iter().any(|(name, _)| fs::symlink_metadata(dir.join(files::numbered(name, n))).is_ok())
    };
    let n = (0..u32::MAX).find(|&n| !taken(n)).ok_or("no free result name")?;
    for (name, bytes) in results {
        let path = dir.join(files::numbered(name, n));
        files::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn history_bytes(h: &crate::ops::History) -> Vec<u8> {
    let mut out = Vec::new();
    history::write(h, &mut out, HistoryFormat::JsonLines).expect("writing to memory");
    out
}

/// Does one job: the result files it makes, `(name, bytes)`.
fn run_job(path: &Path, options: &WatchOptions) -> Result<Vec<(String, Vec<u8>)>, String> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or("the file name is not UTF-8")?;
    let size = fs::symlink_metadata(path).map_err(|e| format!("cannot read: {e}"))?.len();
    if size > options.max_job_bytes {
        return Err(format!(
            "the file is {size} bytes, more than the watch folder's limit of {} (--max-job-bytes)",
            options.max_job_bytes
        ));
    }
    let job = JobOptions {
        painter: options.painter.clone(),
        ops: 0,
        temperature: crate::painters::transformer::DEFAULT_TEMPERATURE,
        seed: 0,
        ..Default::default()
    };
    if let Some(format) = HistoryFormat::from_path(path) {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(name);
        let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
        let h = history::read(bytes.as_slice(), Some(format)).map_err(|e| e.to_string())?;
        drop(bytes);
        if stem.ends_with(".render") {
            let (png, _, _) = png_of(&crate::canvas_view::render(&h), 0);
            return Ok(vec![(format!("{stem}.png"), png)]);
        }
        if let Some(base) = stem.strip_suffix(".record") {
            let (recorded, _) = crate::diffusion::op::record(&h)?;
            let (png, _, _) = png_of(&crate::canvas_view::render(&recorded), 0);
            return Ok(vec![
                (format!("{base}.recorded.jsonl"), history_bytes(&recorded)),
                (format!("{stem}.png"), png),
            ]);
        }
        let job = JobOptions { ops: options.continue_ops, ..job };
        let continued = jobs::continue_history(&h, &job, |_| {})?;
        let (png, _, _) = png_of(&crate::canvas_view::render(&continued), 0);
        return Ok(vec![
            (format!("{stem}.continued.jsonl"), history_bytes(&continued)),
            (format!("{stem}.png"), png),
        ]);
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(name);
        let img = crate::training::photos::load(path).map_err(|e| format!("not a readable PNG: {e}"))?;
        let job = JobOptions { ops: options.paint_ops, ..job };
        let (h, canvas) = jobs::paint_picture(&img, stem, &job, |_| {})?;
        return Ok(vec![
            (format!("{stem}.history.jsonl"), history_bytes(&h)),
            (format!("{stem}.painted.png"), png_of(&canvas, 0).0),
        ]);
    }
    Err("unsupported job: drop a history (.jsonl, .binpb) or a picture (.png)".to_owned())
}

/// Moves a finished job aside (never deletes or replaces anything) and records a failure.
/// Returns the outcome and whether the job file left the inbox.
fn file_away(path: &Path, options: &WatchOptions, result: Result<(), String>) -> (Outcome, bool) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let folder = options.inbox.join(if result.is_ok() { "done" } else { "failed" });
    let moved = files::move_into(path, &folder);
    if let Err(e) = &moved {
        tracing::error!(
            "cannot move {} aside: {e} (it stays, and is not taken again while unchanged)",
            path.display()
        );
    }
    let outcome = match result {
        Ok(()) => {
            tracing::info!("done: {name}");
            Outcome::Done(path.to_owned())
        }
        Err(message) => {
            tracing::warn!("failed: {name}: {message}");
            let report = format!("{name}: {message}\n").into_bytes();
            if let Err(e) = write_results(&options.outbox, &[(format!("{name}.error.txt"), report)]) {
                tracing::error!("{e}");
            }
            Outcome::Failed(path.to_owned(), message)
        }
    };
    (outcome, moved.is_ok())
}

/// Files in the inbox that look like jobs: regular files, not links, not hidden.
fn candidates(inbox: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let Ok(entries) = fs::read_dir(inbox) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // symlink_metadata: a link is seen as a link and never followed.
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        if meta.file_type().is_symlink() {
            tracing::debug!("ignoring link {name}");
            continue;
        }
        if !meta.is_file() || ignored_name(&name) {
            continue;
        }
        out.push((path, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
    }
    out.sort();
    out
}

/// Runs the watch folder; returns the outcomes (with `once`), or runs until the process ends.
pub fn run(options: &WatchOptions, mut on_outcome: impl FnMut(&Outcome)) -> Result<Vec<Outcome>, String> {
    for dir in [&options.inbox, &options.outbox] {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if files::same_file(&options.inbox, &options.outbox) {
        return Err(format!(
            "the inbox and the outbox are one folder ({}): results would be taken as new jobs; use two folders",
            options.inbox.display()
        ));
    }
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |_event| {
        let _ = tx.send(());
    })
    .map_err(|e| format!("cannot watch {}: {e}", options.inbox.display()))?;
    watcher
        .watch(&options.inbox, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", options.inbox.display()))?;

    // Each file's last seen (size, mtime) and since when it has not changed.
    let mut seen: HashMap<PathBuf, (u64, SystemTime, Instant)> = HashMap::new();
    // Jobs done that could not be moved aside: not taken again unless they change.
    let mut stuck: HashMap<PathBuf, (u64, SystemTime)> = HashMap::new();
    let mut outcomes = Vec::new();
    loop {
        let now = Instant::now();
        let found = candidates(&options.inbox);
        seen.retain(|p, _| found.iter().any(|(f, _, _)| f == p));
        stuck.retain(|p, v| found.iter().any(|(f, size, mtime)| f == p && *v == (*size, *mtime)));
        let mut pending = false;
        for (path, size, mtime) in found {
            if stuck.contains_key(&path) {
                continue;
            }
            let entry = seen.entry(path.clone()).or_insert((size, mtime, now));
            if (entry.0, entry.1) != (size, mtime) {
                *entry = (size, mtime, now);
            }
            // In --once mode the files are complete already: no need to wait for them to settle.
            if !options.once && now.duration_since(entry.2) < options.settle {
                pending = true;
                continue;
            }
            let result = run_job(&path, options).and_then(|results| write_results(&options.outbox, &results));
            let (outcome, moved) = file_away(&path, options, result);
            if !moved {
                stuck.insert(path.clone(), (size, mtime));
            }
            seen.remove(&path);
            on_outcome(&outcome);
            outcomes.push(outcome);
        }
        if options.once {
            return Ok(outcomes);
        }
        // Wake on a change in the inbox, or soon anyway: events can be missed,
        // and settling files need another look.
        let wait = if pending { options.settle / 4 } else { Duration::from_secs(2) };
        let _ = rx.recv_timeout(wait.max(Duration::from_millis(50)));
        while rx.try_recv().is_ok() {}
    }
}
