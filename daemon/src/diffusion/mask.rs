//! The soft mask a magic-brush dab paints through: the path swept by a disc of
//! the radius, full inside and fading over its outer quarter (at least a pixel),
//! or a grey mask picture (white = repaint). It lives on the rectangle it covers.

use crate::ops::pb;

/// Share of the radius over which the mask fades to zero at the rim.
const FEATHER: f32 = 0.25;

/// A soft mask over the rectangle `x, y, width, height` of a canvas, row-major, in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct SoftMask {
    pub x: i64,
    pub y: i64,
    pub width: usize,
    pub height: usize,
    pub alpha: Vec<f32>,
}

impl SoftMask {
    /// The mask's value at canvas pixel `(cx, cy)`; zero outside its rectangle.
    pub fn at(&self, cx: i64, cy: i64) -> f32 {
        let (dx, dy) = (cx - self.x, cy - self.y);
        if dx < 0 || dy < 0 || dx >= self.width as i64 || dy >= self.height as i64 {
            return 0.0;
        }
        self.alpha[dy as usize * self.width + dx as usize]
    }

    /// A patch over the mask's rectangle holding `rgba` (empty for an empty mask).
    pub fn patch(&self, rgba: Vec<u8>) -> pb::RasterPatch {
        pb::RasterPatch {
            x: self.x as i32,
            y: self.y as i32,
            width: self.width as u32,
            height: self.height as u32,
            rgba,
            mode: pb::PatchMode::Over as i32,
        }
    }

    /// Whether nothing at all is masked (a path wholly off the canvas).
    pub fn is_empty(&self) -> bool {
        self.alpha.iter().all(|&a| a <= 0.0)
    }

    /// The whole `canvas_w × canvas_h` canvas, fully.
    pub fn everywhere(canvas_w: usize, canvas_h: usize) -> SoftMask {
        SoftMask { x: 0, y: 0, width: canvas_w, height: canvas_h, alpha: vec![1.0; canvas_w * canvas_h] }
    }

