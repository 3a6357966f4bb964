//! Bucket fill: every pixel whose premultiplied RGBA is within `tolerance` of
//! the seed pixel (largest per-channel difference) — the connected region
//! around the seed, or all such pixels when not contiguous — is painted with
//! the fill colour, source-over.

use super::blend;
use super::canvas::{Canvas, Px};
use super::mask::StrokeMask;
use crate::ops::{Rgba, pb};

fn similar(p: Px, seed: Px, tolerance: f32) -> bool {
    (0..4).all(|k| (p[k] - seed[k]).abs() <= tolerance)
}

/// Fills a validated fill op.
pub fn fill(canvas: &mut Canvas, mask: &mut StrokeMask, f: &pb::Fill) {
    let mut mask = mask.rows_mut();
    let (w, h) = (canvas.width(), canvas.height());
    let (sx, sy) = (f.x as usize, f.y as usize);
    let seed = canvas.get(sx, sy);
    // A hair of slack so that tolerance 0 still matches colours that round-tripped through u8.
    let tol = f.tolerance + 1e-6;
    let px = canvas.pixels();
    let matches = |x: usize, y: usize| similar(px[y * w + x], seed, tol);

    if f.contiguous {
        // Scanline flood fill; the mask doubles as the visited set.
        let mut stack = vec![(sx, sy)];
        while let Some((x, y)) = stack.pop() {
            if mask.row_mut(y, x, x + 1)[0] > 0.0 || !matches(x, y) {
                continue;
            }
            let mut lo = x;
            while lo > 0 && matches(lo - 1, y) {
                lo -= 1;
            }
            let mut hi = x + 1;
            while hi < w && matches(hi, y) {
                hi += 1;
            }
            mask.row_mut(y, lo, hi).fill(1.0);
            for ny in [y.wrapping_sub(1), y + 1] {
                if ny >= h {
                    continue;
                }
                // One seed per run of matching, unvisited pixels in the neighbouring row.
                let mut x = lo;
                while x < hi {
                    if matches(x, ny) {
                        stack.push((x, ny));
                        while x < hi && matches(x, ny) {
                            x += 1;
                        }
                    } else {
                        x += 1;
                    }
                }
            }
        }
    } else {
        for y in 0..h {
            for x in 0..w {
                if matches(x, y) {
                    mask.row_mut(y, x, x + 1)[0] = 1.0;
                }
            }
        }
    }

    let c = Rgba::from_pb(f.color.as_ref(), Rgba::BLACK);
    let mut alpha = Vec::new();
    for (y, x0, values) in mask.dirty_rows() {
        alpha.clear();
        alpha.extend(values.iter().map(|v| v * c.a));
        blend::composite(
            canvas.row_mut(y, x0, x0 + values.len()),
            &alpha,
            [c.r, c.g, c.b],
            pb::BlendMode::Normal,
        );
    }
    mask.clear();
}
