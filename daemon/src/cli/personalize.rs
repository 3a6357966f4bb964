//! `apprentice personalize`: one painter's manner, learned from the sessions the daemon recorded.

use std::path::PathBuf;

use super::{CliError, CliResult, Dirs, progress_bar};
use crate::model::checkpoint;
use crate::training::{self, TrainOptions};

/// Fine-tune the shipped stroke transformer on the sessions the daemon recorded (read only),
/// holding the latest sessions out to check it; the result goes into the models folder as
/// NAME.safetensors, where a running daemon picks it up (move it away to go back to the
/// built-in model). Prints the next-op loss on the held-out sessions with the shipped model and
/// with the personal one.
#[derive(clap::Args)]
pub struct Args {
    /// The daemon's session store [default: DATA_DIR/sessions.sqlite3].
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// The model's name in the models folder (a number is added when the name is taken).
    #[arg(long, default_value = "personal")]
    name: String,
    #[arg(long, default_value_t = 300)]
    steps: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 3e-4)]
    lr: f64,
    /// Sessions with fewer ops (after undo and redo) are left out.
    #[arg(long, default_value_t = 20)]
    min_ops: usize,
    /// Share of the sessions, the latest, held out to check the model (at least one).
    #[arg(long, default_value_t = 0.2)]
    held_out: f32,
    #[command(flatten)]
    dirs: Dirs,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    if args.name.is_empty() || !args.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(CliError::input(format!("--name {:?}: letters, digits, - and _ only", args.name)));
    }
    let paths = args.dirs.paths()?;
    let store = args.store.clone().unwrap_or_else(|| paths.store_file());
    // Latest first (the store lists by last change).
    let sessions = super::data::recorded_sessions(&store, args.min_ops)?;
    if sessions.len() < 2 {
        return Err(CliError::input(format!(
            "{} holds {} session(s) of at least {} ops: at least 2 are needed (one is held out to check the model)",
            store.display(),
            sessions.len(),
            args.min_ops
        )));
    }
    let held = ((sessions.len() as f32 * args.held_out.clamp(0.0, 0.9)).round() as usize)
        .clamp(1, sessions.len() - 1);
    let work = tempfile::tempdir().map_err(|e| CliError::failure(format!("a working folder: {e}")))?;
    let data = work.path().join("sessions");
    std::fs::create_dir_all(&data).map_err(|e| CliError::failure(e.to_string()))?;
    let mut names = Vec::new();
    for (i, (id, history)) in sessions.iter().enumerate() {
        let name = format!("session-{id}.binpb");
        crate::ops::history::write_path(history, &data.join(&name))
            .map_err(|e| CliError::failure(e.to_string()))?;
        if i < held {
            names.push(name);
        }
    }
    let (weights, config_json) = crate::model::registry::default_files();
    let base = work.path().join("base.safetensors");
    std::fs::write(&base, weights).map_err(|e| CliError::failure(e.to_string()))?;
    std::fs::write(base.with_extension("json"), config_json).map_err(|e| CliError::failure(e.to_string()))?;
    let base_model = crate::model::registry::default_model();
    let out = work.path().join(format!("{}.safetensors", args.name));
    let options = TrainOptions {
        data: data.clone(),
        out: out.clone(),
        config: base_model.config().clone(),
        steps: args.steps,
        batch: args.batch.max(1),
        window: 64,
        lr: args.lr,
        seed: 0,
        // Sessions have no reference picture: Continue without one is what is learned.
        reference_rate: 0.0,
        copy_character_share: None,
        eval_every: args.steps.max(1),
        resume: false,
        init: Some(base.clone()),
        held_out: Some(names.clone()),
    };
    println!(
        "{} sessions: {} to learn from, the latest {held} held out",
        sessions.len(),
        sessions.len() - held
    );
    let bar = progress_bar(args.steps as u64, "learning");
    let state = training::train(&options, |_| {}, |step, _, _| bar.set_position(step as u64)).map_err(
        |e| match e {
            training::RunError::Input(m) => CliError::input(m),
            training::RunError::Failed(m) => CliError::failure(m),
        },
    )?;
    bar.finish_and_clear();

    // The check: next-op loss on the held-out sessions, the shipped model and the personal one.
    let histories = training::load_histories(&data).map_err(CliError::failure)?;
    let flags: Vec<bool> = histories.iter().map(|(n, _)| names.contains(n)).collect();
    let cfg = base_model.config().clone();
    let windows = training::heldout_windows(&histories, &flags, &cfg, 64);
    let personal = checkpoint::load_file(&out, &crate::device::current()).map_err(CliError::failure)?;
    let loss = |m: &crate::model::stroke_transformer::StrokeTransformer| {
        training::heldout_loss(m, &windows, &cfg, 64).map_err(|e| CliError::failure(e.to_string()))
    };
    let (before, after) = (loss(&base_model)?, loss(&personal)?);
    println!(
        "next-op loss on the held-out sessions: {before:.3} with the shipped model, {after:.3} with {}",
        args.name
    );
    if state.heldout_loss.is_finite() {
        tracing::debug!("training's own held-out loss: {:.3}", state.heldout_loss);
    }

    // Into the models folder, under a name not taken (nothing there is replaced).
    let models = paths.models_dir();
    std::fs::create_dir_all(&models).map_err(|e| CliError::failure(format!("{}: {e}", models.display())))?;
    let mut n = 0;
    let target = loop {
        let stem = if n == 0 { args.name.clone() } else { format!("{}-{n}", args.name) };
        let candidate = models.join(format!("{stem}.safetensors"));
        if !candidate.exists() && !candidate.with_extension("json").exists() {
            break candidate;
        }
        n += 1;
    };
    // The config first: the daemon's watch loads a model when its weights appear.
    crate::files::write(
        &target.with_extension("json"),
        &std::fs::read(out.with_extension("json")).map_err(|e| CliError::failure(e.to_string()))?,
    )
    .map_err(|e| CliError::failure(format!("{}: {e}", target.display())))?;
    crate::files::write(&target, &std::fs::read(&out).map_err(|e| CliError::failure(e.to_string()))?)
        .map_err(|e| CliError::failure(format!("{}: {e}", target.display())))?;
    println!(
        "wrote {} (a running daemon uses it now; move it away to go back to the built-in model)",
        target.display()
    );
    Ok(())
}
