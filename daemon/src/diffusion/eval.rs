//! The brush against classical inpainting on held-out pictures: each picture
//! gets a random mask (as in training), each method fills it at full resolution
//! and is scored inside the mask (PSNR, SSIM) against the picture itself.
//!
//! Every picture is compared as 8-bit pixels (what a canvas saved as PNG holds),
//! and PSNR is taken of the squared error pooled over all pictures: the harmonic
//! fill of a flat sky is exact to 1e-13, and a mean of per-picture PSNRs would be
//! ruled by such 130 dB pictures rather than by the hard ones.

use super::baselines::{composite, harmonic_fill, mean_fill};
use super::brush::{Brush, Dab};
use super::examples::{Sources, random_mask};
use super::metrics::{SCORED, psnr_in_mask, ssim_in_mask};
use super::picture::Picture;
use super::style;
use super::window::Window;
use crate::engine::patch;
use crate::painters::rng::Rng;

#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub pictures: usize,
    /// Canvas side of each held-out picture.
    pub size: usize,
    pub steps: usize,
    pub seed: u64,
}

/// Mean scores of one method.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    pub method: String,
    pub psnr: f64,
    pub ssim: f64,
    /// Pictures scored (those whose mask covered at least one scored pixel).
    pub pictures: usize,
}

/// Scores the brush, the harmonic fill and the mean colour on `o.pictures` held-out
/// pictures from `sources`; `progress(i)` after each.
pub fn evaluate(
    brush: &Brush,
    sources: &Sources,
    o: &EvalOptions,
    mut progress: impl FnMut(usize),
) -> Vec<Score> {
    let names =
        [format!("brush ({}, {} steps)", brush.name, o.steps), "harmonic fill".into(), "mean colour".into()];
    // Per method: summed squared error, scored channel values, summed SSIM, pictures.
    let mut sums = vec![(0.0f64, 0.0f64, 0.0f64, 0usize); 3];
    let mut rng = Rng::new(o.seed);
    for i in 0..o.pictures {
        let canvas = sources.canvas(o.size, &mut rng);
        let mask = random_mask(o.size, &mut rng);
        let win = Window::around(&mask);
        let truth = quantized(Picture::from_canvas(&canvas, win.x, win.y, win.side, win.side));
        let m: Vec<f32> = (0..win.side * win.side)
            .map(|k| mask.at(win.x + (k % win.side) as i64, win.y + (k / win.side) as i64))
            .collect();
        let dab = Dab { style: style::NONE, strength: 1.0, seed: rng.next_u64(), steps: o.steps };
        let mut painted = canvas.clone();
        if let Ok(Some(p)) = brush.paint(&canvas, &mask, &dab, &mut |_, _| true) {
            patch::paste(&mut painted, &p);
        }
        let fills = [
            Picture::from_canvas(&painted, win.x, win.y, win.side, win.side),
            composite(&truth, &harmonic_fill(&truth, &m), &m),
            composite(&truth, &mean_fill(&truth, &m), &m),
        ];
        let scored = m.iter().filter(|&&v| v >= SCORED).count() as f64 * 3.0;
        if scored == 0.0 {
            progress(i + 1);
            continue;
        }
        for (sum, fill) in sums.iter_mut().zip(fills) {
            let fill = quantized(fill);
            // psnr_in_mask of one picture back to its mean squared error.
            let mse = 10f64.powf(-psnr_in_mask(&fill, &truth, &m) / 10.0);
            let ssim = ssim_in_mask(&fill, &truth, &m);
            *sum = (sum.0 + mse * scored, sum.1 + scored, sum.2 + ssim, sum.3 + 1);
        }
        progress(i + 1);
    }
    names
        .into_iter()
        .zip(sums)
        .map(|(method, (se, n, ssim, pictures))| Score {
            method,
            psnr: -10.0 * (se / n.max(1.0)).log10(),
            ssim: ssim / pictures.max(1) as f64,
            pictures,
        })
        .collect()
}

/// The picture as 8-bit pixels would hold it.
fn quantized(mut p: Picture) -> Picture {
    for c in &mut p.rgb {
        *c = c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0);
    }
    p
}
