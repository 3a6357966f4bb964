//! Image analysis for painters: a reference as planes of straight colour,
//! Gaussian blur, and luminance gradients (for strokes along isophotes).

use crate::engine::{Canvas, Px};
use crate::ops::{Rgba, pb};

/// Straight sRGB colour planes of a picture, row-major.
#[derive(Clone, Debug)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgb: [Vec<f32>; 3],
}

/// What a painter looks at: a premultiplied pixel composited over white.
pub fn over_white(p: Px) -> [f32; 3] {
    [p[0] + (1.0 - p[3]), p[1] + (1.0 - p[3]), p[2] + (1.0 - p[3])]
}

impl Picture {
    /// The canvas composited over white (what a painter looks at).
    pub fn of(canvas: &Canvas) -> Picture {
        let n = canvas.width() * canvas.height();
        let mut rgb = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        for (i, &p) in canvas.pixels().iter().enumerate() {
            let f = over_white(p);
            for (k, plane) in rgb.iter_mut().enumerate() {
                plane[i] = f[k];
            }
        }
        Picture { width: canvas.width(), height: canvas.height(), rgb }
    }

    pub fn at(&self, x: usize, y: usize) -> [f32; 3] {
        let i = y * self.width + x;
        [self.rgb[0][i], self.rgb[1][i], self.rgb[2][i]]
    }

    /// Rec. 601 luma plane.
    pub fn luma(&self) -> Vec<f32> {
        (0..self.width * self.height)
            .map(|i| 0.299 * self.rgb[0][i] + 0.587 * self.rgb[1][i] + 0.114 * self.rgb[2][i])
            .collect()
    }

    /// Gaussian blur with standard deviation `sigma` pixels (edges clamped).
    pub fn blurred(&self, sigma: f32) -> Picture {
        let rgb = self.rgb.clone().map(|p| blur(&p, self.width, self.height, sigma));
        Picture { width: self.width, height: self.height, rgb }
    }
}

/// Separable Gaussian blur of one plane.
pub fn blur(plane: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    if sigma < 0.3 {
        return plane.to_vec();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-r..=r).map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (j, k) in kernel.iter().enumerate() {
                    let d = j as isize - r;
                    let (sx, sy) = if horizontal {
                        ((x as isize + d).clamp(0, w as isize - 1) as usize, y)
                    } else {
                        (x, (y as isize + d).clamp(0, h as isize - 1) as usize)
                    };
                    acc += k * src[sy * w + sx];
                }
                out[y * w + x] = acc;
            }
        }
        out
    };
    pass(&pass(plane, true), false)
}

/// Sobel gradient `(gx, gy)` of a plane at (x, y), edges clamped.
pub fn gradient(plane: &[f32], w: usize, h: usize, x: usize, y: usize) -> (f32, f32) {
    let at = |dx: isize, dy: isize| {
        let sx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
        let sy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
        plane[sy * w + sx]
    };
    let gx = (at(1, -1) + 2.0 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2.0 * at(-1, 0) + at(-1, 1));
    let gy = (at(-1, 1) + 2.0 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2.0 * at(0, -1) + at(1, -1));
    (gx / 8.0, gy / 8.0)
}

/// Mean squared error of two canvases composited over white, RGB in [0, 1]:
/// how far a copy is from its reference.
pub fn mse(a: &Canvas, b: &Canvas) -> f64 {
    let sum: f64 = a
        .pixels()
        .iter()
        .zip(b.pixels())
        .map(|(&p, &q)| {
            let (p, q) = (over_white(p), over_white(q));
            (0..3).map(|k| f64::from(p[k] - q[k]).powi(2)).sum::<f64>()
        })
        .sum();
    sum / (3 * a.pixels().len()) as f64
}

/// Where an op starts: a stroke's first point, a fill's seed; `None` for other ops.
pub fn start(op: &pb::Op) -> Option<(f32, f32)> {
    match &op.kind {
        Some(pb::op::Kind::Fill(f)) => Some((f.x, f.y)),
        Some(pb::op::Kind::Stroke(s)) => s.points.first().map(|p| (p.x, p.y)),
        _ => None,
    }
}

/// The colour a validated op lays down and where it [`start`]s; `None` for ops that lay none
/// down (erasers, smudges, patches, undo).
pub fn laid_colour(op: &pb::Op) -> Option<([f32; 3], f32, f32)> {
    let (x, y) = start(op)?;
    match &op.kind {
        Some(pb::op::Kind::Fill(f)) => {
            let c = Rgba::from_pb(f.color.as_ref(), Rgba::BLACK);
            Some(([c.r, c.g, c.b], x, y))
        }
        Some(pb::op::Kind::Stroke(s)) => {
            let b = crate::ops::Brush::of(s);
            let paints = matches!(
                b.tool,
                pb::Tool::Brush | pb::Tool::Airbrush | pb::Tool::Pencil | pb::Tool::Unspecified
            );
            paints.then_some(([b.color.r, b.color.g, b.color.b], x, y))
        }
        _ => None,
    }
}

/// Euclidean RGB distance.
pub fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_keeps_the_mean_and_spreads_a_spike() {
        let mut p = vec![0.0; 21 * 21];
        p[10 * 21 + 10] = 1.0;
        let b = blur(&p, 21, 21, 2.0);
        assert!((b.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(b[10 * 21 + 10] < 0.1 && b[10 * 21 + 12] > 0.0);
    }

    #[test]
    fn the_gradient_points_across_an_edge() {
        // Dark left half, bright right half: the gradient points right.
        let p: Vec<f32> = (0..100).map(|i| if i % 10 >= 5 { 1.0 } else { 0.0 }).collect();
        let (gx, gy) = gradient(&p, 10, 10, 5, 5);
        assert!(gx > 0.2 && gy.abs() < 1e-6, "{gx} {gy}");
    }
}
