//! A painter's own sessions: does a model paint like them?
//!
//! The latest sessions are held out (as `personalize` holds them out). For each model: the
//! next-op loss on them; and each cut at half and continued by the default painter, without a
//! reference, for as many ops as the painter went on with (at most `n`): the style distance
//! ([`super::style`]) between what the model painted and what the painter painted after the
//! cut, over all held-out sessions, and the error ratio (error to the session's finished canvas
//! after ÷ at the cut, as the continuation rows measure it; mean over sessions).
//!
//! Test painters ([`test_painter`]) stand in for a painter's real sessions, which cannot be
//! shipped: each has distinct, measurable habits.

use std::sync::Arc;

use super::style;
use crate::engine::Engine;
use crate::model::stroke_transformer::StrokeTransformer;
use crate::ops::pb;
use crate::painters::rng::Rng;
use crate::painters::{Painter, Request};

/// One model's figures on the held-out sessions.
#[derive(Clone, Debug)]
pub struct Row {
    pub model: String,
    /// "transformer" (the model alone: its own style) or "search" (Continue's default painter).
    pub painter: &'static str,
    pub loss: f32,
    pub style: style::Distance,
    pub ratio: f64,
}

/// `(learned, held out)` of sessions listed latest first: `share` of them held out, at least
/// one of each.
pub fn split(sessions: &[pb::History], share: f32) -> (Vec<pb::History>, Vec<pb::History>) {
    let held = ((sessions.len() as f32 * share.clamp(0.0, 0.9)).round() as usize)
        .clamp(1, sessions.len().max(2) - 1);
    (sessions[held..].to_vec(), sessions[..held].to_vec())
}

