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