    /// The path swept by a disc of `radius` around `path` (canvas pixels, centres at
    /// half-integers), clipped to a `canvas_w × canvas_h` canvas.
    pub fn from_path(path: &[pb::PathPoint], radius: f32, canvas_w: usize, canvas_h: usize) -> SoftMask {
        let r = radius.max(0.5);
        let pts: Vec<(f32, f32)> = path.iter().map(|p| (p.x, p.y)).collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &(x, y) in &pts {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let clip = |v: f32, hi: usize| (v.floor() as i64).clamp(0, hi as i64);
        let (bx0, by0) = (clip(x0 - r - 1.0, canvas_w), clip(y0 - r - 1.0, canvas_h));
        let (bx1, by1) = (clip(x1 + r + 2.0, canvas_w), clip(y1 + r + 2.0, canvas_h));
        let (width, height) = ((bx1 - bx0) as usize, (by1 - by0) as usize);
        let mut mask = SoftMask { x: bx0, y: by0, width, height, alpha: vec![0.0; width * height] };
        let inner = (r * (1.0 - FEATHER)).min(r - 1.0).max(0.0);
        // Each segment fills only its own bounding box, so a long path costs its area, not
        // points × area.
        let segments: Vec<((f32, f32), (f32, f32))> = if pts.len() == 1 {
            vec![(pts[0], pts[0])]
        } else {
            pts.windows(2).map(|w| (w[0], w[1])).collect()
        };
        for (a, b) in segments {
            let sx0 = (a.0.min(b.0) - r - 1.0).floor() as i64;
            let sy0 = (a.1.min(b.1) - r - 1.0).floor() as i64;
            let sx1 = (a.0.max(b.0) + r + 2.0).ceil() as i64;
            let sy1 = (a.1.max(b.1) + r + 2.0).ceil() as i64;
            for cy in sy0.max(by0)..sy1.min(by1) {
                for cx in sx0.max(bx0)..sx1.min(bx1) {
                    let d = distance_to_segment((cx as f32 + 0.5, cy as f32 + 0.5), a, b);
                    let v = falloff(d, inner, r);
                    let slot = &mut mask.alpha[(cy - by0) as usize * width + (cx - bx0) as usize];
                    *slot = slot.max(v);
                }
            }
        }
        mask.trim()
    }

    /// A mask picture of the canvas's size: its grey level times its alpha (white, opaque =
    /// repaint), trimmed to the rectangle it covers.
    pub fn from_image(rgba: &[u8], width: usize, height: usize) -> SoftMask {
        let alpha = rgba
            .chunks_exact(4)
            .map(|p| {
                let grey = (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / (3.0 * 255.0);
                grey * f32::from(p[3]) / 255.0
            })
            .collect();
        SoftMask { x: 0, y: 0, width, height, alpha }.trim()
    }

    /// The same mask on the smallest rectangle holding all of it (empty stays empty, at 0×0).
    fn trim(self) -> SoftMask {
        let (w, h) = (self.width, self.height);
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for y in 0..h {
            for x in 0..w {
                if self.alpha[y * w + x] > 0.0 {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
                }
            }
        }
        if x0 >= x1 {
            return SoftMask { x: self.x, y: self.y, width: 0, height: 0, alpha: Vec::new() };
        }
        let mut alpha = Vec::with_capacity((x1 - x0) * (y1 - y0));
        for y in y0..y1 {
            alpha.extend_from_slice(&self.alpha[y * w + x0..y * w + x1]);
        }
        SoftMask { x: self.x + x0 as i64, y: self.y + y0 as i64, width: x1 - x0, height: y1 - y0, alpha }
    }
}

fn distance_to_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

/// 1 up to `inner`, a smoothstep down to 0 at `outer`.
fn falloff(d: f32, inner: f32, outer: f32) -> f32 {
    if d <= inner {
        1.0
    } else if d >= outer {
        0.0
    } else {
        let t = (outer - d) / (outer - inner);
        t * t * (3.0 - 2.0 * t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x: f32, y: f32) -> pb::PathPoint {
        pb::PathPoint { x, y }
    }

    #[test]
    fn a_dot_is_a_soft_disc_of_the_radius() {
        let m = SoftMask::from_path(&[pt(50.0, 50.0)], 8.0, 100, 100);
        assert_eq!(m.at(49, 49), 1.0, "full at the centre");
        assert_eq!(m.at(49 + 5, 49), 1.0, "full within three quarters of the radius");
        let rim = m.at(49 + 7, 49);
        assert!(rim > 0.0 && rim < 1.0, "soft near the rim: {rim}");
        assert_eq!(m.at(49 + 9, 49), 0.0, "nothing beyond the radius");
        assert!(m.width <= 17 && m.height <= 17 && m.width >= 15, "{}x{}", m.width, m.height);
    }

    #[test]
    fn a_path_sweeps_the_disc_along_its_segments() {
        let m = SoftMask::from_path(&[pt(10.0, 10.0), pt(90.0, 10.0), pt(90.0, 60.0)], 4.0, 100, 100);
        for (x, y) in [(30, 9), (70, 9), (89, 30), (89, 59)] {
            assert_eq!(m.at(x, y), 1.0, "on the path at {x},{y}");
        }
        assert_eq!(m.at(50, 40), 0.0, "inside the corner, away from the path");
    }

    #[test]
    fn the_mask_is_clipped_to_the_canvas_and_empty_off_it() {
        let m = SoftMask::from_path(&[pt(-3.0, 5.0)], 6.0, 20, 20);
        assert_eq!((m.x, m.y), (0, 0));
        assert!(m.at(0, 5) > 0.0);
        assert!(SoftMask::from_path(&[pt(-50.0, -50.0)], 6.0, 20, 20).is_empty());
    }

    #[test]
    fn a_mask_picture_is_grey_times_alpha_on_its_bounding_box() {
        let (w, h) = (8, 6);
        let mut rgba = vec![0u8; w * h * 4];
        let mut set = |x: usize, y: usize, v: [u8; 4]| rgba[(y * w + x) * 4..][..4].copy_from_slice(&v);
        set(2, 1, [255, 255, 255, 255]);
        set(5, 3, [255, 255, 255, 128]);
        set(6, 4, [0, 0, 0, 255]);
        let m = SoftMask::from_image(&rgba, w, h);
        assert_eq!((m.x, m.y, m.width, m.height), (2, 1, 4, 3));
        assert_eq!(m.at(2, 1), 1.0);
        assert!((m.at(5, 3) - 128.0 / 255.0).abs() < 1e-6);
        assert_eq!(m.at(6, 4), 0.0, "black is kept");
    }
}
