//! The first reinforcement stage: the imitation policy learns to copy, with
//! the copy reward, kept close to where it started.
//!
//! Each step rolls the policy out in copy mode on `episodes` reference pictures
//! for `ops` ops each, sampling exactly as the transformer painter does (within
//! the tokenizer's grammar, temperature 1). At every op of an episode it draws a
//! *group* of candidate ops from the same canvas, paints each on a copy with the
//! engine and rewards it with the drop in distance to the reference it causes
//! (`REWARD_SCALE` × the drop in [`mse`]); the first candidate is the one
//! painted, so episodes follow the policy. The loss is
//!
//! ```text
//! −mean(A · log π(op))  +  β · mean KL(π ‖ π_imitation)
//! ```
//!
//! - A, the advantage: the reward minus the mean reward of its group, divided by
//!   the batch's standard deviation. Ops of a group share their canvas, so the
//!   baseline removes everything that depends on the state (early ops on a blank
//!   canvas earn far more than late ones) and keeps what depends on the op.
//! - The reward is per op, not reward-to-go: the copy reward is the drop of a
//!   potential (the distance to the reference), so an op's own drop is what it
//!   did; a reward-to-go would add the noise of every later sampled op to each
//!   op's credit. The price: an op is not credited for what it sets up.
//! - log π(op) sums the log-probabilities of the fields the op's kind uses,
//!   recomputed by a differentiable forward over the episode (same canvas and
//!   reference prefix, START then the painted ops), as imitation training does.
//! - The KL is taken per field on the sampled positions, exactly over the
//!   field's small vocabulary (at most 256 values) rather than estimated from
//!   the one sampled value (k1, k3): no sampling noise, never negative, and the
//!   frozen imitation model's log-probabilities come from the same forward.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::RunError;
use crate::engine::{Canvas, Engine};
use crate::model::checkpoint;
use crate::model::inputs;
use crate::model::stroke_transformer::StrokeTransformer;
use crate::ops::{pb, timeline};
use crate::painters::Request;
use crate::painters::analysis::mse;
use crate::painters::rng::Rng;
use crate::painters::transformer::TransformerRun;
use crate::tokenizer::{FIELDS, OpToken, kind};

/// An op's reward is this many times the drop in MSE (RGB in [0, 1]) it
/// causes: taking a copy from 0.0300 to 0.0290 earns 0.1.
pub const REWARD_SCALE: f32 = 100.0;

/// Held-out episodes behind each checkpoint's reward figure.
const EVAL_EPISODES: usize = 8;

#[derive(Clone, Debug)]
pub struct ReinforceOptions {
    /// The imitation model to start from and stay close to (`.safetensors`, `.json` beside it).
    pub init: PathBuf,
    /// What the episodes are drawn from.
    pub source: Source,
    /// Weights to write (`NAME.safetensors`; config `NAME.json`, progress `NAME.train.json`).
    pub out: PathBuf,
    pub steps: usize,
    /// Episodes per step.
    pub episodes: usize,
    /// Ops per episode.
    pub ops: usize,
    /// Candidate ops sampled at each op of an episode (at least 2: they baseline each other).
    pub group: usize,
    pub lr: f64,
    /// Weight of the KL penalty.
    pub beta: f64,
    /// Share of episodes that start from the blank canvas; the others start
    /// from the history's canvas after a random number of its ops (copying only).
    pub blank_rate: f32,
    /// Share of characters written as augmented copies (stroke order only).
    pub augment_rate: f32,
    /// Histories whose pictures the policy must go on painting as it started ([`anchor`]).
    pub anchor: Option<PathBuf>,
    /// Weight of the KL on the anchor's pictures, and windows of them read per step.
    pub anchor_beta: f64,
    pub anchor_windows: usize,
    /// See the canvas at every op twice as fine as `init` does, carried over exactly
    /// ([`crate::model::finer`]); the priors' new cells learn `finer_lr` × `lr`.
    pub finer: bool,
    pub finer_lr: f64,
    pub seed: u64,
    pub eval_every: usize,
    /// Continue from `out` and its progress, if there.
    pub resume: bool,
}

