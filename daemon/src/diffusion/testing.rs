//! What the brushes' tests share: a test canvas, and the check every dab must pass.

use crate::engine::Canvas;
use crate::ops::Rgba;

/// Yellow with a blue line every 6 rows: something for a dab to change.
pub fn striped(w: usize, h: usize) -> Canvas {
    let mut c = Canvas::new(w, h, Rgba { r: 0.9, g: 0.8, b: 0.2, a: 1.0 });
    for y in (0..h).step_by(6) {
        c.row_mut(y, 0, w).fill([0.1, 0.2, 0.7, 1.0]);
    }
    c
}

/// `canvas` with `patch` pasted, checked to differ from `canvas` only where `mask` is not
/// zero: what every brush test asks of a dab.
pub fn pasted_inside(
    canvas: &crate::engine::Canvas,
    patch: &crate::ops::pb::RasterPatch,
    mask: &super::SoftMask,
) -> crate::engine::Canvas {
    let mut after = canvas.clone();
    crate::engine::patch::paste(&mut after, patch);
    for y in 0..canvas.height() {
        for x in 0..canvas.width() {
            if mask.at(x as i64, y as i64) == 0.0 {
                assert_eq!(after.get(x, y), canvas.get(x, y), "{x},{y} is outside the mask");
            }
        }
    }
    after
}
