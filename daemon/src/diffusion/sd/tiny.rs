//! A tiny Stable Diffusion folder with random weights, written exactly as a
//! user's real model folder is laid out, for the tests and the bench (no real
//! weights can be downloaded where they run). It paints noise, but through every
//! file, tensor name and shape of the real path.

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::stable_diffusion::{unet_2d::UNet2DConditionModel, vae::AutoEncoderKL};

use super::clip::ClipTextTransformer;
use super::config::Config;
use super::model;

/// The words the tiny tokenizer knows (ids after the two CLIP markers and `<unk>`).
pub const WORDS: &[&str] = &["a", "red", "barn", "blue", "sky", "tree", "in", "the", "snow", "!"];

/// `config.json` of the tiny model: 32 px, a 2× VAE, a two-level UNet, a two-layer CLIP
/// of width 32 — or, with `two_encoders`, SDXL's layout: a second, GELU encoder padding with
/// "!", both read at their penultimate layer and side by side (64 wide), and no guidance.
pub fn config_json(two_encoders: bool) -> String {
    let clip = |activation: &str, pad: Option<&str>| {
        serde_json::json!({
            "vocab_size": 100,
            "embed_dim": 32,
            "intermediate_size": 64,
            "max_position_embeddings": 77,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "activation": activation,
            "pad_with": pad,
            "hidden": if two_encoders { "penultimate" } else { "last" },
        })
    };
    let mut cfg = serde_json::json!({
        "variant": "custom",
        "resolution": 32,
        "steps": 4,
        // SDXL-Turbo's way (no classifier-free guidance) for the two-encoder folder.
        "guidance_scale": if two_encoders { 0.0 } else { 3.0 },
        "unet": {
            "blocks": [
                {"channels": 32, "attention_layers": 1, "attention_head_dim": 4},
                {"channels": 64, "attention_layers": 1, "attention_head_dim": 4}
            ],
            "layers_per_block": 1,
            "cross_attention_dim": if two_encoders { 64 } else { 32 },
            "norm_num_groups": 8,
            "use_linear_projection": true
        },
        "vae": {
            "block_out_channels": [16, 32],
            "layers_per_block": 1,
            "latent_channels": 4,
            "norm_num_groups": 8,
            "scaling_factor": 0.18215
        },
        "clip": clip("quick_gelu", None),
    });
    if two_encoders {
        cfg["clip2"] = clip("gelu", Some("!"));
    }
    serde_json::to_string_pretty(&cfg).expect("plain JSON")
}

/// A word-level `tokenizer.json` that wraps prompts in CLIP's start and end markers, as the real one does.
pub fn tokenizer_json() -> String {
    let mut vocab =
        vec![r#""<|startoftext|>": 0"#.to_owned(), r#""<|endoftext|>": 1"#.into(), r#""<unk>": 2"#.into()];
    vocab.extend(WORDS.iter().enumerate().map(|(i, w)| format!("\"{w}\": {}", i + 3)));
    let special = |t: &str, id: usize| format!(r#""{t}": {{"id": "{t}", "ids": [{id}], "tokens": ["{t}"]}}"#);
    format!(
        r#"{{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [],
  "normalizer": {{"type": "Lowercase"}},
  "pre_tokenizer": {{"type": "Whitespace"}},
  "post_processor": {{
    "type": "TemplateProcessing",
    "single": [{{"SpecialToken": {{"id": "<|startoftext|>", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"SpecialToken": {{"id": "<|endoftext|>", "type_id": 0}}}}],
    "pair": [{{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"Sequence": {{"id": "B", "type_id": 1}}}}],
    "special_tokens": {{{}, {}}}
  }},
  "decoder": null,
  "model": {{"type": "WordLevel", "vocab": {{{}}}, "unk_token": "<unk>"}}
}}
"#,
        special("<|startoftext|>", 0),
        special("<|endoftext|>", 1),
        vocab.join(", ")
    )
}

/// Writes a tiny model folder at `dir` (created): an inpainting UNet (9 input channels)
/// when `inpainting`, else a text-to-image one (4).
pub fn write(dir: &Path, inpainting: bool) -> Result<(), String> {
    write_with(dir, inpainting, false)
}

/// [`write`], with SDXL's two text encoders when `two_encoders` (`clip2.safetensors`;
/// the second tokenizer is the first's file, as SDXL's folders may leave it).
pub fn write_with(dir: &Path, inpainting: bool, two_encoders: bool) -> Result<(), String> {
    let err = |e: candle_core::Error| format!("tiny Stable Diffusion: {e}");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
    };
    let json = config_json(two_encoders);
    write(model::CONFIG, &json)?;
    write(model::TOKENIZER, &tokenizer_json())?;
    let cfg = Config::parse(&json)?;
    let dev = Device::Cpu;
    let save = |name: &str, build: &dyn Fn(VarBuilder) -> candle_core::Result<()>| {
        let varmap = VarMap::new();
        build(VarBuilder::from_varmap(&varmap, DType::F32, &dev)).map_err(err)?;
        varmap.save(dir.join(name)).map_err(err)
    };
    let channels = if inpainting { model::INPAINT_CHANNELS } else { model::PLAIN_CHANNELS };
    save(model::UNET, &|vb| {
        UNet2DConditionModel::new(vb, channels, model::PLAIN_CHANNELS, false, cfg.unet_config()).map(drop)
    })?;
    save(model::VAE, &|vb| AutoEncoderKL::new(vb, 3, 3, cfg.vae_config()).map(drop))?;
    save(model::CLIP, &|vb| ClipTextTransformer::new(vb, &cfg.clip).map(drop))?;
    if let Some(c2) = &cfg.clip2 {
        save(model::CLIP2, &|vb| ClipTextTransformer::new(vb, c2).map(drop))?;
    }
    Ok(())
}
