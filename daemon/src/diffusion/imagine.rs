//! The magic brush as a painter's imagination: the whole canvas repainted at a
//! strength (SDEdit: the canvas noised that far, then denoised), guided by a style
//! or, with a Stable Diffusion model, a prompt. A painter continuing without a
//! reference paints towards the picture imagined (`painters::search`).
//!
//! The imagined picture keeps the canvas's colour layout (its colours at a 16th of
//! the longer side) and takes only finer structure from the model: the built-in
//! brush answers at its 64² working size, where colours drift, and a picture
//! whose big shapes change colour is not where a painting is going.

use std::sync::Arc;

use super::mask::SoftMask;
use super::picture::Picture;
use super::sd::{SdDab, StableDiffusion};
use super::style::STYLE_FEATURES;
use super::{Brush, Dab};
use crate::engine::{Canvas, patch};

/// Strength when the request leaves it at 0.
pub const DEFAULT_STRENGTH: f32 = 0.5;
/// The colour layout the imagination keeps: the canvas at this many cells along its longer side.
const LAYOUT_CELLS: usize = 16;

/// Who imagines, with what guidance.
pub struct Imaginer {
    pub brush: Arc<Brush>,
    /// Set when a prompt goes to Stable Diffusion.
    pub sd: Option<(Arc<StableDiffusion>, String)>,
    pub style: [f32; STYLE_FEATURES],
    pub strength: f32,
    pub steps: usize,
    pub seed: u64,
    /// Pictures imagined so far: each gets its own seed.
    imagined: u64,
}

impl Imaginer {
    pub fn new(
        brush: Arc<Brush>,
        style: [f32; STYLE_FEATURES],
        strength: f32,
        steps: usize,
        seed: u64,
    ) -> Imaginer {
        Imaginer { brush, sd: None, style, strength, steps, seed, imagined: 0 }
    }

    /// The picture imagined from `canvas`; the canvas itself when `go_on` says stop
    /// (a deadline) or the model fails (said in the log: the painter then refines
    /// what is there rather than stopping).
    pub fn imagine(&mut self, canvas: &Canvas, go_on: &mut dyn FnMut() -> bool) -> Canvas {
        let mask = SoftMask::everywhere(canvas.width(), canvas.height());
        let seed = self.seed.wrapping_add(self.imagined.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.imagined += 1;
        let mut progress = |_: usize, _: usize| go_on();
        let painted = match &self.sd {
            Some((sd, prompt)) => {
                let dab = SdDab { strength: self.strength, seed, steps: self.steps };
                sd.paint(canvas, &mask, prompt, &dab, &mut progress).map_err(|e| e.to_string())
            }
            None => {
                // Full noise and no texture: each imagining is a new picture, seed by seed.
                let dab = Dab {
                    style: self.style,
                    strength: self.strength,
                    seed,
                    steps: self.steps,
                    texture: 0.0,
                    noise_scale: 1.0,
                };
                self.brush.paint(canvas, &mask, &dab, &mut progress).map_err(|e| e.to_string())
            }
        };
        let mut imagined = canvas.clone();
        match painted {
            Ok(Some(p)) => patch::paste(&mut imagined, &p),
            Ok(None) => return imagined,
            Err(e) => {
                tracing::warn!("imagining with the magic brush failed: {e}");
                return imagined;
            }
        }
        keep_layout(canvas, &imagined)
    }
}

/// `imagined` with the colours of `canvas` at the scale of [`LAYOUT_CELLS`]: the difference
/// between them, shrunk to that many cells and grown back, is added to the imagined picture.
fn keep_layout(canvas: &Canvas, imagined: &Canvas) -> Canvas {
    let (w, h) = (canvas.width(), canvas.height());
    let longest = w.max(h);
    let (sw, sh) = ((w * LAYOUT_CELLS).div_ceil(longest).max(1), (h * LAYOUT_CELLS).div_ceil(longest).max(1));
    let (a, b) = (Picture::from_canvas(canvas, 0, 0, w, h), Picture::from_canvas(imagined, 0, 0, w, h));
    let difference =
        Picture { rgb: a.rgb.iter().zip(&b.rgb).map(|(p, q)| [0, 1, 2].map(|k| p[k] - q[k])).collect(), ..a };
    let coarse = difference.resized(sw, sh).resized(w, h);
    let mut out = imagined.clone();
    for y in 0..h {
        let row = out.row_mut(y, 0, w);
        for (x, px) in row.iter_mut().enumerate() {
            let (d, q) = (coarse.rgb[y * w + x], b.rgb[y * w + x]);
            let c = |k: usize| (q[k] + d[k]).clamp(0.0, 1.0);
            // Opaque (premultiplied = straight): the imagined picture is a painting's finish.
            *px = [c(0), c(1), c(2), 1.0];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::{style, unet};
    use crate::ops::Rgba;

    fn tiny() -> Arc<Brush> {
        let (_varmap, model) = unet::fresh(&unet::Config::tiny(), &candle_core::Device::Cpu).unwrap();
        Arc::new(Brush::from_model("tiny", model))
    }

    #[test]
    fn the_whole_canvas_is_imagined_again_each_time_with_its_own_seed() {
        let mut canvas = Canvas::new(40, 30, Rgba { r: 0.9, g: 0.8, b: 0.2, a: 1.0 });
        canvas.row_mut(10, 0, 40).fill([0.1, 0.2, 0.7, 1.0]);
        let brush = tiny();
        let mut a = Imaginer::new(brush.clone(), style::NONE, 0.6, 2, 7);
        let first = a.imagine(&canvas, &mut || true);
        let second = a.imagine(&canvas, &mut || true);
        assert_eq!((first.width(), first.height()), (40, 30));
        assert!(first != canvas, "it imagines something");
        assert!(first != second, "a new picture each time");
        let mut b = Imaginer::new(brush, style::NONE, 0.6, 2, 7);
        assert!(b.imagine(&canvas, &mut || true) == first, "the same seed, the same picture");
        assert!(b.imagine(&canvas, &mut || false) == canvas, "stopped: the canvas as it is");
    }
}
