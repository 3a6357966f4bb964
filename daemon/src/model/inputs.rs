//! What the model sees: pictures at its resolution, and histories as tokens.

use crate::engine::Canvas;
use crate::ops::{pb, timeline};
use crate::tokenizer::{ALL_FIELDS, FIELDS, OpToken, Tokenizer};

/// Adds `pixels`' premultiplied channels to `sum`, alpha too, as four lanes (one vector add a
/// pixel); the caller composites over white after: Σ(c + 1 − a) = Σc + n − Σa.
fn add_lanes(sum: &mut [f32; 4], pixels: &[crate::engine::Px]) {
    for p in pixels {
        for k in 0..4 {
            sum[k] += p[k];
        }
    }
}

/// A canvas composited over white and area-averaged down (or up) to
/// `side × side`, as planar RGB in [0, 1] (`3 × side × side` values).
pub fn picture(canvas: &Canvas, side: usize) -> Vec<f32> {
    averaged(canvas, side, usize::MAX)
}

/// Cells of the per-op state wider than this are averaged over a grid of this many pixels per
/// side: the mean of a big cell barely moves, and the state of a 4096² canvas, taken at every
/// op, would otherwise read its 16 M pixels each time.
const STATE_SAMPLES: usize = 32;

/// [`picture`] for the per-op state: the same on canvases up to 32 pixels a cell (all the
/// model was trained on), every k-th pixel and row of bigger cells.
pub fn state_picture(canvas: &Canvas, side: usize) -> Vec<f32> {
    averaged(canvas, side, STATE_SAMPLES)
}

/// [`picture`], each cell averaged over at most `most` pixels per side, evenly spaced.
fn averaged(canvas: &Canvas, side: usize, most: usize) -> Vec<f32> {
    let (w, h) = (canvas.width(), canvas.height());
    let mut out = vec![0.0; 3 * side * side];
    for oy in 0..side {
        let (y0, y1) = (oy * h / side, ((oy + 1) * h / side).max(oy * h / side + 1).min(h));
        for ox in 0..side {
            let (x0, x1) = (ox * w / side, ((ox + 1) * w / side).max(ox * w / side + 1).min(w));
            let mut sum = [0.0f32; 4];
            let (sx, sy) = ((x1 - x0).div_ceil(most), (y1 - y0).div_ceil(most));
            let mut n = 0.0;
            for y in (y0..y1).step_by(sy) {
                let row = &canvas.pixels()[y * w + x0..y * w + x1];
                if sx == 1 {
                    add_lanes(&mut sum, row);
                    n += row.len() as f32;
                } else {
                    for p in row.iter().step_by(sx) {
                        add_lanes(&mut sum, std::slice::from_ref(p));
                        n += 1.0;
                    }
                }
            }
            for k in 0..3 {
                out[k * side * side + oy * side + ox] = (sum[k] + (n - sum[3])) / n;
            }
        }
    }
    out
}

/// Values of one op's state input at `side`² (0 for none): the canvas, then what the
/// reference holds beyond it.
pub const fn state_len(side: usize) -> usize {
    2 * 3 * side * side
}

/// The state input at an op position from small pictures ([`picture`] at the
/// state's side) of the canvas as it stands there and of the reference: the
/// canvas, then the reference minus the canvas (zeros without a reference) — in
/// copy mode, what is still to be painted and where.
pub fn state(canvas: &[f32], reference: Option<&[f32]>) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * canvas.len());
    out.extend_from_slice(canvas);
    match reference {
        // Shifted by a half so that the model's centring (it subtracts 0.5) leaves the difference.
        Some(r) => out.extend(r.iter().zip(canvas).map(|(r, c)| r - c + 0.5)),
        None => out.extend(std::iter::repeat_n(0.5, canvas.len())),
    }
    out
}

/// Sides of the glimpse's two views, as shares of the canvas's longer side:
/// the paint right under the brush, and the neighbourhood around it. Shares,
/// not pixels, so that a model trained on small canvases sees the same on big ones.
pub const GLIMPSE_SCALES: [f32; 2] = [1.0 / 16.0, 1.0 / 4.0];