/// What a run's episodes are and what rewards them.
#[derive(Clone, Debug)]
pub enum Source {
    /// Copying: the finished pictures of a folder of histories are the references, and an
    /// op earns the drop in distance to its reference it causes. One history in ten (by a
    /// hash of its name) is held out for the run's figure: the mean reward per op painted.
    Pictures(PathBuf),
    /// Stroke order: the training characters of packages (as `eval --hanzi` takes one) are
    /// written stroke by stroke, and a stroke earns 1 when it is the next ([`strokes`]). One
    /// training character in fifty is kept out for the run's figure: next-stroke accuracy at
    /// the default temperature, on them and on an augmented copy of each.
    Characters(Vec<PathBuf>),
}

/// A source loaded: what each step draws its episodes from, and the run's figure.
enum Task {
    Copy { train: Vec<pb::History>, eval: Vec<Start> },
    Order(strokes::Characters),
}

impl Task {
    fn load(source: &Source) -> Result<Task, String> {
        let dir = match source {
            Source::Characters(dirs) => return strokes::Characters::load(dirs).map(Task::Order),
            Source::Pictures(dir) => dir,
        };
        let histories = super::load_histories(dir)?;
        let (mut train, mut held) = (Vec::new(), Vec::new());
        for ((_, h), is_held) in histories.iter().zip(super::held_out(&histories)) {
            if h.ops.is_empty() {
                continue;
            }
            if is_held { held.push(h.clone()) } else { train.push(h.clone()) }
        }
        if train.is_empty() || held.is_empty() {
            return Err(format!(
                "{}: need at least 2 histories with ops (one is held out), found {}",
                dir.display(),
                train.len() + held.len()
            ));
        }
        // Fixed held-out references, evenly spread, painted from blank.
        let n = EVAL_EPISODES.min(held.len());
        let eval = (0..n).map(|i| Start::of_history(&held[i * held.len() / n], 0)).collect();
        Ok(Task::Copy { train, eval })
    }

    /// One step's episodes.
    fn episodes(
        &self,
        policy: &Arc<StrokeTransformer>,
        o: &ReinforceOptions,
        rng: &mut Rng,
    ) -> candle_core::Result<Vec<Episode>> {
        match self {
            Task::Copy { train, .. } => {
                let starts: Vec<Start> = (0..o.episodes)
                    .map(|_| {
                        let h = &train[rng.index(train.len())];
                        let n = timeline::effective(&h.ops).len().max(1);
                        let cut = if rng.unit() < o.blank_rate { 0 } else { rng.index(n) };
                        Start::of_history(h, cut)
                    })
                    .collect();
                rollouts(policy, &starts, o.ops, o.group, rng)
            }
            Task::Order(characters) => {
                let drawn = characters.draw(o.episodes, o.augment_rate, rng);
                let seeds: Vec<u64> = drawn.iter().map(|_| rng.next_u64()).collect();
                let items: Vec<_> = drawn.iter().zip(seeds).collect();
                on_threads(&items, |((c, ink), seed)| strokes::rollout(policy, c, *ink, o.group, *seed))
            }
        }
    }

    /// The run's figure: the held-out reward per op painted (copying, `len` ops from
    /// blank) or next-stroke accuracy on the characters kept out (stroke order).
    fn figure(&self, policy: &Arc<StrokeTransformer>, len: usize) -> candle_core::Result<f32> {
        match self {
            Task::Copy { eval, .. } => heldout_reward(policy, eval, len),
            Task::Order(characters) => Ok(strokes::accuracy(policy, &characters.validation)),
        }
    }
}

/// Where a run stands, saved beside the weights (`NAME.train.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReinforceState {
    pub step: usize,
    /// The imitation model the run started from.
    pub init: String,
    /// The last step's mean reward per op (over every candidate sampled), KL per op, loss.
    pub reward: f32,
    pub kl: f32,
    /// The last step's KL per op on the anchor's pictures (0 without one).
    #[serde(default)]
    pub anchor_kl: f32,
    pub loss: f32,
    /// The run's figure ([`Source`]) before the first step and at the last checkpoint:
    /// copying, the mean reward per op painted on the held-out episodes (fixed references
    /// and seeds, from blank); stroke order, next-stroke accuracy on the characters kept out.
    pub heldout_reward_start: f32,
    pub heldout_reward: f32,
    pub seconds: f32,
}

