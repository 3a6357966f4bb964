//! Evaluation, printed as tables: held-out next-op loss; next-stroke accuracy
//! on held-out characters ([`next_stroke`]); and copy fidelity — how close
//! each painter gets to a reference after 100, 300, 1000 ops; a painter's style
//! as statistics of their ops, and the distance between two styles ([`style`]).

pub mod continuation;
pub mod next_stroke;
pub mod sessions;
pub mod style;

use crate::engine::{Canvas, Engine};
use crate::model::stroke_transformer::StrokeTransformer;
use crate::ops::{Rgba, pb};
pub use crate::painters::analysis::mse;
use crate::painters::{Painter, Request};
use crate::training::{self, scenes};

/// Held-out windows and their mean loss per op for `model`.
pub fn heldout(
    dir: &std::path::Path,
    model: &StrokeTransformer,
    window: usize,
) -> Result<(usize, f32), String> {
    let histories = training::load_histories(dir)?;
    let held = training::heldout_windows(&histories, &training::held_out(&histories), model.config(), window);
    let loss = training::heldout_loss(model, &held, model.config(), window).map_err(|e| e.to_string())?;
    Ok((held.len(), loss))
}

pub fn psnr(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

#[derive(Clone, Debug)]
pub struct Fidelity {
    pub painter: String,
    pub side: u32,
    pub ops: usize,
    pub mse: f64,
    pub psnr: f64,
    /// Magic-brush dabs among the ops painted so far, over all pictures.
    pub magic_ops: usize,
}

/// Each painter repaints `pictures` scenes (seeds never used for training data)
/// from white at each side; MSE averaged over pictures at each op count.
pub fn fidelity(
    painters: &[Box<dyn Painter>],
    sides: &[u32],
    checkpoints: &[usize],
    pictures: u64,
    temperature: f32,
) -> Vec<Fidelity> {
    let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
    let last = checkpoints.iter().copied().max().unwrap_or(0);
    let mut rows = Vec::new();
    for p in painters {
        for &side in sides {
            let mut sums = vec![0.0; checkpoints.len()];
            let mut magic = vec![0usize; checkpoints.len()];
            for k in 0..pictures {
                let reference = scenes::scene(side as usize, side as usize, 1_000_000_000 + k);
                let header = pb::Header { width: side, height: side, ..Default::default() };
                let blank = Canvas::new(side as usize, side as usize, white);
                let mut run = p.start(Request {
                    history: pb::History { header: Some(header), ops: Vec::new() },
                    canvas: blank.clone(),
                    reference: Some(reference.clone()),
                    temperature,
                    seed: k,
                    allowed_tools: Vec::new(),
                    canvas_at: None,
                    stop: None,
                    imagination: None,
                });
                let mut engine = Engine::from_canvas(blank);
                let mut dabs = 0;
                for n in 1..=last {
                    let op = run.next_op();
                    dabs += usize::from(matches!(op.kind, Some(pb::op::Kind::MagicBrush(_))));
                    engine.apply(&op);
                    if let Some(i) = checkpoints.iter().position(|&c| c == n) {
                        sums[i] += mse(engine.canvas(), &reference);
                        magic[i] += dabs;
                    }
                }
            }
            for (i, &ops) in checkpoints.iter().enumerate() {
                let m = sums[i] / pictures as f64;
                let magic_ops = magic[i];
                rows.push(Fidelity {
                    painter: p.name().to_owned(),
                    side,
                    ops,
                    mse: m,
                    psnr: psnr(m),
                    magic_ops,
                });
            }
        }
    }
    rows
}
