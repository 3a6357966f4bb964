//! `apprentice reinforce`: the reinforcement stages after `apprentice train`.

use std::path::PathBuf;

use super::{CliError, CliResult, require_extension};
use crate::training::reinforce::{self, ReinforceOptions, Source};

/// Reinforce a model at copying (--data) or at stroke order (--hanzi), kept close to where it started.
///
/// Copying: each step paints --episodes references (finished pictures of the
/// histories in --data) for --ops ops; at each op --group candidates are sampled
/// and rewarded with the drop in distance to the reference they cause. About one
/// history in ten (by a hash of its file name) is held out for the reward figure.
///
/// Stroke order: each step writes --episodes training characters of the package
/// in --hanzi stroke by stroke, as `eval --hanzi` shows them; at each stroke
/// --group candidates are sampled, and one earns 1 when it is nearer the true
/// next stroke than every other stroke still to write. One training character
/// in fifty is kept out for the figure (next-stroke accuracy on them and on an
/// augmented copy of each); the held-out split stays for `eval`.
///
/// The loss is −advantage × log π(op) + β × KL(π ‖ π_init). Writes OUT
/// (weights), its .json (config) and .train.json (progress) every --eval-every
/// steps; --resume continues a run.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "hanzi"])))]
pub struct Args {
    /// Model to start from and stay close to (.safetensors, its .json beside it).
    #[arg(long, value_name = "MODEL.safetensors")]
    init: PathBuf,
    /// Copying: folder of histories (.jsonl, .binpb) whose finished pictures are the references.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Stroke order: a characters package (hanzi-writer-data or KanjiVG, as `eval --hanzi`);
    /// repeat it to draw from several.
    #[arg(long, value_name = "DIR")]
    hanzi: Vec<PathBuf>,
    /// Weights to write (.safetensors).
    #[arg(short, long, value_name = "OUT.safetensors")]
    out: PathBuf,
    #[arg(long, default_value_t = 250)]
    steps: usize,
    /// Episodes (reference pictures) per step.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    episodes: u32,
    /// Ops painted per episode when copying (less than the model's context).
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
    /// Stroke order: share of the characters written as augmented copies (slanted,
    /// rescaled, moved, jittered, in their own ink, as `data --augment` makes them).
    #[arg(long, default_value_t = 0.5)]
    augment_rate: f32,
    /// Histories (.jsonl, .binpb) whose pictures the policy must go on painting as it
    /// started: each step adds --anchor-beta × the KL to --init on --anchor-windows windows
    /// of them (half with their reference), where the reward would not look.
    #[arg(long, value_name = "DIR")]
    anchor: Option<PathBuf>,
    #[arg(long, default_value_t = 1.0, requires = "anchor")]
    anchor_beta: f64,
    #[arg(long, default_value_t = 8, requires = "anchor", value_parser = clap::value_parser!(u32).range(2..))]
    anchor_windows: u32,
    /// See the canvas at every op twice as fine as --init does (a 16² view becomes 32²),
    /// carried over so that it starts out painting exactly as --init; the priors' new cells
    /// (at zeros at first) learn --finer-lr × --lr.
    #[arg(long)]
    finer: bool,
    #[arg(long, default_value_t = 10.0, requires = "finer")]
    finer_lr: f64,
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
    for (flag, lr) in [("--lr", args.lr), ("--finer-lr", args.finer_lr)] {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(CliError::input(format!("{flag} must be a positive number, got {lr}")));
        }
    }
    for (flag, beta) in [("--beta", args.beta), ("--anchor-beta", args.anchor_beta)] {
        if !(beta >= 0.0 && beta.is_finite()) {
            return Err(CliError::input(format!("{flag} must be a number ≥ 0, got {beta}")));
        }
    }
    for (flag, share) in [("--blank-rate", args.blank_rate), ("--augment-rate", args.augment_rate)] {
        if !(0.0..=1.0).contains(&share) {
            return Err(CliError::input(format!("{flag} must be in [0, 1], got {share}")));
        }
    }
    if super::same_file(&args.out, &args.init) {
        // The imitation model is the KL anchor and must stay as it was.
        return Err(CliError::input(format!(
            "--out {} is the --init model; write elsewhere",
            args.out.display()
        )));
    }
    let source = match args.data {
        Some(dir) => Source::Pictures(dir),
        None => Source::Characters(args.hanzi),
    };
    let figure = match source {
        Source::Pictures(_) => "held-out reward per op",
        Source::Characters(_) => "next-stroke accuracy on the characters kept out",
    };
    let options = ReinforceOptions {
        init: args.init,
        source,
        out: args.out,
        steps: args.steps,
        episodes: args.episodes as usize,
        ops: args.ops,
        group: args.group,
        lr: args.lr,
        beta: args.beta,
        blank_rate: args.blank_rate,
        augment_rate: args.augment_rate,
        anchor: args.anchor,
        anchor_beta: args.anchor_beta,
        anchor_windows: args.anchor_windows as usize,
        finer: args.finer,
        finer_lr: args.finer_lr,
        seed: args.seed,
        eval_every: args.eval_every as usize,
        resume: args.resume,
    };
    let state = reinforce::reinforce(&options, |s, heldout| {
        if s.step == 0 {
            tracing::info!("before: {figure} {:.4}", s.heldout_reward_start);
            return;
        }
        let held = heldout.map(|h| format!(", {figure} {h:.4}")).unwrap_or_default();
        let anchor = if options.anchor.is_some() {
            format!(", on the anchor {:.4}", s.anchor_kl)
        } else {
            String::new()
        };
        tracing::info!(
            "step {}/{}: reward {:.4} per op, KL {:.4}{anchor}, loss {:.4}{held} ({:.0} s)",
            s.step,
            options.steps,
            s.reward,
            s.kl,
            s.loss,
            s.seconds
        );
    })?;
    tracing::info!(
        "reinforced {} steps in {:.0} s; {figure} {:.4} -> {:.4}; wrote {}",
        state.step,
        state.seconds,
        state.heldout_reward_start,
        state.heldout_reward,
        options.out.display()
    );
    Ok(())
}
