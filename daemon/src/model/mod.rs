//! Models, candle style: a `Config`, a `new(vb, &cfg)`, a `forward`; one file each.

pub mod bias;
pub mod checkpoint;
pub mod inputs;
pub mod layer_norm;
pub mod registry;
pub mod stroke_transformer;
