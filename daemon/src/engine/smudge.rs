//! Smudge: each dab drags the pixels that lay under the previous dab forward
//! (Krita's "smearing" mode), so colour travels along the stroke and fades by
//! the smudge rate at every step.

use super::canvas::{Canvas, Px};
use super::dab::{Dab, for_each_row};

/// Blends, under `dab`, each pixel towards the pixel at offset `(ox, oy)` from
/// it as the canvas was before this dab (bilinear, clamped at the canvas edge).
pub fn drag(canvas: &mut Canvas, dab: &Dab, ox: f32, oy: f32, scratch: &mut Vec<Px>) {
    let (w, h) = (canvas.width(), canvas.height());
    let (y0, y1) = dab.rows(h);
    if y0 >= y1 {
        return;
    }
    // Snapshot of the source rectangle: the dab's box shifted back along the stroke.
    let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n - 1);
    let r = dab.reach() + 1.0;
    let sx0 = clamp((dab.x + ox - r).floor(), w);
    let sx1 = clamp((dab.x + ox + r).ceil(), w) + 1;
    let sy0 = clamp((dab.y + oy - r).floor(), h);
    let sy1 = clamp((dab.y + oy + r).ceil(), h) + 1;
    let sw = sx1 - sx0;
    scratch.clear();
    for y in sy0..sy1 {
        scratch.extend_from_slice(&canvas.pixels()[y * w + sx0..y * w + sx1]);
    }
    let sample = |x: f32, y: f32| -> Px {
        let (fx, fy) = (x - 0.5 - sx0 as f32, y - 0.5 - sy0 as f32);
        let (ix, iy) = (fx.floor(), fy.floor());
        let (tx, ty) = (fx - ix, fy - iy);
        let cx = |i: f32| (i.max(0.0) as usize).min(sw - 1);
        let cy = |i: f32| (i.max(0.0) as usize).min(sy1 - sy0 - 1);
        let at = |x: usize, y: usize| scratch[y * sw + x];
        let (a, b) = (at(cx(ix), cy(iy)), at(cx(ix + 1.0), cy(iy)));
        let (c, d) = (at(cx(ix), cy(iy + 1.0)), at(cx(ix + 1.0), cy(iy + 1.0)));
        std::array::from_fn(|k| {
            let top = a[k] + (b[k] - a[k]) * tx;
            let bottom = c[k] + (d[k] - c[k]) * tx;
            top + (bottom - top) * ty
        })
    };
    for_each_row(dab, w, h, |y, x0, cov| {
        let row = canvas.row_mut(y, x0, x0 + cov.len());
        for (i, (d, &m)) in row.iter_mut().zip(cov).enumerate() {
            if m <= 0.0 {
                continue;
            }
            let s = sample((x0 + i) as f32 + 0.5 + ox, y as f32 + 0.5 + oy);
            *d = std::array::from_fn(|k| d[k] + (s[k] - d[k]) * m);
        }
    });
}
