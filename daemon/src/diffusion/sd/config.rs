//! A Stable Diffusion folder's `config.json`: which architecture its files hold
//! (a preset, or every size spelled out), the working resolution and the sampler's
//! settings. Checked as a whole before any weight is read, so that a mismatch
//! (a UNet expecting a text width the CLIP does not give) is named up front.

use candle_transformers::models::stable_diffusion::{schedulers, unet_2d};
use serde::Deserialize;

use super::clip;

/// The architectures this brush knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Variant {
    /// Stable Diffusion 1.x (and its inpainting model): CLIP ViT-L/14, 512 px.
    #[serde(rename = "sd1.5")]
    Sd15,
    /// Stable Diffusion 2.x (and 2-inpainting): OpenCLIP ViT-H/14, 512 px, ε-prediction
    /// (2.1 at 768 px predicts v: set `prediction` and `resolution`).
    #[serde(rename = "sd2")]
    Sd2,
    /// SDXL 1.0 (and its inpainting model): two text encoders, 1024 px.
    #[serde(rename = "sdxl")]
    Sdxl,
    /// SDXL-Turbo: the SDXL architecture, 512 px, 4 steps, no classifier-free guidance.
    #[serde(rename = "sdxl-turbo")]
    SdxlTurbo,
    /// Every size given in `unet`, `vae` and `clip` (e.g. a distilled model, or the tests' tiny one).
    #[serde(rename = "custom")]
    Custom,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Sd15 => "sd1.5",
            Variant::Sd2 => "sd2",
            Variant::Sdxl => "sdxl",
            Variant::SdxlTurbo => "sdxl-turbo",
            Variant::Custom => "custom",
        }
    }
}

/// What the UNet predicts (the scheduler's `prediction_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    Epsilon,
    VPrediction,
}

/// Where the sampler's timesteps sit (diffusers' `timestep_spacing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    Leading,
    Trailing,
}

/// One level of the UNet (diffusers' `block_out_channels`, `down_block_types`, `attention_head_dim`).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnetBlock {
    pub channels: usize,
    /// Transformer layers of cross-attention at this level; absent: a plain ResNet level.
    #[serde(default)]
    pub attention_layers: Option<usize>,
    pub attention_head_dim: usize,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unet {
    pub blocks: Vec<UnetBlock>,
    pub layers_per_block: usize,
    /// The width of the text embeddings it attends to.
    pub cross_attention_dim: usize,
    pub norm_num_groups: usize,
    pub use_linear_projection: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vae {
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: usize,
    pub latent_channels: usize,
    pub norm_num_groups: usize,
    /// Latents are the encoder's mean times this (0.18215 for SD 1/2, 0.13025 for SDXL).
    pub scaling_factor: f64,
}

/// `config.json` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    variant: Variant,
    resolution: Option<usize>,
    steps: Option<usize>,
    guidance_scale: Option<f64>,
    prediction: Option<Prediction>,
    timestep_spacing: Option<Spacing>,
    unet: Option<Unet>,
    vae: Option<Vae>,
    clip: Option<clip::Config>,
    clip2: Option<clip::Config>,
}

/// A model folder's architecture and settings, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub variant: Variant,
    /// The side, in pixels, the model paints at (the brushed square is resized to it).
    pub resolution: usize,
    /// Sampler steps at full strength unless the request says otherwise.
    pub steps: usize,
    /// Classifier-free guidance; at 1 or below the prompt is encoded once, without the empty one.
    pub guidance_scale: f64,
    pub prediction: Prediction,
    pub timestep_spacing: Spacing,
    pub unet: Unet,
    pub vae: Vae,
    pub clip: clip::Config,
    /// SDXL's second text encoder; its embeddings are appended to the first's.
    pub clip2: Option<clip::Config>,
}

fn block(channels: usize, attention_layers: Option<usize>, attention_head_dim: usize) -> UnetBlock {
    UnetBlock { channels, attention_layers, attention_head_dim }
}

/// The VAE every released SD 1/2/XL model shares, but for its scaling factor.
fn sd_vae(scaling_factor: f64) -> Vae {
    Vae {
        block_out_channels: vec![128, 256, 512, 512],
        layers_per_block: 2,
        latent_channels: 4,
        norm_num_groups: 32,
        scaling_factor,
    }
}

