//! Which stroke transformer is in use: the default compiled into the binary,
//! or the newest model file in the models folder, picked up without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use super::checkpoint;
use super::stroke_transformer::StrokeTransformer;

/// The default model, trained by the project's own pipeline (README: "The default model").
const DEFAULT_WEIGHTS: &[u8] = include_bytes!("../../models/default.safetensors");
const DEFAULT_CONFIG: &str = include_str!("../../models/default.json");

/// The name the built-in model goes by (in Info.models and ContinueRequest.model).
pub const BUILT_IN: &str = "default (built in)";

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
    Active { name: BUILT_IN.into(), model: default_model() }
}

/// The newest `*.safetensors` (with its `.json`) in `dir`, if any.
pub fn newest_in(dir: &Path) -> Option<PathBuf> {
    models_in(dir).into_iter().next()
}

/// Makes the newest model in `dir` the active one (or the default when there is none).
/// The file is read into memory, so it may be replaced on disk at any time.
pub fn reload_from(dir: &Path) -> Result<String, String> {
    let Some(path) = newest_in(dir) else {
        *slot().write().unwrap_or_else(|e| e.into_inner()) = None;
        return Ok(BUILT_IN.into());
    };
    use_file(&path)
}

/// The model in `path` (with its `.json`), read into memory.
fn load(path: &Path) -> Result<StrokeTransformer, String> {
    let weights = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cfg_path = checkpoint::config_path(path);
    let config =
        std::fs::read_to_string(&cfg_path).map_err(|e| format!("cannot read {}: {e}", cfg_path.display()))?;
    checkpoint::load_bytes(&weights, &config, &crate::device::current())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Makes the model in `path` (with its `.json`) the active one; its name is the file stem.
pub fn use_file(path: &Path) -> Result<String, String> {
    let model = load(path)?;
    let name = stem(path);
    *slot().write().unwrap_or_else(|e| e.into_inner()) =
        Some(Active { name: name.clone(), model: Arc::new(model) });
    Ok(name)
}

/// Every model in `dir` (with its config), newest first.
fn models_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(Option<std::time::SystemTime>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors") && checkpoint::config_path(p).exists())
        .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).ok(), p))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, p)| p).collect()
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap_or_default().to_string_lossy().into_owned()
}

/// The models a Continue may name: the one in use first, then the built-in one and the
/// others in `dir`, newest first.
pub fn names(dir: Option<&Path>) -> Vec<String> {
    let mut names = vec![active().name];
    let others =
        std::iter::once(BUILT_IN.to_owned()).chain(dir.into_iter().flat_map(models_in).map(|p| stem(&p)));
    for name in others {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The model called `name` (empty: the one in use), one of [`names`]; a model file is read
/// once and kept while it is unchanged.
pub fn named(dir: Option<&Path>, name: &str) -> Result<Arc<StrokeTransformer>, String> {
    let active = active();
    if name.is_empty() || name == active.name {
        return Ok(active.model);
    }
    if name == BUILT_IN {
        return Ok(default_model());
    }
    let Some(path) = dir.into_iter().flat_map(models_in).find(|p| stem(p) == name) else {
        return Err(format!("unknown model {name:?} (available: {})", names(dir).join(", ")));
    };
    type Loaded = std::collections::HashMap<PathBuf, (Option<std::time::SystemTime>, Arc<StrokeTransformer>)>;
    static LOADED: OnceLock<std::sync::Mutex<Loaded>> = OnceLock::new();
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some((when, model)) = loaded.get(&path)
        && *when == modified
    {
        return Ok(model.clone());
    }
    let model = Arc::new(load(&path)?);
    loaded.insert(path, (modified, model.clone()));
    Ok(model)
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
    fn models_are_named_by_their_file_and_the_built_in_one_is_always_there() {
        let dir = tempfile::tempdir().unwrap();
        let (weights, config) = default_files();
        std::fs::write(dir.path().join("mine.safetensors"), weights).unwrap();
        std::fs::write(dir.path().join("mine.json"), config).unwrap();
        let names = names(Some(dir.path()));
        assert!(names.contains(&BUILT_IN.to_owned()) && names.contains(&"mine".to_owned()), "{names:?}");
        assert_eq!(names[0], active().name, "the one in use first");
        assert!(named(Some(dir.path()), "mine").is_ok());
        assert!(Arc::ptr_eq(&named(Some(dir.path()), BUILT_IN).unwrap(), &default_model()));
        let err = named(Some(dir.path()), "../mine").err().unwrap();
        assert!(err.contains("unknown model \"../mine\" (available: ") && err.contains("mine"), "{err}");
    }

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