/// The figures of each of `models` on the `held` sessions.
pub fn rows(
    held: &[pb::History],
    models: &[(String, Arc<StrokeTransformer>)],
    n: usize,
    temperature: f32,
) -> Vec<Row> {
    let named: Vec<(String, pb::History)> =
        held.iter().enumerate().map(|(i, h)| (format!("session-{i}.binpb"), h.clone())).collect();
    let mut out = Vec::new();
    for (name, model) in models {
        let cfg = model.config();
        let windows = crate::training::heldout_windows(&named, &vec![true; named.len()], cfg, 64);
        let loss = crate::training::heldout_loss(model, &windows, cfg, 64).unwrap_or(f32::NAN);
        let painters: [(&'static str, Box<dyn Painter>); 2] = [
            ("transformer", Box::new(crate::painters::transformer::Transformer::new(model.clone()))),
            ("search", Box::new(crate::painters::search::Search::new(model.clone()))),
        ];
        for (painter_name, painter) in painters {
            let (mut theirs, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for (i, h) in held.iter().enumerate() {
                let ops: Vec<pb::Op> = crate::ops::timeline::effective(&h.ops).into_iter().cloned().collect();
                let header = h.header.clone().unwrap_or_default();
                let cut = ops.len() / 2;
                // As the daemon replays a session: its header's background (transparent without one).
                let mut engine = Engine::new(&header);
                for op in &ops[..cut] {
                    engine.apply(op);
                }
                let mut finished = Engine::from_canvas(engine.canvas().clone());
                for op in &ops[cut..] {
                    finished.apply(op);
                }
                let before = crate::painters::analysis::mse(engine.canvas(), finished.canvas());
                let count = (ops.len() - cut).min(n);
                let mut run = painter.start(Request {
                    history: pb::History { header: Some(header.clone()), ops: ops[..cut].to_vec() },
                    canvas: engine.canvas().clone(),
                    reference: None,
                    temperature,
                    seed: i as u64,
                    allowed_tools: Vec::new(),
                    canvas_at: None,
                    stop: None,
                    imagination: None,
                });
                let painted: Vec<pb::Op> = (0..count)
                    .map(|_| {
                        let op = run.next_op();
                        engine.apply(&op);
                        op
                    })
                    .collect();
                // Both sides as written: search paints ops the tokenizer never rounded.
                ours.extend(as_written(&header, &painted));
                theirs.extend(as_written(&header, &ops[cut..cut + count]));
                let after = crate::painters::analysis::mse(engine.canvas(), finished.canvas());
                ratios.push(after / before.max(1e-12));
            }
            let distance = style::distance(
                &style::of(&theirs.iter().collect::<Vec<_>>()),
                &style::of(&ours.iter().collect::<Vec<_>>()),
            );
            let ratio = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
            out.push(Row { model: name.clone(), painter: painter_name, loss, style: distance, ratio });
        }
    }
    out
}

/// `ops` as a model writes them: through the tokenizer, whose levels every model's ops come in
/// (ops it does not tokenize as they are). Painter and model are compared as written, so that
/// a model that continued exactly as the painter did is at distance 0 — not at the distance of
/// rounding (0.7 opacity comes back 0.73, in another tenth).
pub fn as_written(header: &pb::Header, ops: &[pb::Op]) -> Vec<pb::Op> {
    let tokenizer = crate::tokenizer::Tokenizer::new(header);
    ops.iter().map(|o| tokenizer.encode(o).map_or_else(|| o.clone(), |t| tokenizer.decode(&t))).collect()
}

/// The test painters' names, for [`test_painter`].
pub const TEST_PAINTERS: [&str; 3] = ["stippler", "hatcher", "blocker"];

fn colour(c: (f32, f32, f32)) -> Option<pb::Color> {
    Some(pb::Color { r: c.0, g: c.1, b: c.2, a: None })
}

fn stroke(
    tool: pb::Tool,
    size: f32,
    opacity: f32,
    c: (f32, f32, f32),
    points: Vec<(f32, f32)>,
    pressure: f32,
) -> pb::Op {
    pb::Op {
        kind: Some(pb::op::Kind::Stroke(pb::Stroke {
            tool: tool as i32,
            brush: Some(pb::BrushState {
                size,
                opacity: Some(opacity),
                color: colour(c),
                hardness: Some(if tool == pb::Tool::Airbrush { 0.2 } else { 0.9 }),
                ..Default::default()
            }),
            points: points
                .into_iter()
                .map(|(x, y)| pb::Point { x, y, pressure: Some(pressure), ..Default::default() })
                .collect(),
        })),
    }
}

/// A session of `n` ops by the test painter `name` on 256×192, from `seed`:
/// - "stippler": short dabs of a 6 px brush in a palette of three, scattered;
/// - "hatcher": long thin parallel pencil lines at a slant, in dark inks, at 0.7 opacity;
/// - "blocker": big soft airbrush washes first, then small hard brush detail (coarse to fine).
pub fn test_painter(name: &str, seed: u64, n: usize) -> pb::History {
    let mut rng = Rng::new(seed.wrapping_mul(0x9e37_79b9) ^ 0x5e55);
    let (w, h) = (256.0f32, 192.0f32);
    let ops = (0..n)
        .map(|i| match name {
            "stippler" => {
                let palette = [(0.8, 0.25, 0.15), (0.15, 0.35, 0.65), (0.9, 0.75, 0.25)];
                let (x, y) = (rng.range(8.0, w - 8.0), rng.range(8.0, h - 8.0));
                let points = vec![(x, y), (x + rng.range(1.0, 3.0), y + rng.range(-1.0, 1.0))];
                stroke(pb::Tool::Brush, 6.0, 1.0, palette[rng.index(3)], points, 1.0)
            }
            "hatcher" => {
                let inks = [(0.1, 0.1, 0.15), (0.25, 0.15, 0.1)];
                let (x, y) = (rng.range(0.0, w - 60.0), rng.range(40.0, h));
                let len = rng.range(60.0, 110.0);
                let points = (0..4)
                    .map(|k| (x + len * 0.85 * k as f32 / 3.0, y - len * 0.5 * k as f32 / 3.0))
                    .collect();
                stroke(pb::Tool::Pencil, 2.0, 0.7, inks[rng.index(2)], points, 0.6)
            }
            _ => {
                let early = i < n / 2;
                let c = (rng.range(0.2, 0.9), rng.range(0.3, 0.8), rng.range(0.2, 0.6));
                let (x, y) = (rng.range(0.0, w), rng.range(0.0, h));
                if early {
                    let points = vec![(x, y), (x + rng.range(20.0, 60.0), y + rng.range(-20.0, 20.0))];
                    stroke(pb::Tool::Airbrush, rng.range(50.0, 80.0), 0.4, c, points, 0.5)
                } else {
                    let points = vec![(x, y), (x + rng.range(3.0, 10.0), y + rng.range(-5.0, 5.0))];
                    stroke(pb::Tool::Brush, rng.range(2.0, 4.0), 1.0, c, points, 1.0)
                }
            }
        })
        .collect();
    let header = pb::Header {
        width: w as u32,
        height: h as u32,
        background: colour((1.0, 1.0, 1.0)),
        title: format!("{name} {seed}"),
    };
    pb::History { header: Some(header), ops }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_painters_are_valid_and_tell_apart_by_their_style() {
        let styles: Vec<style::Style> = TEST_PAINTERS
            .iter()
            .map(|name| {
                let h = test_painter(name, 1, 80);
                crate::ops::validate::history(&h).unwrap();
                style::of(&h.ops.iter().collect::<Vec<_>>())
            })
            .collect();
        for i in 0..3 {
            let again = style::of(&test_painter(TEST_PAINTERS[i], 2, 80).ops.iter().collect::<Vec<_>>());
            let same = style::distance(&styles[i], &again).total;
            for j in (0..3).filter(|&j| j != i) {
                let other = style::distance(&styles[i], &styles[j]).total;
                assert!(
                    same < 0.5 * other,
                    "{}: itself {same}, {} {other}",
                    TEST_PAINTERS[i],
                    TEST_PAINTERS[j]
                );
            }
        }
    }

    #[test]
    fn a_painter_is_compared_as_a_model_would_write_them() {
        let h = test_painter("hatcher", 1, 40);
        let header = h.header.clone().unwrap();
        let written = as_written(&header, &h.ops);
        let style_of = |ops: &[pb::Op]| style::of(&ops.iter().collect::<Vec<_>>());
        // Raw, the hatcher's 0.7 opacity and 0.6 pressure fall in other tenths than any model's.
        let raw = style::distance(&style_of(&h.ops), &style_of(&written));
        assert!(raw.opacity > 0.9 && raw.pressure > 0.9, "{raw:?}");
        // Written, they are what a model that paints exactly like the hatcher paints.
        let again = style::distance(&style_of(&written), &style_of(&as_written(&header, &written)));
        assert!(again.total < 1e-9, "{again:?}");
    }

    #[test]
    fn sessions_are_continued_and_compared_with_what_the_painter_did() {
        let held: Vec<pb::History> = (0..2).map(|s| test_painter("stippler", s, 30)).collect();
        let model = crate::model::registry::default_model();
        let rows = rows(&held, &[("built-in".into(), model)], 10, 0.7);
        assert_eq!(rows.iter().map(|r| r.painter).collect::<Vec<_>>(), ["transformer", "search"]);
        for r in &rows {
            assert!(
                r.loss.is_finite() && r.ratio.is_finite() && (0.0..=1.0).contains(&r.style.total),
                "{r:?}"
            );
        }
        let (learned, held) = split(&(0..5).map(|s| test_painter("hatcher", s, 5)).collect::<Vec<_>>(), 0.2);
        assert_eq!((learned.len(), held.len()), (4, 1));
    }
}
