//! The brush against classical inpainting on held-out pictures: each picture
//! gets a random mask (as in training), each method fills it at full resolution
//! and is scored inside the mask (PSNR, SSIM) against the picture itself.
//!
//! Every picture is compared as 8-bit pixels (what a canvas saved as PNG holds),
//! and PSNR is taken of the squared error pooled over all pictures: the harmonic
//! fill of a flat sky is exact to 1e-13, and a mean of per-picture PSNRs would be
//! ruled by such 130 dB pictures rather than by the hard ones. Beside the pooled
//! figure, each method counts the pictures it fills closer than the harmonic fill
//! (and those it fills further from): a pooled PSNR can be carried by a few
//! pictures, the count says how often a painter would see it do better.

use super::baselines::{composite, harmonic_fill, mean_fill};
use super::brush::{Brush, Dab};
use super::examples::{Sources, random_mask};
use super::metrics::{SCORED, detail_in_mask, psnr_in_mask, ssim_in_mask};
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
    /// How many of the pictures to hand back for a contact sheet.
    pub keep: usize,
    /// The sampler's start noise (`brush::NOISE_SCALE` as painted).
    pub noise_scale: f32,
}

/// One evaluated picture for a contact sheet: the truth, the hole shown in magenta,
/// then the harmonic fill, the brush, and the brush with cloned texture.
pub type Row = [Picture; 5];

/// Methods scored: the brush without and with cloned texture, the harmonic fill, the
/// classical clone and heal, the mean colour.
const METHODS: usize = 5;
/// Where the harmonic fill is among them: the others are counted against it.
const HARMONIC: usize = 2;

/// Mean scores of one method.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    pub method: String,
    pub psnr: f64,
    pub ssim: f64,
    /// Pictures scored (those whose mask covered at least one scored pixel).
    pub pictures: usize,
    /// Pictures this method fills closer to the truth than the harmonic fill, and further.
    pub closer: usize,
    pub further: usize,
    /// Fine detail inside the masks, as a share of the pictures' own (pooled; 0: flat fills).
    pub detail: f64,
}

/// Relative difference in squared error below which two fills count as equally close.
const TIE: f64 = 1e-3;

/// Scores the brush, the harmonic fill and the mean colour on `o.pictures` held-out
/// pictures from `sources`; `progress(i)` after each.
pub fn evaluate(
    brush: &Brush,
    sources: &Sources,
    o: &EvalOptions,
    mut progress: impl FnMut(usize),
) -> (Vec<Score>, Vec<Row>) {
    let mut rows = Vec::new();
    let names = [
        format!("brush ({}, {} steps)", brush.name, o.steps),
        format!("brush with cloned texture ({} steps)", o.steps),
        "harmonic fill".into(),
        "clone and heal".into(),
        "mean colour".into(),
    ];
    // Per method: summed squared error, scored channel values, summed SSIM, pictures.
    let mut sums = [(0.0f64, 0.0f64, 0.0f64, 0usize); METHODS];
    // Per method: pictures filled closer than the harmonic fill, and further.
    let mut against = [(0usize, 0usize); METHODS];
    // Per method: summed fine detail inside the masks; and the truth's.
    let (mut details, mut truth_detail) = ([0.0f64; METHODS], 0.0f64);
    let mut rng = Rng::new(o.seed);
    for i in 0..o.pictures {
        let canvas = sources.canvas(o.size, &mut rng);
        let mask = random_mask(o.size, &mut rng);
        let win = Window::around(&mask);
        let truth = quantized(Picture::from_canvas(&canvas, win.x, win.y, win.side, win.side));
        let m = win.mask_in(&mask);
        let seed = rng.next_u64();
        let brushed = |texture: f32| {
            let dab = Dab {
                style: style::NONE,
                strength: 1.0,
                seed,
                steps: o.steps,
                texture,
                noise_scale: o.noise_scale,
            };
            let mut painted = canvas.clone();
            if let Ok(Some(p)) = brush.paint(&canvas, &mask, &dab, &mut |_, _| true) {
                patch::paste(&mut painted, &p);
            }
            Picture::from_canvas(&painted, win.x, win.y, win.side, win.side)
        };
        let smooth = harmonic_fill(&truth, &m);
        let harmonic = composite(&truth, &smooth, &m);
        // The classical clone stamp and healing brush: the harmonic fill plus the detail of
        // the best-matching source, added as the brush adds it to its own fill.
        let mut cloned = smooth;
        if let Some(d) = super::texture::detail(&canvas, &mask, win, seed) {
            super::texture::add(&mut cloned, &d, 1.0);
        }
        let healed = composite(&truth, &cloned, &m);
        let fills =
            [brushed(0.0), brushed(1.0), harmonic, healed, composite(&truth, &mean_fill(&truth, &m), &m)];
        if rows.len() < o.keep {
            let hole = Picture {
                rgb: truth
                    .rgb
                    .iter()
                    .zip(&m)
                    .map(|(c, &a)| [c[0] + (1.0 - c[0]) * a, c[1] * (1.0 - a), c[2] + (1.0 - c[2]) * a])
                    .collect(),
                ..truth.clone()
            };
            rows.push([truth.clone(), hole, fills[2].clone(), fills[0].clone(), fills[1].clone()]);
        }
        let scored = m.iter().filter(|&&v| v >= SCORED).count() as f64 * 3.0;
        if scored == 0.0 {
            progress(i + 1);
            continue;
        }
        let mut errors = [0.0; METHODS];
        truth_detail += detail_in_mask(&truth, &m);
        for (((sum, fill), error), detail) in sums.iter_mut().zip(fills).zip(&mut errors).zip(&mut details) {
            let fill = quantized(fill);
            *detail += detail_in_mask(&fill, &m);
            // psnr_in_mask of one picture back to its mean squared error.
            let mse = 10f64.powf(-psnr_in_mask(&fill, &truth, &m) / 10.0);
            let ssim = ssim_in_mask(&fill, &truth, &m);
            *sum = (sum.0 + mse * scored, sum.1 + scored, sum.2 + ssim, sum.3 + 1);
            *error = mse;
        }
        let harmonic = errors[HARMONIC];
        for (count, e) in against.iter_mut().zip(errors) {
            if e < harmonic * (1.0 - TIE) {
                count.0 += 1;
            } else if e > harmonic * (1.0 + TIE) {
                count.1 += 1;
            }
        }
        progress(i + 1);
    }
    let scores = names
        .into_iter()
        .zip(sums)
        .zip(against)
        .zip(details)
        .map(|(((method, (se, n, ssim, pictures)), (closer, further)), detail)| Score {
            method,
            psnr: -10.0 * (se / n.max(1.0)).log10(),
            ssim: ssim / pictures.max(1) as f64,
            pictures,
            closer,
            further,
            detail: detail / truth_detail.max(1e-12),
        })
        .collect();
    (scores, rows)
}

