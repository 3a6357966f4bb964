//! How close a fill is to the truth, inside the mask only (outside, every method
//! keeps the pixels): PSNR and SSIM (Wang et al. 2004: 11-tap Gaussian window,
//! σ 1.5, per channel, averaged over the masked pixels); and how much fine detail
//! it has, which closeness does not tell: a flat fill of gravel can be as close
//! as gravel painted in other places, and does not look like gravel.

use super::picture::Picture;

/// Pixels at or above this mask value are scored.
pub const SCORED: f32 = 0.5;

/// PSNR in dB of `a` against `b` over the pixels where `mask >= SCORED` (RGB in [0, 1]);
/// infinite when they agree there, NaN when nothing is masked.
pub fn psnr_in_mask(a: &Picture, b: &Picture, mask: &[f32]) -> f64 {
    let (mut se, mut n) = (0.0f64, 0.0f64);
    for ((p, q), &m) in a.rgb.iter().zip(&b.rgb).zip(mask) {
        if m >= SCORED {
            se += (0..3).map(|i| f64::from(p[i] - q[i]).powi(2)).sum::<f64>();
            n += 3.0;
        }
    }
    if n == 0.0 { f64::NAN } else { -10.0 * (se / n).log10() }
}

/// Mean SSIM of `a` against `b` over the pixels where `mask >= SCORED`; NaN when nothing is masked.
pub fn ssim_in_mask(a: &Picture, b: &Picture, mask: &[f32]) -> f64 {
    let (w, h) = (a.width, a.height);
    let (c1, c2) = (0.01f32.powi(2), 0.03f32.powi(2));
    let (mut total, mut n) = (0.0f64, 0.0f64);
    for ch in 0..3 {
        let x: Vec<f32> = a.rgb.iter().map(|p| p[ch]).collect();
        let y: Vec<f32> = b.rgb.iter().map(|p| p[ch]).collect();
        let prod = |u: &[f32], v: &[f32]| u.iter().zip(v).map(|(p, q)| p * q).collect::<Vec<f32>>();
        let (mx, my) = (blur(&x, w, h), blur(&y, w, h));
        let (sxx, syy, sxy) =
            (blur(&prod(&x, &x), w, h), blur(&prod(&y, &y), w, h), blur(&prod(&x, &y), w, h));
        for i in 0..w * h {
            if mask[i] < SCORED {
                continue;
            }
            let (vx, vy, cxy) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i]);
            let s = ((2.0 * mx[i] * my[i] + c1) * (2.0 * cxy + c2))
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
            total += f64::from(s);
            n += 1.0;
        }
    }
    if n == 0.0 { f64::NAN } else { total / n }
}

/// Fine detail of a picture inside the mask: the squared differences between
/// neighbouring pixels (right and below, every channel) summed where both are
/// scored. The ratio of a fill's to the truth's says how much of the picture's
/// texture the fill has (0: flat).
pub fn detail_in_mask(a: &Picture, mask: &[f32]) -> f64 {
    neighbour_differences(a, |i| mask[i] >= SCORED).0
}

/// The squared differences between neighbouring pixels (right and below, every channel)
/// where both are `inside`: their sum, and how many pairs.
pub fn neighbour_differences(pic: &Picture, inside: impl Fn(usize) -> bool) -> (f64, usize) {
    let w = pic.width;
    let (mut sum, mut n) = (0.0f64, 0usize);
    for i in (0..pic.rgb.len()).filter(|&i| inside(i)) {
        let (x, y) = (i % w, i / w);
        for j in [(x + 1 < w).then_some(i + 1), (y + 1 < pic.height).then_some(i + w)].into_iter().flatten() {
            if inside(j) {
                sum += (0..3).map(|c| f64::from(pic.rgb[i][c] - pic.rgb[j][c]).powi(2)).sum::<f64>();
                n += 1;
            }
        }
    }
    (sum, n)
}

/// Separable Gaussian blur (σ 1.5, 11 taps), weights renormalised at the edges.
fn blur(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let taps: Vec<f32> = (-5i32..=5).map(|i| (-(i * i) as f32 / (2.0 * 1.5 * 1.5)).exp()).collect();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut ws) = (0.0, 0.0);
                for (k, &t) in taps.iter().enumerate() {
                    let d = k as i64 - 5;
                    let (sx, sy) =
                        if horizontal { (x as i64 + d, y as i64) } else { (x as i64, y as i64 + d) };
                    if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                        s += t * src[sy as usize * w + sx as usize];
                        ws += t;
                    }
                }
                out[y * w + x] = s / ws;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: usize, h: usize, seed: u64) -> Picture {
        let mut rng = crate::painters::rng::Rng::new(seed);
        Picture {
            width: w,
            height: h,
            rgb: (0..w * h).map(|_| [rng.unit(), rng.unit(), rng.unit()]).collect(),
        }
    }

    #[test]
    fn identical_pictures_score_perfectly_and_only_the_mask_counts() {
        let a = noise(16, 16, 1);
        let mut b = a.clone();
        let mut mask = vec![0.0; 256];
        mask[..128].fill(1.0);
        b.rgb[200] = [0.0; 3]; // outside the mask: not scored
        assert_eq!(psnr_in_mask(&a, &b, &mask), f64::INFINITY);
        assert!((ssim_in_mask(&a, &a, &mask) - 1.0).abs() < 1e-6);
        assert!(psnr_in_mask(&a, &b, &[0.0; 256]).is_nan(), "nothing masked, nothing to score");
    }

    #[test]
    fn detail_is_zero_when_flat_and_counts_only_the_mask() {
        let mut mask = vec![0.0; 256];
        mask[..128].fill(1.0);
        assert_eq!(detail_in_mask(&Picture::new(16, 16, [0.3; 3]), &mask), 0.0);
        let rough = noise(16, 16, 3);
        assert!(detail_in_mask(&rough, &mask) > 0.0);
        let mut outside = Picture::new(16, 16, [0.3; 3]);
        outside.rgb[200] = [1.0; 3];
        assert_eq!(detail_in_mask(&outside, &mask), 0.0, "a speck outside the mask is not counted");
        // A stripe of two values side by side: one neighbouring pair differs per row.
        let mut stripe = Picture::new(4, 1, [0.0; 3]);
        stripe.rgb[2..].fill([0.5; 3]);
        assert!((detail_in_mask(&stripe, &[1.0; 4]) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn psnr_of_a_known_error_and_ssim_falls_with_noise() {
        let a = Picture::new(4, 4, [0.5; 3]);
        let b = Picture::new(4, 4, [0.6; 3]);
        let psnr = psnr_in_mask(&a, &b, &[1.0; 16]);
        assert!((psnr - 20.0).abs() < 1e-3, "an error of 0.1 everywhere is 20 dB: {psnr}");
        let clean = noise(24, 24, 2);
        let mut rng = crate::painters::rng::Rng::new(3);
        let noisy =
            Picture { rgb: clean.rgb.iter().map(|p| p.map(|v| v + 0.2 * rng.normal())).collect(), ..clean };
        let s = ssim_in_mask(&clean, &noisy, &[1.0; 576]);
        assert!(s < 0.9 && s > 0.0, "{s}");
    }
}
