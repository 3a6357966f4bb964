//! The magic brush: canvas + soft mask + style + strength + seed → new pixels
//! under the mask, as a raster patch the editor pastes (over the canvas, its
//! alpha the mask). Deterministic for the same inputs, model and device kind.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use super::baselines::{composite, harmonic_fill};
use super::mask::SoftMask;
use super::picture::Picture;
use super::sampler::{self, Conditioning};
use super::style::STYLE_FEATURES;
use super::unet::{Config, InpaintUnet};
use super::window::{self, Window};
use crate::engine::Canvas;
use crate::ops::pb;

/// Sampler steps at full strength unless asked otherwise.
pub const DEFAULT_STEPS: usize = 8;
/// Most sampler steps one dab may ask for.
pub const MAX_STEPS: usize = 50;
/// The sampler's start noise, as a share of the noise the model was trained on (see
/// `sampler`); chosen by `apprentice eval-brush --noise-scale` (README, "Magic brush"): the
/// model paints no texture of its own, and noise only moved its fill away from the mean it
/// believes in (47 of 100 held-out pictures closer than the harmonic fill at 1, 77 at 0).
/// So the model's part of a painter's dab is the same for every seed; the seed picks the
/// texture's source. (Imagination and search, which live on variety, keep the full noise.)
pub const NOISE_SCALE: f32 = 0.0;

/// A loaded inpainting model and the name it goes by.
pub struct Brush {
    pub name: String,
    model: InpaintUnet,
}

/// The model's answer at the canvas's resolution. The model works at its small side, so
/// only what it changed is taken from it: its answer minus what it started from (the
/// harmonic fill at full strength, the canvas's pixels at none, a blend between), resized
/// up and added to the same starting point computed at full resolution. The boundary
/// of the hole keeps its sharp, exact pixels, and a model that changed nothing gives
/// exactly the full-resolution harmonic fill.
fn full_resolution(
    canvas: &Canvas,
    full_mask: &[f32],
    win: Window,
    view: &window::View,
    x0: &Tensor,
    strength: f32,
) -> candle_core::Result<Picture> {
    let s = strength.clamp(0.0, 1.0);
    let pixels = Picture::from_canvas(canvas, win.x, win.y, win.side, win.side);
    if s == 0.0 {
        return Ok(pixels);
    }
    let harmonic = composite(&pixels, &harmonic_fill(&pixels, full_mask), full_mask);
    let base = composite(&pixels, &harmonic, &vec![s; full_mask.len()]);
    let small_base = composite(&view.pixels, &view.known, &vec![s; view.mask.len()]);
    let answer = window::from_tensor_unclamped(x0)?;
    let change = Picture {
        rgb: answer.rgb.iter().zip(&small_base.rgb).map(|(a, b)| [0, 1, 2].map(|k| a[k] - b[k])).collect(),
        ..answer
    }
    .resized(win.side, win.side);
    Ok(Picture {
        rgb: base.rgb.iter().zip(&change.rgb).map(|(b, c)| [0, 1, 2].map(|k| b[k] + c[k])).collect(),
        ..base
    })
}

/// What one dab asks for, besides the canvas and the mask.
#[derive(Clone, Debug)]
pub struct Dab {
    pub style: [f32; STYLE_FEATURES],
    pub strength: f32,
    pub seed: u64,
    pub steps: usize,
    /// How much texture cloned from the canvas nearby is added to the model's smooth
    /// fill, [0, 1] (`texture`).
    pub texture: f32,
    /// The sampler's start noise (`NOISE_SCALE` for a painter's dab).
    pub noise_scale: f32,
}

