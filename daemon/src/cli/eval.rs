//! `apprentice eval`: how good the painters are, as tables.

use std::path::PathBuf;

use super::{CliError, CliResult};
use crate::eval;
use crate::model::{checkpoint, registry};

/// Evaluate: held-out next-op loss of a model, and copy fidelity (MSE, PSNR)
/// of every painter after 100/300/1000 ops on scenes never used for training.
#[derive(clap::Args)]
pub struct Args {
    /// Histories the model was trained on (the held-out split is evaluated).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Model to evaluate (default: the built-in one).
    #[arg(long, value_name = "FILE.safetensors")]
    model: Option<PathBuf>,
    /// Reference pictures per size.
    #[arg(long, default_value_t = 4)]
    pictures: u64,
    #[arg(long, value_delimiter = ',', default_value = "128,256")]
    sizes: Vec<u32>,
    #[arg(long, value_delimiter = ',', default_value = "100,300,1000")]
    ops: Vec<usize>,
    #[arg(long, default_value_t = 64)]
    window: usize,
}

pub fn run(args: Args) -> CliResult {
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
    let rows = eval::fidelity(&painters, &args.sizes, &args.ops, args.pictures);
    for chunk in rows.chunks(args.ops.len()) {
        print!("| {} | {}² |", chunk[0].painter, chunk[0].side);
        for r in chunk {
            print!(" {:.4} ({:.1}) |", r.mse, r.psnr);
        }
        println!();
    }
    Ok(())
}
