//! `apprentice paint`: a picture, repainted as a process (copy mode).

use std::path::PathBuf;

use super::{
    CliError, CliResult, check_temperature, progress_bar, refuse_clobbering, require_extension,
    require_history_path, write_history, write_output,
};
use crate::jobs::{self, JobOptions};

/// Paint a copy of a picture, stroke by stroke, on a white canvas of its size.
///
/// Writes the finished copy and, with --history, the ops that painted it.
#[derive(clap::Args)]
pub struct Args {
    /// The picture to copy (.png).
    reference: PathBuf,
    /// How many ops to paint with.
    #[arg(long, value_name = "N", default_value_t = 300)]
    ops: u32,
    /// The painted copy (.png).
    #[arg(short, long, value_name = "OUT.png")]
    output: PathBuf,
    /// Also write the painting process as a history (.jsonl or .binpb).
    #[arg(long, value_name = "OUT.jsonl")]
    history: Option<PathBuf>,
    /// 0 is the painter's most likely choice; higher is more adventurous (up to 4).
    #[arg(long, default_value_t = crate::painters::transformer::DEFAULT_TEMPERATURE)]
    temperature: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Painter to use (default: search, which copies closest).
    #[arg(long, default_value = "")]
    painter: String,
    /// Search also tries a dab of the built-in magic brush every few ops, in the style of the
    /// picture there, and paints it when it brings the copy closer than any stroke.
    #[arg(long)]
    magic_brush: bool,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    require_extension(&args.output, "png", "output")?;
    if let Some(h) = &args.history {
        require_history_path(h)?;
    }
    check_temperature(args.temperature)?;
    let mut outputs = vec![("-o", args.output.as_path())];
    outputs.extend(args.history.as_deref().map(|p| ("--history", p)));
    refuse_clobbering(&outputs, &[("PICTURE", &args.reference)])?;
    let img = image::open(&args.reference)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", args.reference.display())))?
        .to_rgba8();
    let title = args.reference.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let options = JobOptions {
        painter: args.painter,
        ops: args.ops,
        temperature: args.temperature,
        seed: args.seed,
        magic_brush: args.magic_brush,
        ..Default::default()
    };
    let bar = progress_bar(u64::from(args.ops), "painting");
    let (h, canvas) = jobs::paint_picture(&img, &title, &options, |i| bar.set_position(u64::from(i)))
        .map_err(CliError::input)?;
    bar.finish_and_clear();
    write_output(&args.output, &crate::canvas_view::png_of(&canvas, 0).0)?;
    if let Some(path) = &args.history {
        write_history(&h, path)?;
    }
    Ok(())
}
