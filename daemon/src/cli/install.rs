//! `apprentice install krita|gimp` and `apprentice uninstall krita|gimp`.

use std::path::PathBuf;

use super::{CliError, CliResult};
use crate::install::{self, Editor, Env};

/// Put an editor's plug-in in place: Krita's in its resource folder, enabled in kritarc; GIMP's
/// in the plug-ins folder of every GIMP 3 profile found. The plug-ins are inside this binary.
#[derive(clap::Args)]
pub struct Args {
    /// The editor: krita or gimp.
    editor: Editor,
    /// The profile folder to install into (Krita: its resource folder, the one holding
    /// pykrita/; GIMP: e.g. ~/.config/GIMP/3.0). Default: every one found.
    #[arg(long, value_name = "DIR")]
    profile: Option<PathBuf>,
}

/// Take an editor's plug-in out again (what `apprentice install` put in).
#[derive(clap::Args)]
pub struct UninstallArgs {
    /// The editor: krita or gimp.
    editor: Editor,
    /// The profile folder to take it out of. Default: every one found.
    #[arg(long, value_name = "DIR")]
    profile: Option<PathBuf>,
}

fn places(editor: Editor, profile: Option<&std::path::Path>) -> Result<Vec<install::Place>, CliError> {
    let env = Env::current().map_err(CliError::input)?;
    install::find(editor, profile, &env).map_err(CliError::input)
}

pub fn run(args: Args) -> CliResult {
    let binary =
        std::env::current_exe().map_err(|e| CliError::input(format!("where is this binary? {e}")))?;
    for place in places(args.editor, args.profile.as_deref())? {
        for line in install::install(&place, &binary).map_err(CliError::input)? {
            println!("{line}");
        }
    }
    match args.editor {
        Editor::Krita => println!("Restart Krita, then open Settings ▸ Dockers ▸ Apprentice."),
        Editor::Gimp => println!("Restart GIMP, then see Filters ▸ Apprentice."),
    }
    println!("To undo: apprentice uninstall {}", format!("{:?}", args.editor).to_lowercase());
    Ok(())
}

pub fn run_uninstall(args: UninstallArgs) -> CliResult {
    let mut removed = 0;
    for place in places(args.editor, args.profile.as_deref())? {
        for line in install::uninstall(&place).map_err(CliError::input)? {
            println!("{line}");
            removed += 1;
        }
    }
    if removed == 0 {
        println!("the {} plug-in was not installed: nothing to take out", args.editor.name());
    }
    Ok(())
}
