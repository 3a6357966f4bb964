//! Apprentice: a painting apprentice that learns painting as a process.
//!
//! Layers, each depending only on those above it in this list:
//! - [`ops`]: the operation contract (generated from `proto/`), its validation,
//!   defaults, undo/redo resolution and history files;
//! - [`engine`]: the dab-based raster paint engine that performs ops;
//! - [`tokenizer`]: ops as one token each, for the stroke transformer;
//! - [`model`]: the stroke transformer (candle);
//! - [`diffusion`]: the magic brush (soft masks, the built-in inpainting model, its training);
//! - [`painters`]: generators of the next ops (behind one interface);
//! - [`store`]: durable sessions (SQLite), [`canvas_view`]: a session's canvas;
//! - [`server`]: the gRPC / gRPC-Web daemon; [`config`]: paths and settings; [`device`]: CPU or GPU;
//! - [`training`]: data and the training loop; [`eval`]: evaluation;
//! - [`files`]: atomic writes that never lose a user's file (used by every layer that writes);
//! - [`install`]: the editor plug-ins, embedded, put in the editors' folders;
//! - [`jobs`]: whole-file jobs, [`watch`]: the watch folder;
//! - [`cli`]: the `apprentice` command line.

pub mod canvas_cache;
pub mod canvas_view;
pub mod cli;
pub mod config;
pub mod device;
pub mod diffusion;
pub mod engine;
pub mod eval;
pub mod files;
pub mod install;
pub mod jobs;
pub mod model;
pub mod ops;
pub mod painters;
pub mod server;
pub mod store;
pub mod tokenizer;
pub mod training;
pub mod tuning;
pub mod watch;

/// What this build is and offers (the `GetInfo` answer and `apprentice info`): with
/// the Stable Diffusion folders in `models_dir`, and `sd`, the one prompts are painted with.
pub fn info(
    models_dir: Option<&std::path::Path>,
    sd: Option<&diffusion::sd::StableDiffusion>,
) -> ops::pb::Info {
    let dev = device::name(&device::current());
    let mut brush_models = vec![diffusion::builtin::NAME.to_owned()];
    if let Some(dir) = models_dir {
        brush_models.extend(diffusion::sd::found(dir).iter().map(|d| diffusion::sd::summary(d)));
    }
    let mut devices = vec![
        format!("stroke transformer: {dev}"),
        format!("magic brush, {}: {dev}", diffusion::builtin::NAME),
    ];
    if let Some(sd) = sd {
        devices.push(format!("Stable Diffusion {} (prompts): {}", sd.name, device::name(&sd.device)));
    }
    ops::pb::Info {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        device: dev,
        models: model::registry::names(models_dir),
        painters: painters::all().iter().map(|p| p.name().to_owned()).collect(),
        // The styles folder belongs to the server (GetInfo fills this in).
        styles: Vec::new(),
        brush_models,
        devices,
    }
}
