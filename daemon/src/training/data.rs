//! Training data: painting histories cut into fixed-length windows of tokens,
//! each with the canvas as it stood before the window and the finished picture
//! (the reference for copy-mode batches).

use crate::engine::Engine;
use crate::model::inputs;
use crate::model::stroke_transformer::Config;
use crate::ops::{pb, timeline};
use crate::tokenizer::{FIELDS, Tokenizer};

/// One training window, padded to the window length (padding has mask 0).
#[derive(Clone, Debug)]
pub struct Window {
    /// `3 × side × side`.
    pub canvas: Vec<f32>,
    /// The finished picture, `3 × side × side`.
    pub reference: Vec<f32>,
    /// `[len, FIELDS]`: START, then the ops before each target.
    pub inputs: Vec<u32>,
    /// `[len, FIELDS]`: the ops to predict.
    pub targets: Vec<u32>,
    /// `[len, FIELDS]`.
    pub mask: Vec<f32>,
}

/// Cuts a validated history into windows of `len` ops.
pub fn windows(history: &pb::History, cfg: &Config, len: usize) -> Vec<Window> {
    let header = history.header.clone().unwrap_or_default();
    let tokenizer = Tokenizer::new(&header);
    let ops = timeline::effective(&history.ops);
    let mut engine = Engine::new(&header);
    // Pictures of the canvas before each window, taken on one pass.
    let mut steps: Vec<(Vec<f32>, Vec<crate::tokenizer::OpToken>)> = Vec::new();
    let mut current: Vec<crate::tokenizer::OpToken> = Vec::new();
    let mut before = inputs::picture(engine.canvas(), cfg.image_side);
    for op in ops {
        if let Some(t) = tokenizer.encode(op) {
            current.push(t);
        }
        engine.apply(op);
        if current.len() == len {
            steps.push((
                std::mem::replace(&mut before, inputs::picture(engine.canvas(), cfg.image_side)),
                std::mem::take(&mut current),
            ));
        }
    }
    if !current.is_empty() {
        steps.push((before, current));
    }
    let finished = inputs::picture(engine.canvas(), cfg.image_side);
    steps
        .into_iter()
        .map(|(canvas, tokens)| {
            let n = tokens.len();
            let mut input_tokens = vec![inputs::start()];
            input_tokens.extend_from_slice(&tokens[..n - 1]);
            let pad = (len - n) * FIELDS;
            let mut inputs_flat = inputs::flatten(&input_tokens);
            let mut targets = inputs::flatten(&tokens);
            let mut mask = inputs::mask(&tokens);
            inputs_flat.extend(std::iter::repeat_n(0, pad));
            targets.extend(std::iter::repeat_n(0, pad));
            mask.extend(std::iter::repeat_n(0.0, pad));
            Window { canvas, reference: finished.clone(), inputs: inputs_flat, targets, mask }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_op_once_and_pad_the_last() {
        let h = crate::ops::history::read_path(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/still-life.jsonl"
        )))
        .unwrap();
        let cfg = Config::tiny();
        let tokens = inputs::tokens(&h);
        let ws = windows(&h, &cfg, 16);
        assert_eq!(ws.len(), tokens.len().div_ceil(16));
        let counted: f32 = ws.iter().map(|w| (0..16).map(|t| w.mask[t * FIELDS]).sum::<f32>()).sum();
        assert_eq!(counted as usize, tokens.len(), "each op is a target exactly once");
        assert_eq!(ws[0].inputs[..FIELDS], [0; FIELDS], "windows open with START");
        assert_eq!(ws[0].targets[..FIELDS], inputs::flatten(&tokens[..1])[..]);
        // The first window starts from the blank canvas; later ones from a painted one.
        assert!(ws[0].canvas.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        assert!(ws[1].canvas.iter().any(|&v| v < 0.9));
    }
}
