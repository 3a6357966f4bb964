//! Training the built-in brush, nanoGPT style: random examples from photographs
//! and scenes, flow-matching noise levels, AdamW with warm-up and cosine decay,
//! a fixed held-out set, checkpoints and resume.
//!
//! The loss is the mean squared error of the predicted clean picture inside the
//! mask (in the model's [−1, 1] units): x0-prediction aims at the conditional
//! mean, which is what PSNR rewards.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::examples::{self, Example, Sources};
use super::sampler;
use super::style::STYLE_FEATURES;
use super::unet::{Config, InpaintUnet};
use super::window;
use crate::painters::rng::Rng;
use crate::training::ema::Ema;
use crate::training::{RunError, adamw, starting_point};

#[derive(Clone, Debug)]
pub struct BrushTrainOptions {
    /// Folders of photographs (PNG); scenes only without any.
    pub photos: Vec<PathBuf>,
    pub out: PathBuf,
    pub config: Config,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub eval_every: usize,
    pub resume: bool,
    /// Start from these weights (of `config`) instead of random ones: fine-tuning.
    pub init: Option<PathBuf>,
    /// Share of examples at pure noise (t = 1), where a full-strength dab starts and the
    /// model must guess the hole from its surroundings alone; the rest lean towards 1.
    pub full_noise_share: f32,
    /// Decay of the weights' moving average, which is evaluated and saved (0: none, the
    /// trained weights themselves). A resumed run continues from the saved average.
    pub ema: f64,
}

/// Where a run stands, saved beside the weights (`NAME.train.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BrushTrainState {
    pub step: usize,
    pub train_loss: f32,
    /// Masked MSE of the model's clean-picture guess on the held-out examples (levels fixed).
    pub heldout_loss: f32,
    /// The same for the harmonic fill the model starts from.
    pub heldout_harmonic_loss: f32,
    pub examples_per_second: f32,
    pub seconds: f32,
}

/// Held-out examples, always the same ones.
const HELD_OUT: usize = 64;
/// Share of examples that carry a style.
const STYLE_RATE: f32 = 0.5;

/// A batch: truth, known, mask, levels, style, noise.
struct Batch {
    truth: Tensor,
    known: Tensor,
    mask: Tensor,
    t: Tensor,
    style: Tensor,
    noise: Tensor,
}

fn batch(examples: &[Example], levels: &[f32], seed: u64, side: usize) -> candle_core::Result<Batch> {
    let dev = crate::device::current();
    let cat = |f: &dyn Fn(&Example) -> candle_core::Result<Tensor>| -> candle_core::Result<Tensor> {
        Tensor::cat(&examples.iter().map(f).collect::<candle_core::Result<Vec<_>>>()?, 0)
    };
    let b = examples.len();
    Ok(Batch {
        truth: cat(&|e| window::to_tensor(&e.truth, &dev))?,
        known: cat(&|e| window::to_tensor(&e.known, &dev))?,
        mask: cat(&|e| window::mask_tensor(&e.mask, side, &dev))?,
        t: Tensor::from_vec(levels.to_vec(), b, &dev)?,
        style: Tensor::from_vec(
            examples.iter().flat_map(|e| e.style).collect::<Vec<f32>>(),
            (b, STYLE_FEATURES),
            &dev,
        )?,
        noise: sampler::noise((b, 3, side, side), seed, &dev)?,
    })
}

/// Mean squared error inside the mask (weighted by it), per channel value.
fn masked_mse(pred: &Tensor, truth: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let se = (pred - truth)?.sqr()?.broadcast_mul(mask)?.sum_all()?;
    let weight = (mask.sum_all()? * 3.0)?;
    se / (weight + 1e-6)?
}

/// The model's loss on a batch: noise the truth to its level, predict it back.
fn loss(model: &InpaintUnet, b: &Batch) -> candle_core::Result<Tensor> {
    let t = b.t.reshape((b.t.dim(0)?, 1, 1, 1))?;
    let x_t = (b.truth.broadcast_mul(&(1.0 - &t)?)? + b.noise.broadcast_mul(&t)?)?;
    let pred = model.forward(&x_t, &b.known, &b.mask, &b.t, &b.style)?;
    masked_mse(&pred, &b.truth, &b.mask)
}

/// Noise levels leaning towards 1, where the sampler starts at full strength;
/// `full_noise_share` of them exactly 1.
fn level(rng: &mut Rng, full_noise_share: f32) -> f32 {
    // No draw when the share is 0, so runs without it keep their random stream.
    if full_noise_share > 0.0 && rng.unit() < full_noise_share {
        return 1.0;
    }
    rng.unit().sqrt().clamp(0.02, 1.0)
}

