//! Training the stroke transformer, nanoGPT style: load histories, cut
//! windows, sample batches, AdamW, evaluate on held-out histories, checkpoint.

pub mod data;
pub mod ema;
pub mod hanzi;
pub mod kanjivg;
pub mod personalize;
pub mod photos;
pub mod reinforce;
pub mod scenes;
pub mod split;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use crate::model::checkpoint::config_path;
use crate::model::stroke_transformer::{self, Config, StrokeTransformer};
use crate::ops::{HistoryFormat, history, pb};
use crate::painters::rng::Rng;
use crate::tokenizer::FIELDS;
use data::Window;

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub data: PathBuf,
    /// Weights file to write (`NAME.safetensors`; its config goes to `NAME.json`).
    pub out: PathBuf,
    pub config: Config,
    pub steps: usize,
    pub batch: usize,
    /// Ops per training window.
    pub window: usize,
    /// Ways each history is cut into windows, at offsets spread over a window: more see each
    /// op in more contexts (a few histories, as a painter's sessions are, want several).
    pub cuts: usize,
    pub lr: f64,
    pub seed: u64,
    /// Share of batches trained in copy mode (with the reference).
    pub reference_rate: f32,
    /// The characters' share of copy-mode batches (`None`: as much as any other source).
    pub copy_character_share: Option<f32>,
    pub eval_every: usize,
    /// Continue from `out` and its training state, if there.
    pub resume: bool,
    /// Start from these weights (of `config`) instead of random ones: fine-tuning.
    pub init: Option<PathBuf>,
    /// Fine-tuning, train only the parameters `init` lacks (those the model grew since it was
    /// made); the rest stays exactly as `init` has it.
    pub only_grown: bool,
    /// The histories (by name) held out to check the model; `None`: the usual split, by a
    /// hash of the names.
    pub held_out: Option<Vec<String>>,
    /// Steps over which the learning rate rises to `lr` (100 for a run from scratch; a short
    /// fine-tune wants a few).
    pub warmup: usize,
    /// Set to stop the run early: it writes its checkpoint and returns (at a step short of `steps`).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Where a run stands, saved beside the weights (`NAME.train.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainState {
    pub step: usize,
    pub train_loss: f32,
    pub heldout_loss: f32,
    pub ops_per_second: f32,
    pub seconds: f32,
}

/// Which of `histories` (as `load_histories` gives them) are held out.
pub fn held_out(histories: &[(String, pb::History)]) -> Vec<bool> {
    split::held_out(&histories.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>())
}

