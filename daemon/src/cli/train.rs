//! `apprentice train`: imitation training of the stroke transformer.

use std::path::PathBuf;

use super::{CliError, CliResult, progress_bar};
use crate::model::checkpoint;
use crate::model::stroke_transformer::Config;
use crate::training::{self, TrainOptions};

/// Train the stroke transformer on the histories in a folder (next-op imitation).
///
/// Writes OUT (weights), OUT's .json (config) and .train.json (progress) every
/// --eval-every steps; --resume continues a run. About one history in ten (by a hash of
/// its file name; the crops of one photograph together) is held out.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of histories (.jsonl, .binpb), e.g. from `apprentice data`.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Weights to write (.safetensors).
    #[arg(short, long, value_name = "OUT.safetensors")]
    out: PathBuf,
    /// Model size: tiny or small.
    #[arg(long, default_value = "small")]
    size: String,
    /// With --init, a model made before them: grow what the small size has since (the
    /// canvas seen at every op, the place and shape priors, their context) from zeros, so
    /// that it starts out painting as the model did.
    #[arg(long, requires = "init")]
    grow: bool,
    /// With --grow or --finer, train only what the model grew (with --finer, the priors'
    /// cells on the finer view): the rest stays exactly as in --init, so the model paints as
    /// before wherever the new parts say nothing.
    #[arg(long, requires = "init")]
    only_grown: bool,
    /// Start from this model (its size and weights) instead of random weights: fine-tuning.
    #[arg(long, value_name = "FILE.safetensors", conflicts_with = "size")]
    init: Option<PathBuf>,
    /// With --init: see the canvas at every op twice as fine (a 16² view becomes 32²), the
    /// priors' cells reading one more context scale; carried over so that it starts out
    /// painting as the model did.
    #[arg(long, requires = "init")]
    finer: bool,
    /// Coarser scales of the canvas view the place and shape priors' cells read around them
    /// (0: none) [default: the size's, or --init's; with --init, scales it lacks are grown
    /// from zeros, so that it starts out painting as before].
    #[arg(long, value_name = "SCALES")]
    context: Option<usize>,
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Ops per training window.
    #[arg(long, default_value_t = 64)]
    window: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of batches trained in copy mode (with the reference picture).
    #[arg(long, default_value_t = 0.5)]
    reference_rate: f32,
    /// The characters' share of copy-mode batches [default: the same as each other source's].
    /// (Without a reference they always get 10 %: ink on white is not what Continue should do.)
    #[arg(long, value_parser = share)]
    copy_character_share: Option<f32>,
    #[arg(long, default_value_t = 200)]
    eval_every: usize,
    /// Continue from OUT if it exists.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    let config = match (&args.init, args.size.as_str()) {
        (Some(init), _) => {
            if super::same_file(init, &args.out) {
                return Err(CliError::input(
                    "--out must differ from --init (the model started from is kept)",
                ));
            }
            checkpoint::load_config(init).map_err(|e| CliError::input(format!("--init: {e}")))?
        }
        (None, "tiny") => Config::tiny(),
        (None, "small") => Config::small(),
        (None, other) => {
            return Err(CliError::input(format!("--size: expected tiny or small, got {other:?}")));
        }
    };
    let config = match args.grow {
        true => {
            let small = Config::small();
            Config {
                state: config.state.max(small.state),
                pointer: config.pointer.max(small.pointer),
                shape: config.shape.max(small.shape),
                context: config.context.max(small.context),
                ..config
            }
        }
        false => config,
    };
    let config = match args.finer {
        true => config.finer().map_err(|e| CliError::input(format!("--finer: {e} (add --grow)")))?,
        false => config,
    };
    let config = match args.context {
        Some(context) => {
            let config = Config { context, ..config };
            config.check().map_err(|e| CliError::input(format!("--context {context}: {e}")))?;
            config
        }
        None => config,
    };
    if args.window + 1 > config.max_ops {
        return Err(CliError::input(format!("--window: at most {} for this model size", config.max_ops - 1)));
    }
    if args.out.extension().is_none_or(|e| e != "safetensors") {
        return Err(CliError::input(format!("{} must end in .safetensors", args.out.display())));
    }
    let options = TrainOptions {
        data: args.data,
        out: args.out,
        config,
        steps: args.steps,
        batch: args.batch.max(1),
        window: args.window.max(2),
        cuts: 1,
        lr: args.lr,
        seed: args.seed,
        reference_rate: args.reference_rate,
        copy_character_share: args.copy_character_share,
        eval_every: args.eval_every.max(1),
        resume: args.resume,
        init: args.init,
        only_grown: args.only_grown,
        held_out: None,
        warmup: 100,
        stop: None,
    };
    let bar = progress_bar(args.steps as u64, "training");
    let describe = |lines: &[String]| {
        for line in lines {
            tracing::info!("data: {line}");
        }
    };
    let state = training::train(&options, describe, |step, loss, heldout| {
        bar.set_position(step as u64);
        bar.set_message(format!("{loss:.3}"));
        if let Some(h) = heldout {
            bar.suspend(|| tracing::info!("step {step}: train loss {loss:.3}, held-out loss {h:.3}"));
        }
    })?;
    bar.finish_and_clear();
    tracing::info!(
        "trained {} steps in {:.0} s ({:.0} ops/s); train loss {:.3}, held-out loss {:.3}; wrote {}",
        state.step,
        state.seconds,
        state.ops_per_second,
        state.train_loss,
        state.heldout_loss,
        options.out.display()
    );
    Ok(())
}

fn share(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a share in [0, 1], got {text:?}")),
    }
}
