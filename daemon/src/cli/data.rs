//! `apprentice data`: training histories, made reproducibly from a seed.

use std::path::PathBuf;

use super::{CliError, CliResult, progress_bar};
use crate::jobs::{self, JobOptions};
use crate::ops::history;
use crate::training::scenes;

/// Make training histories: the teacher paints procedural scenes, coarse to fine.
///
/// Writes DIR/scene-00000.binpb, … (the same seed gives the same files).
#[derive(clap::Args)]
pub struct Args {
    /// Folder to write the histories into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How many scenes to paint.
    #[arg(long, default_value_t = 200)]
    scenes: u32,
    /// Canvas side in pixels.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(16..=2048))]
    size: u32,
    /// Ops per history.
    #[arg(long, default_value_t = 300)]
    ops: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: Args) -> CliResult {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", args.out.display())))?;
    let bar = progress_bar(u64::from(args.scenes), "scenes");
    let side = args.size as usize;
    for i in 0..args.scenes {
        let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(u64::from(i));
        let picture = scenes::scene(side, side, seed);
        let img = image::RgbaImage::from_raw(args.size, args.size, picture.to_rgba8()).expect("size matches");
        let options = JobOptions { painter: "teacher".into(), ops: args.ops, temperature: 1.0, seed };
        let (h, _) = jobs::paint_picture(&img, &format!("scene {seed}"), &options, |_| {})
            .map_err(CliError::failure)?;
        let path = args.out.join(format!("scene-{i:05}.binpb"));
        history::write_path(&h, &path)
            .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))?;
        bar.set_position(u64::from(i + 1));
    }
    bar.finish_and_clear();
    tracing::info!("wrote {} histories to {}", args.scenes, args.out.display());
    Ok(())
}