/// The files in `dir` that `keep` accepts, by name (the order data is made and read in).
pub fn files_in(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| keep(p))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Every history (`.jsonl`, `.binpb`) in a folder, by name.
pub fn load_histories(dir: &Path) -> Result<Vec<(String, pb::History)>, String> {
    files_in(dir, |p| HistoryFormat::from_path(p).is_some())?
        .into_iter()
        .map(|p| {
            let h = history::read_path(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok((p.file_name().unwrap_or_default().to_string_lossy().into_owned(), h))
        })
        .collect()
}

/// Where a history comes from: its file name up to the first `-` (`scene`,
/// `photo`, `hanzi`, `session`, as `apprentice data` names them).
pub fn source_of(name: &str) -> &str {
    name.split(['-', '.']).next().unwrap_or(name)
}

/// Share of the characters in batches without a reference: their habit (black
/// ink on white) must not become what Continue does to a picture.
const FREE_CHARACTER_SHARE: f32 = 0.1;

/// Histories painted by search (`data --painter search`, named `search-scene-…`,
/// `search-photo-…`) copy a picture by trying ops against it: the copy-mode
/// batches learn from them in place of the teacher's pictures (distilling
/// search), while the batches without a reference keep learning a painter's
/// process from the teacher, block-in to detail.
pub const SEARCH: &str = "search";

/// Whether windows of `source` go into batches with (or without) a reference,
/// among `sources`: search histories stand in for the teacher's pictures in
/// copy mode, and serve free mode only where there are no other pictures.
fn serves(source: &str, with_reference: bool, sources: &[&str]) -> bool {
    let has = |s: &str| sources.contains(&s);
    match source {
        SEARCH => with_reference || !(has("scene") || has("photo") || has("session")),
        "scene" | "photo" => !(with_reference && has(SEARCH)),
        _ => true,
    }
}

/// The sampling share of each source (in `sources`' order) in batches with or
/// without a reference: the characters get `character_share` and the other
/// sources that serve the batch (see [`serves`]) share the rest equally; with no
/// share given, or when the characters are all there is or absent, every
/// serving source gets an equal share.
pub fn mixture(sources: &[&str], character_share: Option<f32>, with_reference: bool) -> Vec<f32> {
    let serving: Vec<bool> = sources.iter().map(|s| serves(s, with_reference, sources)).collect();
    let n = serving.iter().filter(|&&y| y).count() as f32;
    let characters = sources.iter().zip(&serving).filter(|(s, y)| **y && **s == "hanzi").count() as f32;
    let share = character_share.filter(|_| characters > 0.0 && characters < n);
    sources
        .iter()
        .zip(&serving)
        .map(|(s, &y)| match (y, share) {
            (false, _) => 0.0,
            (true, None) => 1.0 / n,
            (true, Some(share)) if *s == "hanzi" => share / characters,
            (true, Some(share)) => (1.0 - share) / (n - characters),
        })
        .collect()
}

/// Training windows grouped by source, sampled by [`mixture`].
pub struct Mixture {
    pub sources: Vec<(String, Vec<Window>)>,
    /// The characters' share of copy-mode batches (`None`: an equal share).
    pub copy_character_share: Option<f32>,
}

impl Mixture {
    /// Windows of every history not held out, each cut `cuts` ways: at an offset drawn from
    /// its name and at offsets spread evenly from there over a window.
    pub fn of(
        histories: &[(String, pb::History)],
        held: &[bool],
        cfg: &Config,
        len: usize,
        cuts: usize,
    ) -> Mixture {
        let mut sources: Vec<(String, Vec<Window>)> = Vec::new();
        for ((name, h), &is_held) in histories.iter().zip(held) {
            if is_held {
                continue;
            }
            let offset = Rng::new(split::name_hash(name)).index(len);
            let source = source_of(name);
            let i = match sources.iter().position(|(s, _)| s == source) {
                Some(i) => i,
                None => {
                    sources.push((source.to_owned(), Vec::new()));
                    sources.len() - 1
                }
            };
            let cuts = cuts.max(1);
            for k in 0..cuts {
                sources[i].1.extend(data::windows(h, cfg, len, offset + k * len / cuts));
            }
        }
        Mixture { sources, copy_character_share: None }
    }

    pub fn is_empty(&self) -> bool {
        self.sources.iter().all(|(_, w)| w.is_empty())
    }

    /// One line per source: its ops and its share of free and copy batches.
    pub fn report(&self) -> Vec<String> {
        let names: Vec<&str> = self.sources.iter().map(|(s, _)| s.as_str()).collect();
        let (free, copy) = (self.shares(&names, false), self.shares(&names, true));
        self.sources
            .iter()
            .enumerate()
            .map(|(i, (name, ws))| {
                let ops: f32 = ws.iter().map(|w| w.mask.chunks(FIELDS).map(|m| m[0]).sum::<f32>()).sum();
                format!(
                    "{name}: {} windows, {ops} ops; {:.0} % of free batches, {:.0} % of copy batches",
                    ws.len(),
                    100.0 * free[i],
                    100.0 * copy[i]
                )
            })
            .collect()
    }

    fn shares(&self, names: &[&str], with_reference: bool) -> Vec<f32> {
        let share = if with_reference { self.copy_character_share } else { Some(FREE_CHARACTER_SHARE) };
        mixture(names, share, with_reference)
    }

    /// `n` windows drawn by the mixture for batches with or without a reference.
    pub fn draw(&self, n: usize, with_reference: bool, rng: &mut Rng) -> Vec<&Window> {
        let names: Vec<&str> = self.sources.iter().map(|(s, _)| s.as_str()).collect();
        let shares = self.shares(&names, with_reference);
        // Past the last source with a share (rounding), stay on it.
        let last = shares.iter().rposition(|&s| s > 0.0).unwrap_or(shares.len() - 1);
        (0..n)
            .map(|_| {
                let mut r = rng.unit();
                let mut i = 0;
                while i < last && (r >= shares[i] || self.sources[i].1.is_empty()) {
                    r -= shares[i];
                    i += 1;
                }
                let ws = &self.sources[i].1;
                &ws[rng.index(ws.len())]
            })
            .collect()
    }
}

/// Tensors for a batch of windows, with or without their references: canvas, reference,
/// inputs, targets, glimpses, mask and states (when the model has them), as
/// [`StrokeTransformer::loss`] takes them.
pub fn batch(
    windows: &[&Window],
    cfg: &Config,
    len: usize,
    with_reference: bool,
) -> candle_core::Result<[Option<Tensor>; 7]> {
    let dev = crate::device::current();
    let (b, s) = (windows.len(), cfg.image_side);
    let cat_f = |f: &dyn Fn(&Window) -> &Vec<f32>| {
        windows.iter().flat_map(|w| f(w).iter().copied()).collect::<Vec<f32>>()
    };
    let cat_u = |f: &dyn Fn(&Window) -> &Vec<u32>| {
        windows.iter().flat_map(|w| f(w).iter().copied()).collect::<Vec<u32>>()
    };
    let canvas = Tensor::from_vec(cat_f(&|w| &w.canvas), (b, 3, s, s), &dev)?;
    let reference = if with_reference {
        Some(Tensor::from_vec(cat_f(&|w| &w.reference), (b, 3, s, s), &dev)?)
    } else {
        None
    };
    let inputs = Tensor::from_vec(cat_u(&|w| &w.inputs), (b, len, FIELDS), &dev)?;
    let targets = Tensor::from_vec(cat_u(&|w| &w.targets), (b, len, FIELDS), &dev)?;
    let mask = Tensor::from_vec(cat_f(&|w| &w.mask), (b, len, FIELDS), &dev)?;
    let glimpses =
        Tensor::from_vec(glimpse_rows(windows, cfg, len, with_reference), (b, len, cfg.glimpse_len()), &dev)?;
    let states = match cfg.state {
        0 => None,
        _ => {
            Some(Tensor::from_vec(state_rows(windows, len, with_reference), (b, len, cfg.state_len()), &dev)?)
        }
    };
    Ok([Some(canvas), reference, Some(inputs), Some(targets), Some(glimpses), Some(mask), states])
}

/// The model's state input per op of each window ([`crate::model::inputs::state`]).
fn state_rows(windows: &[&Window], len: usize, with_reference: bool) -> Vec<f32> {
    let unit = |v: &u8| f32::from(*v) / 255.0;
    let mut out = Vec::new();
    for w in windows {
        let reference: Vec<f32> = w.reference_state.iter().map(unit).collect();
        let n = reference.len();
        for t in 0..len {
            let canvas: Vec<f32> = w.states[t * n..(t + 1) * n].iter().map(unit).collect();
            out.extend(crate::model::inputs::state(&canvas, with_reference.then_some(&reference[..])));
        }
    }
    out
}

/// The model's glimpse input per op of each window: canvas views, reference
/// views (zeros without a reference) and the has-reference flag.
fn glimpse_rows(windows: &[&Window], cfg: &Config, len: usize, with_reference: bool) -> Vec<f32> {
    let g = crate::model::inputs::glimpse_len(cfg.glimpse);
    let mut out = Vec::with_capacity(windows.len() * len * cfg.glimpse_len());
    for w in windows {
        for t in 0..len {
            let row = t * g..(t + 1) * g;
            out.extend(w.canvas_glimpses[row.clone()].iter().map(|&v| f32::from(v) / 255.0));
            if with_reference {
                out.extend(w.reference_glimpses[row].iter().map(|&v| f32::from(v) / 255.0));
                out.push(1.0);
            } else {
                out.extend(std::iter::repeat_n(0.0, g + 1));
            }
        }
    }
    out
}

/// The loss of `windows`, batched as [`batch`] made `t`.
fn loss_of(
    model: &StrokeTransformer,
    t: &[Option<Tensor>; 7],
    windows: &[&Window],
) -> candle_core::Result<Tensor> {
    let [canvas, reference, inputs, targets, glimpses, mask, states] = t;
    let some = |x: &Option<Tensor>| x.clone().expect("always set");
    let done: Vec<usize> = windows.iter().map(|w| w.done).collect();
    model.loss(
        &some(canvas),
        reference.as_ref(),
        &some(inputs),
        states.as_ref(),
        &done,
        &some(targets),
        &some(glimpses),
        &some(mask),
    )
}

/// Windows of the held-out histories (cut from their start), spread over the
/// sources: taken in turn from each, so that the first 64 are not all one kind.
pub fn heldout_windows(
    histories: &[(String, pb::History)],
    held: &[bool],
    cfg: &Config,
    len: usize,
) -> Vec<Window> {
    let mut by_source: Vec<(&str, Vec<Window>)> = Vec::new();
    for ((name, h), &is_held) in histories.iter().zip(held) {
        if !is_held {
            continue;
        }
        let source = source_of(name);
        let ws = data::windows(h, cfg, len, 0);
        match by_source.iter_mut().find(|(s, _)| *s == source) {
            Some((_, v)) => v.extend(ws),
            None => by_source.push((source, ws)),
        }
    }
    let mut out = Vec::new();
    let mut iters: Vec<_> = by_source.into_iter().map(|(_, v)| v.into_iter()).collect();
    loop {
        let before = out.len();
        out.extend(iters.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
}

/// Mean loss over (up to 64) held-out windows, half with references.
pub fn heldout_loss(
    model: &StrokeTransformer,
    held: &[Window],
    cfg: &Config,
    len: usize,
) -> candle_core::Result<f32> {
    let chosen: Vec<&Window> = held.iter().take(64).collect();
    let mut total = 0.0;
    let mut n = 0.0;
    for (i, chunk) in chosen.chunks(16).enumerate() {
        let t = batch(chunk, cfg, len, i % 2 == 1)?;
        total += loss_of(model, &t, chunk)?.to_scalar::<f32>()? * chunk.len() as f32;
        n += chunk.len() as f32;
    }
    Ok(if n > 0.0 { total / n } else { f32::NAN })
}

/// The progress saved beside `out` (`NAME.train.json`) when resuming: absent is
/// a fresh start, but a file that does not parse is an error, not a silent
/// restart from step 0.
pub fn read_progress<T: serde::de::DeserializeOwned>(out: &Path) -> Result<Option<T>, String> {
    let path = out.with_extension("train.json");
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            format!(
                "{}: not this command's progress file ({e}); move it away to start afresh",
                path.display()
            )
        }),
    }
}

