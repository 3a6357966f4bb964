//! Procedural pictures for training data: skies, hills, sun and moon, houses,
//! trees and blobs of colour, each from a seed: varied subjects for the
//! teacher, in any number, beside the few real photographs (`photos`).

use crate::engine::Canvas;
use crate::ops::Rgba;
use crate::painters::rng::Rng;

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

fn put(c: &mut Canvas, x: usize, y: usize, rgb: [f32; 3]) {
    c.row_mut(y, x, x + 1)[0] = [rgb[0], rgb[1], rgb[2], 1.0];
}

fn colour(rng: &mut Rng) -> [f32; 3] {
    [rng.unit(), rng.unit(), rng.unit()]
}

/// A `w × h` scene from `seed`.
// 6.28 rather than TAU: the default model's training data was made with it, and
// `apprentice data` must keep making the same scenes from the same seeds.
#[allow(clippy::approx_constant)]
pub fn scene(w: usize, h: usize, seed: u64) -> Canvas {
    let mut rng = Rng::new(seed);
    let mut c = Canvas::new(w, h, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 });
    // Sky: a vertical gradient between two colours.
    let (top, bottom) =
        (mix(colour(&mut rng), [0.4, 0.6, 0.9], 0.6), mix(colour(&mut rng), [0.9, 0.9, 1.0], 0.6));
    let horizon = h as f32 * rng.range(0.45, 0.75);
    for y in 0..h {
        let rgb = mix(top, bottom, y as f32 / horizon.max(1.0));
        for x in 0..w {
            put(&mut c, x, y, rgb);
        }
    }
    // A sun or moon.
    let (sx, sy, sr) =
        (rng.range(0.1, 0.9) * w as f32, rng.range(0.05, 0.4) * h as f32, rng.range(0.04, 0.12) * w as f32);
    let sun = mix(colour(&mut rng), [1.0, 0.9, 0.5], 0.7);
    // Hills: layers of sine ridges, darker towards the front.
    let ground = mix(colour(&mut rng), [0.3, 0.55, 0.25], 0.6);
    let layers = 1 + rng.index(3);
    let ridges: Vec<(f32, f32, f32, f32)> = (0..layers)
        .map(|i| {
            let base = horizon + i as f32 * h as f32 * 0.08;
            (base, rng.range(0.02, 0.1) * h as f32, rng.range(1.0, 4.0), rng.range(0.0, 6.28))
        })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            if (fx - sx).hypot(fy - sy) < sr {
                put(&mut c, x, y, sun);
            }
            for (i, &(base, amp, freq, phase)) in ridges.iter().enumerate() {
                let ridge = base - amp * (freq * fx / w as f32 * 6.28 + phase).sin();
                if fy > ridge {
                    let shade = 1.0 - 0.15 * i as f32 - 0.2 * (fy - ridge) / h as f32;
                    put(&mut c, x, y, ground.map(|v| v * shade));
                }
            }
        }
    }
    // Objects on the ground: houses (a box and a roof), trees (a trunk and a crown), blobs.
    for _ in 0..rng.index(4) {
        let (ox, oy) =
            (rng.range(0.1, 0.9) * w as f32, rng.range(horizon / h as f32 + 0.05, 0.95) * h as f32);
        let size = rng.range(0.06, 0.18) * w as f32;
        let (a, b) = (colour(&mut rng), colour(&mut rng));
        let what = rng.index(3);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - ox, y as f32 - oy);
                let hit = match what {
                    0 if dx.abs() < size / 2.0 && dy < 0.0 && dy > -size * 0.7 => Some(a),
                    0 if dy <= -size * 0.7 && dy > -size * 1.2 && dx.abs() < (size * 1.2 + dy) * 0.9 => {
                        Some(b)
                    }
                    1 if dx.abs() < size * 0.08 && dy < 0.0 && dy > -size => Some([0.35, 0.22, 0.12]),
                    1 if dx.hypot(dy + size * 1.1) < size * 0.5 => Some(mix(b, [0.2, 0.5, 0.2], 0.6)),
                    2 if (dx / size).powi(2) + (dy / (size * 0.6)).powi(2) < 1.0 => Some(a),
                    _ => None,
                };
                if let Some(rgb) = hit {
                    put(&mut c, x, y, rgb);
                }
            }
        }
    }
    c
}
