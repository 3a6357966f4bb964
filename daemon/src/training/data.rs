//! Training data: painting histories cut into fixed-length windows of tokens,
//! each with the canvas as it stood before the window, the finished picture
//! (the reference for copy-mode batches), and for every op the glimpse of the
//! canvas and of the finished picture around the place it starts.

use crate::engine::Engine;
use crate::model::inputs;
use crate::model::stroke_transformer::Config;
use crate::ops::{pb, timeline};
use crate::tokenizer::{FIELDS, OpToken, Tokenizer};

/// One training window, padded to the window length (padding has mask 0).
#[derive(Clone, Debug, Default)]
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
    /// `[len, G]` (G = [`inputs::glimpse_len`]): the canvas around each target's
    /// place just before it was painted, in 1/255 steps (a quarter of the memory of f32).
    pub canvas_glimpses: Vec<u8>,
    /// `[len, G]`: the finished picture around each target's place.
    pub reference_glimpses: Vec<u8>,
    /// `[len, 3 × state²]`: the canvas just before each target, at the state's side (empty
    /// when the model has no state input), in 1/255 steps.
    pub states: Vec<u8>,
    /// The finished picture at the state's side, `3 × state²`.
    pub reference_state: Vec<u8>,
    /// Ops of the history (effective, as Continue counts them) before the window's first.
    pub done: usize,
}