/// A preset's (and `custom`'s missing) parts; sizes from the models' diffusers configs.
fn preset(v: Variant) -> (usize, usize, f64, Prediction, Spacing, Option<Unet>, Option<Vae>) {
    let unet = |blocks, cross, linear| Unet {
        blocks,
        layers_per_block: 2,
        cross_attention_dim: cross,
        norm_num_groups: 32,
        use_linear_projection: linear,
    };
    let xl =
        || unet(vec![block(320, None, 5), block(640, Some(2), 10), block(1280, Some(10), 20)], 2048, true);
    match v {
        Variant::Sd15 => (
            512,
            25,
            7.5,
            Prediction::Epsilon,
            Spacing::Leading,
            Some(unet(
                vec![
                    block(320, Some(1), 8),
                    block(640, Some(1), 8),
                    block(1280, Some(1), 8),
                    block(1280, None, 8),
                ],
                768,
                false,
            )),
            Some(sd_vae(0.18215)),
        ),
        Variant::Sd2 => (
            512,
            25,
            7.5,
            Prediction::Epsilon,
            Spacing::Leading,
            Some(unet(
                vec![
                    block(320, Some(1), 5),
                    block(640, Some(1), 10),
                    block(1280, Some(1), 20),
                    block(1280, None, 20),
                ],
                1024,
                true,
            )),
            Some(sd_vae(0.18215)),
        ),
        Variant::Sdxl => {
            (1024, 25, 5.0, Prediction::Epsilon, Spacing::Leading, Some(xl()), Some(sd_vae(0.13025)))
        }
        Variant::SdxlTurbo => {
            (512, 4, 0.0, Prediction::Epsilon, Spacing::Trailing, Some(xl()), Some(sd_vae(0.13025)))
        }
        Variant::Custom => (512, 25, 7.5, Prediction::Epsilon, Spacing::Leading, None, None),
    }
}

fn preset_clips(v: Variant) -> (Option<clip::Config>, Option<clip::Config>) {
    match v {
        Variant::Sd15 => (Some(clip::Config::vit_l()), None),
        Variant::Sd2 => (Some(clip::Config::open_clip_h()), None),
        Variant::Sdxl | Variant::SdxlTurbo => (Some(clip::Config::sdxl()), Some(clip::Config::sdxl2())),
        Variant::Custom => (None, None),
    }
}

