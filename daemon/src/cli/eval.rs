//! `apprentice eval`: how good the painters are, as tables.

use std::path::PathBuf;

use super::{CliError, CliResult, check_temperature};
use crate::eval::{self, next_stroke};
use crate::model::{checkpoint, registry};

/// Evaluate: held-out next-op loss of a model; next-stroke accuracy on held-out
/// Chinese characters against the rule "highest start, then leftmost"; and copy
/// fidelity (MSE, PSNR) of every painter after 100/300/1000 ops on scenes never
/// used for training (--pictures 0 leaves it out).
#[derive(clap::Args)]
pub struct Args {
    /// Histories the model was trained on (the held-out split is evaluated).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Model to evaluate (default: the built-in one).
    #[arg(long, value_name = "FILE.safetensors")]
    model: Option<PathBuf>,
    /// Unpacked hanzi-writer-data package: next-stroke accuracy on its held-out characters.
    #[arg(long, value_name = "DIR")]
    hanzi: Option<PathBuf>,
    /// Held-out characters to test (evenly spread over them).
    #[arg(long, default_value_t = 100, requires = "hanzi", value_parser = clap::value_parser!(u64).range(1..))]
    characters: u64,
    /// Canvas side for the characters (as `apprentice data --size`).
    #[arg(long, default_value_t = 128, requires = "hanzi", value_parser = clap::value_parser!(u32).range(16..=2048))]
    hanzi_size: u32,
    /// Reference pictures per size for copy fidelity (0: skip it).
    #[arg(long, default_value_t = 4)]
    pictures: u64,
    #[arg(long, value_delimiter = ',', default_value = "128,256")]
    sizes: Vec<u32>,
    #[arg(long, value_delimiter = ',', default_value = "100,300,1000")]
    ops: Vec<usize>,
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Sampling temperature of the painters in both tests (0: their most likely choice).
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
}

pub fn run(args: Args) -> CliResult {
    check_temperature(args.temperature)?;
    let model = match &args.model {
        Some(path) => std::sync::Arc::new(
            checkpoint::load_file(path, &candle_core::Device::Cpu).map_err(CliError::input)?,
        ),
        None => registry::default_model(),
    };
    if let Some(dir) = &args.data {
        let (windows, loss) = eval::heldout(dir, &model, args.window).map_err(CliError::input)?;
        println!("held-out next-op loss: {loss:.3} nats per op (summed over its fields), {windows} windows");
        println!();
    }
    if let Some(dir) = &args.hanzi {
        let characters =
            next_stroke::held_out_characters(dir, args.characters as usize).map_err(CliError::input)?;
        let transformer = crate::painters::transformer::Transformer::new(model.clone());
        let acc = next_stroke::evaluate(&transformer, &characters, args.hanzi_size, args.temperature);
        println!(
            "next-stroke accuracy: {} held-out characters, {} positions (the first k strokes shown, at least 2 left)",
            acc.characters, acc.positions
        );
        println!("| who | accuracy |");
        println!("|---|---:|");
        println!("| transformer (temperature {}) | {:.1} % |", args.temperature, 100.0 * acc.painter_rate());
        println!("| rule: highest start, then leftmost | {:.1} % |", 100.0 * acc.rule_rate());
        println!("| chance: a random remaining stroke | {:.1} % |", 100.0 * acc.chance_rate());
        println!();
    }
    if args.pictures == 0 {
        return Ok(());
    }
    let painters: Vec<Box<dyn crate::painters::Painter>> = vec![
        Box::new(crate::painters::transformer::Transformer::new(model.clone())),
        Box::new(crate::painters::search::Search::new(model)),
        Box::new(crate::painters::teacher::Teacher),
        Box::new(crate::painters::sketch::Sketch),
    ];
    println!("copy fidelity: MSE (PSNR dB) to the reference, mean of {} scenes", args.pictures);
    print!("| painter | size |");
    for n in &args.ops {
        print!(" {n} ops |");
    }
    println!();
    println!("|---|---|{}", "---:|".repeat(args.ops.len()));
    let rows = eval::fidelity(&painters, &args.sizes, &args.ops, args.pictures, args.temperature);
    for chunk in rows.chunks(args.ops.len()) {
        print!("| {} | {}² |", chunk[0].painter, chunk[0].side);
        for r in chunk {
            print!(" {:.4} ({:.1}) |", r.mse, r.psnr);
        }
        println!();
    }
    Ok(())
}
