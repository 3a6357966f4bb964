//! Raster patches: straight RGBA8 pixels pasted at a position, over the canvas
//! or replacing it; whatever hangs over the edge is dropped.

use super::blend;
use super::canvas::{Canvas, px_from_rgba8};
use crate::ops::pb::{self, PatchMode};

/// Pastes a validated patch.
pub fn paste(canvas: &mut Canvas, p: &pb::RasterPatch) {
    let (w, h) = (canvas.width() as i64, canvas.height() as i64);
    let (pw, ph) = (i64::from(p.width), i64::from(p.height));
    let (x0, y0) = (i64::from(p.x).max(0), i64::from(p.y).max(0));
    let (x1, y1) = ((i64::from(p.x) + pw).min(w), (i64::from(p.y) + ph).min(h));
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let replace = p.mode() == PatchMode::Replace;
    for y in y0..y1 {
        let src_row = ((y - i64::from(p.y)) * pw + (x0 - i64::from(p.x))) as usize * 4;
        let src = &p.rgba[src_row..src_row + (x1 - x0) as usize * 4];
        let dst = canvas.row_mut(y as usize, x0 as usize, x1 as usize);
        for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
            let s = px_from_rgba8(s);
            *d = if replace { s } else { blend::over(s, *d) };
        }
    }
}
