//! Batch-1 twins of the model's small layers in plain numbers, read straight from
//! the CPU tensors' storage.
//!
//! Sampling decodes an op field by field, one row at a time: twenty heads, their
//! conditioning, the glimpse and the place prior. As tensor calls that was about a
//! hundred and fifty small calls per op, and candle's cost per call (allocation,
//! dispatch, threads) was more than their arithmetic. Each twin is tested equal to
//! the tensor layer it stands for (in `stroke_transformer`'s and `place_prior`'s tests).

use candle_core::{Result, Storage, Tensor};

use super::cpu::values;

/// Runs `f` on the f32 values of a CPU tensor (no copy).
pub fn read<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => Ok(f(values(s, layout, "a weight")?)),
        _ => candle_core::bail!("plain numbers are read from CPU tensors only"),
    }
}

/// `a · b`, in eight lanes so that the compiler vectorizes it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `W x (+ b)` for `W` `[out, in]`, row-major as candle-nn stores a linear layer's weight.
pub fn linear(x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut y: Vec<f32> = w.chunks_exact(x.len()).map(|row| dot(row, x)).collect();
    if let Some(b) = b {
        y.iter_mut().zip(b).for_each(|(y, b)| *y += b);
    }
    y
}

/// `y += a · x`.
#[inline]
pub fn add_scaled(y: &mut [f32], a: f32, x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

/// `[rows, cols]` → `[cols, rows]`.
pub fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// Layer norm of one row, as [`crate::model::layer_norm::layer_norm`].
pub fn layer_norm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32) -> Vec<f32> {
    let (mean, inv) = crate::model::layer_norm::moments(x, eps);
    x.iter().zip(weight).zip(bias).map(|((x, w), b)| (x - mean) * inv * w + b).collect()
}

/// `ln Σ exp(x)`, shifted by the largest value so that it does not overflow.
pub fn log_sum_exp(x: &[f32]) -> f32 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + x.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

/// Log-softmax of one row.
pub fn log_softmax(x: &mut [f32]) {
    let total = log_sum_exp(x);
    x.iter_mut().for_each(|v| *v -= total);
}
