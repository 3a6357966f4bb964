//! Models, candle style: a `Config`, a `new(vb, &cfg)`, a `forward`; one file each. Beside
//! them, the CPU kernels with their own backward passes that they run on (`bias`, `gelu`,
//! `layer_norm`), and `plain`: batch-1 twins of the small layers that sampling runs op by op.

pub mod bias;
pub mod checkpoint;
mod cpu;
pub mod finer;
pub mod gelu;
pub mod inputs;
pub mod layer_norm;
pub mod place_prior;
pub mod plain;
pub mod projected_state;
pub mod registry;
pub mod stroke_transformer;
