//! `apprentice style`: a painter's style, read from their histories, and how far it is from
//! another's.

use std::path::PathBuf;

use super::{CliResult, load_history};
use crate::eval::style::{self, Style};

/// Describe the style of the painter of HISTORY... (tools, sizes, stroke lengths, turning,
/// opacity, pressure, palette, order of work), and with --against how far it is from the style
/// of other histories (each part 0..1: 0 the same, 1 nothing in common).
#[derive(clap::Args)]
pub struct Args {
    /// Histories of one painter (.jsonl or .binpb).
    #[arg(required = true)]
    histories: Vec<PathBuf>,
    /// Histories of another painter, to compare with.
    #[arg(long, num_args = 1.., value_name = "HISTORY")]
    against: Vec<PathBuf>,
}

fn style_of(paths: &[PathBuf]) -> Result<Style, super::CliError> {
    let histories = paths.iter().map(|p| load_history(p)).collect::<Result<Vec<_>, _>>()?;
    let ops: Vec<&crate::ops::pb::Op> =
        histories.iter().flat_map(|h| crate::ops::timeline::effective(&h.ops)).collect();
    Ok(style::of(&ops))
}

fn describe(name: &str, s: &Style) {
    let kinds = ["brush", "airbrush", "pencil", "eraser", "smudge", "fill", "magic brush"];
    let shares: Vec<String> = kinds
        .iter()
        .zip(&s.kinds)
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| format!("{k} {:.0} %", 100.0 * v))
        .collect();
    println!("{name}: {} ops — {}", s.ops, shares.join(", "));
    println!("  brush size over the history: {:+.2} octaves (negative: coarse to fine)", s.coarse_to_fine);
}

pub fn run(args: Args) -> CliResult {
    let mine = style_of(&args.histories)?;
    describe("style", &mine);
    if args.against.is_empty() {
        return Ok(());
    }
    let theirs = style_of(&args.against)?;
    describe("against", &theirs);
    let d = style::distance(&mine, &theirs);
    println!("| part | distance |\n|---|---:|");
    for (part, v) in [
        ("tools", d.kinds),
        ("brush sizes", d.sizes),
        ("stroke lengths", d.lengths),
        ("turning", d.turning),
        ("opacity", d.opacity),
        ("pressure", d.pressure),
        ("palette (Oklab)", d.palette),
        ("order of work", d.order),
        ("all", d.total),
    ] {
        println!("| {part} | {v:.3} |");
    }
    Ok(())
}
