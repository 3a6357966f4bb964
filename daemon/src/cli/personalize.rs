//! `apprentice personalize`: one painter's manner, learned from the sessions the daemon recorded.

use std::path::PathBuf;

use super::{CliError, CliResult, Dirs, progress_bar};
use crate::training::personalize::{self, Plan};

/// Fine-tune the shipped stroke transformer on the sessions the daemon recorded (read only),
/// holding the latest sessions out to check it; the result goes into the models folder as
/// NAME.safetensors, where a running daemon picks it up (move it away to go back to the
/// built-in model). Prints the next-op loss on the held-out sessions with the shipped model and
/// with the personal one. A run stopped part-way (Ctrl-C) resumes when the same --name runs again.
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
    personalize::check_name(&args.name).map_err(|e| CliError::input(format!("--name {e}")))?;
    let paths = args.dirs.paths()?;
    let work = paths.personalizing_dir();
    let sessions = if personalize::unfinished(&work, &args.name) {
        println!("resuming the stopped run of {:?} (on the sessions it started with)", args.name);
        Vec::new()
    } else {
        let store = args.store.clone().unwrap_or_else(|| paths.store_file());
        // Latest first (the store lists by last change).
        super::data::recorded_sessions(&store, personalize::MIN_OPS)?
    };
    let plan = Plan {
        name: args.name.clone(),
        steps: args.steps,
        batch: args.batch.max(1),
        lr: args.lr,
        held_out: args.held_out,
    };
    let bar = progress_bar(args.steps as u64, "learning");
    let mut told = false;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = personalize::personalize(sessions, &work, &paths.models_dir(), &plan, stop, |p| {
        if !told {
            told = true;
            bar.suspend(|| {
                println!(
                    "{} sessions: {} to learn from ({} ops), the latest {} held out",
                    p.sessions + p.held_out,
                    p.sessions,
                    p.ops,
                    p.held_out
                )
            });
        }
        bar.set_position(p.step as u64);
    })?;
    bar.finish_and_clear();
    let done = done.ok_or_else(|| CliError::failure("stopped before the end"))?;
    println!(
        "next-op loss on the held-out sessions: {:.3} with the shipped model, {:.3} with {}",
        done.loss_before, done.loss_after, done.name
    );
    println!(
        "wrote {} (a running daemon uses it now; move it away to go back to the built-in model)",
        done.path.display()
    );
    Ok(())
}
