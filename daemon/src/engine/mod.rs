//! The paint engine: a dab-based raster engine over a premultiplied RGBA canvas.
//!
//! It performs validated ops deterministically. Its three users are replay
//! and previews, training-data generation, and the search and reward loop of
//! copy mode, which renders candidate strokes thousands of times a second — so
//! the inner loops work on rows of plain `f32` slices that the compiler vectorizes.
//!
//! Colour is blended in sRGB-encoded space, as Krita and GIMP do for 8-bit
//! sRGB documents.

pub mod blend;
pub mod canvas;
pub mod dab;
pub mod fill;
mod kernels;
pub mod mask;
pub mod patch;
pub mod replay;
pub mod smudge;
pub mod stroke;

pub use canvas::{Canvas, Px};
pub use replay::{ReplayStats, render};

use crate::ops::{Rgba, pb, pb::op::Kind};
use mask::StrokeMask;

/// What the engine did with an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Painted,
    /// Not painted, with the reason (e.g. an undo marker).
    Skipped(&'static str),
}

/// A canvas and the scratch buffers the tools reuse between ops.
pub struct Engine {
    canvas: Canvas,
    mask: StrokeMask,
}

/// Runs of fewer strokes than this are painted one by one: starting the threads would
/// cost more than they save.
const BANDED_RUN: usize = 4;

/// Threads that paint runs of strokes band by band: the machine's cores, at most 8.
/// Counted once: on Linux `available_parallelism` reads the cgroup's quota files, and
/// this is asked for every run of a replay.
pub fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
}

/// Whether `op` is a stroke that can be painted band by band ([`stroke::paints_by_rows`]).
fn by_rows(op: &pb::Op) -> bool {
    matches!(&op.kind, Some(Kind::Stroke(s)) if stroke::paints_by_rows(crate::ops::Brush::of(s).tool))
}

impl Engine {
    /// A fresh canvas for a validated header.
    pub fn new(header: &pb::Header) -> Engine {
        let bg = Rgba::from_pb(header.background.as_ref(), Rgba::TRANSPARENT);
        Engine::from_canvas(Canvas::new(header.width as usize, header.height as usize, bg))
    }

    pub fn from_canvas(canvas: Canvas) -> Engine {
        let mask = StrokeMask::new(canvas.width(), canvas.height());
        Engine { canvas, mask }
    }

    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    pub fn into_canvas(self) -> Canvas {
        self.canvas
    }

    pub fn canvas_mut(&mut self) -> &mut Canvas {
        &mut self.canvas
    }

    /// Performs validated ops in order, on every core ([`threads`]): what [`Engine::apply`]
    /// of each in turn would paint, pixel for pixel.
    pub fn apply_many(&mut self, ops: &[&pb::Op]) -> Vec<Applied> {
        self.apply_many_on(ops, threads())
    }

    /// [`Engine::apply_many`] on `threads` threads. Each run of strokes that paint every row
    /// from their own dabs alone (all but the smudge) is painted band by band: the canvas is
    /// cut into `threads` bands of rows, and each thread paints every stroke of the run, in
    /// order, on its own band — each pixel gets the same dabs in the same order as painted
    /// whole, so the result is bit for bit the same. Fills, smudges and patches, which read
    /// across rows, are painted whole, between runs.
    pub fn apply_many_on(&mut self, ops: &[&pb::Op], threads: usize) -> Vec<Applied> {
        let threads = threads.clamp(1, self.canvas.height().max(1));
        let mut applied = Vec::with_capacity(ops.len());
        let mut i = 0;
        while i < ops.len() {
            let run = ops[i..].iter().take_while(|op| by_rows(op)).count();
            if threads > 1 && run >= BANDED_RUN {
                self.paint_banded(&ops[i..i + run], threads);
                applied.extend(std::iter::repeat_n(Applied::Painted, run));
                i += run;
            } else {
                for op in &ops[i..i + run.max(1)] {
                    applied.push(self.apply(op));
                }
                i += run.max(1);
            }
        }
        applied
    }

    fn paint_banded(&mut self, strokes: &[&pb::Op], threads: usize) {
        let per = mask::band_rows(self.canvas.height(), threads);
        let (mut bands, mut masks) = (self.canvas.bands(per), self.mask.bands(per));
        let paint = |rows: &mut canvas::Rows, mask: &mut mask::MaskRows| {
            for op in strokes {
                if let Some(Kind::Stroke(s)) = &op.kind {
                    stroke::paint_rows(rows, mask, s);
                }
            }
        };
        std::thread::scope(|scope| {
            let mut work = bands.iter_mut().zip(masks.iter_mut());
            // The first band on this thread, the others on threads of their own.
            let first = work.next();
            for (rows, mask) in work {
                scope.spawn(move || paint(rows, mask));
            }
            if let Some((rows, mask)) = first {
                paint(rows, mask);
            }
        });
    }

