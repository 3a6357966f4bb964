use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::*;
use crate::eval::next_stroke;
use crate::model::stroke_transformer::Config;
use crate::ops::Rgba;
use crate::tokenizer::{Field, kind};
use crate::training::hanzi::{self, Character, Ink};

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

/// 三 in glyph units (y up): three horizontals, written top to bottom.
fn three() -> Character {
    let line = |y: f32, from: f32, to: f32| vec![[from, y], [to, y]];
    Character {
        ch: '三',
        medians: vec![line(700.0, 250.0, 750.0), line(450.0, 300.0, 700.0), line(150.0, 150.0, 850.0)],
    }
}

#[test]
fn a_stroke_episode_asks_at_the_tests_positions_and_then_writes_the_true_stroke() {
    let (_, policy, _) = tiny(3);
    let policy = Arc::new(policy);
    let episode = strokes::rollout(&policy, &three(), Ink::default(), 4, 5).unwrap();
    // The next-stroke test's positions: after 0 strokes and after 1 (the last stroke is no choice).
    assert_eq!(episode.ops.len(), 2);
    assert!(
        episode
            .ops
            .iter()
            .all(|group| group.len() == 4 && group.iter().all(|t| t.get(Field::Kind) == kind::BRUSH))
    );
    // What the later positions see is the character's own strokes, whatever was drawn.
    let full = hanzi::history(&three(), strokes::SIDE);
    let tokenizer = crate::tokenizer::Tokenizer::new(full.header.as_ref().unwrap());
    let truth: Vec<OpToken> = full.ops[..2].iter().map(|op| tokenizer.encode(op).unwrap()).collect();
    assert_eq!(episode.painted, truth);
    // A candidate earns 1 exactly when it is nearer the next stroke than the others left.
    let lines: Vec<_> = full.ops.iter().filter_map(next_stroke::polyline).collect();
    for (k, (group, rewards)) in episode.ops.iter().zip(&episode.rewards).enumerate() {
        for (token, &reward) in group.iter().zip(rewards) {
            let p = next_stroke::polyline(&tokenizer.decode(token)).unwrap();
            assert_eq!(reward == 1.0, next_stroke::nearest_is_first(&p, &lines[k..]), "position {k}");
            assert!(reward == 0.0 || reward == 1.0);
        }
    }
    // Only the place and the steps are credited: a colour cannot earn a stroke's reward.
    assert!(episode.credited[Field::X as usize] && episode.credited[Field::Dy3 as usize]);
    assert!(!episode.credited[Field::Red as usize] && !episode.credited[Field::Size as usize]);
}

/// Next-stroke reward of a policy on 三: the mean over `n` seeded episodes of the first candidate.
fn order_reward(policy: &Arc<StrokeTransformer>, n: u64) -> f32 {
    let rewards: Vec<f32> = (0..n)
        .flat_map(|seed| strokes::rollout(policy, &three(), Ink::default(), 1, 1000 + seed).unwrap().rewards)
        .map(|r| r[0])
        .collect();
    rewards.iter().sum::<f32>() / rewards.len() as f32
}

/// 30 steps of stroke order on 三: 4 episodes a step, 6 candidates a stroke.
fn learn_the_order_of_three(learner: &mut Learner) {
    let mut rng = Rng::new(2);
    for _ in 0..30 {
        let seeds: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        let episodes: Vec<Episode> = seeds
            .iter()
            .map(|&s| strokes::rollout(&learner.policy, &three(), Ink::default(), 6, s).unwrap())
            .collect();
        learner.update(&episodes, &mut rng).unwrap();
    }
}

#[test]
fn the_stroke_order_reward_teaches_a_random_policy_which_stroke_comes_next() {
    let (varmap, policy, imitation) = tiny(5);
    let mut learner = Learner::new(varmap, policy, imitation, 3e-3, 0.0).unwrap();
    let before = order_reward(&learner.policy, 24);
    learn_the_order_of_three(&mut learner);
    let after = order_reward(&learner.policy, 24);
    eprintln!("next-stroke reward on 三 {before:.3} -> {after:.3}");
    // Chance is (1/3 + 1/2) / 2 for a policy that picks among the strokes left; a random one
    // draws strokes anywhere and is rarely that right.
    assert!(after > before + 0.25 && after > 0.8, "reward {before} -> {after}");
}

/// An anchor of 二's picture: one the stroke-order reward on 三 never looks at.
fn anchor_of_two() -> anchor::Anchor {
    anchor::Anchor::of(&[hanzi::history(&two(), strokes::SIDE)], &Config::tiny()).unwrap()
}