fn save(varmap: &VarMap, cfg: &Config, state: &BrushTrainState, out: &Path) -> Result<(), String> {
    let beside = [
        (out.with_extension("json"), serde_json::to_string_pretty(cfg).expect("serializes")),
        (out.with_extension("train.json"), serde_json::to_string_pretty(state).expect("serializes")),
    ];
    crate::files::write_model(out, |tmp| varmap.save(tmp).map_err(std::io::Error::other), &beside)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// Trains, checkpointing every `eval_every` steps; `report(state, evaluated)` after each step.
pub fn train(
    o: &BrushTrainOptions,
    mut report: impl FnMut(&BrushTrainState, bool),
) -> Result<BrushTrainState, RunError> {
    use RunError::{Failed, Input};
    crate::tuning::allocator();
    o.config.check().map_err(Input)?;
    let side = o.config.side;
    let train_sources = Sources::load(&o.photos, false).map_err(Input)?;
    let held_sources = Sources::load(&o.photos, true).map_err(Input)?;
    let mut held_rng = Rng::new(0x0004_e1d0);
    let held: Vec<Example> =
        (0..HELD_OUT).map(|_| examples::example(&held_sources, side, STYLE_RATE, &mut held_rng)).collect();
    let held_levels: Vec<f32> = (0..HELD_OUT).map(|_| level(&mut held_rng, 0.0)).collect();

    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &crate::device::current());
    let model = InpaintUnet::new(vb, &o.config)?;
    let mut state: BrushTrainState =
        starting_point(&mut varmap, &o.out, o.resume, o.init.as_deref()).map_err(Input)?;
    let mut opt = adamw(&varmap, o.lr)?;
    let mut ema = Ema::new(&varmap, o.ema)?;
    let heldout = |model: &InpaintUnet| -> candle_core::Result<(f32, f32)> {
        let (mut total, mut harmonic) = (0.0, 0.0);
        for (i, chunk) in held.chunks(16).enumerate() {
            let b = batch(chunk, &held_levels[i * 16..i * 16 + chunk.len()], 77 + i as u64, side)?;
            total += loss(model, &b)?.to_scalar::<f32>()?;
            harmonic += masked_mse(&b.known, &b.truth, &b.mask)?.to_scalar::<f32>()?;
        }
        let n = held.len().div_ceil(16) as f32;
        Ok((total / n, harmonic / n))
    };
    let mut rng = Rng::new(o.seed ^ (state.step as u64).wrapping_mul(0x9e37));
    let start = Instant::now();
    let first_step = state.step;
    let mut recent = Vec::new();
    while state.step < o.steps {
        let progress = state.step as f64 / o.steps.max(1) as f64;
        let warm = ((state.step + 1) as f64 / 100.0).min(1.0);
        let cosine = 0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        opt.set_learning_rate(o.lr * warm * cosine);
        let chosen: Vec<Example> =
            (0..o.batch).map(|_| examples::example(&train_sources, side, STYLE_RATE, &mut rng)).collect();
        let levels: Vec<f32> = (0..o.batch).map(|_| level(&mut rng, o.full_noise_share)).collect();
        let b = batch(&chosen, &levels, rng.next_u64(), side)?;
        let l = loss(&model, &b)?;
        opt.backward_step(&l)?;
        ema.update()?;
        recent.push(l.to_scalar::<f32>()?);
        if recent.len() > 50 {
            recent.remove(0);
        }
        state.step += 1;
        state.train_loss = recent.iter().sum::<f32>() / recent.len() as f32;
        let secs = start.elapsed().as_secs_f32();
        state.examples_per_second = ((state.step - first_step) * o.batch) as f32 / secs.max(1e-6);
        let evaluate = state.step % o.eval_every == 0 || state.step == o.steps;
        if evaluate {
            (state.heldout_loss, state.heldout_harmonic_loss) = ema.with_average(|| heldout(&model))??;
            let progress = BrushTrainState { seconds: state.seconds + secs, ..state.clone() };
            ema.with_average(|| save(&varmap, &o.config, &progress, &o.out))?.map_err(Failed)?;
        }
        report(&state, evaluate);
    }
    state.seconds += start.elapsed().as_secs_f32();
    ema.with_average(|| save(&varmap, &o.config, &state, &o.out))?.map_err(Failed)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_checkpoints_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b.safetensors");
        let o = BrushTrainOptions {
            photos: Vec::new(),
            out: out.clone(),
            config: Config::tiny(),
            steps: 30,
            batch: 4,
            lr: 3e-3,
            seed: 1,
            eval_every: 10,
            resume: false,
            init: None,
            full_noise_share: 0.5,
            ema: 0.9,
        };
        let mut evaluated = Vec::new();
        let state = train(&o, |s, e| {
            if e {
                evaluated.push(s.step);
            }
        })
        .unwrap();
        assert_eq!(state.step, 30);
        assert_eq!(evaluated, [10, 20, 30]);
        assert!(state.heldout_loss.is_finite() && state.heldout_harmonic_loss > 0.0);
        assert!(out.exists() && out.with_extension("json").exists());
        let more = train(&BrushTrainOptions { steps: 35, resume: true, ..o }, |_, _| {}).unwrap();
        assert_eq!(more.step, 35, "resumed at 30");
        super::super::Brush::from_file(&out).expect("the checkpoint loads as a brush");
    }
}
