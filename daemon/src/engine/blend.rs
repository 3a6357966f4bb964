//! Compositing a colour through a coverage row onto canvas pixels, with the
//! separable blend modes of the W3C compositing spec, in premultiplied form
//! (no division by alpha, so transparent pixels need no special case).

use super::{Px, kernels};
use crate::ops::pb::BlendMode;

/// `dst = src OP dst` for a solid straight colour `color` whose alpha at each
/// pixel is `alpha[i]` (coverage × opacity × colour alpha).
pub fn composite(dst: &mut [Px], alpha: &[f32], color: [f32; 3], mode: BlendMode) {
    match mode {
        BlendMode::Unspecified | BlendMode::Normal => kernels::normal(dst, alpha, color),
        BlendMode::Multiply => separable(dst, alpha, color, |cb, _ab, cs| cb * cs),
        BlendMode::Screen => separable(dst, alpha, color, |cb, ab, cs| cb + ab * cs - cb * cs),
        BlendMode::Darken => separable(dst, alpha, color, |cb, ab, cs| cb.min(ab * cs)),
        BlendMode::Lighten => separable(dst, alpha, color, |cb, ab, cs| cb.max(ab * cs)),
        BlendMode::Add => separable(dst, alpha, color, |cb, ab, cs| (cb + ab * cs).min(ab)),
        BlendMode::Overlay => separable(dst, alpha, color, |cb, ab, cs| {
            if 2.0 * cb <= ab { 2.0 * cb * cs } else { ab - 2.0 * (ab - cb) * (1.0 - cs) }
        }),
    }
}

/// `co = (1 - ab)·as·Cs + (1 - as)·cb + as·ab·B(Cb, Cs)`, where `bp(cb, ab, Cs)`
/// returns `ab·B(cb/ab, Cs)` computed from premultiplied `cb`.
#[inline]
fn separable(dst: &mut [Px], alpha: &[f32], c: [f32; 3], bp: impl Fn(f32, f32, f32) -> f32) {
    for (d, &a) in dst.iter_mut().zip(alpha) {
        if a <= 0.0 {
            continue;
        }
        let ab = d[3];
        let k = 1.0 - a;
        let ch = |i: usize| (1.0 - ab) * a * c[i] + k * d[i] + a * bp(d[i], ab, c[i]);
        *d = [ch(0), ch(1), ch(2), a + ab * k];
    }
}

/// Premultiplied source-over of one pixel.
#[inline]
pub fn over(src: Px, dst: Px) -> Px {
    let k = 1.0 - src[3];
    [src[0] + dst[0] * k, src[1] + dst[1] * k, src[2] + dst[2] * k, src[3] + dst[3] * k]
}

/// Removes alpha: every premultiplied channel scales by `1 - alpha[i]`, so the
/// straight colour of what remains is untouched.
pub fn erase(dst: &mut [Px], alpha: &[f32]) {
    kernels::erase(dst, alpha);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(mode: BlendMode, dst: Px, a: f32, c: [f32; 3]) -> Px {
        let mut d = [dst];
        composite(&mut d, &[a], c, mode);
        d[0]
    }

    fn close(a: Px, b: Px) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn every_mode_paints_straight_colour_onto_transparency() {
        use BlendMode::*;
        for mode in [Normal, Multiply, Screen, Darken, Lighten, Overlay, Add] {
            let got = one(mode, [0.0; 4], 1.0, [0.2, 0.4, 0.6]);
            assert!(close(got, [0.2, 0.4, 0.6, 1.0]), "{mode:?}: {got:?}");
        }
    }

    #[test]
    fn modes_on_opaque_grey_match_their_formulas() {
        let grey = [0.5, 0.5, 0.5, 1.0];
        let c = [0.2, 0.8, 1.0];
        assert!(close(one(BlendMode::Multiply, grey, 1.0, c), [0.1, 0.4, 0.5, 1.0]));
        assert!(close(one(BlendMode::Screen, grey, 1.0, c), [0.6, 0.9, 1.0, 1.0]));
        assert!(close(one(BlendMode::Darken, grey, 1.0, c), [0.2, 0.5, 0.5, 1.0]));
        assert!(close(one(BlendMode::Lighten, grey, 1.0, c), [0.5, 0.8, 1.0, 1.0]));
        assert!(close(one(BlendMode::Add, grey, 1.0, c), [0.7, 1.0, 1.0, 1.0]));
        assert!(close(one(BlendMode::Normal, grey, 0.5, c), [0.35, 0.65, 0.75, 1.0]));
    }

    #[test]
    fn erase_keeps_straight_colour() {
        let mut d = [[0.4, 0.2, 0.0, 0.8]];
        erase(&mut d, &[0.5]);
        assert!(close(d[0], [0.2, 0.1, 0.0, 0.4]));
    }
}
