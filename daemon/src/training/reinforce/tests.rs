use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::*;
use crate::model::stroke_transformer::Config;
use crate::ops::Rgba;

/// A tiny random policy on its VarMap, and a frozen copy of it as the imitation model.
fn tiny(seed: u64) -> (VarMap, StrokeTransformer, StrokeTransformer) {
    let cfg = Config::tiny();
    let varmap = VarMap::new();
    let policy =
        StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &cfg).unwrap();
    // candle's CPU initialisers cannot be seeded: redraw every weight that is not
    // a constant (layer norms) from our own generator, GPT-2 style N(0, 0.02²),
    // so the tests repeat exactly.
    let mut rng = Rng::new(seed);
    let mut vars: Vec<_> =
        varmap.data().lock().unwrap().iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in vars {
        let values = var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        // Grown parameters start at zeros and are learned: they are drawn too.
        let grown = crate::model::stroke_transformer::GROWN.iter().any(|g| name.starts_with(g));
        if values.iter().all(|&v| v == values[0]) && !grown {
            continue;
        }
        let redrawn: Vec<f32> = values.iter().map(|_| 0.02 * rng.normal()).collect();
        var.set(&Tensor::from_vec(redrawn, var.shape(), &Device::Cpu).unwrap()).unwrap();
    }
    let frozen: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().copy().unwrap().detach()))
        .collect();
    let imitation =
        StrokeTransformer::new(VarBuilder::from_tensors(frozen, DType::F32, &Device::Cpu), &cfg).unwrap();
    (varmap, policy, imitation)
}

fn start(reference: Canvas) -> Start {
    let (w, h) = (reference.width() as u32, reference.height() as u32);
    Start {
        header: pb::Header { width: w, height: h, ..Default::default() },
        canvas: Canvas::new(w as usize, h as usize, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }),
        reference,
    }
}

fn flat(side: usize) -> Canvas {
    Canvas::new(side, side, Rgba { r: 0.85, g: 0.25, b: 0.1, a: 1.0 })
}

#[test]
fn every_parameter_receives_a_gradient_through_the_rl_loss() {
    let (varmap, policy, imitation) = tiny(1);
    let policy = Arc::new(policy);
    let s = start(crate::training::scenes::scene(32, 32, 3));
    let episodes: Vec<Episode> = (0..4).map(|i| rollout(&policy, &s, 8, 4, i).unwrap()).collect();
    let (total, kl) = loss(&policy, &imitation, &episodes, 0.1).unwrap();
    assert!(kl.abs() < 1e-5, "the policy starts as the imitation model: KL {kl}");
    let grads = total.backward().unwrap();
    let data = varmap.data().lock().unwrap();
    let without: Vec<&String> = data
        .iter()
        .filter(|(_, v)| {
            grads
                .get(v.as_tensor())
                .is_none_or(|g| g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() == 0.0)
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        without.is_empty(),
        "{} of {} parameters got no gradient: {without:?}",
        without.len(),
        data.len()
    );
}

/// Trains a tiny policy to copy a flat colour; returns the held-out reward
/// before and after, and the mean KL of the last five steps.
fn train_on_flat_colour(beta: f64, steps: usize) -> (f32, f32, f32) {
    let (varmap, policy, imitation) = tiny(7);
    let mut learner = Learner::new(varmap, policy, imitation, 3e-3, beta).unwrap();
    let starts = vec![start(flat(32)); 4];
    let eval = vec![start(flat(32)); 8];
    let before = heldout_reward(&learner.policy, &eval, 6).unwrap();
    let mut rng = Rng::new(11);
    let mut kls = Vec::new();
    for _ in 0..steps {
        kls.push(learner.step(&starts, 6, 4, &mut rng).unwrap().kl);
    }
    let after = heldout_reward(&learner.policy, &eval, 6).unwrap();
    let last = &kls[kls.len() - 5..];
    (before, after, last.iter().sum::<f32>() / last.len() as f32)
}

#[test]
fn reinforcement_raises_the_reward_and_a_large_beta_keeps_the_policy_close() {
    let (before, after, kl_free) = train_on_flat_colour(0.0, 40);
    // The most an op can earn on average: the whole distance, taken in 6 ops.
    let white = Canvas::new(32, 32, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 });
    let ceiling = REWARD_SCALE * mse(&white, &flat(32)) as f32 / 6.0;
    eprintln!(
        "held-out reward per op {before:.3} -> {after:.3} (at most {ceiling:.3}), KL {kl_free:.3} with beta 0"
    );
    assert!(
        ceiling - after < 0.5 * (ceiling - before),
        "the copy should end at least twice as close: reward per op {before} -> {after}, at most {ceiling}"
    );
    let (_, _, kl_held) = train_on_flat_colour(1.0, 40);
    eprintln!("KL {kl_held:.4} with beta 1");
    assert!(kl_held < 0.3 * kl_free, "KL with beta 1: {kl_held}, with beta 0: {kl_free}");
}