/// Where a run starts in `varmap`: the weights at `out` and their progress
/// when resuming (and `out` exists), else `init`'s weights (fine-tuning), else
/// the random ones already there with a fresh progress.
pub fn starting_point<T: serde::de::DeserializeOwned + Default>(
    varmap: &mut VarMap,
    out: &Path,
    resume: bool,
    init: Option<&Path>,
) -> Result<T, String> {
    if resume && out.exists() {
        varmap.load(out).map_err(|e| format!("cannot resume from {}: {e}", out.display()))?;
        return Ok(read_progress(out)?.unwrap_or_default());
    }
    if let Some(init) = init {
        load_init(varmap, init).map_err(|e| format!("cannot start from {}: {e}", init.display()))?;
    }
    Ok(T::default())
}

/// `init`'s weights into `varmap`. A parameter `init` lacks is an error unless it is one a
/// model may have grown since ([`stroke_transformer::GROWN`]); it keeps its initial values.
pub(crate) fn load_init(varmap: &VarMap, init: &Path) -> candle_core::Result<()> {
    let tensors = candle_core::safetensors::load(init, &Device::Cpu)?;
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    // A stroke transformer whose canvas view is twice as fine as `init`'s starts from its
    // weights carried over ([`crate::model::finer`]).
    let shapes = data.iter().map(|(name, var)| (name.clone(), var.shape().clone())).collect();
    let tensors = crate::model::finer::carry(tensors, &shapes)?;
    for (name, var) in data.iter() {
        match tensors.get(name) {
            Some(t) => {
                var.set(&t.to_device(var.device())?).map_err(|e| e.context(format!("tensor {name}")))?
            }
            None if stroke_transformer::GROWN.iter().any(|g| name.starts_with(g)) => {}
            None => candle_core::bail!("it has no tensor {name}"),
        }
    }
    Ok(())
}

