//! `apprentice data`: training histories, made reproducibly from a seed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{CliError, CliResult, progress_bar};
use crate::jobs::{self, JobOptions};
use crate::ops::pb;
use crate::painters::rng::Rng;
use crate::training::{SEARCH, hanzi, photos, scenes};

/// Make training histories from any of four sources: the teacher painting
/// procedural scenes and crops of photographs coarse to fine, Chinese
/// characters written stroke by stroke in their real order, and the sessions
/// recorded from the editors (a painter's own habits).
///
/// Writes DIR/scene-00000.binpb, DIR/photo-NAME-000.binpb, DIR/hanzi-04E00.binpb,
/// DIR/session-ID.binpb, … (the same inputs and seed give the same files); pictures
/// painted by search are DIR/search-scene-00000.binpb, DIR/search-photo-NAME-000.binpb
/// (`train` distils them in copy mode; they can share a folder with the teacher's). The
/// photographs and the characters are fetched by daemon/scripts/fetch-data.sh.
#[derive(clap::Args)]
pub struct Args {
    /// Folder to write the histories into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How many procedural scenes to paint [default: 200, or 0 when another source is given].
    #[arg(long)]
    scenes: Option<u32>,
    /// Unpacked character package — hanzi-writer-data (`十.json`, …) or KanjiVG (`05341.svg`,
    /// …; written as `hanzi-05341-kvg`, so both can share a folder): write each character not
    /// held out.
    #[arg(long, value_name = "DIR")]
    hanzi: Option<PathBuf>,
    /// At most this many characters (a seeded choice) [default: all].
    #[arg(long, requires = "hanzi")]
    characters: Option<usize>,
    /// Also write this many augmented copies of each character (`hanzi-4E00-a1`, …):
    /// scaled, squeezed, slanted, moved and jittered, in other dark inks and brush widths.
    #[arg(long, default_value_t = 0, requires = "hanzi")]
    augment: u32,
    /// Folder of PNG photographs: the teacher paints random crops of each.
    #[arg(long, value_name = "DIR")]
    photos: Option<PathBuf>,
    /// Crops per photograph.
    #[arg(long, default_value_t = 8, requires = "photos")]
    crops: u32,
    /// The sessions the daemon recorded (its store in the data folder, or --store).
    #[arg(long)]
    sessions: bool,
    /// The daemon's session store to read (implies --sessions) [default: DATA_DIR/sessions.sqlite3].
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Sessions with fewer effective ops (after undo/redo) are left out.
    #[arg(long, default_value_t = 8)]
    min_ops: usize,
    #[command(flatten)]
    dirs: super::Dirs,
    /// Canvas side in pixels.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(16..=2048))]
    size: u32,
    /// Ops per painted history (scenes and photographs; a character has one per stroke).
    #[arg(long, default_value_t = 300)]
    ops: u32,
    /// Who paints the scenes and photographs: the teacher, or `search` with the
    /// model in use (to distil search into the next model; its files start `search-`).
    #[arg(long, default_value = "teacher")]
    painter: String,
    /// The model `--painter search` paints with [default: the built-in one].
    #[arg(long, value_name = "FILE.safetensors")]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: Args) -> CliResult {
    // Read and check the inputs before writing anything.
    let painter = crate::painters::choose(&args.painter, true)
        .map_err(|e| CliError::input(format!("--painter: {e}")))?;
    if let Some(model) = &args.model {
        if !painter.uses_model() {
            return Err(CliError::input(format!("--model: the {} painter uses no model", painter.name())));
        }
        crate::model::registry::use_file(model).map_err(|e| CliError::input(format!("--model: {e}")))?;
    }
    let characters =
        args.hanzi.as_deref().map(|dir| chosen_characters(dir, args.characters, args.seed)).transpose()?;
    let photos = args.photos.as_deref().map(load_photos).transpose()?;
    let sessions = match (&args.store, args.sessions) {
        (Some(store), _) => Some(recorded_sessions(store, args.min_ops)?),
        (None, true) => Some(recorded_sessions(&args.dirs.clone().paths()?.store_file(), args.min_ops)?),
        (None, false) => None,
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", args.out.display())))?;
    let start = Instant::now();
    let mut written = 0;
    let default_scenes = if characters.is_none() && photos.is_none() && sessions.is_none() { 200 } else { 0 };
    // Search's pictures are a source of their own in `train`'s mixture (they teach copying).
    let prefix = if painter.name() == SEARCH { format!("{SEARCH}-") } else { String::new() };
    written += write_scenes(&args, args.scenes.unwrap_or(default_scenes), &prefix)?;
    if let Some(pictures) = photos {
        written += write_photos(&args, &pictures, &prefix)?;
    }
    if let Some(characters) = characters {
        written += write_characters(&args, &characters)?;
    }
    for (id, h) in sessions.iter().flatten() {
        write(h, &args.out.join(format!("session-{id}.binpb")))?;
        written += 1;
    }
    tracing::info!(
        "wrote {written} histories to {} in {:.1} s",
        args.out.display(),
        start.elapsed().as_secs_f32()
    );
    Ok(())
}

fn write(h: &pb::History, path: &Path) -> CliResult {
    super::write_history(h, path)
}

/// The painter's history of `picture`, written to `path`.
fn paint(picture: &image::RgbaImage, title: &str, seed: u64, args: &Args, path: &Path) -> CliResult {
    let options = JobOptions {
        painter: args.painter.clone(),
        ops: args.ops,
        temperature: 1.0,
        seed,
        ..Default::default()
    };
    let (h, _) = jobs::paint_picture(picture, title, &options, |_| {}).map_err(CliError::failure)?;
    write(&h, path)
}

fn write_scenes(args: &Args, count: u32, prefix: &str) -> Result<usize, CliError> {
    let bar = progress_bar(u64::from(count), "scenes");
    let side = args.size as usize;
    for i in 0..count {
        let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(u64::from(i));
        let picture = scenes::scene(side, side, seed);
        let img = image::RgbaImage::from_raw(args.size, args.size, picture.to_rgba8()).expect("size matches");
        let path = args.out.join(format!("{prefix}scene-{i:05}.binpb"));
        paint(&img, &format!("scene {seed}"), seed, args, &path)?;
        bar.set_position(u64::from(i + 1));
    }
    bar.finish_and_clear();
    Ok(count as usize)
}

/// Every PNG in `dir` with its name, decoded.
fn load_photos(dir: &Path) -> Result<Vec<(String, image::RgbaImage)>, CliError> {
    let files = photos::list(dir).map_err(CliError::input)?;
    files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            Ok((stem, photos::load(f).map_err(CliError::input)?))
        })
        .collect()
}

