//! The diffusion magic brush: a path and radius (or a mask picture) make a soft
//! mask; a small inpainting model, trained by the project and built into the
//! binary, fills it in context; the result is a raster patch.
//!
//! - [`mask`]: the soft mask of a dab; [`window`]: the square of canvas the model sees;
//! - [`picture`]: plain RGB pictures; [`style`]: style pictures as colour statistics;
//! - [`baselines`]: classical inpainting (mean colour, harmonic); [`metrics`]: PSNR, SSIM in a mask;
//! - [`unet`]: the model; [`sampler`]: flow-matching sampling; [`brush`]: one dab, end to end;
//! - [`examples`]: training pictures and masks; [`train`]: the training loop; [`eval`]: brush vs baselines;
//! - [`sd`]: Stable Diffusion from local files, for dabs with a prompt;
//! - [`imagine`]: the whole canvas repainted, as a painter's imagination of where it is going.

pub mod baselines;
pub mod brush;
pub mod builtin;
pub mod eval;
pub mod examples;
pub mod imagine;
pub mod mask;
pub mod metrics;
pub mod op;
pub mod picture;
pub mod sampler;
pub mod sd;
pub mod style;
#[cfg(test)]
pub mod testing;
pub mod texture;
pub mod train;
pub mod unet;
pub mod window;

pub use brush::{Brush, Dab};
pub use mask::SoftMask;