fn quantize(values: Vec<f32>) -> impl Iterator<Item = u8> {
    values.into_iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// Cuts a validated history into windows of `len` ops; the first window holds
/// `offset % len` ops (all `len` when that is 0), so that different histories
/// are cut at different points of their process.
pub fn windows(history: &pb::History, cfg: &Config, len: usize, offset: usize) -> Vec<Window> {
    let header = history.header.clone().unwrap_or_default();
    let tokenizer = Tokenizer::new(&header);
    let ops = timeline::effective(&history.ops);
    let mut engine = Engine::new(&header);
    let glimpse = |canvas: &crate::engine::Canvas, t: &OpToken| {
        let (x, y) = tokenizer.place(t);
        inputs::glimpse(canvas, x, y, cfg.glimpse)
    };
    let state = |canvas: &crate::engine::Canvas| match cfg.state {
        0 => Vec::new(),
        side => inputs::state_picture(canvas, side),
    };
    // Pictures of the canvas before each window, glimpses and states before each op, taken
    // on one pass. Per window: the canvas before it, its tokens, their glimpses and states,
    // the ops before it.
    type Step = (Vec<f32>, Vec<OpToken>, Vec<u8>, Vec<u8>, usize);
    let mut steps: Vec<Step> = Vec::new();
    let (mut current, mut glimpses, mut states, mut done) = (Vec::new(), Vec::new(), Vec::new(), 0);
    let mut before = inputs::picture(engine.canvas(), cfg.image_side);
    let mut first = offset % len;
    if first == 0 {
        first = len;
    }
    for (i, op) in ops.into_iter().enumerate() {
        if let Some(t) = tokenizer.encode(op) {
            if current.is_empty() {
                done = i;
            }
            glimpses.extend(quantize(glimpse(engine.canvas(), &t)));
            states.extend(quantize(state(engine.canvas())));
            current.push(t);
        }
        engine.apply(op);
        if current.len() == if steps.is_empty() { first } else { len } {
            steps.push((
                std::mem::replace(&mut before, inputs::picture(engine.canvas(), cfg.image_side)),
                std::mem::take(&mut current),
                std::mem::take(&mut glimpses),
                std::mem::take(&mut states),
                done,
            ));
        }
    }
    if !current.is_empty() {
        steps.push((before, current, glimpses, states, done));
    }
    let finished = inputs::picture(engine.canvas(), cfg.image_side);
    let reference_state: Vec<u8> = quantize(state(engine.canvas())).collect();
    let g = inputs::glimpse_len(cfg.glimpse);
    steps
        .into_iter()
        .map(|(canvas, tokens, mut canvas_glimpses, mut states, done)| {
            let n = tokens.len();
            let mut input_tokens = vec![inputs::start()];
            input_tokens.extend_from_slice(&tokens[..n - 1]);
            let pad = (len - n) * FIELDS;
            let mut inputs_flat = inputs::flatten(&input_tokens);
            let mut targets = inputs::flatten(&tokens);
            let mut mask = inputs::mask(&tokens);
            let mut reference_glimpses: Vec<u8> =
                tokens.iter().flat_map(|t| quantize(glimpse(engine.canvas(), t))).collect();
            inputs_flat.extend(std::iter::repeat_n(0, pad));
            targets.extend(std::iter::repeat_n(0, pad));
            mask.extend(std::iter::repeat_n(0.0, pad));
            canvas_glimpses.resize(len * g, 0);
            reference_glimpses.resize(len * g, 0);
            states.resize(len * reference_state.len(), 0);
            Window {
                canvas,
                reference: finished.clone(),
                inputs: inputs_flat,
                targets,
                mask,
                canvas_glimpses,
                reference_glimpses,
                states,
                reference_state: reference_state.clone(),
                done,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn still_life() -> pb::History {
        crate::ops::history::read_path(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/still-life.jsonl"
        )))
        .unwrap()
    }

    #[test]
    fn windows_cover_every_op_once_and_pad_the_last() {
        let h = still_life();
        let cfg = Config::tiny();
        let tokens = inputs::tokens(&h);
        let ws = windows(&h, &cfg, 16, 0);
        assert_eq!(ws.len(), tokens.len().div_ceil(16));
        let counted: f32 = ws.iter().map(|w| (0..16).map(|t| w.mask[t * FIELDS]).sum::<f32>()).sum();
        assert_eq!(counted as usize, tokens.len(), "each op is a target exactly once");
        assert_eq!(ws[0].inputs[..FIELDS], [0; FIELDS], "windows open with START");
        assert_eq!(ws[0].targets[..FIELDS], inputs::flatten(&tokens[..1])[..]);
        // The first window starts from the blank canvas; later ones from a painted one.
        assert!(ws[0].canvas.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        assert!(ws[1].canvas.iter().any(|&v| v < 0.9));
    }

    #[test]
    fn an_offset_cuts_the_process_elsewhere_and_still_covers_every_op_once() {
        let h = still_life();
        let cfg = Config::tiny();
        let tokens = inputs::tokens(&h);
        let ws = windows(&h, &cfg, 16, 5);
        let counts: Vec<usize> =
            ws.iter().map(|w| (0..16).filter(|&t| w.mask[t * FIELDS] > 0.0).count()).collect();
        assert_eq!(counts[0], 5);
        assert_eq!(counts.iter().sum::<usize>(), tokens.len());
        // Each window knows how far into the history it starts (the model sees it as progress).
        assert_eq!(ws.iter().take(3).map(|w| w.done).collect::<Vec<_>>(), [0, 5, 21]);
        assert_eq!(ws[1].targets[..FIELDS], inputs::flatten(&tokens[5..6])[..]);
    }

    #[test]
    fn glimpses_show_the_canvas_before_each_op_and_the_finished_picture_at_its_place() {
        let h = still_life();
        let cfg = Config::tiny();
        let g = inputs::glimpse_len(cfg.glimpse);
        let ws = windows(&h, &cfg, 16, 0);
        // The first op of the history is painted on white paper...
        assert!(ws[0].canvas_glimpses[..g].iter().all(|&v| v == 255));
        // ...but where it goes, the finished picture is painted.
        assert!(ws[0].reference_glimpses[..g].iter().any(|&v| v < 250));
        // Padding carries no glimpse.
        let last = ws.last().unwrap();
        let used = (0..16).filter(|&t| last.mask[t * FIELDS] > 0.0).count();
        assert!(last.canvas_glimpses[used * g..].iter().all(|&v| v == 0));
    }

    #[test]
    fn states_show_the_whole_canvas_before_each_op() {
        let h = still_life();
        let cfg = Config::tiny();
        let n = 3 * cfg.state * cfg.state;
        let ws = windows(&h, &cfg, 16, 0);
        assert_eq!(ws[0].states.len(), 16 * n);
        // White paper before the first op; paint on it before the second window's first.
        assert!(ws[0].states[..n].iter().all(|&v| v == 255));
        assert!(ws[1].states[..n].iter().any(|&v| v < 250));
        // The finished picture, for what is still to paint.
        assert!(ws[0].reference_state.iter().any(|&v| v < 250));
        assert_eq!(ws[0].reference_state, ws[1].reference_state);
    }
}
