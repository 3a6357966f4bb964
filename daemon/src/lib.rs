//! Apprentice: a painting apprentice that learns painting as a process.
//!
//! Layers, each depending only on those above it in this list:
//! - [`ops`]: the operation contract (generated from `proto/`), its validation,
//!   defaults, undo/redo resolution and history files;
//! - [`engine`]: the dab-based raster paint engine that performs ops;
//! - [`painters`]: generators of the next ops (behind one interface);
//! - [`store`]: durable sessions (SQLite);
//! - [`cli`]: the `apprentice` command line.

pub mod cli;
pub mod engine;
pub mod ops;
pub mod painters;
pub mod store;
