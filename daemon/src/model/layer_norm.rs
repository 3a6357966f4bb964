//! Layer normalization over the last dimension, as one CPU kernel with a backward pass of
//! its own.
//!
//! Written from basic tensor ops, a layer norm is nine ops forward and more backward, and
//! the gradients of its gain and bias are sums over every row, which candle 0.11 computes
//! element by element with a division per element (its reduction over leading dimensions):
//! in a training step of the stroke transformer, whose 20 field heads each normalise, that
//! reduction alone was a fifth of the time. Here the forward is one pass over each row and
//! the backward one more. On other devices (or other dtypes) the basic-op formula runs; it
//! trains too (candle-nn's own fused layer norm has no backward pass at all: see DESIGN.md).

use candle_core::{CpuStorage, CustomOp3, D, DType, Layout, Result, Shape, Tensor};

use super::cpu::values;

/// `(x − mean) / √(var + eps) · weight + bias` over the last dimension of `x`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.contiguous()?.apply_op3(weight, bias, Fused { eps })
    } else {
        by_basic_ops(x, weight, bias, eps)
    }
}

/// The same from basic ops: any device, any float dtype.
pub fn by_basic_ops(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centred.broadcast_div(&(var + f64::from(eps))?.sqrt()?)?;
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

struct Fused {
    eps: f32,
}

/// Mean and 1 / standard deviation of one row.
pub(crate) fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let d = row.len() as f32;
    let mean = row.iter().sum::<f32>() / d;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp3 for Fused {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (
            values(xs, xl, "layer norm: x")?,
            values(ws, wl, "layer norm: weight")?,
            values(bs, bl, "layer norm: bias")?,
        );
        let d = w.len();
        let mut out = vec![0.0f32; x.len()];
        for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            let (mean, rstd) = moments(row, self.eps);
            for i in 0..d {
                o[i] = (row[i] - mean) * rstd * w[i] + b[i];
            }
        }
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = weight.elem_count();
        let n = x.elem_count();
        let packed = x.apply_op3_no_bwd(weight, &grad.contiguous()?, &Backward { eps: self.eps })?;
        let dx = packed.narrow(0, 0, n)?.reshape(x.shape())?;
        let dw = packed.narrow(0, n, d)?.reshape(weight.shape())?;
        let db = packed.narrow(0, n + d, d)?.reshape(weight.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// The gradients of [`Fused`]: `dx` (as `x`), then `dweight` and `dbias`, packed in one vector.
struct Backward {
    eps: f32,
}

impl CustomOp3 for Backward {
    fn name(&self) -> &'static str {
        "layer-norm-backward"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, g) = (
            values(xs, xl, "layer norm: x")?,
            values(ws, wl, "layer norm: weight")?,
            values(gs, gl, "layer norm: gradient")?,
        );
        let d = w.len();
        let mut out = vec![0.0f32; x.len() + 2 * d];
        let (dx, sums) = out.split_at_mut(x.len());
        let (dw, db) = sums.split_at_mut(d);
        let mut xhat = vec![0.0f32; d];
        for ((row, gr), dxr) in x.chunks_exact(d).zip(g.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
            let (mean, rstd) = moments(row, self.eps);
            // With x̂ = (x − mean)·rstd and ĝ = g·w: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)).
            let (mut g_mean, mut gx_mean) = (0.0f32, 0.0f32);
            for i in 0..d {
                xhat[i] = (row[i] - mean) * rstd;
                let gh = gr[i] * w[i];
                g_mean += gh;
                gx_mean += gh * xhat[i];
                dw[i] += gr[i] * xhat[i];
                db[i] += gr[i];
            }
            let (g_mean, gx_mean) = (g_mean / d as f32, gx_mean / d as f32);
            for i in 0..d {
                dxr[i] = rstd * (gr[i] * w[i] - g_mean - xhat[i] * gx_mean);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * d)))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    fn close(a: &Tensor, b: &Tensor, what: &str) {
        let diff = (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        let diff = diff.to_scalar::<f32>().unwrap();
        assert!(diff < 2e-5, "{what}: differs by {diff}");
    }

    #[test]
    fn the_fused_kernel_gives_the_basic_ops_values_and_gradients() {
        let dev = Device::Cpu;
        let x =
            Var::from_tensor(&(Tensor::randn(0f32, 2.0, (3, 5, 24), &dev).unwrap() + 0.7).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.3, 24, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 24, &dev).unwrap()).unwrap();
        // Weigh the outputs unevenly, so that every gradient is exercised.
        let weights = Tensor::randn(0f32, 1.0, (3, 5, 24), &dev).unwrap();
        let run = |f: &dyn Fn() -> Result<Tensor>| {
            let y = f().unwrap();
            let grads = (&y * &weights).unwrap().sum_all().unwrap().backward().unwrap();
            let g = |v: &Var| grads.get(v.as_tensor()).expect("a gradient").clone();
            (y, g(&x), g(&w), g(&b))
        };
        let fused = run(&|| layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5));
        let basic = run(&|| by_basic_ops(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5));
        close(&fused.0, &basic.0, "output");
        close(&fused.1, &basic.1, "d input");
        close(&fused.2, &basic.2, "d weight");
        close(&fused.3, &basic.3, "d bias");
        // A strided input is made contiguous first.
        let t = x.as_tensor().transpose(0, 1).unwrap();
        close(
            &layer_norm(&t, w.as_tensor(), b.as_tensor(), 1e-5).unwrap(),
            &by_basic_ops(&t, w.as_tensor(), b.as_tensor(), 1e-5).unwrap(),
            "strided",
        );
    }
}
