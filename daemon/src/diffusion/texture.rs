//! Texture for a hole, cloned from the best-matching place of the canvas nearby:
//! a painter's clone stamp and healing brush, found and applied by themselves.
//!
//! The harmonic fill and the brush's model fill a hole smoothly (gravel comes
//! back flat). Painters heal such a hole by cloning another patch of the same
//! stuff and blending its colours into the surroundings. Here the source is the
//! offset whose surroundings look most like the hole's (mean squared difference
//! over the window's known pixels whose copies are on the canvas), among offsets
//! whose copy of the hole lies wholly on known canvas; its *detail* is the source minus its own harmonic fill over
//! the hole's shape — zero on the hole's border, so added to any smooth fill it
//! brings texture without seams.

use super::baselines::harmonic_fill;
use super::mask::SoftMask;
use super::metrics::neighbour_differences;
use super::picture::Picture;
use super::window::Window;
use crate::engine::Canvas;

/// Offsets are searched this many window sides away in every direction.
const REACH: i64 = 3;
/// Candidates per window side on the coarse grid; the best is then refined to the pixel.
const GRID: i64 = 12;
/// Known pixels compared per candidate, at most (an even subsample of the window's).
const SAMPLES: usize = 2048;
/// Sources a seed chooses among.
const CHOICES: usize = 4;

/// The offset `(dx, dy)` of a source for the hole `mask` seen through `win`: of the best
/// few (`CHOICES`, apart from each other), the one `choice` picks (0: the best), so that
/// a dab painted again with another seed gets another take. `None` when no copy of the
/// hole fits on known canvas within reach.
pub fn source_offset(canvas: &Canvas, mask: &SoftMask, win: Window, choice: u64) -> Option<(i64, i64)> {
    let (cw, ch) = (canvas.width() as i64, canvas.height() as i64);
    let side = win.side as i64;
    let at = |x: i64, y: i64| mask.at(x, y);
    // The window's known pixels on the canvas (compared) and the hole's (must land on known canvas).
    let (mut known, mut hole) = (Vec::new(), Vec::new());
    for y in win.y..win.y + side {
        for x in win.x..win.x + side {
            if !(0..cw).contains(&x) || !(0..ch).contains(&y) {
                continue;
            }
            if at(x, y) > 0.0 { hole.push((x, y)) } else { known.push((x, y)) }
        }
    }
    if hole.is_empty() || known.is_empty() {
        return None;
    }
    let stride = known.len().div_ceil(SAMPLES);
    let known: Vec<(i64, i64)> = known.into_iter().step_by(stride).collect();
    let hole_stride = hole.len().div_ceil(4 * SAMPLES);
    let hole_check: Vec<(i64, i64)> = hole.iter().copied().step_by(hole_stride).collect();
    let pixel = |x: i64, y: i64| canvas.get(x as usize, y as usize);
    let on_canvas = |x: i64, y: i64| (0..cw).contains(&x) && (0..ch).contains(&y);
    // The mean squared difference between the window's known pixels and their copies (those
    // on the canvas, at least a quarter of them); the hole's copy must lie on known canvas.
    let cost = |dx: i64, dy: i64, best: f64| -> Option<f64> {
        if hole_check.iter().any(|&(x, y)| !on_canvas(x + dx, y + dy) || at(x + dx, y + dy) > 0.0) {
            return None;
        }
        let (mut sum, mut n) = (0.0f64, 0usize);
        for &(x, y) in &known {
            if !on_canvas(x + dx, y + dy) {
                continue;
            }
            let (a, b) = (pixel(x, y), pixel(x + dx, y + dy));
            sum += (0..4).map(|k| f64::from(a[k] - b[k]).powi(2)).sum::<f64>();
            n += 1;
            // The mean can only be larger than the sum over every known pixel.
            if sum / known.len() as f64 >= best {
                return None;
            }
        }
        (4 * n >= known.len()).then(|| sum / n as f64)
    };
    let mut step = (side / GRID).max(1);
    let reach = REACH * side;
    // The best few places on the coarse grid, each at least two steps from the others.
    let mut kept: Vec<(f64, i64, i64)> = Vec::new();
    for dy in (-reach..=reach).step_by(step as usize) {
        for dx in (-reach..=reach).step_by(step as usize) {
            let bound = if kept.len() < CHOICES { f64::INFINITY } else { kept[CHOICES - 1].0 };
            let Some(c) = cost(dx, dy, bound) else { continue };
            let near = |k: &(f64, i64, i64)| (k.1 - dx).abs().max((k.2 - dy).abs()) < 2 * step;
            if kept.iter().any(|k| near(k) && k.0 <= c) {
                continue;
            }
            kept.retain(|k| !near(k));
            let at = kept.partition_point(|k| k.0 <= c);
            kept.insert(at, (c, dx, dy));
            kept.truncate(CHOICES);
        }
    }
    // The chosen one, then finer around it: half the step each time, down to a pixel.
    let mut best = *kept.get((choice % CHOICES as u64) as usize % kept.len().max(1))?;
    while step > 1 {
        step = (step + 1) / 2;
        let (_, cx, cy) = best;
        for dy in [-step, 0, step] {
            for dx in [-step, 0, step] {
                if let Some(c) = cost(cx + dx, cy + dy, best.0) {
                    best = (c, cx + dx, cy + dy);
                }
            }
        }
    }
    Some((best.1, best.2))
}

