//! Which stroke transformer is in use: the default compiled into the binary,
//! or the newest model file in the models folder, picked up without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use super::checkpoint;
use super::stroke_transformer::StrokeTransformer;

/// The default model, trained by the project's own pipeline (README: "The default model").
const DEFAULT_WEIGHTS: &[u8] = include_bytes!("../../models/default.safetensors");
const DEFAULT_CONFIG: &str = include_str!("../../models/default.json");

/// A model and the name it goes by.
#[derive(Clone)]
pub struct Active {
    pub name: String,
    pub model: Arc<StrokeTransformer>,
}

fn slot() -> &'static RwLock<Option<Active>> {
    static SLOT: OnceLock<RwLock<Option<Active>>> = OnceLock::new();
    SLOT.get_or_init(|| RwLock::new(None))
}

/// The embedded default model's weights and config, as files hold them (to fine-tune from).
pub fn default_files() -> (&'static [u8], &'static str) {
    (DEFAULT_WEIGHTS, DEFAULT_CONFIG)
}

/// The embedded default model (loaded once).
pub fn default_model() -> Arc<StrokeTransformer> {
    static DEFAULT: OnceLock<Arc<StrokeTransformer>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            Arc::new(
                checkpoint::load_bytes(DEFAULT_WEIGHTS, DEFAULT_CONFIG, &crate::device::current())
                    .expect("the embedded default model loads"),
            )
        })
        .clone()
}

/// The model painters use now.
pub fn active() -> Active {
    if let Some(a) = slot().read().unwrap_or_else(|e| e.into_inner()).clone() {
        return a;
    }
    Active { name: "default (built in)".into(), model: default_model() }
}

/// The newest `*.safetensors` (with its `.json`) in `dir`, if any.
pub fn newest_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors") && checkpoint::config_path(p).exists())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Makes the newest model in `dir` the active one (or the default when there is none).
/// The file is read into memory, so it may be replaced on disk at any time.
pub fn reload_from(dir: &Path) -> Result<String, String> {
    let Some(path) = newest_in(dir) else {
        *slot().write().unwrap_or_else(|e| e.into_inner()) = None;
        return Ok("default (built in)".into());
    };
    use_file(&path)
}

/// Makes the model in `path` (with its `.json`) the active one; its name is the file stem.
pub fn use_file(path: &Path) -> Result<String, String> {
    let weights = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cfg_path = checkpoint::config_path(path);
    let config =
        std::fs::read_to_string(&cfg_path).map_err(|e| format!("cannot read {}: {e}", cfg_path.display()))?;
    let model = checkpoint::load_bytes(&weights, &config, &crate::device::current())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    *slot().write().unwrap_or_else(|e| e.into_inner()) =
        Some(Active { name: name.clone(), model: Arc::new(model) });
    Ok(name)
}

/// Watches `dir` and reloads on every change; keep the watcher alive.
pub fn watch(dir: &Path) -> Result<notify::RecommendedWatcher, String> {
    use notify::Watcher;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let folder = dir.to_owned();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            match reload_from(&folder) {
                Ok(name) => tracing::info!("model in use: {name}"),
                // A half-copied file fails to load; the next event (when it is complete) retries.
                Err(e) => tracing::warn!("model not loaded: {e}"),
            }
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_model_with_a_config_is_chosen() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(newest_in(dir.path()), None);
        std::fs::write(dir.path().join("lonely.safetensors"), b"").unwrap();
        assert_eq!(newest_in(dir.path()), None, "weights without their config are not a model");
        std::fs::write(dir.path().join("a.safetensors"), b"").unwrap();
        std::fs::write(dir.path().join("a.json"), b"{}").unwrap();
        assert_eq!(newest_in(dir.path()), Some(dir.path().join("a.safetensors")));
        let err = reload_from(dir.path()).unwrap_err();
        assert!(
            err.contains("a.safetensors: model config: missing field"),
            "a bad model is refused, named: {err}"
        );
    }
}