/// The parameters of `varmap` that `init` lacks: those the model grew since `init` was made
/// (and, when it sees the canvas twice as fine, the priors' new cells: [`crate::model::finer`]).
fn grown_since(varmap: &VarMap, init: &Path) -> Result<HashSet<String>, String> {
    let tensors = candle_core::safetensors::load(init, &Device::Cpu)
        .map_err(|e| format!("cannot start from {}: {e}", init.display()))?;
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let shapes = data.iter().map(|(name, var)| (name.clone(), var.shape().clone())).collect();
    let finer = crate::model::finer::makes_finer(&tensors, &shapes);
    Ok(data
        .keys()
        .filter(|name| !tensors.contains_key(*name) || (finer && crate::model::finer::grown(name)))
        .cloned()
        .collect())
}

/// How much faster than the rest a fine-tuned model's grown embeddings learn.
const GROWN_LR: f64 = 100.0;
/// The grown parameters that learn at [`GROWN_LR`]: embeddings, each row of which a step moves
/// only where it is used. A grown projection of dense inputs (the state's) learns at the
/// base rate: at a hundred times it would add its every input's change at once.
const GROWN_FAST: &[&str] = &["progress_emb."];
/// ...but never faster than this: Personalize's 3e-4 × 100; a long run at a higher rate would
/// let the grown parameters outgrow the embeddings they are added to.
const GROWN_LR_MOST: f64 = 3e-2;