/// Values of one picture's glimpse at `cells`² per view.
pub fn glimpse_len(cells: usize) -> usize {
    GLIMPSE_SCALES.len() * 3 * cells * cells
}

/// What the painter sees around the place `(x, y)` (canvas pixels) before it
/// chooses colour, size and shape: for each of [`GLIMPSE_SCALES`], the square
/// around the place area-averaged to `cells × cells`, composited over white,
/// as planar RGB in [0, 1]. Outside the canvas the nearest edge pixel stands in.
pub fn glimpse(canvas: &Canvas, x: f32, y: f32, cells: usize) -> Vec<f32> {
    let (w, h) = (canvas.width(), canvas.height());
    let longer = w.max(h) as f32;
    let mut out = Vec::with_capacity(glimpse_len(cells));
    for share in GLIMPSE_SCALES {
        let side = (share * longer).max(1.0);
        let cell = side / cells as f32;
        let (left, top) = (x - side / 2.0, y - side / 2.0);
        // The pixels of cell `i` along one axis, before clamping to the canvas.
        let cell_range = |start: f32, i: usize| {
            let a = (start + i as f32 * cell).floor() as isize;
            let b = ((start + (i + 1) as f32 * cell).floor() as isize).max(a + 1);
            a..b
        };
        let span = |start: f32, i: usize, extent: usize| {
            cell_range(start, i).map(move |v| v.clamp(0, extent as isize - 1) as usize)
        };
        let mut planes = vec![0.0f32; 3 * cells * cells];
        let pixels = canvas.pixels();
        for cy in 0..cells {
            for cx in 0..cells {
                let (mut acc, mut n) = ([0.0f32; 3], 0.0f32);
                // A cell inside the canvas is summed row slice by row slice (a big canvas
                // has big cells); one past an edge pixel by pixel, the edge standing in.
                let columns = cell_range(left, cx);
                let (a, b) = (columns.start, columns.end);
                let inside = a >= 0 && b <= w as isize;
                for py in span(top, cy, h) {
                    if inside {
                        let slice = &pixels[py * w + a as usize..py * w + b as usize];
                        let mut sum = [0.0f32; 4];
                        add_lanes(&mut sum, slice);
                        let len = slice.len() as f32;
                        for k in 0..3 {
                            acc[k] += sum[k] + (len - sum[3]);
                        }
                        n += len;
                        continue;
                    }
                    for px in columns.clone().map(|v| v.clamp(0, w as isize - 1) as usize) {
                        let p = pixels[py * w + px];
                        for k in 0..3 {
                            acc[k] += p[k] + (1.0 - p[3]);
                        }
                        n += 1.0;
                    }
                }
                for k in 0..3 {
                    planes[k * cells * cells + cy * cells + cx] = acc[k] / n;
                }
            }
        }
        out.extend(planes);
    }
    out
}

/// The tokens of a history's effective ops (undo/redo resolved; ops the
/// tokenizer does not cover are left out).
pub fn tokens(history: &pb::History) -> Vec<OpToken> {
    let tk = Tokenizer::new(&history.header.clone().unwrap_or_default());
    timeline::effective(&history.ops).into_iter().filter_map(|op| tk.encode(op)).collect()
}

/// Token values as u32, row-major `[n, FIELDS]`.
pub fn flatten(tokens: &[OpToken]) -> Vec<u32> {
    tokens.iter().flat_map(|t| t.0.iter().map(|&v| u32::from(v))).collect()
}

/// 1 where a field counts for the loss (the fields the op's kind uses), row-major `[n, FIELDS]`.
pub fn mask(tokens: &[OpToken]) -> Vec<f32> {
    tokens
        .iter()
        .flat_map(|t| {
            let used = OpToken::used(t.get(crate::tokenizer::Field::Kind));
            ALL_FIELDS.iter().map(move |f| if used.contains(f) { 1.0 } else { 0.0 })
        })
        .collect()
}

