//! Training and test examples for the brush: a picture (a crop of a photograph or
//! a procedural scene) at a random canvas size, a random mask on it (a brush
//! path at a random radius, or a blob: one wide dab), and the window the brush
//! would look through — cut exactly as the brush cuts it, so the model trains
//! on what it will see.

use std::path::PathBuf;

use image::RgbaImage;

use super::mask::SoftMask;
use super::picture::Picture;
use super::style::{self, STYLE_FEATURES};
use super::window::{self, Window};
use crate::engine::Canvas;
use crate::ops::pb;
use crate::painters::rng::Rng;
use crate::training::{photos, scenes, split};

/// One example at the model's working side.
pub struct Example {
    pub truth: Picture,
    pub mask: Vec<f32>,
    /// The truth with the masked part filled harmonically: what the model is shown.
    pub known: Picture,
    pub style: [f32; STYLE_FEATURES],
}

/// Where pictures come from: photographs on one side of the split, and scenes.
pub struct Sources {
    pub photos: Vec<RgbaImage>,
    /// Held-out scenes use odd seeds, training scenes even ones.
    pub held_out: bool,
}

impl Sources {
    /// The photographs in `dirs` (none: scenes only) on the training or held-out side; the
    /// split is the one `apprentice train` uses for their crops (by picture name).
    pub fn load(dirs: &[PathBuf], held_out: bool) -> Result<Sources, String> {
        let mut photos_out = Vec::new();
        for dir in dirs {
            let files = photos::list(dir)?;
            let names: Vec<String> = files
                .iter()
                .map(|f| format!("photo-{}", f.file_stem().unwrap_or_default().to_string_lossy()))
                .collect();
            let held = split::held_out(&names.iter().map(String::as_str).collect::<Vec<_>>());
            for (f, h) in files.iter().zip(held) {
                if h == held_out {
                    photos_out.push(photos::load(f)?);
                }
            }
        }
        Ok(Sources { photos: photos_out, held_out })
    }

    /// A random picture as a `size × size` canvas: a photograph crop (60 % of the time when
    /// there are photographs) or a scene.
    pub fn canvas(&self, size: usize, rng: &mut Rng) -> Canvas {
        if !self.photos.is_empty() && rng.unit() < 0.6 {
            let img = &self.photos[rng.index(self.photos.len())];
            let crop = photos::crop(img, size as u32, rng);
            let mut rgba = crop.into_raw();
            rgba.chunks_exact_mut(4).for_each(|p| p[3] = 255);
            return Canvas::from_rgba8(size, size, &rgba);
        }
        let seed = (rng.next_u64() & !1) | u64::from(self.held_out);
        scenes::scene(size, size, seed)
    }
}

/// A random mask on a `size²` canvas: a brush path of 1–5 points (a random walk) at a
/// radius of 2 px to a sixth of the canvas, or a blob.
pub fn random_mask(size: usize, rng: &mut Rng) -> SoftMask {
    let s = size as f32;
    loop {
        let blob = rng.unit() < 0.25;
        let radius = if blob { rng.range(0.06, 0.2) * s } else { rng.range(2.0, (s / 6.0).max(3.0)) };
        let n = if blob { 1 + rng.index(2) } else { 1 + rng.index(5) };
        let mut p = (rng.range(0.2, 0.8) * s, rng.range(0.2, 0.8) * s);
        let mut path = vec![pb::PathPoint { x: p.0, y: p.1 }];
        for _ in 1..n {
            let step = rng.range(0.5, 4.0) * radius;
            let angle = rng.range(0.0, std::f32::consts::TAU);
            p = ((p.0 + step * angle.cos()).clamp(0.0, s), (p.1 + step * angle.sin()).clamp(0.0, s));
            path.push(pb::PathPoint { x: p.0, y: p.1 });
        }
        let mask = SoftMask::from_path(&path, radius, size, size);
        if !mask.is_empty() {
            return mask;
        }
    }
}

/// One example at working side `side`; `style_rate` of them carry the style of their own
/// hidden part (its colour statistics), the rest none.
pub fn example(sources: &Sources, side: usize, style_rate: f32, rng: &mut Rng) -> Example {
    let size = [96, 128, 192, 256][rng.index(4)];
    let canvas = sources.canvas(size, rng);
    let mask = random_mask(size, rng);
    let view = window::view(&canvas, &mask, Window::around(&mask), side);
    let style =
        if rng.unit() < style_rate { style::features(&view.pixels, Some(&view.mask)) } else { style::NONE };
    Example { truth: view.pixels, mask: view.mask, known: view.known, style }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_the_seed_and_hide_part_of_the_picture() {
        let sources = Sources { photos: Vec::new(), held_out: false };
        let a = example(&sources, 16, 0.5, &mut Rng::new(3));
        let b = example(&sources, 16, 0.5, &mut Rng::new(3));
        assert_eq!(a.truth, b.truth);
        assert_eq!(a.mask, b.mask);
        let masked = a.mask.iter().filter(|&&m| m > 0.5).count();
        assert!(masked > 0 && masked < 16 * 16, "{masked} of 256 pixels masked");
    }

    #[test]
    fn held_out_scenes_are_not_training_scenes() {
        let train = Sources { photos: Vec::new(), held_out: false };
        let held = Sources { photos: Vec::new(), held_out: true };
        assert_ne!(train.canvas(32, &mut Rng::new(1)), held.canvas(32, &mut Rng::new(1)));
    }
}