/// KL per op to the start on [`anchor_of_two`] after learning 三's order with the anchor at
/// `weight` (0: none).
fn drift_after_stroke_order(weight: f64) -> f32 {
    let (varmap, policy, imitation) = tiny(5);
    let mut learner = Learner::new(varmap, policy, imitation, 3e-3, 0.0).unwrap();
    if weight > 0.0 {
        learner = learner.anchored(anchor_of_two(), weight, 4);
    }
    learn_the_order_of_three(&mut learner);
    let (_, _, start) = tiny(5);
    let kl = anchor_of_two().kl(&learner.policy, &start, 4, &mut Rng::new(9)).unwrap();
    kl.to_scalar::<f32>().unwrap()
}

/// 二, in glyph units (y up).
fn two() -> Character {
    let line = |y: f32, from: f32, to: f32| vec![[from, y], [to, y]];
    Character { ch: '二', medians: vec![line(620.0, 260.0, 740.0), line(200.0, 130.0, 870.0)] }
}

#[test]
fn an_anchor_keeps_the_policy_where_the_reward_does_not_look() {
    let free = drift_after_stroke_order(0.0);
    let held = drift_after_stroke_order(10.0);
    eprintln!("KL to the start on the anchor after 30 steps: {free:.4} free, {held:.4} anchored");
    assert!(held < 0.5 * free, "anchored {held} against free {free}");
}

#[test]
fn parameters_given_a_faster_rate_move_that_much_faster_and_the_others_as_before() {
    let first = Arc::new(tiny(5).1);
    let episodes: Vec<Episode> =
        (0..2).map(|s| strokes::rollout(&first, &three(), Ink::default(), 4, s).unwrap()).collect();
    // The most a parameter named `prefix…` moved in one update with the cells at `scale` × the
    // rate: Adam's first step moves every parameter with a gradient by its rate.
    let moved = |scale: f64, prefix: &str| {
        let (varmap, policy, imitation) = tiny(5);
        let rate = |name: &str| if crate::model::finer::grown(name) { scale } else { 1.0 };
        let mut learner = Learner::with_rates(varmap, policy, imitation, 1e-3, 0.1, rate).unwrap();
        learner.update(&episodes, &mut Rng::new(1)).unwrap();
        let (start, _, _) = tiny(5);
        let (now, then) = (learner.varmap.data().lock().unwrap(), start.data().lock().unwrap());
        now.iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(n, v)| {
                let d = (v.as_tensor() - then[n].as_tensor()).unwrap().abs().unwrap();
                d.max_all().unwrap().to_scalar::<f32>().unwrap()
            })
            .fold(0.0, f32::max)
    };
    let (cells, fast_cells) = (moved(1.0, "place_prior.cells."), moved(10.0, "place_prior.cells."));
    assert!((cells - 1e-3).abs() < 1e-4 && (fast_cells - 1e-2).abs() < 1e-3, "{cells} → {fast_cells}");
    assert_eq!(moved(1.0, "heads."), moved(10.0, "heads."), "the rest learn as before");
}

#[test]
fn a_policy_made_finer_writes_the_characters_exactly_as_its_init() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config { shape: 0, ..Config::tiny() };
    let varmap = VarMap::new();
    StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &cfg).unwrap();
    let learned =
        |name: &str| name.starts_with("place_prior.query") || name.starts_with("place_prior.context");
    for (_, var) in varmap.data().lock().unwrap().iter().filter(|(n, _)| learned(n)) {
        var.set(&Tensor::randn(0f32, 1f32, var.shape(), &Device::Cpu).unwrap()).unwrap();
    }
    let init = dir.path().join("coarse.safetensors");
    crate::training::save(&varmap, &cfg, &(), &init).unwrap();

    let (_, coarse) = load_policy(&init, &cfg, false).unwrap();
    let (fine_vars, fine) = load_policy(&init, &cfg.finer().unwrap(), true).unwrap();
    assert_eq!(fine.config().state, 2 * cfg.state);
    assert!(
        fine_vars.data().lock().unwrap().keys().any(|n| crate::model::finer::grown(n)),
        "the cells it grew learn faster"
    );
    let characters = [three(), two()];
    let (coarse, fine) = (Arc::new(coarse), Arc::new(fine));
    for seed in 0..4 {
        let a = strokes::rollout(&coarse, &characters[seed % 2], Ink::default(), 3, seed as u64).unwrap();
        let b = strokes::rollout(&fine, &characters[seed % 2], Ink::default(), 3, seed as u64).unwrap();
        assert_eq!(a.ops, b.ops, "seed {seed}: the same candidate strokes");
    }
}
