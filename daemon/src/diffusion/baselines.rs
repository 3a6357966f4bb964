//! Classical inpainting, the bar the learned brush must clear: the mean colour
//! of what is known, and the harmonic fill (the smoothest surface that meets the
//! known pixels: Laplace's equation with them as the boundary), solved coarse to
//! fine by over-relaxed Gauss–Seidel.

use super::picture::Picture;

/// Every pixel where `mask > 0` takes the mean colour of the pixels where it is 0.
pub fn mean_fill(pic: &Picture, mask: &[f32]) -> Picture {
    let known: Vec<bool> = mask.iter().map(|&m| m <= 0.0).collect();
    let mean = mean_known(pic, &known);
    let rgb = pic.rgb.iter().zip(&known).map(|(&c, &k)| if k { c } else { mean }).collect();
    Picture { rgb, ..*pic }
}

/// Every pixel where `mask > 0` solved from its neighbours so that the fill is harmonic.
pub fn harmonic_fill(pic: &Picture, mask: &[f32]) -> Picture {
    let known: Vec<bool> = mask.iter().map(|&m| m <= 0.0).collect();
    harmonic(pic, &known)
}

/// Blends `fill` into `pic` by the soft mask: what the brush lays down.
pub fn composite(pic: &Picture, fill: &Picture, mask: &[f32]) -> Picture {
    let rgb = pic
        .rgb
        .iter()
        .zip(&fill.rgb)
        .zip(mask)
        .map(|((a, b), &m)| [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * m))
        .collect();
    Picture { rgb, ..*pic }
}

fn mean_known(pic: &Picture, known: &[bool]) -> [f32; 3] {
    let mut sum = [0.0f64; 3];
    let mut n = 0.0;
    for (c, _) in pic.rgb.iter().zip(known).filter(|(_, k)| **k) {
        (0..3).for_each(|i| sum[i] += f64::from(c[i]));
        n += 1.0;
    }
    if n == 0.0 { [0.5; 3] } else { sum.map(|s| (s / n) as f32) }
}

/// Relaxation sweeps per pyramid level: each level starts from the coarser
/// level's answer, so a few dozen sweeps settle what the coarse level left.
const SWEEPS: usize = 40;
/// Over-relaxation factor of the Gauss–Seidel sweeps.
const OMEGA: f32 = 1.8;

fn harmonic(pic: &Picture, known: &[bool]) -> Picture {
    let (w, h) = (pic.width, pic.height);
    if !known.contains(&true) {
        return Picture::new(w, h, [0.5; 3]);
    }
    let mut out = pic.clone();
    if w > 4 && h > 4 {
        // Start from the half-size problem's answer.
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut coarse = Picture::new(cw, ch, [0.0; 3]);
        let mut coarse_known = vec![false; cw * ch];
        let mut counts = vec![0.0f32; cw * ch];
        for y in 0..h {
            for x in 0..w {
                if known[y * w + x] {
                    let i = (y / 2) * cw + x / 2;
                    (0..3).for_each(|c| coarse.rgb[i][c] += pic.rgb[y * w + x][c]);
                    counts[i] += 1.0;
                    coarse_known[i] = true;
                }
            }
        }
        for (p, &n) in coarse.rgb.iter_mut().zip(&counts) {
            if n > 0.0 {
                *p = p.map(|v| v / n);
            }
        }
        let solved = harmonic(&coarse, &coarse_known);
        for y in 0..h {
            for x in 0..w {
                if !known[y * w + x] {
                    out.rgb[y * w + x] = solved.rgb[(y / 2) * cw + x / 2];
                }
            }
        }
    } else {
        let mean = mean_known(pic, known);
        for (p, _) in out.rgb.iter_mut().zip(known).filter(|(_, k)| !**k) {
            *p = mean;
        }
    }
    let unknown: Vec<usize> = (0..w * h).filter(|&i| !known[i]).collect();
    let sweeps = if w * h <= 64 { SWEEPS * 4 } else { SWEEPS };
    for _ in 0..sweeps {
        for &i in &unknown {
            let (x, y) = (i % w, i / w);
            // Neighbours beyond the picture's edge are left out (no flux across it).
            let mut sum = [0.0f32; 3];
            let mut n = 0.0;
            for (nx, ny) in [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)] {
                if nx < w && ny < h {
                    let c = out.rgb[ny * w + nx];
                    (0..3).for_each(|k| sum[k] += c[k]);
                    n += 1.0;
                }
            }
            let p = &mut out.rgb[i];
            for k in 0..3 {
                p[k] += OMEGA * (sum[k] / n - p[k]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A horizontal ramp with a hole in the middle.
    fn ramp_with_hole(w: usize, h: usize) -> (Picture, Vec<f32>) {
        let mut pic = Picture::new(w, h, [0.0; 3]);
        let mut mask = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let v = x as f32 / (w - 1) as f32;
                pic.rgb[y * w + x] = [v, 1.0 - v, 0.5];
                if (w / 4..3 * w / 4).contains(&x) && (h / 4..3 * h / 4).contains(&y) {
                    mask[y * w + x] = 1.0;
                }
            }
        }
        (pic, mask)
    }

    #[test]
    fn the_harmonic_fill_restores_a_linear_ramp() {
        let (truth, mask) = ramp_with_hole(48, 40);
        let mut holed = truth.clone();
        for (p, &m) in holed.rgb.iter_mut().zip(&mask) {
            if m > 0.0 {
                *p = [9.0; 3];
            }
        }
        let filled = harmonic_fill(&holed, &mask);
        let worst = filled
            .rgb
            .iter()
            .zip(&truth.rgb)
            .map(|(a, b)| (0..3).map(|i| (a[i] - b[i]).abs()).fold(0.0, f32::max))
            .fold(0.0, f32::max);
        assert!(worst < 0.01, "a ramp is harmonic, so it comes back: worst error {worst}");
    }

    #[test]
    fn the_mean_fill_is_the_mean_of_the_known_pixels() {
        let (pic, mask) = ramp_with_hole(8, 8);
        let filled = mean_fill(&pic, &mask);
        let centre = filled.get(4, 4);
        assert!((centre[0] - 0.5).abs() < 1e-5 && (centre[2] - 0.5).abs() < 1e-5, "{centre:?}");
        assert_eq!(filled.get(0, 0), pic.get(0, 0), "known pixels are kept");
    }

    #[test]
    fn composite_blends_by_the_soft_mask() {
        let a = Picture::new(2, 1, [0.0; 3]);
        let b = Picture::new(2, 1, [1.0; 3]);
        let out = composite(&a, &b, &[0.25, 1.0]);
        assert_eq!(out.rgb, vec![[0.25; 3], [1.0; 3]]);
    }
}
