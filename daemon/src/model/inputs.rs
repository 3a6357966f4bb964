//! What the model sees: pictures at its resolution, and histories as tokens.

use crate::engine::Canvas;
use crate::ops::{pb, timeline};
use crate::tokenizer::{ALL_FIELDS, FIELDS, OpToken, Tokenizer};

/// A canvas composited over white and area-averaged down (or up) to
/// `side × side`, as planar RGB in [0, 1] (`3 × side × side` values).
pub fn picture(canvas: &Canvas, side: usize) -> Vec<f32> {
    let (w, h) = (canvas.width(), canvas.height());
    let mut out = vec![0.0; 3 * side * side];
    for oy in 0..side {
        let (y0, y1) = (oy * h / side, ((oy + 1) * h / side).max(oy * h / side + 1).min(h));
        for ox in 0..side {
            let (x0, x1) = (ox * w / side, ((ox + 1) * w / side).max(ox * w / side + 1).min(w));
            let mut acc = [0.0f32; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = canvas.get(x, y);
                    for k in 0..3 {
                        acc[k] += p[k] + (1.0 - p[3]);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as f32;
            for k in 0..3 {
                out[k * side * side + oy * side + ox] = acc[k] / n;
            }
        }
    }
    out
}

/// The tokens of a history's effective ops (undo/redo resolved; ops the
/// tokenizer does not cover are left out).
pub fn tokens(history: &pb::History) -> Vec<OpToken> {
    let tk = Tokenizer::new(&history.header.clone().unwrap_or_default());
    timeline::effective(&history.ops).into_iter().filter_map(|op| tk.encode(op)).collect()
}

/// Token values as u32, row-major `[n, FIELDS]`.
pub fn flatten(tokens: &[OpToken]) -> Vec<u32> {
    tokens.iter().flat_map(|t| t.0.iter().map(|&v| u32::from(v))).collect()
}

/// 1 where a field counts for the loss (the fields the op's kind uses), row-major `[n, FIELDS]`.
pub fn mask(tokens: &[OpToken]) -> Vec<f32> {
    tokens
        .iter()
        .flat_map(|t| {
            let used = OpToken::used(t.get(crate::tokenizer::Field::Kind));
            ALL_FIELDS.iter().map(move |f| if used.contains(f) { 1.0 } else { 0.0 })
        })
        .collect()
}

/// The START token that opens every op sequence.
pub fn start() -> OpToken {
    OpToken([0; FIELDS])
}
