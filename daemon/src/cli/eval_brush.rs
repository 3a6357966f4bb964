//! `apprentice eval-brush`: the magic brush against classical inpainting.

use std::path::PathBuf;

use super::{CliError, CliResult};
use crate::diffusion::brush::{Brush, DEFAULT_STEPS, MAX_STEPS, NOISE_SCALE};
use crate::diffusion::builtin;
use crate::diffusion::eval::{EvalOptions, evaluate};
use crate::diffusion::examples::Sources;

/// Score the magic brush (without and with cloned texture) against the harmonic fill,
/// clone-and-heal and the mean colour: PSNR, SSIM, pictures filled closer than the harmonic
/// fill, and fine detail, inside random masks on held-out pictures (photographs held out
/// from training, and scenes from seeds training never uses).
#[derive(clap::Args)]
pub struct Args {
    /// Folder of photographs (PNG); the held-out ones are used. May be given more than
    /// once; scenes only without it.
    #[arg(long, value_name = "DIR")]
    photos: Vec<PathBuf>,
    /// A brush model (FILE.safetensors with its FILE.json) instead of the built-in one.
    #[arg(long, value_name = "FILE.safetensors")]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pictures: usize,
    /// Side of each picture in pixels.
    #[arg(long, default_value_t = 192)]
    size: usize,
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    steps: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The sampler's start noise as a share of the trained noise (a temperature; 0: the
    /// seed no longer matters).
    #[arg(long, default_value_t = NOISE_SCALE)]
    noise_scale: f32,
    /// Also write a contact sheet of the first N pictures (.png): the picture, the hole,
    /// the harmonic fill, the brush, the brush with cloned texture.
    #[arg(long, value_name = "SHEET.png")]
    sheet: Option<PathBuf>,
    /// Rows of the contact sheet.
    #[arg(long, default_value_t = 6)]
    sheet_rows: usize,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    if args.steps == 0 || args.steps > MAX_STEPS {
        return Err(CliError::input(format!("--steps must be in [1, {MAX_STEPS}], got {}", args.steps)));
    }
    if !(32..=2048).contains(&args.size) {
        return Err(CliError::input(format!("--size must be in [32, 2048], got {}", args.size)));
    }
    if !(0.0..=2.0).contains(&args.noise_scale) {
        return Err(CliError::input(format!("--noise-scale must be in [0, 2], got {}", args.noise_scale)));
    }
    let brush = match &args.model {
        Some(p) => {
            std::sync::Arc::new(Brush::from_file(p).map_err(|e| CliError::input(format!("--model: {e}")))?)
        }
        None => builtin::brush(),
    };
    let sources = Sources::load(&args.photos, true).map_err(CliError::input)?;
    if let Some(sheet) = &args.sheet {
        super::require_extension(sheet, "png", "--sheet")?;
    }
    let keep = if args.sheet.is_some() { args.sheet_rows } else { 0 };
    let options = EvalOptions {
        pictures: args.pictures,
        size: args.size,
        steps: args.steps,
        seed: args.seed,
        keep,
        noise_scale: args.noise_scale,
    };
    let bar = indicatif::ProgressBar::new(args.pictures as u64);
    let start = std::time::Instant::now();
    let (scores, rows) = evaluate(&brush, &sources, &options, |i| bar.set_position(i as u64));
    bar.finish_and_clear();
    println!(
        "{} held-out pictures ({} held-out photographs, the rest scenes), {}², random masks; inside the mask:",
        args.pictures,
        sources.photos.len(),
        args.size
    );
    println!(
        "| method | PSNR (dB) | SSIM | closer / further than harmonic | detail |\n|---|---:|---:|---:|---:|"
    );
    for s in &scores {
        println!(
            "| {} | {:.2} | {:.4} | {} / {} | {:.2} |",
            s.method, s.psnr, s.ssim, s.closer, s.further, s.detail
        );
    }
    tracing::info!("evaluated in {:.1} s", start.elapsed().as_secs_f32());
    if let Some(path) = &args.sheet {
        let sheet = crate::diffusion::eval::contact_sheet(&rows, 128);
        let mut png = Vec::new();
        sheet
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| CliError::failure(format!("cannot encode {}: {e}", path.display())))?;
        super::write_output(path, &png)?;
    }
    Ok(())
}
