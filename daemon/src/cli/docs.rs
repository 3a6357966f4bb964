//! `apprentice man` and `apprentice completions SHELL`: the manual page and shell completions,
//! generated from the command line's own definition (the Debian package ships both).

use std::io::Write;

use clap::CommandFactory;

use super::{CliError, CliResult};

/// Print the manual page (roff), e.g. `apprentice man > apprentice.1`.
#[derive(clap::Args)]
pub struct ManArgs {}

/// Print shell completions, e.g. `apprentice completions bash > /etc/bash_completion.d/apprentice`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

pub fn man(_: ManArgs) -> CliResult {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::failure(format!("man page: {e}")))?;
    std::io::stdout().write_all(&out).map_err(|e| CliError::failure(e.to_string()))
}

pub fn completions(args: CompletionsArgs) -> CliResult {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "apprentice", &mut std::io::stdout());
    Ok(())
}
