//! `apprentice train-brush`: training the built-in magic-brush model.

use std::path::PathBuf;

use super::{CliError, CliResult};
use crate::diffusion::train::{self, BrushTrainOptions};
use crate::diffusion::unet::Config;

/// Train the magic brush's inpainting model on crops of photographs and procedural scenes
/// with random masks (brush paths at random radii, blobs).
///
/// Writes OUT (weights), OUT's .json (config) and .train.json (progress) every
/// --eval-every steps; --resume continues a run. Photographs are split as for
/// `apprentice train` (by picture name); held-out scenes use other seeds.
#[derive(clap::Args)]
pub struct Args {
    /// Weights to write (.safetensors).
    #[arg(short, long, value_name = "OUT.safetensors")]
    out: PathBuf,
    /// Folder of photographs (PNG), e.g. data-cache/skimage-photos; may be given more than
    /// once. Scenes only without it.
    #[arg(long, value_name = "DIR")]
    photos: Vec<PathBuf>,
    /// Model size: tiny or small.
    #[arg(long, default_value = "small")]
    size: String,
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 250)]
    eval_every: usize,
    /// Continue from OUT if it exists.
    #[arg(long)]
    resume: bool,
    /// Start from this model's weights (of the same size) instead of random ones: fine-tuning.
    #[arg(long, value_name = "FILE.safetensors")]
    init: Option<PathBuf>,
    /// Share of examples at pure noise (t = 1), where full-strength dabs start, [0, 1].
    #[arg(long, default_value_t = 0.5)]
    full_noise_share: f32,
    /// Decay of the weights' moving average, which is evaluated and saved; 0 saves the
    /// trained weights themselves.
    #[arg(long, default_value_t = 0.999)]
    ema: f64,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    let config = match args.size.as_str() {
        "tiny" => Config::tiny(),
        "small" => Config::small(),
        other => return Err(CliError::input(format!("--size: expected tiny or small, got {other:?}"))),
    };
    if args.out.extension().is_none_or(|e| e != "safetensors") {
        return Err(CliError::input(format!("{} must end in .safetensors", args.out.display())));
    }
    if !(args.lr > 0.0 && args.lr < 1.0) {
        return Err(CliError::input(format!("--lr must be in (0, 1), got {}", args.lr)));
    }
    if !(0.0..=1.0).contains(&args.full_noise_share) {
        return Err(CliError::input(format!(
            "--full-noise-share must be in [0, 1], got {}",
            args.full_noise_share
        )));
    }
    if !(0.0..1.0).contains(&args.ema) {
        return Err(CliError::input(format!("--ema must be in [0, 1), got {}", args.ema)));
    }
    if args.init.as_ref().is_some_and(|i| super::same_file(i, &args.out)) {
        return Err(CliError::input("--out must differ from --init (the model started from is kept)"));
    }
    let options = BrushTrainOptions {
        photos: args.photos,
        out: args.out,
        config,
        steps: args.steps,
        batch: args.batch.max(1),
        lr: args.lr,
        seed: args.seed,
        eval_every: args.eval_every.max(1),
        resume: args.resume,
        init: args.init,
        full_noise_share: args.full_noise_share,
        ema: args.ema,
    };
    let bar = indicatif::ProgressBar::new(args.steps as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} training the brush [{bar:40}] {pos}/{len} steps ({per_sec}, {eta} left) {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let state = train::train(&options, |s, evaluated| {
        bar.set_position(s.step as u64);
        bar.set_message(format!("loss {:.4}", s.train_loss));
        if evaluated {
            bar.suspend(|| {
                tracing::info!(
                    "step {}: train loss {:.4}, held-out loss {:.4} (harmonic fill {:.4}), {:.1} examples/s",
                    s.step,
                    s.train_loss,
                    s.heldout_loss,
                    s.heldout_harmonic_loss,
                    s.examples_per_second
                )
            });
        }
    })?;
    bar.finish_and_clear();
    tracing::info!(
        "trained {} steps in {:.0} s; train loss {:.4}, held-out loss {:.4} (harmonic fill {:.4}); wrote {}",
        state.step,
        state.seconds,
        state.train_loss,
        state.heldout_loss,
        state.heldout_harmonic_loss,
        options.out.display()
    );
    Ok(())
}
