//! The `apprentice` command line. Exit codes: 0 success, 2 bad input (usage,
//! an unreadable or invalid history), 1 any other failure (e.g. a disk error).

mod continue_history;
mod convert;
mod data;
mod docs;
mod eval;
mod eval_brush;
mod info;
mod install;
mod magic;
mod paint;
mod personalize;
mod reinforce;
mod replay;
mod serve;
mod style;
mod train;
mod train_brush;
mod watch;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::ops::{HistoryError, history, pb};

#[derive(Parser)]
#[command(
    name = "apprentice",
    version,
    about = "A painting apprentice: replays, continues and learns painting as a process.",
    long_about = "A painting apprentice: replays, continues and learns painting as a process.\n\n\
        A history is a painting's undo history: a header (canvas size, background) and the \
        operations that made it (brush, airbrush, pencil, eraser and smudge strokes, fills, \
        magic-brush dabs, pasted pixels, undo and redo), stored as JSON Lines (.jsonl) or \
        binary protobuf records (.binpb).",
    after_help = "Examples:\n  apprentice replay examples/still-life.jsonl -o still-life.png\n  \
        apprentice replay examples/still-life.jsonl -o out.png --gif timelapse.gif\n  \
        apprentice continue examples/still-life.jsonl --steps 50 -o more.jsonl --png more.png\n  \
        apprentice paint photo.png --ops 500 -o copy.png --history copy.jsonl\n  \
        apprentice serve\n  \
        apprentice convert examples/still-life.jsonl still-life.binpb"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Replay(replay::Args),
    Continue(continue_history::Args),
    Paint(paint::Args),
    /// Repaint part of a picture with the magic brush.
    Magic(magic::Args),
    Serve(serve::Args),
    Data(data::Args),
    Train(train::Args),
    /// Train the magic brush's built-in inpainting model.
    TrainBrush(train_brush::Args),
    Reinforce(reinforce::Args),
    Eval(eval::Args),
    /// Score the magic brush against classical inpainting.
    EvalBrush(eval_brush::Args),
    Watch(watch::Args),
    Info(info::Args),
    Convert(convert::Args),
    /// Put Krita's or GIMP's plug-in in place (it is inside this binary).
    Install(install::Args),
    /// Take Krita's or GIMP's plug-in out again.
    Uninstall(install::UninstallArgs),
    /// Learn one painter's manner from the sessions the daemon recorded.
    Personalize(personalize::Args),
    /// A painter's style from their histories, and how far it is from another's.
    Style(style::Args),
    /// Print the manual page (roff).
    Man(docs::ManArgs),
    /// Print shell completions.
    Completions(docs::CompletionsArgs),
}

/// Where Apprentice keeps its files (shared by the commands that need them).
#[derive(clap::Args, Clone)]
struct Dirs {
    /// Settings folder (apprentice.toml, token). Default: $APPRENTICE_CONFIG_DIR, else the platform's.
    #[arg(long, value_name = "DIR")]
    config_dir: Option<std::path::PathBuf>,
    /// Data folder (sessions, models). Default: $APPRENTICE_DATA_DIR, else the platform's.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
}

impl Dirs {
    fn paths(self) -> Result<crate::config::Paths, CliError> {
        crate::config::Paths::resolve(self.config_dir, self.data_dir).map_err(CliError::input)
    }
}

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// The user gave something unusable (exit code 2).
    pub fn input(message: impl Into<String>) -> CliError {
        CliError { code: 2, message: message.into() }
    }

    /// Something else went wrong (exit code 1).
    pub fn failure(message: impl Into<String>) -> CliError {
        CliError { code: 1, message: message.into() }
    }
}

impl From<crate::training::RunError> for CliError {
    fn from(e: crate::training::RunError) -> CliError {
        match e {
            crate::training::RunError::Input(m) => CliError::input(m),
            crate::training::RunError::Failed(m) => CliError::failure(m),
        }
    }
}

