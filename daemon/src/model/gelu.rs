//! GELU with the exact (erf) form, as one CPU kernel with a backward pass of its own.
//!
//! candle's `gelu_erf` calls the `libm` crate's `erf`, about 10 ns a value here: in the
//! stroke transformer's prefill (the first thing Continue does) that was a quarter of the
//! time, and 8 % of a training step. Here erf is the Abramowitz–Stegun rational form
//! 7.1.26 (absolute error under 1.5·10⁻⁷, below f32's resolution of GELU's values) and
//! `exp` in plain arithmetic that vectorizes (sampling on a 32² view takes 65,536 GELUs an op). On other devices (or other dtypes) candle's `gelu_erf` runs.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};

use super::cpu::values;

/// `x · Φ(x)`, Φ the standard normal's distribution function.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.contiguous()?.apply_op1(Gelu)
    } else {
        x.gelu_erf()
    }
}

/// GELU of one value, as the kernel computes it.
#[inline]
pub(crate) fn value(x: f32) -> f32 {
    x * phi(x).0
}

/// GELU of one value and its slope there, `(x Φ(x), Φ(x) + x φ(x))`, as the kernels compute them.
#[inline]
pub(crate) fn value_and_slope(x: f32) -> (f32, f32) {
    let (cdf, density) = phi(x);
    (x * cdf, cdf + x * density)
}

/// e^x in plain arithmetic, so that loops over it vectorize (the platform's `expf` is a call
/// per value): e^x = 2ⁿ · e^r with n the nearest integer to x / ln 2, and e^r, |r| ≤ ln 2 / 2,
/// by its series to r⁷ (relative error under 10⁻⁷). Below −87 it gives e^−87, not less.
#[inline]
fn exp(x: f32) -> f32 {
    // Adding 1.5 · 2²³ rounds to an integer, which then sits in the low bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let series = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let two_n = f32::from_bits(((shifted.to_bits() as i32 - ROUND.to_bits() as i32 + 127) as u32) << 23);
    series * two_n
}

/// erf(x), Abramowitz & Stegun 7.1.26.
#[inline]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly =
        t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// Φ(x) and the normal density φ(x).
#[inline]
fn phi(x: f32) -> (f32, f32) {
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    let density = exp(-0.5 * x * x) * 0.398_942_3;
    (cdf, density)
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = values(s, l, "gelu: x")?.iter().map(|&x| value(x)).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &Backward)?))
    }
}

/// `grad · d/dx (x Φ(x)) = grad · (Φ(x) + x φ(x))`.
struct Backward;

impl CustomOp2 for Backward {
    fn name(&self) -> &'static str {
        "gelu-backward"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, g) = (values(xs, xl, "gelu: x")?, values(gs, gl, "gelu: gradient")?);
        let out = x.iter().zip(g).map(|(&x, &g)| g * value_and_slope(x).1).collect();
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn exp_in_plain_arithmetic_is_the_platforms_to_a_part_in_ten_million() {
        for i in 0..=35_000 {
            let x = -87.0 + i as f32 * 0.005;
            let (ours, platform) = (exp(x), x.exp());
            assert!(((ours - platform) / platform).abs() < 2e-7, "e^{x}: {ours} against {platform}");
        }
        assert!(exp(-1e4) > 0.0 && exp(-1e4) < 1e-37, "far left: the smallest it gives");
    }

    #[test]
    fn the_kernel_gives_candles_gelu_erf_values_and_gradients() {
        let dev = Device::Cpu;
        // Spread wide, and every region of the curve: far left, the bend, far right.
        let x = Var::from_tensor(&(Tensor::randn(0f32, 3.0, (7, 301), &dev).unwrap())).unwrap();
        let weights = Tensor::randn(0f32, 1.0, (7, 301), &dev).unwrap();
        let run = |y: Tensor| {
            let grads = (&y * &weights).unwrap().sum_all().unwrap().backward().unwrap();
            [y, grads.get(x.as_tensor()).expect("a gradient").clone()]
        };
        let fast = run(gelu(x.as_tensor()).unwrap());
        let exact = run(x.as_tensor().gelu_erf().unwrap());
        for (what, (f, e)) in ["value", "gradient"].iter().zip(fast.iter().zip(&exact)) {
            let diff = (f - e).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
            let diff = diff.to_scalar::<f32>().unwrap();
            assert!(diff < 2e-6, "{what} differs by {diff}");
        }
    }
}
