//! `apprentice continue`: a history, continued by a painter.

use std::path::PathBuf;

use super::{
    CliError, CliResult, check_temperature, load_history, progress_bar, refuse_clobbering,
    require_history_path, write_history, write_output,
};
use crate::jobs::{self, JobOptions};
use crate::painters::transformer::DEFAULT_TEMPERATURE;

/// Continue a history: the painter adds --steps ops after the last one.
///
/// The output holds the whole history, the original ops first. The painter is
/// the stroke transformer (the model in use): it looks at the canvas where it is
/// about to paint and takes its colours from the picture.
#[derive(clap::Args)]
pub struct Args {
    /// History to continue (.jsonl or .binpb).
    history: PathBuf,
    /// How many ops to add.
    #[arg(long, value_name = "N", default_value_t = 20)]
    steps: u32,
    /// The continued history (.jsonl or .binpb).
    #[arg(short, long, value_name = "OUT.jsonl")]
    output: PathBuf,
    /// Also render the continued history to this PNG.
    #[arg(long, value_name = "OUT.png")]
    png: Option<PathBuf>,
    /// 0 is the painter's most likely choice; higher is more adventurous (up to 4).
    #[arg(long, default_value_t = DEFAULT_TEMPERATURE)]
    temperature: f32,
    /// Same seed, same ops.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Painter to use (default: the transformer).
    #[arg(long, default_value = "")]
    painter: String,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    require_history_path(&args.output)?;
    if let Some(png) = &args.png {
        super::require_extension(png, "png", "--png")?;
    }
    check_temperature(args.temperature)?;
    let mut outputs = vec![("-o", args.output.as_path())];
    outputs.extend(args.png.as_deref().map(|p| ("--png", p)));
    refuse_clobbering(&outputs, &[("HISTORY", &args.history)])?;
    let h = load_history(&args.history)?;
    let options =
        JobOptions { painter: args.painter, ops: args.steps, temperature: args.temperature, seed: args.seed };
    let bar = progress_bar(u64::from(args.steps), "painting");
    let continued =
        jobs::continue_history(&h, &options, |i| bar.set_position(u64::from(i))).map_err(CliError::input)?;
    bar.finish_and_clear();
    write_history(&continued, &args.output)?;
    if let Some(png) = &args.png {
        let canvas = crate::canvas_view::render(&continued);
        write_output(png, &crate::canvas_view::png_of(&canvas, 0).0)?;
    }
    tracing::info!("added {} ops to {} → {}", args.steps, args.history.display(), args.output.display());
    Ok(())
}
