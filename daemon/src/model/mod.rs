//! Models, candle style: a `Config`, a `new(vb, &cfg)`, a `forward`; one file each.

pub mod stroke_transformer;