/// Where an episode starts: a canvas and the picture to copy, the same size.
#[derive(Clone)]
pub struct Start {
    pub header: pb::Header,
    pub canvas: Canvas,
    pub reference: Canvas,
}

impl Start {
    /// The canvas after the first `cut` effective ops of a history (all of
    /// them at most), to copy its finished picture.
    pub fn of_history(history: &pb::History, cut: usize) -> Start {
        let header = history.header.clone().unwrap_or_default();
        let ops = timeline::effective(&history.ops);
        let (before, after) = ops.split_at(cut.min(ops.len()));
        let mut engine = Engine::new(&header);
        for op in before {
            engine.apply(op);
        }
        let canvas = engine.canvas().clone();
        for op in after {
            engine.apply(op);
        }
        Start { header, canvas, reference: engine.into_canvas() }
    }
}

/// One episode as the loss needs it.
pub struct Episode {
    /// The start canvas and the reference as the model sees them.
    canvas: Vec<f32>,
    reference: Vec<f32>,
    /// `ops[t][g]`: the g-th candidate sampled at op t.
    ops: Vec<Vec<OpToken>>,
    /// The op painted at each op t, which the later ops see: the first candidate when the
    /// policy paints ([`rollout`]), the true stroke in stroke order ([`strokes`]).
    painted: Vec<OpToken>,
    /// What the model glimpsed at each candidate's place: `glimpses[t][g]`.
    glimpses: Vec<Vec<Vec<f32>>>,
    /// The model's state input before op t (empty when it has none).
    states: Vec<Vec<f32>>,
    /// Their rewards.
    rewards: Vec<Vec<f32>>,
    /// The fields a reward credits: those it depends on. Every field when copying (a
    /// colour changes the copy); in stroke order only the place and the steps (a colour
    /// earns nothing there, and credited it would only add noise that drifts the policy).
    credited: [bool; FIELDS],
}

impl Episode {
    /// Mean reward per op of the ops painted.
    pub fn painted_reward(&self) -> f32 {
        self.rewards.iter().map(|r| r[0]).sum::<f32>() / self.rewards.len() as f32
    }

    /// Mean reward of every candidate sampled.
    pub fn mean_reward(&self) -> f32 {
        let all: Vec<f32> = self.rewards.iter().flatten().copied().collect();
        all.iter().sum::<f32>() / all.len() as f32
    }
}

/// The policy set to paint from `start` with no history before it, drawing from its own
/// distribution (the loss differentiates it at temperature 1) within `allowed_tools`, and the
/// empty episode of `len` ops it will fill, crediting `credited`.
fn policy_run(
    model: &Arc<StrokeTransformer>,
    start: &Start,
    allowed_tools: Vec<pb::Tool>,
    seed: u64,
    len: usize,
    credited: [bool; FIELDS],
) -> (TransformerRun, Episode) {
    let side = model.config().image_side;
    let run = TransformerRun::new(
        model.clone(),
        Request {
            history: pb::History { header: Some(start.header.clone()), ops: Vec::new() },
            canvas: start.canvas.clone(),
            reference: Some(start.reference.clone()),
            temperature: 1.0,
            seed,
            allowed_tools,
            canvas_at: None,
            stop: None,
            imagination: None,
        },
    )
    .exactly();
    let episode = Episode {
        canvas: inputs::picture(&start.canvas, side),
        reference: inputs::picture(&start.reference, side),
        ops: Vec::with_capacity(len),
        painted: Vec::with_capacity(len),
        glimpses: Vec::with_capacity(len),
        states: Vec::with_capacity(len),
        rewards: Vec::with_capacity(len),
        credited,
    };
    (run, episode)
}

/// Rolls the policy out for `len` ops from `start`, sampling `group` candidates per op.
pub fn rollout(
    model: &Arc<StrokeTransformer>,
    start: &Start,
    len: usize,
    group: usize,
    seed: u64,
) -> candle_core::Result<Episode> {
    let (mut run, mut episode) = policy_run(model, start, Vec::new(), seed, len, [true; FIELDS]);
    for _ in 0..len {
        episode.states.push(run.state().map(<[f32]>::to_vec).unwrap_or_default());
        let before = mse(run.canvas(), &start.reference);
        let (mut tokens, mut rewards, mut painted, mut glimpses) = (Vec::new(), Vec::new(), None, Vec::new());
        for _ in 0..group {
            let (token, glimpse) = run.sample_token_and_glimpse()?;
            glimpses.push(glimpse);
            let op = run.decode(&token);
            let mut trial = Engine::from_canvas(run.canvas().clone());
            trial.apply(&op);
            rewards.push(REWARD_SCALE * (before - mse(trial.canvas(), &start.reference)) as f32);
            tokens.push(token);
            painted.get_or_insert(op);
        }
        run.commit(&tokens[0], &painted.expect("group ≥ 1"));
        episode.painted.push(tokens[0]);
        episode.ops.push(tokens);
        episode.glimpses.push(glimpses);
        episode.rewards.push(rewards);
    }
    Ok(episode)
}

