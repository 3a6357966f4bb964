//! Writing files so that nothing a user already has is lost.
//!
//! Every file Apprentice writes goes to a temporary file beside its destination,
//! is flushed to disk, then renamed over the destination: a full disk, a crash or
//! a kill leaves the old file whole, never a truncated one. An output that is one
//! of the command's inputs is refused before any work starts, and files moved
//! aside (the watch folder's `done/`) never replace what is already there.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary name beside `path`, unique to this process and call; it starts with `.`
/// and ends in `.tmp` so the watch folder never takes it as a job.
fn temporary_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Writes `path` through `fill`, atomically: either the whole new file is there
/// afterwards, or the old one (if any) is untouched and no temporary file is left.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> io::Result<()> {
    let tmp = temporary_for(path)?;
    let written = (|| {
        let mut out = BufWriter::new(File::create_new(&tmp)?);
        fill(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?;
        commit(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Where to write what will become `path` (for writers that must own their file, like
/// an image encoder): finish with [`commit`], or remove it on failure.
pub fn temporary_for(path: &Path) -> io::Result<PathBuf> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(io::Error::new(io::ErrorKind::IsADirectory, "it is a folder"));
    }
    Ok(temporary_beside(path))
}

/// Gives the finished temporary file `tmp` the name `path`, durably.
pub fn commit(tmp: &Path, path: &Path) -> io::Result<()> {
    // On disk before it takes the name: after a crash the name holds old or new, whole.
    File::open(tmp)?.sync_all()?;
    fs::rename(tmp, path)?;
    // The rename itself is made durable by syncing the folder (best effort: not every
    // platform lets a folder be opened).
    if let Some(dir) = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_with`]).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |out| out.write_all(bytes))
}

/// Writes a model: its weights through `save_weights(temporary path)`, then the small
/// files that go with it (`(path, text)`: config, training progress), each atomically.
pub fn write_model(
    out: &Path,
    save_weights: impl FnOnce(&Path) -> io::Result<()>,
    beside: &[(PathBuf, String)],
) -> io::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let tmp = temporary_for(out)?;
    let saved = save_weights(&tmp).and_then(|()| commit(&tmp, out));
    if saved.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    saved?;
    beside.iter().try_for_each(|(path, text)| write(path, text.as_bytes()))
}

/// The same file? Compared by identity (device and inode) where both exist, so links and
/// different spellings of one path are caught; by absolute path otherwise.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return (ma.dev(), ma.ino()) == (mb.dev(), mb.ino());
        }
    }
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses an output that is one of the inputs (or another output): writing it would
/// destroy the input, e.g. `paint photo.png -o photo.png`. `outputs` and `inputs` are
/// `(flag, path)` pairs; the message names both flags.
pub fn refuse_clobbering(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<(), String> {
    for (i, (out_flag, out)) in outputs.iter().enumerate() {
        for (in_flag, input) in inputs.iter().chain(&outputs[..i]) {
            if same_file(out, input) {
                return Err(format!(
                    "{out_flag} {} is the same file as {in_flag}: writing it would destroy it; choose another name",
                    out.display()
                ));
            }
        }
    }
    Ok(())
}

/// `name` with `-N` before its first extension: `a.render.jsonl` → `a-2.render.jsonl`.
pub fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    // A leading dot is part of the stem (".hidden" has no extension).
    let split = name.char_indices().skip(1).find(|&(_, c)| c == '.').map_or(name.len(), |(i, _)| i);
    format!("{}-{n}{}", &name[..split], &name[split..])
}

/// Moves `from` into `dir` under its own name, or a numbered one when that is taken:
/// never replaces anything (the check and the move are one step where the platform
/// allows: a hard link, which fails on an existing name, then removing the original).
/// Returns where it went.
pub fn move_into(from: &Path, dir: &Path) -> io::Result<PathBuf> {
    let name = from
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy()
        .into_owned();
    fs::create_dir_all(dir)?;
    for n in 0..10_000 {
        let to = dir.join(numbered(&name, n));
        match fs::hard_link(from, &to) {
            Ok(()) => {
                fs::remove_file(from)?;
                return Ok(to);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // No hard links here (some network and FAT file systems): check, then rename.
            Err(_) if fs::symlink_metadata(&to).is_err() => {
                fs::rename(from, &to)?;
                return Ok(to);
            }
            Err(_) => continue,
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("no free name for {name} in {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_write_that_fails_halfway_leaves_the_old_file_whole_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, "the good history\n").unwrap();
        let failed = write_with(&path, |out| {
            out.write_all(b"half of a new hist")?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space left on device"))
        });
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert_eq!(fs::read_to_string(&path).unwrap(), "the good history\n");
        assert_eq!(names(dir.path()), ["out.jsonl"]);
    }

    #[test]
    fn a_write_that_succeeds_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        fs::write(&path, "old").unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["out.png"]);
    }

    #[test]
    fn a_folder_in_the_way_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        fs::create_dir(&path).unwrap();
        assert!(write(&path, b"x").is_err());
        assert!(path.is_dir());
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_however_it_is_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("photo.png");
        fs::write(&photo, "pixels").unwrap();
        let respelled = dir.path().join(".").join("photo.png");
        let err = refuse_clobbering(&[("-o", &respelled)], &[("PICTURE", &photo)]).unwrap_err();
        assert!(err.contains("-o") && err.contains("PICTURE"), "{err}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.png");
            std::os::unix::fs::symlink(&photo, &link).unwrap();
            assert!(refuse_clobbering(&[("-o", &link)], &[("PICTURE", &photo)]).is_err());
        }
        // Two outputs under one name would leave only the second.
        let out = dir.path().join("new.png");
        assert!(refuse_clobbering(&[("-o", &out), ("--png", &out)], &[]).is_err());
        assert!(refuse_clobbering(&[("-o", &out)], &[("PICTURE", &photo)]).is_ok());
    }

    #[test]
    fn numbered_names_keep_the_extensions() {
        assert_eq!(numbered("a.jsonl", 0), "a.jsonl");
        assert_eq!(numbered("a.jsonl", 2), "a-2.jsonl");
        assert_eq!(numbered("a.render.jsonl", 1), "a-1.render.jsonl");
        assert_eq!(numbered("noext", 3), "noext-3");
        assert_eq!(numbered(".hidden", 1), ".hidden-1");
    }

    #[test]
    fn moving_aside_never_replaces_a_file_or_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("done");
        fs::create_dir_all(done.join("a-1.jsonl")).unwrap(); // a folder in the way
        fs::write(done.join("a.jsonl"), "first").unwrap();
        let job = dir.path().join("a.jsonl");
        fs::write(&job, "second").unwrap();
        let went = move_into(&job, &done).unwrap();
        assert_eq!(went, done.join("a-2.jsonl"));
        assert_eq!(fs::read_to_string(done.join("a.jsonl")).unwrap(), "first");
        assert_eq!(fs::read_to_string(&went).unwrap(), "second");
        assert!(!job.exists());
    }
}
