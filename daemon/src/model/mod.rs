//! Models, candle style: a `Config`, a `new(vb, &cfg)`, a `forward`; one file each.

pub mod checkpoint;
pub mod inputs;
pub mod registry;
pub mod stroke_transformer;