/// One episode per start, on as many threads as there are cores (each
/// episode's seed is drawn first, so the result does not depend on how many).
fn rollouts(
    model: &Arc<StrokeTransformer>,
    starts: &[Start],
    len: usize,
    group: usize,
    rng: &mut Rng,
) -> candle_core::Result<Vec<Episode>> {
    let items: Vec<(&Start, u64)> = starts.iter().map(|s| (s, rng.next_u64())).collect();
    on_threads(&items, |(s, seed)| rollout(model, s, len, group, *seed))
}

/// `f` of every item, in order, on as many threads as there are cores.
fn on_threads<T: Sync>(
    items: &[T],
    f: impl Fn(&T) -> candle_core::Result<Episode> + Sync,
) -> candle_core::Result<Vec<Episode>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, items.len().max(1));
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<candle_core::Result<Vec<Episode>>>()))
            .collect();
        let mut episodes = Vec::with_capacity(items.len());
        for h in handles {
            episodes.extend(h.join().expect("a rollout thread panicked")?);
        }
        Ok(episodes)
    })
}

/// Rewards minus their group's mean, over the batch's standard deviation,
/// laid out as the loss's rows: `[group][episode][op]`.
fn advantages(episodes: &[Episode]) -> Vec<f32> {
    let (b, len, group) = (episodes.len(), episodes[0].ops.len(), episodes[0].ops[0].len());
    let mut a = vec![0.0; group * b * len];
    for (e, episode) in episodes.iter().enumerate() {
        for (t, r) in episode.rewards.iter().enumerate() {
            let mean = r.iter().sum::<f32>() / group as f32;
            for (g, &x) in r.iter().enumerate() {
                a[(g * b + e) * len + t] = x - mean;
            }
        }
    }
    // Each group's mean is zero, so this is the standard deviation.
    let std = (a.iter().map(|x| x * x).sum::<f32>() / a.len() as f32).sqrt();
    if std > 1e-6 {
        a.iter_mut().for_each(|x| *x /= std);
    }
    a
}

/// Log-probabilities of every field's values ([G·B, T, vocab] per field) for
/// `group` candidate sets `targets` (rows `[group][episode]`) after `inputs`:
/// the distributions the sampler drew from, where the kind is never START.
#[allow(clippy::too_many_arguments)]
fn field_log_probs(
    model: &StrokeTransformer,
    canvas: &Tensor,
    reference: &Tensor,
    inputs: &Tensor,
    states: Option<&Tensor>,
    targets: &Tensor,
    glimpses: &Tensor,
    group: usize,
) -> candle_core::Result<Vec<Tensor>> {
    // Episodes start from a canvas with no history before them (as [`rollout`] runs them).
    let hidden = model.hidden(canvas, Some(reference), inputs, states, &vec![0; inputs.dim(0)?])?;
    // A large finite number rather than −∞, so that no 0 · ∞ reaches the backward pass.
    let mut no_start = vec![0f32; usize::from(kind::COUNT)];
    no_start[usize::from(kind::START)] = -1e9;
    let no_start = Tensor::from_vec(no_start, usize::from(kind::COUNT), hidden.device())?;
    model
        .group_logits(&hidden, targets, glimpses, states, group)?
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let l = if i == 0 { l.broadcast_add(&no_start)? } else { l };
            candle_nn::ops::log_softmax(&l, D::Minus1)
        })
        .collect()
}

/// KL(π ‖ π_start) of one field at every position, from both log-probabilities over its
/// values (`[.., vocab]` → `[..]`); the start's side is a constant.
pub fn field_kl(policy: &Tensor, start: &Tensor) -> candle_core::Result<Tensor> {
    (policy.exp()? * (policy - start.detach())?)?.sum(D::Minus1)
}