pub type CliResult = Result<(), CliError>;

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("APPRENTICE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
    let cli = Cli::parse();
    // Reinforcement rollouts are decode steps on one-row matrices, where gemm's
    // thread pool costs more than it gives (DESIGN.md: decode single-threaded);
    // its episodes run on parallel threads instead (a step took a quarter of the time).
    // The daemon's models paint one request at a time each, and its calls run side by
    // side: measured here, the transformer's prefill took 4.6 ms on one thread against
    // 7.0 on two, a 64 px magic-brush dab 223 ms against 259.
    let threads = matches!(cli.command, Command::Reinforce(_) | Command::Serve(_)).then_some(1);
    // SAFETY: no other thread runs yet.
    unsafe { crate::tuning::threads(threads) };
    // Batch jobs keep what they free; the long-running daemon gives it back (this may
    // start a thread, so it comes after the environment is set).
    if matches!(cli.command, Command::Serve(_) | Command::Watch(_)) {
        crate::tuning::daemon_allocator();
    } else {
        crate::tuning::allocator();
    }
    let result = match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Continue(args) => continue_history::run(args),
        Command::Paint(args) => paint::run(args),
        Command::Magic(args) => magic::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Data(args) => data::run(args),
        Command::Train(args) => train::run(args),
        Command::TrainBrush(args) => train_brush::run(args),
        Command::Reinforce(args) => reinforce::run(args),
        Command::Eval(args) => eval::run(args),
        Command::EvalBrush(args) => eval_brush::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Info(args) => info::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Install(args) => install::run(args),
        Command::Uninstall(args) => install::run_uninstall(args),
        Command::Style(args) => style::run(args),
        Command::Personalize(args) => personalize::run(args),
        Command::Man(args) => docs::man(args),
        Command::Completions(args) => docs::completions(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// Reads and validates a history; any problem with it is bad input.
fn load_history(path: &Path) -> Result<pb::History, CliError> {
    history::read_path(path).map_err(|e| match e {
        HistoryError::Io(io) => CliError::input(format!("cannot read {}: {io}", path.display())),
        other => CliError::input(format!("{}: {other}", path.display())),
    })
}

/// Refuses an output path whose extension is not `ext`, before any work is done.
fn require_extension(path: &Path, ext: &str, what: &str) -> CliResult {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case(ext) => Ok(()),
        _ => Err(CliError::input(format!("{what} {} must be a .{ext} file", path.display()))),
    }
}

/// Refuses a history output path with an unknown extension, before any work is done.
fn require_history_path(path: &Path) -> CliResult {
    match crate::ops::HistoryFormat::from_path(path) {
        Some(_) => Ok(()),
        None => Err(CliError::input(format!("{} must end in .jsonl or .binpb", path.display()))),
    }
}

/// Whether two paths name one file, however spelled (`m.safetensors`, `./m.safetensors`).
fn same_file(a: &Path, b: &Path) -> bool {
    crate::files::same_file(a, b)
}

/// Refuses, before any work, outputs that are inputs (or each other): `(flag, path)` pairs.
fn refuse_clobbering(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> CliResult {
    crate::files::refuse_clobbering(outputs, inputs).map_err(CliError::input)
}

/// Writes an output file atomically; a failure leaves what was there whole.
fn write_output(path: &Path, bytes: &[u8]) -> CliResult {
    crate::files::write(path, bytes)
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))
}

/// Writes a history output atomically, in the format its extension names.
fn write_history(h: &pb::History, path: &Path) -> CliResult {
    history::write_path(h, path)
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))
}

/// Refuses a sampling temperature outside [0, 4] (NaN included).
fn check_temperature(t: f32) -> CliResult {
    if (0.0..=4.0).contains(&t) {
        Ok(())
    } else {
        Err(CliError::input(format!("--temperature must be in [0, 4], got {t}")))
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ops ({{per_sec}}, {{eta}} left)"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    )
}
