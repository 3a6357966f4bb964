//! Stable Diffusion from local files, for the magic brush with a prompt: one
//! folder per model under `MODELS_DIR/sd/NAME/` (README: "Stable Diffusion").
//!
//! - [`config`]: the folder's `config.json`; [`clip`]: the text encoder;
//! - [`model`]: the folder's files loaded (UNet and VAE from candle-transformers);
//! - [`inpaint`]: one dab, end to end; [`tiny`]: a tiny random model folder for tests and the bench.

pub mod clip;
pub mod config;
pub mod inpaint;
pub mod model;
pub mod tiny;

use std::path::{Path, PathBuf};

pub use inpaint::SdDab;
pub use model::StableDiffusion;

/// The folder under the models folder that holds one folder per SD model.
pub const DIR: &str = "sd";

/// The folder of model `name`.
pub fn folder(models_dir: &Path, name: &str) -> PathBuf {
    models_dir.join(DIR).join(name)
}

/// The model folders under `models_dir/sd` (those with a `config.json`), sorted by name.
pub fn found(models_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(models_dir.join(DIR)) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(model::CONFIG).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// How `info` lists a folder without loading its weights: its name, architecture and
/// what is missing or wrong, if anything.
pub fn summary(dir: &Path) -> String {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let cfg_path = dir.join(model::CONFIG);
    let cfg = match std::fs::read_to_string(&cfg_path)
        .map_err(|e| e.to_string())
        .and_then(|t| config::Config::parse(&t))
    {
        Ok(c) => c,
        Err(e) => return format!("{name} (unusable: {}: {e})", cfg_path.display()),
    };
    let missing: Vec<&str> =
        model::required_files(&cfg).into_iter().filter(|f| !dir.join(f).is_file()).collect();
    if missing.is_empty() {
        format!("{name} ({}, {} px)", cfg.variant.name(), cfg.resolution)
    } else {
        format!("{name} (unusable: missing {})", missing.join(", "))
    }
}

/// Loads model `name` from the models folder on `device`; an unknown name lists the known ones.
pub fn load(models_dir: &Path, name: &str, device: &candle_core::Device) -> Result<StableDiffusion, String> {
    let dir = folder(models_dir, name);
    if !dir.join(model::CONFIG).is_file() {
        let known: Vec<String> = found(models_dir)
            .iter()
            .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
            .collect();
        return Err(format!(
            "no Stable Diffusion model {name:?}: {} has no {} (found: {})",
            dir.display(),
            model::CONFIG,
            if known.is_empty() { "none".into() } else { known.join(", ") }
        ));
    }
    StableDiffusion::load(&dir, device)
}

#[cfg(test)]
mod tests;