/// The loss of a batch of episodes (equal lengths and groups) and its mean KL per op.
pub fn loss(
    policy: &StrokeTransformer,
    imitation: &StrokeTransformer,
    episodes: &[Episode],
    beta: f64,
) -> candle_core::Result<(Tensor, f32)> {
    let dev = Device::Cpu;
    let s = policy.config().image_side;
    let (b, len, group) = (episodes.len(), episodes[0].ops.len(), episodes[0].ops[0].len());
    let pictures = |f: fn(&Episode) -> &Vec<f32>| {
        Tensor::from_vec(episodes.iter().flat_map(|e| f(e).iter().copied()).collect(), (b, 3, s, s), &dev)
    };
    let (canvas, reference) = (pictures(|e| &e.canvas)?, pictures(|e| &e.reference)?);
    // The context: START, then the ops painted.
    let context: Vec<OpToken> = episodes
        .iter()
        .flat_map(|e| std::iter::once(inputs::start()).chain(e.painted[..len - 1].iter().copied()))
        .collect();
    let inputs = Tensor::from_vec(inputs::flatten(&context), (b, len, FIELDS), &dev)?;
    let sampled: Vec<OpToken> =
        (0..group).flat_map(|g| episodes.iter().flat_map(move |e| e.ops.iter().map(move |c| c[g]))).collect();
    let targets = Tensor::from_vec(inputs::flatten(&sampled), (group * b, len, FIELDS), &dev)?;
    let mask = Tensor::from_vec(inputs::mask(&sampled), (group * b, len, FIELDS), &dev)?;
    let glimpses: Vec<f32> = (0..group)
        .flat_map(|g| {
            episodes.iter().flat_map(move |e| e.glimpses.iter().flat_map(move |c| c[g].iter().copied()))
        })
        .collect();
    let glimpses = Tensor::from_vec(glimpses, (group * b, len, policy.config().glimpse_len()), &dev)?;
    let advantages = Tensor::from_vec(advantages(episodes), (group * b, len), &dev)?;
    // Both models are the same size (the imitation model is the policy's start).
    let states = match policy.config().state_len() {
        0 => None,
        n => Some(Tensor::from_vec(
            episodes.iter().flat_map(|e| e.states.concat()).collect(),
            (b, len, n),
            &dev,
        )?),
    };

    let logp =
        field_log_probs(policy, &canvas, &reference, &inputs, states.as_ref(), &targets, &glimpses, group)?;
    let logp_imitation = field_log_probs(
        imitation,
        &canvas,
        &reference,
        &inputs,
        states.as_ref(),
        &targets,
        &glimpses,
        group,
    )?;
    let mut op_logp = Tensor::zeros((group * b, len), DType::F32, &dev)?;
    let mut kl = Tensor::zeros((group * b, len), DType::F32, &dev)?;
    let credited = episodes[0].credited;
    for (i, (lp, li)) in logp.iter().zip(&logp_imitation).enumerate() {
        let used = mask.i((.., .., i))?;
        if credited[i] {
            let value = targets.i((.., .., i))?.contiguous()?.unsqueeze(D::Minus1)?;
            op_logp = (op_logp + (lp.gather(&value, D::Minus1)?.squeeze(D::Minus1)? * &used)?)?;
        }
        kl = (kl + (field_kl(lp, li)? * &used)?)?;
    }
    let n = (group * b * len) as f64;
    let policy_loss = ((op_logp * advantages)?.sum_all()? / -n)?;
    let kl = (kl.sum_all()? / n)?;
    let total = (policy_loss + (&kl * beta)?)?;
    Ok((total, kl.to_scalar::<f32>()?))
}

/// What one update saw.
#[derive(Clone, Copy, Debug)]
pub struct StepStats {
    /// Mean reward per op over every candidate sampled.
    pub reward: f32,
    pub kl: f32,
    /// KL per op on the anchor's pictures (0 without one).
    pub anchor_kl: f32,
    pub loss: f32,
}

