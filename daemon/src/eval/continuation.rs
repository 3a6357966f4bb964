//! Continuation: does Continue help a half-painted picture along, or spoil it?
//!
//! The teacher paints each held-out picture as a process of `total` ops; the
//! history is cut at a share of its ops and a painter continues it by `n` ops
//! with no reference. The score is the error to the finished painting after
//! the continuation divided by the error at the cut: below 1 the continuation
//! brought the picture closer to where it was going, 1 is doing nothing, above
//! 1 it did harm. The teacher's own next `n` ops are the oracle.
//!
//! Colour agreement: for each new op that lays down a colour (brush, airbrush
//! and pencil strokes, fills), the mean difference per channel (0..1) between
//! its colour and the finished painting under its first point. A painter that
//! looks where it paints agrees; one that picks colours from habit does not.

use crate::engine::{Canvas, Engine};
use crate::ops::{Rgba, pb};
use crate::painters::analysis::{laid_colour, mse, over_white};
use crate::painters::teacher::Teacher;
use crate::painters::{Painter, Request};

/// A held-out picture painted by the teacher, ready to be cut.
pub struct Process {
    pub name: String,
    pub header: pb::Header,
    pub ops: Vec<pb::Op>,
    pub finished: Canvas,
}

fn white() -> Rgba {
    Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }
}

/// The teacher's painting of `picture` in `total` ops, from white paper.
pub fn process(name: &str, picture: &Canvas, total: usize, seed: u64) -> Process {
    let (w, h) = (picture.width() as u32, picture.height() as u32);
    let header = pb::Header {
        width: w,
        height: h,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        title: name.to_owned(),
    };
    let blank = Canvas::new(w as usize, h as usize, white());
    let mut run = Teacher.start(Request {
        history: pb::History { header: Some(header.clone()), ops: Vec::new() },
        canvas: blank.clone(),
        reference: Some(picture.clone()),
        temperature: 1.0,
        seed,
        allowed_tools: Vec::new(),
        canvas_at: None,
        stop: None,
        imagination: None,
    });
    let mut engine = Engine::from_canvas(blank);
    let ops: Vec<pb::Op> = (0..total).map(|_| run.next_op()).collect();
    for op in &ops {
        engine.apply(op);
    }
    Process { name: name.to_owned(), header, ops, finished: engine.into_canvas() }
}

/// Mean per-channel difference between each op's colour and `finished` under
/// its first point, and how many ops laid a colour down.
pub fn colour_agreement(ops: &[pb::Op], finished: &Canvas) -> (f64, usize) {
    let (w, h) = (finished.width(), finished.height());
    let diffs: Vec<f64> = ops
        .iter()
        .filter_map(laid_colour)
        .map(|(c, x, y)| {
            let px = (x.max(0.0) as usize).min(w - 1);
            let py = (y.max(0.0) as usize).min(h - 1);
            let there = over_white(finished.get(px, py));
            (0..3).map(|k| f64::from((c[k] - there[k]).abs())).sum::<f64>() / 3.0
        })
        .collect();
    let n = diffs.len();
    (if n == 0 { f64::NAN } else { diffs.iter().sum::<f64>() / n as f64 }, n)
}

/// One continuation of one process.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Error to the finished painting after the continuation ÷ at the cut.
    pub ratio: f64,
    /// Summed colour difference and ops that laid a colour down.
    pub colour_sum: f64,
    pub coloured: usize,
}

/// Cuts `p` after `share` of its ops and continues by `n` ops: with `painter`
/// (no reference; imagining with `imagination` when given), or with the teacher's
/// own next ops when `painter` is `None`.
pub fn continue_process(
    p: &Process,
    share: f32,
    n: usize,
    painter: Option<&dyn Painter>,
    temperature: f32,
    seed: u64,
    imagination: Option<crate::painters::Imagination>,
) -> Outcome {
    let cut = ((p.ops.len() as f32 * share).round() as usize).min(p.ops.len());
    let mut engine = Engine::from_canvas(Canvas::new(p.finished.width(), p.finished.height(), white()));
    for op in &p.ops[..cut] {
        engine.apply(op);
    }
    let before = mse(engine.canvas(), &p.finished);
    let new_ops: Vec<pb::Op> = match painter {
        None => p.ops[cut..(cut + n).min(p.ops.len())].to_vec(),
        Some(painter) => {
            let mut run = painter.start(Request {
                history: pb::History { header: Some(p.header.clone()), ops: p.ops[..cut].to_vec() },
                canvas: engine.canvas().clone(),
                reference: None,
                temperature,
                seed,
                allowed_tools: Vec::new(),
                canvas_at: None,
                stop: None,
                imagination,
            });
            (0..n).map(|_| run.next_op()).collect()
        }
    };
    for op in &new_ops {
        engine.apply(op);
    }
    let (mean, coloured) = colour_agreement(&new_ops, &p.finished);
    Outcome {
        ratio: mse(engine.canvas(), &p.finished) / before.max(1e-12),
        colour_sum: if coloured == 0 { 0.0 } else { mean * coloured as f64 },
        coloured,
    }
}

/// Mean and median error ratio and mean colour agreement over outcomes.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub mean: f64,
    pub median: f64,
    pub colour: f64,
}

pub fn summarize(outcomes: &[Outcome]) -> Summary {
    let mut ratios: Vec<f64> = outcomes.iter().map(|o| o.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    let coloured: usize = outcomes.iter().map(|o| o.coloured).sum();
    Summary {
        mean: ratios.iter().sum::<f64>() / n.max(1) as f64,
        median,
        colour: outcomes.iter().map(|o| o.colour_sum).sum::<f64>() / coloured.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::scenes;

    #[test]
    fn the_teachers_own_next_ops_help_and_doing_nothing_is_one() {
        let p = process("scene", &scenes::scene(64, 64, 1_000_000_000), 200, 1);
        let oracle = continue_process(&p, 0.5, 50, None, 0.0, 0, None);
        assert!(oracle.ratio < 1.0, "{oracle:?}");
        let nothing = continue_process(&p, 0.5, 0, None, 0.0, 0, None);
        assert!((nothing.ratio - 1.0).abs() < 1e-12);
        // The teacher's colours are the picture's.
        assert!(oracle.colour_sum / (oracle.coloured as f64) < 0.1, "{oracle:?}");
    }

    #[test]
    fn colour_agreement_compares_with_the_finished_painting_under_the_first_point() {
        let mut finished = Canvas::new(4, 4, white());
        finished.pixels_mut()[4 + 1] = [0.0, 0.0, 0.0, 1.0];
        let fill = |x: f32, y: f32, r: f32| pb::Op {
            kind: Some(pb::op::Kind::Fill(pb::Fill {
                x,
                y,
                color: Some(pb::Color { r, g: 0.0, b: 0.0, a: None }),
                tolerance: 0.0,
                contiguous: true,
            })),
        };
        // Red on black at (1, 1): 1/3; black-red 0 on white at (3, 3): (1 + 1 + 1)/3.
        let (mean, n) = colour_agreement(&[fill(1.5, 1.5, 1.0), fill(3.0, 3.0, 0.0)], &finished);
        assert_eq!(n, 2);
        assert!((mean - (1.0 / 3.0 + 1.0) / 2.0).abs() < 1e-6, "{mean}");
        let eraser = pb::Op {
            kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Eraser as i32,
                brush: Some(pb::BrushState { size: 4.0, ..Default::default() }),
                points: vec![pb::Point { x: 1.0, y: 1.0, ..Default::default() }],
            })),
        };
        assert_eq!(colour_agreement(&[eraser], &finished).1, 0, "an eraser lays no colour down");
    }
}
