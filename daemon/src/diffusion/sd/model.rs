//! A Stable Diffusion model folder loaded: its config, tokenizer(s), text
//! encoder(s), UNet and VAE, on one device. Every file is named in the error
//! when it is missing, unreadable or holds a tensor of the wrong name or shape.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::{unet_2d::UNet2DConditionModel, vae::AutoEncoderKL};
use tokenizers::Tokenizer;

use super::clip::{self, ClipTextTransformer};
use super::config::Config;

pub const CONFIG: &str = "config.json";
pub const UNET: &str = "unet.safetensors";
pub const VAE: &str = "vae.safetensors";
pub const CLIP: &str = "clip.safetensors";
pub const TOKENIZER: &str = "tokenizer.json";
/// SDXL's second text encoder.
pub const CLIP2: &str = "clip2.safetensors";
/// SDXL's second tokenizer; absent: the first one's file.
pub const TOKENIZER2: &str = "tokenizer2.json";

/// The UNet's input channels: noisy latents alone (a text-to-image model, which
/// inpaints by keeping the known latents), or with the mask and the masked picture's
/// latents (an inpainting model).
pub const PLAIN_CHANNELS: usize = 4;
pub const INPAINT_CHANNELS: usize = 9;

/// The weights are read as f32 on every device: one dtype keeps a seed's picture
/// the same from device to device as far as the arithmetic allows, and SD's VAE
/// overflows in f16.
const DTYPE: DType = DType::F32;

/// One text encoder with its tokenizer.
pub struct TextEncoder {
    pub config: clip::Config,
    pub tokenizer: Tokenizer,
    pub model: ClipTextTransformer,
    pub pad_id: u32,
}

pub struct StableDiffusion {
    /// The folder's name.
    pub name: String,
    pub config: Config,
    /// The UNet's input channels: [`PLAIN_CHANNELS`] or [`INPAINT_CHANNELS`].
    pub in_channels: usize,
    pub text: Vec<TextEncoder>,
    pub unet: UNet2DConditionModel,
    pub vae: AutoEncoderKL,
    pub device: Device,
}

/// `file: why`, the file named by its full path.
fn named(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// The files a folder with this config must hold, missing ones first in the error.
pub fn required_files(config: &Config) -> Vec<&'static str> {
    let mut files = vec![CONFIG, UNET, VAE, CLIP, TOKENIZER];
    if config.clip2.is_some() {
        files.push(CLIP2);
    }
    files
}

/// The UNet file's input channels, read from `conv_in.weight`'s shape.
fn unet_in_channels(path: &Path) -> Result<usize, String> {
    // SAFETY: the file is only read, and not expected to change while the daemon runs.
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }.map_err(|e| named(path, e))?;
    let view = st.get("conv_in.weight").map_err(|_| named(path, "no tensor conv_in.weight"))?;
    match view.shape() {
        [_, c, 3, 3] if [PLAIN_CHANNELS, INPAINT_CHANNELS].contains(c) => Ok(*c),
        s => Err(named(
            path,
            format!(
                "conv_in.weight has shape {s:?}; expected [channels, {PLAIN_CHANNELS} or {INPAINT_CHANNELS}, 3, 3] \
                 (a text-to-image or an inpainting UNet)"
            ),
        )),
    }
}

/// Weights from a safetensors file, read into memory (the VAE is patched before use).
fn tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>, String> {
    candle_core::safetensors::load(path, device).map_err(|e| named(path, e))
}

/// candle's VAE samples its latents with the CPU's generator, which cannot be seeded, and
/// keeps the distribution's mean private. With the log-variance half of `quant_conv` zeroed
/// and its bias at −10⁴, σ = exp(−5000) is exactly 0 in f32 and `sample()` is the mean
/// (diffusers' `latent_dist.mode()`): a picture always encodes to the same latents.
/// A `quant_conv` of another shape is left for the loader to report.
fn encode_to_the_mean(tensors: &mut HashMap<String, Tensor>, latent: usize) -> candle_core::Result<()> {
    let (Some(w), Some(b)) = (tensors.get("quant_conv.weight"), tensors.get("quant_conv.bias")) else {
        return Ok(());
    };
    if w.dims() != [2 * latent, 2 * latent, 1, 1] || b.dims() != [2 * latent] {
        return Ok(());
    }
    let w = Tensor::cat(&[w.narrow(0, 0, latent)?, w.narrow(0, latent, latent)?.zeros_like()?], 0)?;
    let b = Tensor::cat(&[b.narrow(0, 0, latent)?, (b.narrow(0, latent, latent)?.zeros_like()? - 1e4)?], 0)?;
    tensors.insert("quant_conv.weight".into(), w);
    tensors.insert("quant_conv.bias".into(), b);
    Ok(())
}