/// The policy being trained, the frozen imitation model, the optimizer.
pub struct Learner {
    pub varmap: VarMap,
    pub policy: Arc<StrokeTransformer>,
    imitation: StrokeTransformer,
    /// One optimizer per learning rate, each over its own parameters.
    opts: Vec<candle_nn::AdamW>,
    beta: f64,
    /// Pictures whose KL to the start is added to every step's loss, with its weight and
    /// the windows read per step.
    anchor: Option<(anchor::Anchor, f64, usize)>,
}

impl Learner {
    /// `policy` is built on `varmap`; `imitation` holds constant weights.
    pub fn new(
        varmap: VarMap,
        policy: StrokeTransformer,
        imitation: StrokeTransformer,
        lr: f64,
        beta: f64,
    ) -> candle_core::Result<Learner> {
        Self::with_rates(varmap, policy, imitation, lr, beta, |_| 1.0)
    }

    /// [`Learner::new`] with each parameter learning `scale(its name)` × `lr`.
    pub fn with_rates(
        varmap: VarMap,
        policy: StrokeTransformer,
        imitation: StrokeTransformer,
        lr: f64,
        beta: f64,
        scale: impl Fn(&str) -> f64,
    ) -> candle_core::Result<Learner> {
        let mut by_rate: Vec<(f64, Vec<candle_core::Var>)> = Vec::new();
        for (name, var) in varmap.data().lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let rate = lr * scale(name);
            match by_rate.iter_mut().find(|(r, _)| *r == rate) {
                Some((_, vars)) => vars.push(var.clone()),
                None => by_rate.push((rate, vec![var.clone()])),
            }
        }
        // No weight decay: the KL penalty is what keeps the weights near the imitation model's.
        let opts = by_rate
            .into_iter()
            .map(|(lr, vars)| {
                candle_nn::AdamW::new(
                    vars,
                    candle_nn::ParamsAdamW { lr, weight_decay: 0.0, ..Default::default() },
                )
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Learner { varmap, policy: Arc::new(policy), imitation, opts, beta, anchor: None })
    }

    /// Adds `weight` × the KL to the start on `windows` windows of `anchor` to every step.
    pub fn anchored(mut self, anchor: anchor::Anchor, weight: f64, windows: usize) -> Learner {
        self.anchor = Some((anchor, weight, windows));
        self
    }

    /// Rolls out one episode per start (`len` ops, `group` candidates each) and updates the policy once.
    pub fn step(
        &mut self,
        starts: &[Start],
        len: usize,
        group: usize,
        rng: &mut Rng,
    ) -> candle_core::Result<StepStats> {
        let episodes = rollouts(&self.policy, starts, len, group, rng)?;
        self.update(&episodes, rng)
    }

    /// Updates the policy once on `episodes` (equal lengths and groups).
    pub fn update(&mut self, episodes: &[Episode], rng: &mut Rng) -> candle_core::Result<StepStats> {
        let (mut total, kl) = loss(&self.policy, &self.imitation, episodes, self.beta)?;
        let mut anchor_kl = 0.0;
        if let Some((anchor, weight, n)) = &self.anchor {
            let kl = anchor.kl(&self.policy, &self.imitation, *n, rng)?;
            anchor_kl = kl.to_scalar::<f32>()?;
            total = (total + (kl * *weight)?)?;
        }
        let grads = total.backward()?;
        for opt in &mut self.opts {
            opt.step(&grads)?;
        }
        let reward = episodes.iter().map(Episode::mean_reward).sum::<f32>() / episodes.len() as f32;
        Ok(StepStats { reward, kl, anchor_kl, loss: total.to_scalar::<f32>()? })
    }
}

/// Mean reward per op painted over fixed episodes (one candidate per op, fixed seeds).
pub fn heldout_reward(
    model: &Arc<StrokeTransformer>,
    starts: &[Start],
    len: usize,
) -> candle_core::Result<f32> {
    let mut total = 0.0;
    for (i, s) in starts.iter().enumerate() {
        total += rollout(model, s, len, 1, i as u64)?.painted_reward();
    }
    Ok(total / starts.len().max(1) as f32)
}

/// A model of `cfg` built on a fresh VarMap and loaded from `weights`; `carried`: they see the
/// canvas half as fine as `cfg` does, and are carried over ([`crate::model::finer`]).
fn load_policy(
    weights: &Path,
    cfg: &crate::model::stroke_transformer::Config,
    carried: bool,
) -> Result<(VarMap, StrokeTransformer), RunError> {
    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = StrokeTransformer::new(vb, cfg)?;
    match carried {
        true => super::load_init(&varmap, weights),
        false => varmap.load(weights),
    }
    .map_err(|e| RunError::Input(format!("cannot load {}: {e}", weights.display())))?;
    Ok((varmap, model))
}

