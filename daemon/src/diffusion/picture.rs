//! Plain RGB pictures in `f32` (straight sRGB in [0, 1]) for the brush and its
//! baselines: cut from a canvas (clamped at its edges), resized, compared.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Rgb};

use crate::engine::{Canvas, canvas::unpremultiply};

/// Row-major RGB, straight colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<[f32; 3]>,
}

impl Picture {
    pub fn new(width: usize, height: usize, fill: [f32; 3]) -> Picture {
        Picture { width, height, rgb: vec![fill; width * height] }
    }

    pub fn get(&self, x: usize, y: usize) -> [f32; 3] {
        self.rgb[y * self.width + x]
    }

    /// The canvas's colours in the rectangle `x, y, width, height`; pixels beyond the canvas
    /// repeat its nearest edge pixel (so a window may hang over the edge).
    pub fn from_canvas(canvas: &Canvas, x: i64, y: i64, width: usize, height: usize) -> Picture {
        let (cw, ch) = (canvas.width() as i64, canvas.height() as i64);
        let mut rgb = Vec::with_capacity(width * height);
        for py in 0..height as i64 {
            let sy = (y + py).clamp(0, ch - 1) as usize;
            for px in 0..width as i64 {
                let sx = (x + px).clamp(0, cw - 1) as usize;
                let c = unpremultiply(canvas.get(sx, sy));
                rgb.push([c.r, c.g, c.b]);
            }
        }
        Picture { width, height, rgb }
    }

    /// A picture from straight RGBA8 (alpha ignored).
    pub fn from_rgba8(width: usize, height: usize, rgba: &[u8]) -> Picture {
        let rgb = rgba
            .chunks_exact(4)
            .map(|p| [f32::from(p[0]) / 255.0, f32::from(p[1]) / 255.0, f32::from(p[2]) / 255.0])
            .collect();
        Picture { width, height, rgb }
    }

    /// Resized to `width × height` with a triangle filter (area-like when shrinking).
    pub fn resized(&self, width: usize, height: usize) -> Picture {
        if (width, height) == (self.width, self.height) {
            return self.clone();
        }
        let flat: Vec<f32> = self.rgb.iter().flatten().copied().collect();
        let img: ImageBuffer<Rgb<f32>, Vec<f32>> =
            ImageBuffer::from_raw(self.width as u32, self.height as u32, flat).expect("sizes match");
        let out = imageops::resize(&img, width as u32, height as u32, FilterType::Triangle);
        let rgb = out.into_raw().chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        Picture { width, height, rgb }
    }
}

/// A one-channel map (mask, weights) resized like a picture.
pub fn resize_map(map: &[f32], width: usize, height: usize, to_w: usize, to_h: usize) -> Vec<f32> {
    let grey = Picture { width, height, rgb: map.iter().map(|&v| [v, v, v]).collect() };
    grey.resized(to_w, to_h).rgb.iter().map(|p| p[0]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Rgba;

    #[test]
    fn a_window_over_the_edge_repeats_the_edge_pixels() {
        let mut c = Canvas::new(4, 4, Rgba { r: 1.0, g: 0.0, b: 0.0, a: 1.0 });
        c.row_mut(0, 0, 1)[0] = [0.0, 0.0, 1.0, 1.0];
        let p = Picture::from_canvas(&c, -2, -2, 4, 4);
        assert_eq!(p.get(0, 0), [0.0, 0.0, 1.0], "the corner pixel, repeated");
        assert_eq!(p.get(3, 3), [1.0, 0.0, 0.0]);
    }

    #[test]
    fn resizing_keeps_a_flat_colour_and_the_mean() {
        let p = Picture::new(40, 30, [0.2, 0.4, 0.6]);
        let small = p.resized(8, 6);
        assert!(small.rgb.iter().all(|c| (c[1] - 0.4).abs() < 1e-5));
        let map: Vec<f32> = (0..64).map(|i| (i % 8) as f32 / 7.0).collect();
        let half = resize_map(&map, 8, 8, 4, 4);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&half) - mean(&map)).abs() < 0.02);
    }
}
