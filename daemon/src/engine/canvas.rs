//! The pixel buffer: premultiplied sRGB RGBA in `f32`, row-major.

use crate::ops::Rgba;

/// One premultiplied pixel: `[r*a, g*a, b*a, a]`.
pub type Px = [f32; 4];

#[derive(Clone, Debug, PartialEq)]
pub struct Canvas {
    width: usize,
    height: usize,
    px: Vec<Px>,
}

pub fn premultiply(c: Rgba) -> Px {
    [c.r * c.a, c.g * c.a, c.b * c.a, c.a]
}

/// Straight colour of a premultiplied pixel (black where fully transparent).
pub fn unpremultiply(p: Px) -> Rgba {
    if p[3] <= 0.0 {
        return Rgba::TRANSPARENT;
    }
    let inv = 1.0 / p[3];
    Rgba { r: p[0] * inv, g: p[1] * inv, b: p[2] * inv, a: p[3] }
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: Rgba) -> Canvas {
        Canvas { width, height, px: vec![premultiply(background); width * height] }
    }

    /// A canvas from straight-alpha sRGB RGBA8 bytes (`width * height * 4` of them).
    pub fn from_rgba8(width: usize, height: usize, rgba: &[u8]) -> Canvas {
        assert_eq!(rgba.len(), width * height * 4, "RGBA8 buffer does not match {width}x{height}");
        let px = rgba.chunks_exact(4).map(px_from_rgba8).collect();
        Canvas { width, height, px }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn pixels(&self) -> &[Px] {
        &self.px
    }

    pub fn pixels_mut(&mut self) -> &mut [Px] {
        &mut self.px
    }

    /// The canvas at `width × height` (at most its own size), each pixel the mean of the
    /// premultiplied pixels it covers.
    pub fn shrunk(&self, width: usize, height: usize) -> Canvas {
        let (w, h) = (self.width, self.height);
        let (width, height) = (width.clamp(1, w.max(1)), height.clamp(1, h.max(1)));
        if (width, height) == (w, h) {
            return self.clone();
        }
        let span =
            |o: usize, n: usize, of: usize| (o * n / of, ((o + 1) * n / of).max(o * n / of + 1).min(n));
        let mut px = Vec::with_capacity(width * height);
        for oy in 0..height {
            let (y0, y1) = span(oy, h, height);
            for ox in 0..width {
                let (x0, x1) = span(ox, w, width);
                let mut acc = [0.0f32; 4];
                for y in y0..y1 {
                    for p in &self.px[y * w + x0..y * w + x1] {
                        for k in 0..4 {
                            acc[k] += p[k];
                        }
                    }
                }
                let n = ((y1 - y0) * (x1 - x0)) as f32;
                px.push(acc.map(|v| v / n));
            }
        }
        Canvas { width, height, px }
    }

    pub fn get(&self, x: usize, y: usize) -> Px {
        self.px[y * self.width + x]
    }

    /// Straight colour at a pixel.
    pub fn color_at(&self, x: usize, y: usize) -> Rgba {
        unpremultiply(self.get(x, y))
    }

    /// The row `y`, columns `x0..x1`.
    pub fn row_mut(&mut self, y: usize, x0: usize, x1: usize) -> &mut [Px] {
        let start = y * self.width;
        &mut self.px[start + x0..start + x1]
    }

    /// All rows, as a [`Rows`] view.
    pub fn rows_mut(&mut self) -> Rows<'_> {
        let height = self.height;
        Rows { px: &mut self.px, width: self.width, y0: 0, y1: height }
    }

    /// The canvas cut into bands of `per` rows, top to bottom (the last may be shorter).
    pub fn bands(&mut self, per: usize) -> Vec<Rows<'_>> {
        let w = self.width;
        self.px
            .chunks_mut(per * w)
            .enumerate()
            .map(|(i, px)| {
                let y0 = i * per;
                Rows { y1: y0 + px.len() / w, px, width: w, y0 }
            })
            .collect()
    }

    /// Straight-alpha sRGB RGBA8, row-major: what PNG files and editors hold.
    pub fn to_rgba8(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.px.len() * 4);
        for &p in &self.px {
            let c = unpremultiply(p);
            out.extend_from_slice(&[to_u8(c.r), to_u8(c.g), to_u8(c.b), to_u8(c.a)]);
        }
        out
    }
}

/// Premultiplied pixel from straight RGBA8.
pub fn px_from_rgba8(c: &[u8]) -> Px {
    let a = f32::from(c[3]) / 255.0;
    let s = a / 255.0;
    [f32::from(c[0]) * s, f32::from(c[1]) * s, f32::from(c[2]) * s, a]
}

/// Rows `y0..y1` of a canvas, addressed by canvas row: what one thread paints when
/// strokes are painted band by band (each band the same ops, in the same order).
pub struct Rows<'a> {
    px: &'a mut [Px],
    width: usize,
    y0: usize,
    y1: usize,
}

impl Rows<'_> {
    /// The canvas rows this view holds.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.y0..self.y1
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Canvas row `y` (within [`Rows::range`]), columns `x0..x1`.
    pub fn row_mut(&mut self, y: usize, x0: usize, x1: usize) -> &mut [Px] {
        let start = (y - self.y0) * self.width;
        &mut self.px[start + x0..start + x1]
    }
}
