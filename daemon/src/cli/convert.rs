//! `apprentice convert`: between JSON Lines and binary histories, validating on the way.

use std::path::PathBuf;

use super::{CliResult, load_history};

/// Convert a history between JSON Lines (.jsonl) and binary records (.binpb).
///
/// The input is validated first; the output's format follows its extension.
#[derive(clap::Args)]
pub struct Args {
    /// History to read (.jsonl or .binpb).
    input: PathBuf,
    /// History to write (.jsonl or .binpb).
    output: PathBuf,
}

pub fn run(args: Args) -> CliResult {
    super::require_history_path(&args.output)?;
    super::refuse_clobbering(&[("OUTPUT", &args.output)], &[("INPUT", &args.input)])?;
    let h = load_history(&args.input)?;
    super::write_history(&h, &args.output)
}
