//! One magic-brush dab with Stable Diffusion: the square around the mask, at the
//! model's resolution, is encoded to latents, denoised under the prompt (DDIM,
//! classifier-free guidance), decoded, resized back and laid down under the soft
//! mask only, as a raster patch. The noise comes from the seed through the
//! project's own generator and DDIM adds none, so a seed gives the same pixels.

use candle_core::{Device, Result, Tensor};
use candle_transformers::models::stable_diffusion::schedulers::SchedulerConfig;

use super::model::StableDiffusion;
use crate::diffusion::mask::SoftMask;
use crate::diffusion::picture::{Picture, resize_map};
use crate::diffusion::sampler::{noise, steps_for};
use crate::diffusion::window::{self, Window};
use crate::engine::Canvas;
use crate::ops::pb;

/// Mask values above this count as "repaint" for the model; the soft edge is the composite's.
const REPAINT: f32 = 1e-3;

/// What one dab asks for, besides the canvas, the mask and the prompt.
#[derive(Clone, Copy, Debug)]
pub struct SdDab {
    pub strength: f32,
    pub seed: u64,
    /// Sampler steps at full strength.
    pub steps: usize,
}

impl StableDiffusion {
    /// The prompt's token ids for encoder `i`, padded (or cut, with a warning) to its length.
    fn token_ids(&self, i: usize, prompt: &str) -> Result<Tensor> {
        let enc = &self.text[i];
        let max = enc.config.max_position_embeddings;
        let encoding = enc
            .tokenizer
            .encode(prompt, true)
            .map_err(|e| candle_core::Error::msg(format!("tokenizer: {e}")))?;
        let mut ids = encoding.get_ids().to_vec();
        if ids.len() > max {
            tracing::warn!("the prompt is {} tokens long; the text encoder reads the first {max}", ids.len());
            ids.truncate(max);
        }
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= enc.config.vocab_size) {
            candle_core::bail!(
                "the tokenizer gave token id {bad}, beyond the text encoder's vocab_size {}",
                enc.config.vocab_size
            );
        }
        ids.resize(max, enc.pad_id);
        Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)
    }

    /// `(1, tokens, text_width)`: every encoder's embeddings of the prompt, side by side.
    pub fn text_embeddings(&self, prompt: &str) -> Result<Tensor> {
        let parts = (0..self.text.len())
            .map(|i| self.text[i].model.forward(&self.token_ids(i, prompt)?))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, 2)
    }

    /// The latents of `(1, 3, s, s)` pixels in [−1, 1] (the encoder's mean, scaled).
    fn encode(&self, pixels: &Tensor) -> Result<Tensor> {
        self.vae.encode(pixels)?.sample()? * self.config.vae.scaling_factor
    }

    /// New pixels for `mask` on `canvas` under `prompt`: a patch over the mask's rectangle,
    /// or `None` when `progress(step, steps)` (told before each step) returns false.
    pub fn paint(
        &self,
        canvas: &Canvas,
        mask: &SoftMask,
        prompt: &str,
        dab: &SdDab,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<Option<pb::RasterPatch>> {
        if mask.is_empty() {
            return Ok(Some(mask.patch(Vec::new())));
        }
        let dev = &self.device;
        let side = self.config.resolution;
        let lat = side / self.config.vae_factor();
        let win = Window::around(mask);
        let n = steps_for(dab.steps, dab.strength);
        if n == 0 {
            let unchanged = Picture::from_canvas(canvas, win.x, win.y, win.side, win.side);
            return Ok(Some(window::cut(&unchanged, mask, win)));
        }
        let (view_pixels, view_mask) = window::pixels_and_mask(canvas, mask, win, side);
        let pixels = window::to_tensor(&view_pixels, dev)?;
        let image_latents = self.encode(&pixels)?;
        let repaint: Vec<f32> = view_mask.iter().map(|&m| f32::from(u8::from(m > REPAINT))).collect();
        let lat_mask: Vec<f32> = resize_map(&repaint, side, side, lat, lat)
            .iter()
            .map(|&m| f32::from(u8::from(m > REPAINT)))
            .collect();
        let lat_mask = Tensor::from_vec(lat_mask, (1, 1, lat, lat), dev)?;

        let mut embeddings = self.text_embeddings(prompt)?;
        let guided = self.config.guidance_scale > 1.0;
        if guided {
            embeddings = Tensor::cat(&[self.text_embeddings("")?, embeddings], 0)?;
        }
        // An inpainting UNet also sees the mask and the picture with the hole blanked (0 in [−1, 1]).
        let extra = if self.inpainting() {
            let keep = Tensor::from_vec(
                repaint.iter().map(|m| 1.0 - m).collect::<Vec<f32>>(),
                (1, 1, side, side),
                dev,
            )?;
            let masked = self.encode(&pixels.broadcast_mul(&keep)?)?;
            Some(Tensor::cat(&[&lat_mask, &masked], 1)?)
        } else {
            None
        };

        let mut scheduler = self.config.scheduler().build(dab.steps)?;
        let all = scheduler.timesteps().to_vec();
        // SDEdit: a lighter touch starts part of the way down the same schedule.
        let n = n.min(all.len());
        let timesteps = &all[all.len() - n..];
        let eps = noise((1, 4, lat, lat), dab.seed, dev)?;
        let mut latents = if dab.strength >= 1.0 {
            (&eps * scheduler.init_noise_sigma())?
        } else {
            scheduler.add_noise(&image_latents, eps.clone(), timesteps[0])?
        };
        for (i, &t) in timesteps.iter().enumerate() {
            if !progress(i, n) {
                return Ok(None);
            }
            let input = if guided { Tensor::cat(&[&latents, &latents], 0)? } else { latents.clone() };
            let input = scheduler.scale_model_input(input, t)?;
            let input = match &extra {
                Some(e) => Tensor::cat(&[input.clone(), e.repeat((input.dim(0)?, 1, 1, 1))?], 1)?,
                None => input,
            };
            let pred = self.unet.forward(&input, t as f64, &embeddings)?;
            let pred = if guided {
                let (uncond, cond) = (pred.narrow(0, 0, 1)?, pred.narrow(0, 1, 1)?);
                (&uncond + ((cond - &uncond)? * self.config.guidance_scale)?)?
            } else {
                pred
            };
            latents = scheduler.step(&pred, t, &latents)?;
            // A text-to-image UNet knows nothing of the hole: outside it, its latents are
            // replaced by the picture's at the next step's noise level (blended diffusion).
            if extra.is_none() {
                let known = match timesteps.get(i + 1) {
                    Some(&next) => scheduler.add_noise(&image_latents, eps.clone(), next)?,
                    None => image_latents.clone(),
                };
                latents = (latents.broadcast_mul(&lat_mask)? + known.broadcast_mul(&(1.0 - &lat_mask)?)?)?;
            }
        }
        let decoded = self.vae.decode(&(latents / self.config.vae.scaling_factor)?)?;
        let answer = window::from_tensor(&decoded.to_device(&Device::Cpu)?)?;
        Ok(Some(window::cut(&answer.resized(win.side, win.side), mask, win)))
    }
}