/// The learning rate of a fine-tuned model's grown parameters when the rest learn at `lr`.
fn grown_lr(lr: f64) -> f64 {
    (lr * GROWN_LR).min(GROWN_LR_MOST)
}

/// The optimizer of every training loop: AdamW with a little weight decay.
pub fn adamw(varmap: &VarMap, lr: f64) -> candle_core::Result<candle_nn::AdamW> {
    adamw_of(varmap.all_vars(), lr)
}

/// The same optimizer over some of a model's parameters.
fn adamw_of(vars: Vec<candle_core::Var>, lr: f64) -> candle_core::Result<candle_nn::AdamW> {
    candle_nn::AdamW::new(vars, candle_nn::ParamsAdamW { lr, weight_decay: 0.01, ..Default::default() })
}

/// Writes the weights (atomically), their config and the run's progress (`NAME.train.json`).
pub(crate) fn save(varmap: &VarMap, cfg: &Config, state: &impl Serialize, out: &Path) -> Result<(), String> {
    let beside = [
        (config_path(out), serde_json::to_string_pretty(cfg).expect("config serializes")),
        (out.with_extension("train.json"), serde_json::to_string_pretty(state).expect("state serializes")),
    ];
    crate::files::write_model(out, |tmp| varmap.save(tmp).map_err(std::io::Error::other), &beside)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// Why a training run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The options, the data or a model file are wrong: the user can fix them (exit code 2).
    #[error("{0}")]
    Input(String),
    /// The run itself failed: a computation, or writing a checkpoint (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl From<candle_core::Error> for RunError {
    fn from(e: candle_core::Error) -> RunError {
        RunError::Failed(e.to_string())
    }
}

