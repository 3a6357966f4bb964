//! The few-step sampler: flow matching with clean-picture prediction.
//!
//! A noisy picture at level `t` in [0, 1] is `x_t = (1 − t)·x0 + t·ε`. From the
//! model's guess of `x0` at `t`, the noise it implies is `ε̂ = (x_t − (1 − t)·x̂0) / t`,
//! and the picture at the next, lower level is `(1 − t′)·x̂0 + t′·ε̂` (deterministic,
//! DDIM-like). `strength` is the starting level (SDEdit): 1 starts from pure
//! noise, 0.5 from the canvas's own pixels half drowned. The noise comes from
//! the seed through the project's own generator, so a seed gives the same
//! picture on every machine; a scale below 1 draws it tighter (a
//! temperature: 0 starts every dab from the same point, and the seed no longer
//! matters).

use candle_core::{Device, Result, Tensor};

use super::unet::InpaintUnet;
use crate::painters::rng::Rng;

/// What the model is told besides the noisy picture (all in the model's units).
pub struct Conditioning {
    /// `(1, 3, s, s)`: the known picture, hole filled harmonically, in [−1, 1].
    pub known: Tensor,
    /// `(1, 1, s, s)`: the mask in [0, 1].
    pub mask: Tensor,
    /// `(1, STYLE_FEATURES)`.
    pub style: Tensor,
}

/// The start noise: drawn from `seed`, scaled by `scale`.
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    pub seed: u64,
    pub scale: f32,
}

/// Steps actually taken for `steps` at full strength: fewer for a lighter touch.
pub fn steps_for(steps: usize, strength: f32) -> usize {
    if strength <= 0.0 { 0 } else { ((steps as f32 * strength).ceil() as usize).clamp(1, steps.max(1)) }
}

/// Standard normal noise of `shape` from `seed`.
pub fn noise(shape: (usize, usize, usize, usize), seed: u64, device: &Device) -> Result<Tensor> {
    let mut rng = Rng::new(seed);
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    Tensor::from_vec((0..n).map(|_| rng.normal()).collect::<Vec<f32>>(), shape, device)
}

/// The model's clean picture, starting from `start` (the canvas's pixels, `(1, 3, s, s)`)
/// at level `strength`, from `start_noise`. `progress(i, n)` is told before each of the `n` steps and
/// stops the sampler by returning false (then the answer is `None`).
pub fn sample(
    model: &InpaintUnet,
    cond: &Conditioning,
    start: &Tensor,
    strength: f32,
    steps: usize,
    start_noise: Noise,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Option<Tensor>> {
    let n = steps_for(steps, strength);
    if n == 0 {
        return Ok(Some(start.clone()));
    }
    let s = strength.clamp(0.0, 1.0);
    let eps = (noise(start.dims4()?, start_noise.seed, start.device())? * f64::from(start_noise.scale))?;
    let mut x = ((start * f64::from(1.0 - s))? + (&eps * f64::from(s))?)?;
    let mut x0 = start.clone();
    for i in 0..n {
        if !progress(i, n) {
            return Ok(None);
        }
        let t = s * (1.0 - i as f32 / n as f32);
        let t_next = s * (1.0 - (i + 1) as f32 / n as f32);
        let level = Tensor::new(&[t], x.device())?;
        x0 = model.forward(&x, &cond.known, &cond.mask, &level, &cond.style)?;
        if t_next > 0.0 {
            let eps_hat = ((&x - (&x0 * f64::from(1.0 - t))?)? / f64::from(t))?;
            x = ((&x0 * f64::from(1.0 - t_next))? + (eps_hat * f64::from(t_next))?)?;
        }
    }
    Ok(Some(x0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lighter_strength_takes_fewer_steps() {
        assert_eq!(steps_for(8, 1.0), 8);
        assert_eq!(steps_for(8, 0.5), 4);
        assert_eq!(steps_for(8, 0.01), 1);
        assert_eq!(steps_for(8, 0.0), 0);
    }

    #[test]
    fn noise_follows_the_seed() {
        let draw = |seed| {
            noise((1, 3, 4, 4), seed, &Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }
}