impl Brush {
    /// A model from safetensors bytes and its JSON config.
    pub fn from_bytes(name: &str, weights: &[u8], config: &str) -> Result<Brush, String> {
        let cfg: Config = serde_json::from_str(config).map_err(|e| format!("brush model config: {e}"))?;
        cfg.check().map_err(|e| format!("brush model config: {e}"))?;
        let vb =
            VarBuilder::from_buffered_safetensors(weights.to_vec(), DType::F32, &crate::device::current())
                .map_err(|e| format!("brush model weights: {e}"))?;
        let model = InpaintUnet::new(vb, &cfg).map_err(|e| format!("brush model weights: {e}"))?;
        Ok(Brush { name: name.to_owned(), model })
    }

    /// `FILE.safetensors` with its `FILE.json`; named after the file.
    pub fn from_file(path: &std::path::Path) -> Result<Brush, String> {
        let weights = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let cfg_path = path.with_extension("json");
        let config = std::fs::read_to_string(&cfg_path)
            .map_err(|e| format!("cannot read {}: {e}", cfg_path.display()))?;
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        Brush::from_bytes(&name, &weights, &config).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_model(name: &str, model: InpaintUnet) -> Brush {
        Brush { name: name.to_owned(), model }
    }

    pub fn model(&self) -> &InpaintUnet {
        &self.model
    }

    /// New pixels for `mask` on `canvas`: a patch over the mask's rectangle, or `None` when
    /// `progress(step, steps)` (told before each sampler step) returns false: cancelled.
    /// An empty mask (a path off the canvas) gives an empty patch.
    pub fn paint(
        &self,
        canvas: &Canvas,
        mask: &SoftMask,
        dab: &Dab,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> candle_core::Result<Option<pb::RasterPatch>> {
        if mask.is_empty() {
            return Ok(Some(mask.patch(Vec::new())));
        }
        let dev = crate::device::current();
        let side = self.model.config().side;
        let win = Window::around(mask);
        let view = window::view(canvas, mask, win, side);
        let cond = Conditioning {
            known: window::to_tensor(&view.known, &dev)?,
            mask: window::mask_tensor(&view.mask, side, &dev)?,
            style: Tensor::from_vec(dab.style.to_vec(), (1, STYLE_FEATURES), &dev)?,
        };
        let start = window::to_tensor(&view.pixels, &dev)?;
        let Some(x0) = sampler::sample(
            &self.model,
            &cond,
            &start,
            dab.strength,
            dab.steps,
            sampler::Noise { seed: dab.seed, scale: dab.noise_scale },
            progress,
        )?
        else {
            return Ok(None);
        };
        let in_mask = win.mask_in(mask);
        let mut result = full_resolution(canvas, &in_mask, win, &view, &x0, dab.strength)?;
        let share = dab.texture.clamp(0.0, 1.0) * dab.strength.clamp(0.0, 1.0);
        if share > 0.0
            && let Some(detail) = super::texture::detail(canvas, mask, win, dab.seed)
        {
            super::texture::add(&mut result, &detail, share);
        }
        super::style::transfer(&mut result, &in_mask, &dab.style, dab.strength);
        Ok(Some(window::cut(&result, mask, win)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::testing::{pasted_inside, striped};
    use crate::ops::Rgba;
    use candle_core::Device;

    fn tiny_brush() -> Brush {
        let (_varmap, model) = super::super::unet::fresh(&Config::tiny(), &Device::Cpu).unwrap();
        Brush::from_model("tiny", model)
    }

    fn dab(seed: u64) -> Dab {
        Dab {
            style: super::super::style::NONE,
            strength: 1.0,
            seed,
            steps: 3,
            texture: 0.0,
            noise_scale: 1.0,
        }
    }

    #[test]
    fn a_dab_changes_pixels_under_its_mask_only_and_follows_its_seed() {
        let brush = tiny_brush();
        let canvas = striped(80, 60);
        let path = [pb::PathPoint { x: 20.0, y: 20.0 }, pb::PathPoint { x: 50.0, y: 30.0 }];
        let mask = SoftMask::from_path(&path, 6.0, 80, 60);
        let p = brush.paint(&canvas, &mask, &dab(1), &mut |_, _| true).unwrap().unwrap();
        assert_eq!(
            (p.x as i64, p.y as i64, p.width as usize, p.height as usize),
            (mask.x, mask.y, mask.width, mask.height)
        );
        assert_eq!(
            p,
            brush.paint(&canvas, &mask, &dab(1), &mut |_, _| true).unwrap().unwrap(),
            "same inputs, same pixels"
        );
        assert_ne!(
            p,
            brush.paint(&canvas, &mask, &dab(2), &mut |_, _| true).unwrap().unwrap(),
            "another seed"
        );
        // A painter's dab starts from no noise: the seed only picks the texture's source
        // (texture::tests), so without texture it changes nothing.
        let painter = |seed| Dab { noise_scale: NOISE_SCALE, ..dab(seed) };
        let paint = |d: Dab| brush.paint(&canvas, &mask, &d, &mut |_, _| true).unwrap().unwrap();
        assert_eq!(paint(painter(1)), paint(painter(2)), "no noise, no texture: no seed");
        let after = pasted_inside(&canvas, &p, &mask);
        assert_ne!(after, canvas);
    }

    #[test]
    fn progress_counts_the_steps_and_can_cancel() {
        let brush = tiny_brush();
        let canvas = striped(32, 32);
        let mask = SoftMask::from_path(&[pb::PathPoint { x: 16.0, y: 16.0 }], 5.0, 32, 32);
        let mut seen = Vec::new();
        brush
            .paint(&canvas, &mask, &dab(1), &mut |i, n| {
                seen.push((i, n));
                true
            })
            .unwrap()
            .unwrap();
        assert_eq!(seen, [(0, 3), (1, 3), (2, 3)]);
        let cancelled = brush.paint(&canvas, &mask, &dab(1), &mut |i, _| i < 1).unwrap();
        assert!(cancelled.is_none());
    }

    #[test]
    fn texture_brings_back_the_stripes_a_smooth_fill_loses() {
        let brush = tiny_brush();
        let canvas = striped(96, 96);
        let mask = SoftMask::from_path(&[pb::PathPoint { x: 48.0, y: 45.0 }], 7.0, 96, 96);
        let paint = |texture| {
            let p =
                brush.paint(&canvas, &mask, &Dab { texture, ..dab(1) }, &mut |_, _| true).unwrap().unwrap();
            pasted_inside(&canvas, &p, &mask)
        };
        // Rows 40..51, inside the hole: the truth has stripes at rows 42 and 48.
        let column = |c: &Canvas| (40..51).map(|y| c.get(48, y)[2]).collect::<Vec<f32>>();
        let spread = |v: Vec<f32>| {
            v.iter().cloned().fold(f32::MIN, f32::max) - v.iter().cloned().fold(f32::MAX, f32::min)
        };
        let (smooth, textured) = (paint(0.0), paint(1.0));
        assert!(
            spread(column(&textured)) > 2.0 * spread(column(&smooth)),
            "{:?} {:?}",
            column(&textured),
            column(&smooth)
        );
        let error =
            |c: &Canvas| column(c).iter().zip(column(&canvas)).map(|(a, b)| (a - b).abs()).sum::<f32>();
        assert!(error(&textured) < error(&smooth), "the stripes come back where they were");
        assert_eq!(paint(0.0), smooth, "no texture, no change: the smooth fill as before");
    }

    #[test]
    fn strength_zero_keeps_the_pixels() {
        let brush = tiny_brush();
        let canvas = Canvas::new(32, 32, Rgba { r: 0.2, g: 0.4, b: 0.6, a: 1.0 });
        let mask = SoftMask::from_path(&[pb::PathPoint { x: 16.0, y: 16.0 }], 5.0, 32, 32);
        let p =
            brush.paint(&canvas, &mask, &Dab { strength: 0.0, ..dab(1) }, &mut |_, _| true).unwrap().unwrap();
        let first = &p.rgba[(p.width as usize * (p.height as usize / 2) + p.width as usize / 2) * 4..][..3];
        assert_eq!(first, [51, 102, 153]);
    }
}
