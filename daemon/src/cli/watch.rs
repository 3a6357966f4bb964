//! `apprentice watch`: a batch inbox.

use std::path::PathBuf;
use std::time::Duration;

use super::{CliError, CliResult, Dirs};
use crate::config::Config;
use crate::watch::{self, WatchOptions};

/// Do every job dropped into INBOX and write the results to OUTBOX, until stopped.
///
/// A history (.jsonl, .binpb) is continued (NAME.continued.jsonl and NAME.png);
/// NAME.render.jsonl is only rendered (NAME.render.png); a picture (.png) is
/// painted as a process (NAME.history.jsonl and NAME.painted.png). Finished jobs
/// move to INBOX/done, failed ones to INBOX/failed with OUTBOX/NAME.error.txt;
/// nothing is deleted or replaced (a name already taken gets a number: a-1.png).
/// Write job files under a name ending in .part and rename them when complete,
/// or let them settle: a file is taken once it has not changed for --settle-ms.
#[derive(clap::Args)]
pub struct Args {
    inbox: PathBuf,
    outbox: PathBuf,
    /// Ops to add to each history (default from the config file, else 50).
    #[arg(long, value_name = "N")]
    continue_ops: Option<u32>,
    /// Ops to paint each picture with (default from the config file, else 300).
    #[arg(long, value_name = "N")]
    paint_ops: Option<u32>,
    /// Painter to use (default: search with a reference picture, else the transformer).
    #[arg(long, default_value = "")]
    painter: String,
    /// How long a file must stay unchanged before it is taken, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    settle_ms: u64,
    /// Do the jobs in the inbox now, then exit (exit code 2 if any failed).
    #[arg(long)]
    once: bool,
    /// A job file larger than this many bytes fails without being read.
    #[arg(long, value_name = "BYTES", default_value_t = watch::DEFAULT_MAX_JOB_BYTES)]
    max_job_bytes: u64,
    #[command(flatten)]
    dirs: Dirs,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    let paths = args.dirs.paths()?;
    let config = Config::load(&paths.config_file()).map_err(CliError::input)?;
    let options = WatchOptions {
        inbox: args.inbox,
        outbox: args.outbox,
        settle: Duration::from_millis(args.settle_ms),
        continue_ops: args.continue_ops.unwrap_or(config.watch.continue_ops),
        paint_ops: args.paint_ops.unwrap_or(config.watch.paint_ops),
        painter: args.painter,
        once: args.once,
        max_job_bytes: args.max_job_bytes,
    };
    // Any painter will do here (pictures are jobs too); the name must exist.
    crate::painters::choose(&options.painter, true)
        .map_err(|e| CliError::input(format!("--painter: {e}")))?;
    if !options.once {
        tracing::info!("watching {} (results in {})", options.inbox.display(), options.outbox.display());
    }
    let outcomes = watch::run(&options, |_| {}).map_err(CliError::failure)?;
    let failed = outcomes.iter().filter(|o| matches!(o, watch::Outcome::Failed(..))).count();
    if failed > 0 {
        return Err(CliError::input(format!(
            "{failed} of {} jobs failed (see the .error.txt files)",
            outcomes.len()
        )));
    }
    Ok(())
}
