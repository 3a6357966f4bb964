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
/// search (unless --painter says otherwise): the stroke transformer in use proposes
/// ops, looking at the canvas where it is about to paint, and the engine keeps
/// those that bring the canvas closer to the picture it imagines from the canvas
/// (softened to its brushwork), in colours taken from that picture.
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
    /// Painter to use: search (the default), transformer (the model alone: its own manner and palette), teacher, sketch.
    #[arg(long, default_value = "")]
    painter: String,
    /// Imagine the finished picture with the magic brush (the whole canvas repainted at
    /// --imagine-strength, in --style), and paint towards it with the search painter.
    #[arg(long)]
    imagine: bool,
    /// How far the imagined picture may depart from the canvas, (0, 1].
    #[arg(long, value_name = "S", default_value_t = crate::diffusion::imagine::DEFAULT_STRENGTH, requires = "imagine")]
    imagine_strength: f32,
    /// A style picture in the styles folder (`apprentice info` lists them) to imagine in.
    #[arg(long, value_name = "NAME", default_value = "", requires = "imagine")]
    style: String,
    /// Imagine again after this many ops, from the canvas as it then stands.
    #[arg(long, value_name = "K", default_value_t = crate::painters::search::REIMAGINE, requires = "imagine")]
    reimagine_every: usize,
    /// Keep each imagined picture in this folder (imagined-000.png, ...).
    #[arg(long, value_name = "DIR", requires = "imagine")]
    imagined: Option<PathBuf>,
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
    if args.imagine && !(args.imagine_strength > 0.0 && args.imagine_strength <= 1.0) {
        return Err(CliError::input(format!(
            "--imagine-strength: must be in (0, 1], got {}",
            args.imagine_strength
        )));
    }
    if args.imagine && args.reimagine_every == 0 {
        return Err(CliError::input("--reimagine-every: must be at least 1"));
    }
    if let Some(dir) = &args.imagined {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::input(format!("--imagined {}: {e}", dir.display())))?;
    }
    let imagine = args.imagine.then(|| jobs::ImagineOptions {
        strength: args.imagine_strength,
        style: args.style.clone(),
        every: args.reimagine_every,
        keep_in: args.imagined.clone(),
    });
    let options = JobOptions {
        painter: args.painter,
        ops: args.steps,
        temperature: args.temperature,
        seed: args.seed,
        imagine,
        ..Default::default()
    };
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