/// The texture to add inside the hole, at the window's pixels: the source's detail
/// (see the module notes), zero outside the hole, and never busier than the hole's
/// nearest surroundings — a source that holds an object where the hole is ringed by sky
/// would paste the object: its detail is scaled down to the ring's (by the mean squared
/// difference of neighbouring pixels). `choice` picks the source (see `source_offset`).
/// `None` when no source fits.
pub fn detail(canvas: &Canvas, mask: &SoftMask, win: Window, choice: u64) -> Option<Picture> {
    let (dx, dy) = source_offset(canvas, mask, win, choice)?;
    let source = Picture::from_canvas(canvas, win.x + dx, win.y + dy, win.side, win.side);
    let target = Picture::from_canvas(canvas, win.x, win.y, win.side, win.side);
    let in_window = win.mask_in(mask);
    let hole: Vec<bool> = in_window.iter().map(|&m| m > 0.0).collect();
    let ring = ring(&hole, win.side, (win.side / 16).max(3));
    let around = roughness(&target, &ring);
    let inside = roughness(&source, &hole);
    let scale = if inside > around { (around / inside).sqrt() as f32 } else { 1.0 };
    let smooth = harmonic_fill(&source, &in_window);
    let rgb = source
        .rgb
        .iter()
        .zip(&smooth.rgb)
        .zip(&in_window)
        .map(|((s, h), &m)| if m > 0.0 { [0, 1, 2].map(|k| scale * (s[k] - h[k])) } else { [0.0; 3] })
        .collect();
    Some(Picture { rgb, ..source })
}