/// Runs the stage, checkpointing every `eval_every` steps; `report(state, held-out
/// reward at a checkpoint)` after each step.
pub fn reinforce(
    o: &ReinforceOptions,
    mut report: impl FnMut(&ReinforceState, Option<f32>),
) -> Result<ReinforceState, RunError> {
    use RunError::{Failed, Input};
    crate::tuning::allocator();
    let cfg = checkpoint::load_config(&o.init).map_err(Input)?;
    let cfg = match o.finer {
        true => cfg.finer().map_err(|e| Input(format!("--finer: {}: {e}", o.init.display())))?,
        false => cfg,
    };
    if o.ops == 0 || o.ops >= cfg.max_ops {
        return Err(Input(format!(
            "--ops: {} must be in 1..={} for this model (its context)",
            o.ops,
            cfg.max_ops - 1
        )));
    }
    if o.group < 2 {
        return Err(Input(format!(
            "--group: {} must be at least 2 (the candidates baseline each other)",
            o.group
        )));
    }
    let task = Task::load(&o.source).map_err(Input)?;
    let imitation = match o.finer {
        true => load_policy(&o.init, &cfg, true)?.1,
        false => checkpoint::load_file(&o.init, &Device::Cpu).map_err(Input)?,
    };
    let resuming = o.resume && o.out.exists();
    let (varmap, policy) = match resuming {
        true => load_policy(&o.out, &cfg, false)?,
        false => load_policy(&o.init, &cfg, o.finer)?,
    };
    let mut state = ReinforceState { init: o.init.display().to_string(), ..Default::default() };
    if resuming {
        if let Some(saved) = super::read_progress::<ReinforceState>(&o.out).map_err(Input)? {
            if saved.init != state.init {
                return Err(Input(format!(
                    "{}: this run started from --init {}, not {}",
                    o.out.display(),
                    saved.init,
                    state.init
                )));
            }
            state = saved;
        }
    }
    // The cells a finer view grew start at zeros: at the base rate a run barely moves them.
    let scale = |name: &str| if o.finer && crate::model::finer::grown(name) { o.finer_lr } else { 1.0 };
    let mut learner = Learner::with_rates(varmap, policy, imitation, o.lr, o.beta, scale)?;
    if let Some(dir) = &o.anchor {
        learner = learner.anchored(
            anchor::Anchor::load(dir, &cfg).map_err(Input)?,
            o.anchor_beta,
            o.anchor_windows,
        );
    }
    let eval = |l: &Learner| task.figure(&l.policy, o.ops);
    if state.step == 0 {
        state.heldout_reward_start = eval(&learner)?;
        state.heldout_reward = state.heldout_reward_start;
        report(&state, Some(state.heldout_reward));
    }

    let mut rng = Rng::new(o.seed ^ state.step as u64);
    let start = Instant::now();
    while state.step < o.steps {
        let episodes = task.episodes(&learner.policy, o, &mut rng)?;
        let stats = learner.update(&episodes, &mut rng)?;
        state.step += 1;
        (state.reward, state.kl, state.anchor_kl, state.loss) =
            (stats.reward, stats.kl, stats.anchor_kl, stats.loss);
        let heldout = if state.step % o.eval_every == 0 || state.step == o.steps {
            state.heldout_reward = eval(&learner)?;
            let seconds = state.seconds + start.elapsed().as_secs_f32();
            super::save(&learner.varmap, &cfg, &ReinforceState { seconds, ..state.clone() }, &o.out)
                .map_err(Failed)?;
            Some(state.heldout_reward)
        } else {
            None
        };
        report(
            &ReinforceState { seconds: state.seconds + start.elapsed().as_secs_f32(), ..state.clone() },
            heldout,
        );
    }
    state.seconds += start.elapsed().as_secs_f32();
    super::save(&learner.varmap, &cfg, &state, &o.out).map_err(Failed)?;
    Ok(state)
}

pub mod anchor;
pub mod strokes;

#[cfg(test)]
mod tests;
