//! One dab of a round brush: its footprint and its coverage, row by row.
//!
//! A soft dab is fully opaque out to `hardness × radius`, then falls off with
//! a smoothstep to the rim; the rim always gets at least one pixel of falloff,
//! centred on the radius, which is the anti-aliasing of a hard brush (so the
//! 50 % contour sits at the nominal radius and coverage width matches the size).
//! A pencil dab is aliased: a pixel is in when its centre is within the radius.

use super::kernels;

/// Rows are computed on the stack in chunks of this many pixels (small, so that
/// tiny dabs do not pay for zeroing a large buffer).
const CHUNK: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct Dab {
    pub x: f32,
    pub y: f32,
    /// Nominal radius in pixels.
    pub radius: f32,
    /// Peak coverage (scaled down for dabs smaller than a pixel).
    pub peak: f32,
    inner: f32,
    outer: f32,
    aliased: bool,
}

impl Dab {
    /// A dab of `diameter` pixels; `hardness` in [0, 1].
    pub fn new(x: f32, y: f32, diameter: f32, hardness: f32, aliased: bool) -> Dab {
        // Below one pixel a dab keeps a one-pixel footprint and fades with its area.
        let peak = (diameter * diameter).min(1.0);
        let radius = diameter.max(1.0) * 0.5;
        let (inner, outer) =
            if aliased { (radius, radius) } else { ((hardness * radius).min(radius - 0.5), radius + 0.5) };
        Dab { x, y, radius, peak, inner: inner.max(0.0), outer, aliased }
    }

    /// Distance from the centre beyond which coverage is zero.
    pub fn reach(&self) -> f32 {
        self.outer
    }

    /// Rows and columns the dab may touch, clipped to a `w × h` canvas:
    /// `(y0, y1)` half-open.
    pub fn rows(&self, h: usize) -> (usize, usize) {
        span(self.y, self.outer, h)
    }

    /// Columns of row `y` the dab touches, clipped to width `w`: `(x0, x1)` half-open.
    pub fn columns(&self, y: usize, w: usize) -> (usize, usize) {
        let dy = y as f32 + 0.5 - self.y;
        let half2 = self.outer * self.outer - dy * dy;
        if half2 < 0.0 {
            return (0, 0);
        }
        span(self.x, half2.sqrt(), w)
    }

    /// Coverage of row `y` at columns `x0..x0 + out.len()`, in [0, peak].
    #[inline]
    pub fn coverage_row(&self, y: usize, x0: usize, out: &mut [f32]) {
        let dy = y as f32 + 0.5 - self.y;
        let dy2 = dy * dy;
        let fx = x0 as f32 + 0.5 - self.x;
        if self.aliased {
            let r2 = self.radius * self.radius;
            for (i, o) in out.iter_mut().enumerate() {
                let dx = fx + i as f32;
                *o = if dx * dx + dy2 <= r2 { self.peak } else { 0.0 };
            }
            return;
        }
        let inv_band = 1.0 / (self.outer - self.inner);
        kernels::soft_coverage(out, fx, dy2, self.outer, inv_band, self.peak);
    }
}

/// Pixel indices whose centres lie within `half` of `c`, clipped to `0..n`.
fn span(c: f32, half: f32, n: usize) -> (usize, usize) {
    let lo = (c - half - 0.5).ceil().max(0.0);
    let hi = (c + half - 0.5).floor() + 1.0;
    let hi = hi.min(n as f32);
    if hi <= lo { (0, 0) } else { (lo as usize, hi as usize) }
}

/// Calls `row(y, x0, coverage)` for every row the dab touches on a `w × h` canvas.
#[inline]
pub fn for_each_row(dab: &Dab, w: usize, h: usize, row: impl FnMut(usize, usize, &[f32])) {
    for_each_row_in(dab, w, 0..h, row)
}

/// [`for_each_row`] on the canvas rows `rows` only (a band of the canvas): each row's
/// coverage is computed exactly as on the whole canvas.
#[inline]
pub fn for_each_row_in(
    dab: &Dab,
    w: usize,
    rows: std::ops::Range<usize>,
    mut row: impl FnMut(usize, usize, &[f32]),
) {
    let mut buf = [0f32; CHUNK];
    let (y0, y1) = dab.rows(rows.end);
    for y in y0.max(rows.start)..y1 {
        let (x0, x1) = dab.columns(y, w);
        let mut x = x0;
        while x < x1 {
            let n = (x1 - x).min(CHUNK);
            let cov = &mut buf[..n];
            dab.coverage_row(y, x, cov);
            row(y, x, cov);
            x += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage_grid(d: &Dab, w: usize, h: usize) -> Vec<f32> {
        let mut g = vec![0.0; w * h];
        for_each_row(d, w, h, |y, x0, cov| g[y * w + x0..y * w + x0 + cov.len()].copy_from_slice(cov));
        g
    }

    #[test]
    fn a_hard_dab_covers_its_area() {
        // Sum of coverage ≈ π r² for a hard anti-aliased dab.
        let d = Dab::new(32.0, 32.0, 20.0, 1.0, false);
        let sum: f32 = coverage_grid(&d, 64, 64).iter().sum();
        let area = std::f32::consts::PI * 100.0;
        assert!((sum - area).abs() / area < 0.02, "sum {sum} vs area {area}");
    }

    #[test]
    fn a_soft_dab_is_opaque_in_its_core_and_fades_to_the_rim() {
        let d = Dab::new(32.0, 32.0, 40.0, 0.5, false);
        let g = coverage_grid(&d, 64, 64);
        let at = |x: usize| g[31 * 64 + x];
        assert_eq!(at(31), 1.0);
        assert_eq!(at(31 - 9), 1.0); // within hardness × radius = 10
        assert!(at(31 - 15) > 0.2 && at(31 - 15) < 0.8);
        assert_eq!(at(31 - 21), 0.0); // beyond the rim
    }

    #[test]
    fn pencil_dabs_are_binary() {
        let d = Dab::new(10.3, 10.7, 7.0, 0.0, true);
        assert!(coverage_grid(&d, 20, 20).iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn dabs_off_the_canvas_touch_nothing() {
        let d = Dab::new(-50.0, 10.0, 20.0, 1.0, false);
        assert!(coverage_grid(&d, 20, 20).iter().all(|&v| v == 0.0));
    }
}