/// Mean squared difference between neighbouring pixels (right and below) both in `area`.
fn roughness(pic: &Picture, area: &[bool]) -> f64 {
    let (sum, n) = neighbour_differences(pic, |i| area[i]);
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The pixels outside `hole` within `band` pixels of it (a square neighbourhood), on a
/// `side × side` grid: what the hole is ringed by.
fn ring(hole: &[bool], side: usize, band: usize) -> Vec<bool> {
    // Separable dilation: along rows, then along columns.
    let dilate = |src: &[bool], step: usize, along: usize| -> Vec<bool> {
        (0..src.len())
            .map(|i| {
                let (pos, base) = ((i / step) % along, i - (i / step) % along * step);
                (pos.saturating_sub(band)..(pos + band + 1).min(along)).any(|p| src[base + p * step])
            })
            .collect()
    };
    let near = dilate(&dilate(hole, 1, side), side, side);
    near.iter().zip(hole).map(|(&n, &h)| n && !h).collect()
}

/// Adds `share` of `detail` to `pic`, pixel by pixel (the detail is zero outside the hole).
pub fn add(pic: &mut Picture, detail: &Picture, share: f32) {
    for (c, d) in pic.rgb.iter_mut().zip(&detail.rgb) {
        (0..3).for_each(|k| c[k] += share * d[k]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::pb;

    /// Vertical stripes two pixels wide, black and white, on a `w × h` canvas.
    fn stripes(w: usize, h: usize) -> Canvas {
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = if (i % w) / 2 % 2 == 0 { 0 } else { 255 };
                [v, v, v, 255]
            })
            .collect();
        Canvas::from_rgba8(w, h, &rgba)
    }

    fn dab(x: f32, y: f32, r: f32, size: usize) -> SoftMask {
        SoftMask::from_path(&[pb::PathPoint { x, y }], r, size, size)
    }

    #[test]
    fn the_source_continues_the_pattern_and_lies_off_the_hole() {
        let canvas = stripes(96, 96);
        let mask = dab(48.0, 48.0, 6.0, 96);
        let win = Window::around(&mask);
        let (dx, dy) = source_offset(&canvas, &mask, win, 0).expect("room for a source");
        assert_eq!(dx.rem_euclid(4), 0, "the stripes line up: offset {dx}");
        assert!(dx.abs() > 12 || dy.abs() > 12, "the copy of the hole does not overlap it: {dx}, {dy}");
        // Its detail brings the stripes back where the harmonic fill would leave grey.
        let d = detail(&canvas, &mask, win, 0).unwrap();
        let centre = (win.side / 2) * win.side + win.side / 2;
        let truth = Picture::from_canvas(&canvas, win.x, win.y, win.side, win.side);
        let smooth = harmonic_fill(&truth, &win.mask_in(&mask));
        let healed = smooth.rgb[centre][0] + d.rgb[centre][0];
        assert!(
            (healed - truth.rgb[centre][0]).abs() < 0.2,
            "healed {healed}, truth {}",
            truth.rgb[centre][0]
        );
        assert_eq!(d.rgb[0], [0.0; 3], "no detail outside the hole");
        // Other seeds take other good sources: the stripes still line up.
        let others: Vec<(i64, i64)> =
            (1..4).map(|c| source_offset(&canvas, &mask, win, c).unwrap()).collect();
        assert!(others.iter().any(|&o| o != (dx, dy)), "{others:?}");
        assert!(others.iter().all(|o| o.0.rem_euclid(4) == 0), "{others:?}");
    }

    #[test]
    fn the_ring_is_the_band_around_the_hole() {
        // A 1-pixel hole in the middle of a 7 × 7 grid, a band of 2: the 5 × 5 square less the hole.
        let mut hole = vec![false; 49];
        hole[24] = true;
        let r = ring(&hole, 7, 2);
        assert_eq!(r.iter().filter(|&&v| v).count(), 24);
        assert!(r[8] && r[40] && !r[24] && !r[0] && !r[6]);
    }

    #[test]
    fn texture_is_no_busier_than_the_hole_s_surroundings() {
        // A flat sky with one busy patch of stripes elsewhere: whatever source is found,
        // a hole ringed by flat sky gets no texture.
        let mut canvas = stripes(96, 96);
        for y in 0..96 {
            for x in 0..96 {
                if !(70..90).contains(&x) || !(70..90).contains(&y) {
                    canvas.row_mut(y, x, x + 1)[0] = [0.4, 0.5, 0.9, 1.0];
                }
            }
        }
        let mask = dab(30.0, 30.0, 8.0, 96);
        let d = detail(&canvas, &mask, Window::around(&mask), 3).expect("room for a source");
        assert!(d.rgb.iter().all(|c| c.iter().all(|v| v.abs() < 1e-3)), "flat sky, flat texture");
    }

    #[test]
    fn a_hole_with_no_room_for_a_source_gets_none() {
        let canvas = stripes(24, 24);
        let mask = dab(12.0, 12.0, 11.0, 24);
        assert_eq!(source_offset(&canvas, &mask, Window::around(&mask), 0), None);
    }
}
