//! The brush model built into the binary, trained by the project's own
//! `apprentice train-brush` (README: "Magic brush"), so the brush works offline
//! on a fresh install.

use std::sync::{Arc, OnceLock};

use super::brush::Brush;

const WEIGHTS: &[u8] = include_bytes!("../../models/brush.safetensors");
const CONFIG: &str = include_str!("../../models/brush.json");

/// The name the built-in model goes by (in info and status messages).
pub const NAME: &str = "brush (built in)";

/// The built-in brush, loaded once.
pub fn brush() -> Arc<Brush> {
    static BRUSH: OnceLock<Arc<Brush>> = OnceLock::new();
    BRUSH
        .get_or_init(|| {
            Arc::new(Brush::from_bytes(NAME, WEIGHTS, CONFIG).expect("the built-in brush model loads"))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_model_loads_at_the_shipped_size() {
        let b = super::brush();
        assert_eq!(b.model().config(), &super::super::unet::Config::small());
    }
}