/// Trains, checkpointing every `eval_every` steps; `report(step, train_loss, heldout)` after each
/// step. `describe` gets the data mixture's report first.
pub fn train(
    o: &TrainOptions,
    describe: impl FnOnce(&[String]),
    mut report: impl FnMut(usize, f32, Option<f32>),
) -> Result<TrainState, RunError> {
    use RunError::{Failed, Input};
    crate::tuning::allocator();
    o.config.check().map_err(Input)?;
    let histories = load_histories(&o.data).map_err(Input)?;
    if histories.len() < 2 {
        return Err(Input(format!(
            "{}: need at least 2 histories (one is held out), found {}",
            o.data.display(),
            histories.len()
        )));
    }
    let held = match &o.held_out {
        Some(names) => histories.iter().map(|(n, _)| names.contains(n)).collect(),
        None => held_out(&histories),
    };
    let mut train_w = Mixture::of(&histories, &held, &o.config, o.window, o.cuts);
    train_w.copy_character_share = o.copy_character_share;
    let held_w = heldout_windows(&histories, &held, &o.config, o.window);
    if train_w.is_empty() {
        return Err(Input("no training windows: the histories hold no strokes or fills".into()));
    }
    describe(&train_w.report());

    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &crate::device::current());
    let model = StrokeTransformer::new(vb, &o.config)?;
    let mut state: TrainState =
        starting_point(&mut varmap, &o.out, o.resume, o.init.as_deref()).map_err(Input)?;
    let grown = match &o.init {
        Some(init) => grown_since(&varmap, init).map_err(Input)?,
        None => HashSet::new(),
    };
    if o.only_grown && grown.is_empty() {
        return Err(Input(
            "--only-grown: the model started from already has every parameter: nothing would train".into(),
        ));
    }
    // Fine-tuning, embeddings the model grew start at zeros while the rest starts trained:
    // they learn faster, or a short run would barely move them.
    let fast = |name: &str| grown.contains(name) && GROWN_FAST.iter().any(|g| name.starts_with(g));
    let trains = |name: &str| !o.only_grown || grown.contains(name);
    let vars = |want_fast: bool| -> Vec<candle_core::Var> {
        let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.iter().filter(|(n, _)| trains(n) && fast(n) == want_fast).map(|(_, v)| v.clone()).collect()
    };
    let mut opt = adamw_of(vars(false), o.lr)?;
    let mut opt_grown = adamw_of(vars(true), grown_lr(o.lr))?;
    let mut rng = Rng::new(o.seed ^ state.step as u64);
    let start = Instant::now();
    let first_step = state.step;
    let mut recent = Vec::new();
    while state.step < o.steps {
        if o.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            let progress =
                TrainState { seconds: state.seconds + start.elapsed().as_secs_f32(), ..state.clone() };
            save(&varmap, &o.config, &progress, &o.out).map_err(Failed)?;
            return Ok(progress);
        }
        let lr = o.lr * ((state.step + 1) as f64 / o.warmup.max(1) as f64).min(1.0);
        opt.set_learning_rate(lr);
        opt_grown.set_learning_rate(grown_lr(lr));
        let with_reference = rng.unit() < o.reference_rate;
        let chosen = train_w.draw(o.batch, with_reference, &mut rng);
        let t = batch(&chosen, &o.config, o.window, with_reference)?;
        let loss = loss_of(&model, &t, &chosen)?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        opt_grown.step(&grads)?;
        let l = loss.to_scalar::<f32>()?;
        recent.push(l);
        if recent.len() > 50 {
            recent.remove(0);
        }
        state.step += 1;
        state.train_loss = recent.iter().sum::<f32>() / recent.len() as f32;
        let secs = start.elapsed().as_secs_f32();
        state.ops_per_second = ((state.step - first_step) * o.batch * o.window) as f32 / secs.max(1e-6);
        let heldout = if state.step % o.eval_every == 0 || state.step == o.steps {
            state.heldout_loss = heldout_loss(&model, &held_w, &o.config, o.window)?;
            let progress = TrainState { seconds: state.seconds + secs, ..state.clone() };
            save(&varmap, &o.config, &progress, &o.out).map_err(Failed)?;
            Some(state.heldout_loss)
        } else {
            None
        };
        report(state.step, l, heldout);
    }
    state.seconds += start.elapsed().as_secs_f32();
    save(&varmap, &o.config, &state, &o.out).map_err(Failed)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mixture_keeps_the_characters_to_their_share_whatever_their_number() {
        let sources = ["hanzi", "photo", "scene"];
        for with_reference in [false, true] {
            assert_eq!(mixture(&sources, None, with_reference), vec![1.0 / 3.0; 3]);
            assert_eq!(mixture(&sources, Some(0.1), with_reference), vec![0.1, 0.45, 0.45]);
            assert_eq!(mixture(&sources, Some(0.7), with_reference), vec![0.7, 0.15, 0.15]);
            // Characters alone (or none): nothing to balance against.
            assert_eq!(mixture(&["hanzi"], Some(0.1), with_reference), vec![1.0]);
            assert_eq!(mixture(&["scene", "session"], Some(0.1), with_reference), vec![0.5, 0.5]);
        }
        assert_eq!(source_of("hanzi-04E00-a1.binpb"), "hanzi");
        assert_eq!(source_of("photo-chelsea-003.binpb"), "photo");
        assert_eq!(source_of("search-photo-chelsea-003.binpb"), SEARCH);
    }

    #[test]
    fn search_histories_teach_copying_in_place_of_the_teachers_pictures() {
        let sources = ["hanzi", "photo", "scene", SEARCH];
        // Copy mode: the characters' share, the rest all search.
        assert_eq!(mixture(&sources, Some(0.5), true), vec![0.5, 0.0, 0.0, 0.5]);
        // Free mode: the teacher's pictures, never search's.
        assert_eq!(mixture(&sources, Some(0.1), false), vec![0.1, 0.45, 0.45, 0.0]);
        // Search with no other pictures serves both.
        assert_eq!(mixture(&["hanzi", SEARCH], Some(0.1), false), vec![0.1, 0.9]);
        // A zero share is never drawn, even at the end of the list.
        // (The windows are told apart by their `done`.)
        let w = |name: &str, done| (name.to_owned(), vec![Window { done, ..Window::default() }]);
        let m = Mixture { sources: vec![w("scene", 1), w(SEARCH, 2)], copy_character_share: None };
        let mut rng = Rng::new(3);
        assert!(m.draw(200, false, &mut rng).iter().all(|w| w.done == 1));
        assert!(m.draw(200, true, &mut rng).iter().all(|w| w.done == 2));
    }

    #[test]
    fn fine_tuning_grows_the_progress_embedding_from_zeros_and_refuses_other_missing_weights() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.safetensors");
        let old = VarMap::new();
        StrokeTransformer::new(VarBuilder::from_varmap(&old, DType::F32, &Device::Cpu), &Config::tiny())
            .unwrap();
        old.save(&base).unwrap();
        let grown = Config { progress: 8, ..Config::tiny() };
        let mut varmap = VarMap::new();
        StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &grown).unwrap();
        starting_point::<TrainState>(&mut varmap, &dir.path().join("out.safetensors"), false, Some(&base))
            .unwrap();
        let data = varmap.data().lock().unwrap();
        let same = |name: &str| {
            let a = data[name].as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            a == old.data().lock().unwrap()[name].as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        assert!(same("op_pos.weight") && same("heads.0.weight"), "the base's weights are loaded");
        let progress = data["progress_emb.weight"].as_tensor().abs().unwrap().sum_all().unwrap();
        assert_eq!(progress.to_scalar::<f32>().unwrap(), 0.0);
        drop(data);

        // A weights file that lacks anything else is not this model's.
        let bigger = Config { n_layers: 3, ..Config::tiny() };
        let mut varmap = VarMap::new();
        StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &bigger).unwrap();
        let err = starting_point::<TrainState>(
            &mut varmap,
            &dir.path().join("out.safetensors"),
            false,
            Some(&base),
        )
        .unwrap_err();
        assert!(err.contains("base.safetensors") && err.contains("blocks.2."), "{err}");
    }

    #[test]
    fn training_only_what_grew_leaves_every_other_weight_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        for name in ["scene-a.jsonl", "scene-b.jsonl"] {
            std::fs::copy(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/still-life.jsonl"),
                data.join(name),
            )
            .unwrap();
        }
        // A model made before the shape prior, fine-tuned into one that has it.
        let base = dir.path().join("base.safetensors");
        let old = VarMap::new();
        let before = Config { shape: 0, ..Config::tiny() };
        StrokeTransformer::new(VarBuilder::from_varmap(&old, DType::F32, &Device::Cpu), &before).unwrap();
        old.save(&base).unwrap();
        let options = |init: &Path| TrainOptions {
            data: data.clone(),
            out: dir.path().join("out.safetensors"),
            config: Config::tiny(),
            steps: 3,
            batch: 2,
            window: 8,
            cuts: 1,
            lr: 1e-2,
            seed: 1,
            reference_rate: 0.5,
            copy_character_share: None,
            eval_every: 3,
            resume: false,
            init: Some(init.to_owned()),
            only_grown: true,
            held_out: Some(vec!["scene-b.jsonl".into()]),
            warmup: 1,
            stop: None,
        };
        train(&options(&base), |_| {}, |_, _, _| {}).unwrap();
        let tuned = candle_core::safetensors::load(dir.path().join("out.safetensors"), &Device::Cpu).unwrap();
        let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let old = old.data().lock().unwrap();
        for (name, var) in old.iter() {
            assert_eq!(values(var.as_tensor()), values(&tuned[name]), "{name} stays as it was");
        }
        let grew: Vec<_> = tuned.keys().filter(|n| !old.contains_key(*n)).collect();
        assert!(!grew.is_empty() && grew.iter().all(|n| n.starts_with("shape_prior.")), "{grew:?}");
        // Its query starts at zeros (a prior that says nothing) and has learned to say something.
        assert!(values(&tuned["shape_prior.query.weight"]).iter().any(|v| *v != 0.0), "the prior learned");

        // From a model that lacks nothing, nothing would train: said, not run.
        let full = dir.path().join("out.safetensors");
        let err = match train(
            &TrainOptions { out: dir.path().join("again.safetensors"), ..options(&full) },
            |_| {},
            |_, _, _| {},
        ) {
            Err(RunError::Input(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(err.contains("--only-grown") && err.contains("nothing would train"), "{err}");
    }

    #[test]
    fn resuming_reads_the_progress_file_and_refuses_one_that_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.safetensors");
        assert!(read_progress::<TrainState>(&out).unwrap().is_none(), "no file: a fresh start");
        std::fs::write(
            out.with_extension("train.json"),
            r#"{"step": 7, "train_loss": 1.0, "heldout_loss": 2.0, "ops_per_second": 3.0, "seconds": 4.0}"#,
        )
        .unwrap();
        assert_eq!(read_progress::<TrainState>(&out).unwrap().unwrap().step, 7);
        std::fs::write(out.with_extension("train.json"), "{ half a file").unwrap();
        let err = read_progress::<TrainState>(&out).unwrap_err();
        assert!(err.contains("m.train.json: not this command's progress file"), "{err}");
    }
}