impl Config {
    /// Parses and checks `config.json`'s text; errors name the field.
    pub fn parse(text: &str) -> Result<Config, String> {
        let f: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let (resolution, steps, guidance, prediction, spacing, unet, vae) = preset(f.variant);
        let (clip, clip2) = preset_clips(f.variant);
        let need = |what: &str| format!("\"{what}\" must be given for variant \"custom\"");
        let cfg = Config {
            variant: f.variant,
            resolution: f.resolution.unwrap_or(resolution),
            steps: f.steps.unwrap_or(steps),
            guidance_scale: f.guidance_scale.unwrap_or(guidance),
            prediction: f.prediction.unwrap_or(prediction),
            timestep_spacing: f.timestep_spacing.unwrap_or(spacing),
            unet: f.unet.or(unet).ok_or_else(|| need("unet"))?,
            vae: f.vae.or(vae).ok_or_else(|| need("vae"))?,
            clip: f.clip.or(clip).ok_or_else(|| need("clip"))?,
            clip2: f.clip2.or(clip2),
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// How many pixels one latent cell covers.
    pub fn vae_factor(&self) -> usize {
        1 << (self.vae.block_out_channels.len() - 1)
    }

    /// The width of the text embeddings the UNet is given: the encoders' widths side by side.
    pub fn text_width(&self) -> usize {
        self.clip.embed_dim + self.clip2.as_ref().map_or(0, |c| c.embed_dim)
    }

    fn check(&self) -> Result<(), String> {
        let u = &self.unet;
        let v = &self.vae;
        if u.blocks.is_empty() || v.block_out_channels.is_empty() {
            return Err("unet.blocks and vae.block_out_channels must not be empty".into());
        }
        if u.norm_num_groups == 0 || u.blocks.iter().any(|b| b.channels % u.norm_num_groups != 0) {
            return Err(format!(
                "unet: every block's channels must be a multiple of norm_num_groups ({})",
                u.norm_num_groups
            ));
        }
        if let Some(b) =
            u.blocks.iter().find(|b| b.attention_head_dim == 0 || b.channels % b.attention_head_dim != 0)
        {
            return Err(format!(
                "unet: attention_head_dim {} does not divide the block's {} channels",
                b.attention_head_dim, b.channels
            ));
        }
        if v.norm_num_groups == 0 || v.block_out_channels.iter().any(|c| c % v.norm_num_groups != 0) {
            return Err(format!(
                "vae: block_out_channels must be multiples of norm_num_groups ({})",
                v.norm_num_groups
            ));
        }
        if v.latent_channels != 4 {
            return Err(format!(
                "vae.latent_channels is {}; the UNet takes 4-channel latents",
                v.latent_channels
            ));
        }
        if !(v.scaling_factor.is_finite() && v.scaling_factor > 0.0) {
            return Err(format!("vae.scaling_factor must be positive, got {}", v.scaling_factor));
        }
        self.clip.check("clip")?;
        if let Some(c) = &self.clip2 {
            c.check("clip2")?;
        }
        if u.cross_attention_dim != self.text_width() {
            return Err(format!(
                "unet.cross_attention_dim is {} but the text encoder{} give{} {} wide embeddings",
                u.cross_attention_dim,
                if self.clip2.is_some() { "s (clip + clip2)" } else { " (clip)" },
                if self.clip2.is_some() { "" } else { "s" },
                self.text_width()
            ));
        }
        // The latents must halve cleanly at every UNet level.
        let cell = self.vae_factor() << (u.blocks.len() - 1);
        if self.resolution == 0 || self.resolution % cell != 0 || self.resolution > 2048 {
            return Err(format!(
                "resolution must be a multiple of {cell} up to 2048, got {}",
                self.resolution
            ));
        }
        if self.steps == 0 || self.steps > 1000 {
            return Err(format!("steps must be in [1, 1000], got {}", self.steps));
        }
        if !(self.guidance_scale.is_finite() && (0.0..=50.0).contains(&self.guidance_scale)) {
            return Err(format!("guidance_scale must be in [0, 50], got {}", self.guidance_scale));
        }
        Ok(())
    }

    /// candle's UNet configuration for these sizes.
    pub fn unet_config(&self) -> unet_2d::UNet2DConditionModelConfig {
        let u = &self.unet;
        unet_2d::UNet2DConditionModelConfig {
            blocks: u
                .blocks
                .iter()
                .map(|b| unet_2d::BlockConfig {
                    out_channels: b.channels,
                    use_cross_attn: b.attention_layers,
                    attention_head_dim: b.attention_head_dim,
                })
                .collect(),
            layers_per_block: u.layers_per_block,
            cross_attention_dim: u.cross_attention_dim,
            norm_num_groups: u.norm_num_groups,
            use_linear_projection: u.use_linear_projection,
            ..Default::default()
        }
    }

    /// candle's VAE configuration for these sizes (with the quant convs every SD VAE has).
    pub fn vae_config(&self) -> candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig {
        let v = &self.vae;
        candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig {
            block_out_channels: v.block_out_channels.clone(),
            layers_per_block: v.layers_per_block,
            latent_channels: v.latent_channels,
            norm_num_groups: v.norm_num_groups,
            use_quant_conv: true,
            use_post_quant_conv: true,
        }
    }

    /// The DDIM scheduler's configuration (η = 0: no noise of its own, so a seed decides everything).
    pub fn scheduler(&self) -> candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig {
        candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig {
            prediction_type: match self.prediction {
                Prediction::Epsilon => schedulers::PredictionType::Epsilon,
                Prediction::VPrediction => schedulers::PredictionType::VPrediction,
            },
            timestep_spacing: match self.timestep_spacing {
                Spacing::Leading => schedulers::TimestepSpacing::Leading,
                Spacing::Trailing => schedulers::TimestepSpacing::Trailing,
            },
            eta: 0.0,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_consistent_and_overrides_apply() {
        for v in ["sd1.5", "sd2", "sdxl", "sdxl-turbo"] {
            let c = Config::parse(&format!(r#"{{"variant": "{v}"}}"#)).unwrap();
            assert_eq!(c.variant.name(), v);
        }
        let c =
            Config::parse(r#"{"variant": "sd2", "resolution": 768, "prediction": "v_prediction"}"#).unwrap();
        assert_eq!((c.resolution, c.prediction), (768, Prediction::VPrediction));
        assert_eq!(Config::parse(r#"{"variant": "sdxl"}"#).unwrap().text_width(), 2048);
    }

    #[test]
    fn bad_configs_name_what_is_wrong() {
        let e = Config::parse(r#"{"variant": "sd3"}"#).unwrap_err();
        assert!(e.contains("unknown variant `sd3`"), "{e}");
        let e = Config::parse(r#"{"variant": "custom"}"#).unwrap_err();
        assert!(e.contains("\"unet\" must be given"), "{e}");
        let e = Config::parse(r#"{"variant": "sd1.5", "resolution": 500}"#).unwrap_err();
        assert!(e.contains("resolution must be a multiple of 64"), "{e}");
        let e = Config::parse(
            r#"{"variant": "sd1.5", "clip": {"vocab_size": 10, "embed_dim": 32, "intermediate_size": 64,
            "max_position_embeddings": 77, "num_hidden_layers": 1, "num_attention_heads": 2}}"#,
        )
        .unwrap_err();
        assert!(e.contains("unet.cross_attention_dim is 768 but the text encoder (clip) gives 32"), "{e}");
        let e = Config::parse(r#"{"variant": "sd1.5", "stpes": 3}"#).unwrap_err();
        assert!(e.contains("unknown field `stpes`"), "{e}");
    }
}