/// The rows side by side, each picture at `cell × cell`, as straight RGBA8.
pub fn contact_sheet(rows: &[Row], cell: usize) -> image::RgbaImage {
    let cols = 5;
    let mut sheet =
        image::RgbaImage::from_pixel((cols * cell) as u32, (rows.len() * cell) as u32, image::Rgba([255; 4]));
    for (r, row) in rows.iter().enumerate() {
        for (c, pic) in row.iter().enumerate() {
            let small = pic.resized(cell, cell);
            for (i, px) in small.rgb.iter().enumerate() {
                let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                let (x, y) = ((c * cell + i % cell) as u32, (r * cell + i / cell) as u32);
                sheet.put_pixel(x, y, image::Rgba([byte(px[0]), byte(px[1]), byte(px[2]), 255]));
            }
        }
    }
    sheet
}

/// The picture as 8-bit pixels would hold it.
fn quantized(mut p: Picture) -> Picture {
    for c in &mut p.rgb {
        *c = c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::unet::{Config, fresh};

    #[test]
    fn an_untrained_brush_scores_like_the_harmonic_fill_it_starts_from() {
        // The model adds a small correction to the harmonic fill, so before training the
        // brush is about as good as harmonic and far from perfect; the mean colour is worse.
        let (_, model) = fresh(&Config::tiny(), &candle_core::Device::Cpu).unwrap();
        let brush = Brush::from_model("untrained", model);
        let sources = Sources { photos: Vec::new(), held_out: true };
        let o = EvalOptions { pictures: 6, size: 64, steps: 1, seed: 3, keep: 2, noise_scale: 1.0 };
        let (scores, rows) = evaluate(&brush, &sources, &o, |_| {});
        let [b, textured, h, healed, m] = [0, 1, 2, 3, 4].map(|i| &scores[i]);
        assert_eq!((b.pictures, h.pictures, m.pictures), (6, 6, 6));
        assert!(textured.detail >= b.detail && healed.detail >= h.detail, "{scores:?}");
        assert!((b.psnr - h.psnr).abs() < 2.0, "{scores:?}");
        assert!(h.psnr > m.psnr, "{scores:?}");
        assert_eq!((h.closer, h.further), (0, 0), "the harmonic fill ties with itself");
        assert!(m.further > m.closer, "{scores:?}");
        assert!(b.closer + b.further <= b.pictures);
        assert!(
            m.detail < h.detail && h.detail > 0.0,
            "a flat colour has less detail than the fill: {scores:?}"
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(contact_sheet(&rows, 16).dimensions(), (80, 32));
    }
}
