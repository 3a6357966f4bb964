//! The square of canvas the brush looks at: the mask's bounding box with a margin
//! of context on every side, seen by the model at its working side. A 64 px dab
//! and a 512 px region both become one working-size picture; the answer is
//! resized back and laid down under the soft mask only.

use candle_core::{Device, Result, Tensor};

use super::baselines::{composite, harmonic_fill};
use super::mask::SoftMask;
use super::picture::{Picture, resize_map};
use crate::engine::Canvas;
use crate::ops::pb;

/// Least context on each side, in canvas pixels.
const MIN_MARGIN: usize = 8;

/// A square of canvas pixels (it may hang over the canvas edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x: i64,
    pub y: i64,
    pub side: usize,
}

impl Window {
    /// The mask's bounding box centred in a square with a quarter of its longer side
    /// (at least 8 px) of context on every side.
    pub fn around(mask: &SoftMask) -> Window {
        let long = mask.width.max(mask.height).max(1);
        let side = long + 2 * (long / 4).max(MIN_MARGIN);
        let x = mask.x + mask.width as i64 / 2 - side as i64 / 2;
        let y = mask.y + mask.height as i64 / 2 - side as i64 / 2;
        Window { x, y, side }
    }

    /// `mask` at each of the window's pixels, row by row (`side × side`).
    pub fn mask_in(&self, mask: &SoftMask) -> Vec<f32> {
        (0..self.side * self.side)
            .map(|i| mask.at(self.x + (i % self.side) as i64, self.y + (i / self.side) as i64))
            .collect()
    }
}

/// The window as the model sees it, at `side × side`.
pub struct View {
    /// The canvas's pixels (under the mask too: SDEdit starts from them).
    pub pixels: Picture,
    pub mask: Vec<f32>,
    /// The pixels with the masked part filled harmonically: all the model knows.
    pub known: Picture,
}

/// The window of `canvas` and its mask at the working side `side`.
pub fn view(canvas: &Canvas, mask: &SoftMask, window: Window, side: usize) -> View {
    let (pixels, mask) = pixels_and_mask(canvas, mask, window, side);
    let known = composite(&pixels, &harmonic_fill(&pixels, &mask), &mask);
    View { pixels, mask, known }
}

/// The window's pixels and mask at `side × side`, without the harmonic fill (Stable
/// Diffusion works at 512 px and more, where the fill would cost and nothing reads it).
pub fn pixels_and_mask(canvas: &Canvas, mask: &SoftMask, window: Window, side: usize) -> (Picture, Vec<f32>) {
    let pixels = Picture::from_canvas(canvas, window.x, window.y, window.side, window.side);
    let full_mask = window.mask_in(mask);
    let pixels = pixels.resized(side, side);
    let mask = resize_map(&full_mask, window.side, window.side, side, side)
        .into_iter()
        .map(|m| if m < 1e-3 { 0.0 } else { m.min(1.0) })
        .collect::<Vec<f32>>();
    (pixels, mask)
}

/// A picture as a `(1, 3, h, w)` tensor in the model's units, [−1, 1].
pub fn to_tensor(pic: &Picture, device: &Device) -> Result<Tensor> {
    let n = pic.width * pic.height;
    let mut planar = vec![0.0f32; 3 * n];
    for (i, c) in pic.rgb.iter().enumerate() {
        for k in 0..3 {
            planar[k * n + i] = c[k] * 2.0 - 1.0;
        }
    }
    Tensor::from_vec(planar, (1, 3, pic.height, pic.width), device)
}

/// A mask as a `(1, 1, h, w)` tensor.
pub fn mask_tensor(mask: &[f32], side: usize, device: &Device) -> Result<Tensor> {
    Tensor::from_vec(mask.to_vec(), (1, 1, side, side), device)
}

/// A `(1, 3, h, w)` tensor in [−1, 1] back as a picture in [0, 1].
pub fn from_tensor(t: &Tensor) -> Result<Picture> {
    let mut p = from_tensor_unclamped(t)?;
    p.rgb.iter_mut().for_each(|c| *c = c.map(|v| v.clamp(0.0, 1.0)));
    Ok(p)
}

/// The same, values beyond [0, 1] kept (for differences).
pub fn from_tensor_unclamped(t: &Tensor) -> Result<Picture> {
    let (_, _, h, w) = t.dims4()?;
    let planar = t.flatten_all()?.to_vec1::<f32>()?;
    let n = w * h;
    let rgb = (0..n).map(|i| [0, 1, 2].map(|k| (planar[k * n + i] + 1.0) / 2.0)).collect();
    Ok(Picture { width: w, height: h, rgb })
}

/// A brush's answer for the whole window, cut to the mask's rectangle with the soft mask
/// as its alpha: outside the mask nothing changes, at its edge the answer blends in.
pub fn cut(full: &Picture, mask: &SoftMask, win: Window) -> pb::RasterPatch {
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut rgba = Vec::with_capacity(mask.width * mask.height * 4);
    for my in 0..mask.height {
        for mx in 0..mask.width {
            let (cx, cy) = (mask.x + mx as i64, mask.y + my as i64);
            let c = full.get((cx - win.x) as usize, (cy - win.y) as usize);
            let a = mask.alpha[my * mask.width + mx];
            rgba.extend_from_slice(&[byte(c[0]), byte(c[1]), byte(c[2]), byte(a)]);
        }
    }
    mask.patch(rgba)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Rgba, pb};

    #[test]
    fn the_window_centres_the_mask_with_context_around_it() {
        let mask = SoftMask::from_path(&[pb::PathPoint { x: 100.0, y: 60.0 }], 32.0, 400, 300);
        let w = Window::around(&mask);
        assert!(w.side >= mask.width + 16 && w.side <= mask.width * 2, "{w:?} for {}", mask.width);
        assert!(w.x < mask.x && w.x + w.side as i64 > mask.x + mask.width as i64);
        let dot = SoftMask::from_path(&[pb::PathPoint { x: 5.0, y: 5.0 }], 2.0, 400, 300);
        assert!(Window::around(&dot).side >= dot.width + 16, "a small dab still sees its surroundings");
    }

    #[test]
    fn the_view_fills_the_hole_from_its_surroundings_and_round_trips_as_a_tensor() {
        let mut canvas = Canvas::new(64, 64, Rgba { r: 0.2, g: 0.6, b: 0.4, a: 1.0 });
        for y in 28..36 {
            canvas.row_mut(y, 28, 36).fill([1.0, 0.0, 0.0, 1.0]);
        }
        let mask = SoftMask::from_path(&[pb::PathPoint { x: 32.0, y: 32.0 }], 8.0, 64, 64);
        let v = view(&canvas, &mask, Window::around(&mask), 16);
        let centre = v.known.get(8, 8);
        assert!(
            (centre[0] - 0.2).abs() < 0.02 && (centre[1] - 0.6).abs() < 0.02,
            "the red square is unknown: {centre:?}"
        );
        assert!(v.pixels.get(8, 8)[0] > 0.5, "the pixels still hold it (for SDEdit)");
        let back = from_tensor(&to_tensor(&v.known, &Device::Cpu).unwrap()).unwrap();
        assert!(back.rgb.iter().zip(&v.known.rgb).all(|(a, b)| (a[0] - b[0]).abs() < 1e-6));
    }
}
