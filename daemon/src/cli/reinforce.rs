//! `apprentice reinforce`: the reinforcement stage after `apprentice train`.

use std::path::PathBuf;

use super::{CliError, CliResult, require_extension};
use crate::training::reinforce::{self, ReinforceOptions};

/// Reinforce an imitation model at copying (copy reward, kept close to the imitation policy).
///
/// Each step paints --episodes references (finished pictures of the histories
/// in --data) for --ops ops; at each op --group candidates are sampled and
/// rewarded with the drop in distance to the reference they cause. The loss is
/// −advantage × log π(op) + β × KL(π ‖ π_imitation). Writes OUT (weights), its
/// .json (config) and .train.json (progress) every --eval-every steps; --resume
/// continues a run. About one history in ten (by a hash of its
/// file name) is held out for the reward figure.
#[derive(clap::Args)]
pub struct Args {
    /// Imitation model to start from and stay close to (.safetensors, its .json beside it).
    #[arg(long, value_name = "MODEL.safetensors")]
    init: PathBuf,
    /// Folder of histories (.jsonl, .binpb): their finished pictures are the references.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Weights to write (.safetensors).
    #[arg(short, long, value_name = "OUT.safetensors")]
    out: PathBuf,
    #[arg(long, default_value_t = 250)]
    steps: usize,
    /// Episodes (reference pictures) per step.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    episodes: u32,
    /// Ops painted per episode (less than the model's context).
    #[arg(long, default_value_t = 32)]
    ops: usize,
    /// Candidate ops sampled at each op (at least 2: they are each other's baseline).
    #[arg(long, default_value_t = 4)]
    group: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Weight of the KL penalty that keeps the policy near the imitation model.
    #[arg(long, default_value_t = 0.1)]
    beta: f64,
    /// Share of episodes that start from the blank canvas (the others from a
    /// random point of the history's own painting).
    #[arg(long, default_value_t = 0.5)]
    blank_rate: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    eval_every: u32,
    /// Continue from OUT if it exists.
    #[arg(long)]
    resume: bool,
}

pub fn run(args: Args) -> CliResult {
    require_extension(&args.out, "safetensors", "--out")?;
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return Err(CliError::input(format!("--lr must be a positive number, got {}", args.lr)));
    }
    if !(args.beta >= 0.0 && args.beta.is_finite()) {
        return Err(CliError::input(format!("--beta must be a number ≥ 0, got {}", args.beta)));
    }
    if !(0.0..=1.0).contains(&args.blank_rate) {
        return Err(CliError::input(format!("--blank-rate must be in [0, 1], got {}", args.blank_rate)));
    }
    if super::same_file(&args.out, &args.init) {
        // The imitation model is the KL anchor and must stay as it was.
        return Err(CliError::input(format!(
            "--out {} is the --init model; write elsewhere",
            args.out.display()
        )));
    }
    let options = ReinforceOptions {
        init: args.init,
        data: args.data,
        out: args.out,
        steps: args.steps,
        episodes: args.episodes as usize,
        ops: args.ops,
        group: args.group,
        lr: args.lr,
        beta: args.beta,
        blank_rate: args.blank_rate,
        seed: args.seed,
        eval_every: args.eval_every as usize,
        resume: args.resume,
    };
    let state = reinforce::reinforce(&options, |s, heldout| {
        if s.step == 0 {
            tracing::info!("before: held-out reward {:.4} per op", s.heldout_reward_start);
            return;
        }
        let held = heldout.map(|h| format!(", held-out reward {h:.4}")).unwrap_or_default();
        tracing::info!(
            "step {}/{}: reward {:.4} per op, KL {:.4}, loss {:.4}{held} ({:.0} s)",
            s.step,
            options.steps,
            s.reward,
            s.kl,
            s.loss,
            s.seconds
        );
    })?;
    tracing::info!(
        "reinforced {} steps in {:.0} s; held-out reward per op {:.4} -> {:.4}; wrote {}",
        state.step,
        state.seconds,
        state.heldout_reward_start,
        state.heldout_reward,
        options.out.display()
    );
    Ok(())
}