/// The START token that opens every op sequence.
pub fn start() -> OpToken {
    OpToken([0; FIELDS])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glimpse by its definition: every pixel of every cell, clamped to the canvas.
    fn glimpse_by_definition(canvas: &Canvas, x: f32, y: f32, cells: usize) -> Vec<f32> {
        let (w, h) = (canvas.width(), canvas.height());
        let mut out = Vec::new();
        for share in GLIMPSE_SCALES {
            let side = (share * w.max(h) as f32).max(1.0);
            let cell = side / cells as f32;
            let (left, top) = (x - side / 2.0, y - side / 2.0);
            let span = |start: f32, i: usize, extent: usize| {
                let a = (start + i as f32 * cell).floor() as isize;
                let b = ((start + (i + 1) as f32 * cell).floor() as isize).max(a + 1);
                (a..b).map(move |v| v.clamp(0, extent as isize - 1) as usize)
            };
            let mut planes = vec![0.0f32; 3 * cells * cells];
            for cy in 0..cells {
                for cx in 0..cells {
                    let (mut acc, mut n) = ([0.0f32; 3], 0.0f32);
                    for py in span(top, cy, h) {
                        for px in span(left, cx, w) {
                            let p = canvas.get(px, py);
                            for k in 0..3 {
                                acc[k] += p[k] + (1.0 - p[3]);
                            }
                            n += 1.0;
                        }
                    }
                    for k in 0..3 {
                        planes[k * cells * cells + cy * cells + cx] = acc[k] / n;
                    }
                }
            }
            out.extend(planes);
        }
        out
    }

    #[test]
    fn a_picture_is_the_area_average_over_white_of_its_cells_down_and_up() {
        let scene = crate::training::scenes::scene(203, 157, 4);
        for side in [1, 16, 64, 300] {
            let fast = picture(&scene, side);
            let (w, h) = (scene.width(), scene.height());
            for oy in 0..side {
                let (y0, y1) = (oy * h / side, ((oy + 1) * h / side).max(oy * h / side + 1).min(h));
                for ox in 0..side {
                    let (x0, x1) = (ox * w / side, ((ox + 1) * w / side).max(ox * w / side + 1).min(w));
                    for k in 0..3 {
                        let mut acc = 0.0;
                        for y in y0..y1 {
                            for x in x0..x1 {
                                let p = scene.get(x, y);
                                acc += p[k] + (1.0 - p[3]);
                            }
                        }
                        let exact = acc / ((y1 - y0) * (x1 - x0)) as f32;
                        let got = fast[k * side * side + oy * side + ox];
                        assert!((got - exact).abs() < 1e-5, "{side}: {got} against {exact}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_state_picture_is_the_picture_on_small_canvases_and_close_to_it_on_big_ones() {
        let small = crate::training::scenes::scene(256, 200, 5);
        assert_eq!(state_picture(&small, 16), picture(&small, 16));
        let big = crate::training::scenes::scene(2048, 1536, 5);
        let worst = state_picture(&big, 16)
            .iter()
            .zip(picture(&big, 16))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 0.03, "{worst}");
    }

    #[test]
    fn a_glimpse_is_the_area_average_of_its_cells_inside_and_past_the_edges() {
        let scene = crate::training::scenes::scene(203, 157, 4);
        for (x, y) in
            [(100.0, 80.0), (0.0, 0.0), (-30.0, 170.0), (202.5, 3.25), (57.3, 156.9), (400.0, -90.0)]
        {
            for cells in [1, 4, 5] {
                // The same sums, added in another order inside the canvas.
                let (fast, exact) =
                    (glimpse(&scene, x, y, cells), glimpse_by_definition(&scene, x, y, cells));
                assert_eq!(fast.len(), exact.len());
                for (f, e) in fast.iter().zip(&exact) {
                    assert!((f - e).abs() < 1e-5, "{x} {y} {cells}: {f} against {e}");
                }
            }
        }
    }
}