fn write_photos(
    args: &Args,
    pictures: &[(String, image::RgbaImage)],
    prefix: &str,
) -> Result<usize, CliError> {
    let bar = progress_bar(pictures.len() as u64 * u64::from(args.crops), "crops");
    // One stream of random numbers over the photographs in name order: the same
    // folder and seed give the same crops.
    let mut rng = Rng::new(args.seed);
    for (stem, picture) in pictures {
        for j in 0..args.crops {
            let crop = photos::crop(picture, args.size, &mut rng);
            let path = args.out.join(format!("{prefix}photo-{stem}-{j:03}.binpb"));
            paint(&crop, &format!("photo {stem}, crop {j}"), rng.next_u64(), args, &path)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(pictures.len() * args.crops as usize)
}

/// The characters to write, read and checked: those not held out, all or
/// `limit` of them chosen by `seed`, in code-point order.
/// Each with the tag its file names carry (`-kvg` for KanjiVG's).
fn chosen_characters(
    dir: &Path,
    limit: Option<usize>,
    seed: u64,
) -> Result<Vec<(hanzi::Character, &'static str)>, CliError> {
    let all = hanzi::list(dir).map_err(CliError::input)?;
    let held = all.iter().filter(|(c, _)| hanzi::held_out(*c)).count();
    let mut files: Vec<(char, PathBuf)> = all.into_iter().filter(|(c, _)| !hanzi::held_out(*c)).collect();
    if let Some(n) = limit.filter(|&n| n < files.len()) {
        Rng::new(seed).shuffle(&mut files);
        files.truncate(n);
        files.sort();
    }
    tracing::info!("{} characters to write; {held} held out for `apprentice eval --hanzi`", files.len());
    let tag = |f: &Path| if hanzi::is_kanjivg(f) { "-kvg" } else { "" };
    files.iter().map(|(_, f)| hanzi::read(f).map(|c| (c, tag(f))).map_err(CliError::input)).collect()
}

fn write_characters(args: &Args, characters: &[(hanzi::Character, &str)]) -> Result<usize, CliError> {
    let bar = progress_bar(characters.len() as u64, "characters");
    for (c, tag) in characters {
        let path = args.out.join(format!("hanzi-{:05X}{tag}.binpb", u32::from(c.ch)));
        write(&hanzi::history(c, args.size), &path)?;
        // Each character's copies from its own stream: a subset of characters makes the same copies.
        let mut rng = Rng::new(args.seed ^ u64::from(u32::from(c.ch)));
        for k in 1..=args.augment {
            let (copy, ink) = hanzi::augment(c, &mut rng);
            let path = args.out.join(format!("hanzi-{:05X}{tag}-a{k}.binpb", u32::from(c.ch)));
            write(&hanzi::history_in(&copy, args.size, ink), &path)?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(characters.len() * (1 + args.augment as usize))
}

/// The histories of the sessions in the daemon's store (read while it may be
/// running: SQLite's WAL lets a reader in), with at least `min_ops` ops left
/// after undo and redo.
pub(super) fn recorded_sessions(
    store: &Path,
    min_ops: usize,
) -> Result<Vec<(String, pb::History)>, CliError> {
    if !store.is_file() {
        return Err(CliError::input(format!(
            "no session store at {} (start `apprentice serve` and record from an editor first, or give --store)",
            store.display()
        )));
    }
    let store = crate::store::Store::open_read_only(store)
        .map_err(|e| CliError::input(format!("cannot read the session store {}: {e}", store.display())))?;
    let mut out = Vec::new();
    for info in store.list().map_err(|e| CliError::failure(e.to_string()))? {
        let h = store.history(&info.session_id).map_err(|e| CliError::failure(e.to_string()))?;
        if crate::ops::timeline::effective(&h.ops).len() >= min_ops {
            out.push((info.session_id, h));
        }
    }
    tracing::info!("{} recorded sessions with at least {min_ops} ops", out.len());
    Ok(out)
}