fn text_encoder(
    dir: &Path,
    weights: &str,
    tokenizer: &str,
    c: &clip::Config,
    device: &Device,
) -> Result<TextEncoder, String> {
    let tok_path = dir.join(tokenizer);
    let tok = Tokenizer::from_file(&tok_path).map_err(|e| named(&tok_path, e))?;
    let pad = c.pad_with.as_deref().unwrap_or("<|endoftext|>");
    let pad_id = tok
        .token_to_id(pad)
        .ok_or_else(|| named(&tok_path, format!("no token {pad:?} to pad prompts with")))?;
    if pad_id as usize >= c.vocab_size {
        return Err(named(
            &tok_path,
            format!("token {pad:?} is id {pad_id}, beyond the encoder's vocab_size {}", c.vocab_size),
        ));
    }
    let path = dir.join(weights);
    // SAFETY: as in `unet_in_channels`.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&path], DTYPE, device) }
        .map_err(|e| named(&path, e))?;
    let model = ClipTextTransformer::new(vb, c).map_err(|e| named(&path, e))?;
    Ok(TextEncoder { config: c.clone(), tokenizer: tok, model, pad_id })
}

impl StableDiffusion {
    /// Sampler steps for a dab that asks for none: the model's own, within the magic brush's
    /// bound ([`MAX_STEPS`](crate::diffusion::brush::MAX_STEPS)).
    pub fn default_steps(&self) -> usize {
        self.config.steps.min(crate::diffusion::brush::MAX_STEPS)
    }

    /// The model in folder `dir` (named after it) on `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<StableDiffusion, String> {
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let cfg_path = dir.join(CONFIG);
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| named(&cfg_path, e))?;
        let config = Config::parse(&text).map_err(|e| named(&cfg_path, e))?;
        let missing: Vec<PathBuf> =
            required_files(&config).into_iter().map(|f| dir.join(f)).filter(|p| !p.is_file()).collect();
        if !missing.is_empty() {
            let list = missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(format!("Stable Diffusion model {name:?} is missing {list}"));
        }
        let mut text_encoders = vec![text_encoder(dir, CLIP, TOKENIZER, &config.clip, device)?];
        if let Some(c2) = &config.clip2 {
            let tok2 = if dir.join(TOKENIZER2).is_file() { TOKENIZER2 } else { TOKENIZER };
            text_encoders.push(text_encoder(dir, CLIP2, tok2, c2, device)?);
        }
        let unet_path = dir.join(UNET);
        let in_channels = unet_in_channels(&unet_path)?;
        // SAFETY: as in `unet_in_channels`.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&unet_path], DTYPE, device) }
            .map_err(|e| named(&unet_path, e))?;
        let unet = UNet2DConditionModel::new(vb, in_channels, PLAIN_CHANNELS, false, config.unet_config())
            .map_err(|e| named(&unet_path, e))?;
        let vae_path = dir.join(VAE);
        let mut vae_tensors = tensors(&vae_path, device)?;
        encode_to_the_mean(&mut vae_tensors, config.vae.latent_channels).map_err(|e| named(&vae_path, e))?;
        let vb = VarBuilder::from_tensors(vae_tensors, DTYPE, device);
        let vae = AutoEncoderKL::new(vb, 3, 3, config.vae_config()).map_err(|e| named(&vae_path, e))?;
        Ok(StableDiffusion {
            name,
            config,
            in_channels,
            text: text_encoders,
            unet,
            vae,
            device: device.clone(),
        })
    }

    /// Whether the UNet was trained to inpaint (mask and masked picture as input).
    pub fn inpainting(&self) -> bool {
        self.in_channels == INPAINT_CHANNELS
    }

    /// How `info` describes it: name, architecture and kind.
    pub fn describe(&self) -> String {
        let kind = if self.inpainting() { "inpainting" } else { "text-to-image, inpaints by blending" };
        format!("{} ({}, {kind}, {} px)", self.name, self.config.variant.name(), self.config.resolution)
    }
}