    /// Performs one validated op. Undo and redo markers are resolved before
    /// painting (see [`crate::ops::timeline`]), so here they are skipped.
    pub fn apply(&mut self, op: &pb::Op) -> Applied {
        match &op.kind {
            Some(Kind::Stroke(s)) => {
                stroke::paint(&mut self.canvas, &mut self.mask, s);
                Applied::Painted
            }
            Some(Kind::Fill(f)) => {
                fill::fill(&mut self.canvas, &mut self.mask, f);
                Applied::Painted
            }
            Some(Kind::RasterPatch(p)) => {
                patch::paste(&mut self.canvas, p);
                Applied::Painted
            }
            // Recorded pixels make the history replay the same anywhere; without them the
            // built-in brush paints the dab (deterministic for the same canvas and model).
            Some(Kind::MagicBrush(m)) => match &m.result {
                Some(p) => {
                    patch::paste(&mut self.canvas, p);
                    Applied::Painted
                }
                None => match crate::diffusion::op::paint_unrecorded(&mut self.canvas, m) {
                    Ok(()) => Applied::Painted,
                    Err(e) => {
                        tracing::warn!("{e}");
                        Applied::Skipped("the magic brush failed")
                    }
                },
            },
            Some(Kind::Undo(_) | Kind::Redo(_)) => {
                Applied::Skipped("undo/redo markers are resolved before painting")
            }
            None => Applied::Skipped("empty op"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded history of every kind of op the engine paints: strokes of every tool,
    /// sizes from a pixel to a third of the canvas, some off its edges, and fills.
    fn mixed_ops(w: f32, h: f32, n: usize, seed: u64) -> Vec<pb::Op> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let tools =
            [pb::Tool::Brush, pb::Tool::Pencil, pb::Tool::Eraser, pb::Tool::Airbrush, pb::Tool::Smudge];
        (0..n)
            .map(|i| {
                let colour = Some(pb::Color { r: next(), g: next(), b: next(), a: Some(0.3 + 0.7 * next()) });
                if i % 37 == 36 {
                    let fill = pb::Fill {
                        x: next() * w,
                        y: next() * h,
                        color: colour,
                        tolerance: 0.2,
                        contiguous: i % 2 == 0,
                    };
                    return pb::Op { kind: Some(Kind::Fill(fill)) };
                }
                // Mostly brushes (long runs), now and then another tool.
                let tool = if next() < 0.7 { pb::Tool::Brush } else { tools[(next() * 5.0) as usize % 5] };
                let (mut x, mut y) = (next() * w * 1.2 - 0.1 * w, next() * h * 1.2 - 0.1 * h);
                let points = (0..10u32)
                    .map(|k| {
                        x += (next() - 0.5) * 40.0;
                        y += (next() - 0.5) * 40.0;
                        pb::Point { x, y, pressure: Some(0.2 + 0.8 * next()), time_ms: k * 15, tilt: None }
                    })
                    .collect();
                let brush = pb::BrushState {
                    size: 1.0 + next() * next() * h / 3.0,
                    hardness: Some(next()),
                    opacity: Some(0.3 + 0.7 * next()),
                    flow: Some(0.2 + 0.8 * next()),
                    color: colour,
                    ..Default::default()
                };
                pb::Op {
                    kind: Some(Kind::Stroke(pb::Stroke { tool: tool as i32, brush: Some(brush), points })),
                }
            })
            .collect()
    }

    #[test]
    fn painting_band_by_band_on_any_number_of_threads_is_bit_for_bit_painting_whole() {
        let header = pb::Header {
            width: 301,
            height: 217,
            background: Some(pb::Color { r: 1.0, g: 0.9, b: 0.8, a: Some(0.7) }),
            ..Default::default()
        };
        let ops = mixed_ops(301.0, 217.0, 400, 7);
        for op in &ops {
            crate::ops::validate::op(op, &header).unwrap();
        }
        let mut one_by_one = Engine::new(&header);
        for op in &ops {
            one_by_one.apply(op);
        }
        let refs: Vec<&pb::Op> = ops.iter().collect();
        for threads in [1, 2, 3, 7, 300] {
            let mut banded = Engine::new(&header);
            // In uneven chunks, so that runs start and end anywhere.
            for chunk in refs.chunks(53) {
                assert!(banded.apply_many_on(chunk, threads).iter().all(|a| *a == Applied::Painted));
            }
            let same = banded
                .canvas()
                .pixels()
                .iter()
                .zip(one_by_one.canvas().pixels())
                .all(|(a, b)| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert!(same, "{threads} threads painted other bits");
        }
    }
}
