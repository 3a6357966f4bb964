//! Models on disk: `NAME.safetensors` with its `NAME.json` config beside it.
//! A small default model is compiled into the binary.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use super::stroke_transformer::{Config, StrokeTransformer};

/// The config file that goes with a weights file.
pub fn config_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// The config beside a weights file.
pub fn load_config(weights: &Path) -> Result<Config, String> {
    let cfg_path = config_path(weights);
    let text =
        std::fs::read_to_string(&cfg_path).map_err(|e| format!("cannot read {}: {e}", cfg_path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", cfg_path.display()))
}

pub fn load_file(weights: &Path, device: &Device) -> Result<StrokeTransformer, String> {
    let cfg = load_config(weights)?;
    // Safety: the file is mapped read-only; a model file changed while mapped is the user's to avoid
    // (the daemon copies models it reloads).
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device) }
        .map_err(|e| format!("{}: {e}", weights.display()))?;
    StrokeTransformer::new(vb, &cfg).map_err(|e| format!("{}: {e}", weights.display()))
}

pub fn load_bytes(weights: &[u8], config_json: &str, device: &Device) -> Result<StrokeTransformer, String> {
    let cfg: Config = serde_json::from_str(config_json).map_err(|e| format!("model config: {e}"))?;
    let vb = VarBuilder::from_buffered_safetensors(weights.to_vec(), DType::F32, device)
        .map_err(|e| format!("model weights: {e}"))?;
    StrokeTransformer::new(vb, &cfg).map_err(|e| format!("model: {e}"))
}
