//! What the CPU kernels of [`crate::model`] share.

use candle_core::{CpuStorage, Layout, Result};

/// The f32 values of a contiguous CPU tensor; `what` names it in the error otherwise.
pub fn values<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<f32>()?[a..b]),
        None => candle_core::bail!("{what} is not contiguous"),
    }
}
