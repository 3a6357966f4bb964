//! The stroke transformer: a decoder-only transformer over the op history,
//! conditioned on the canvas and, in copy mode, a reference picture.
//!
//! Sequence: `[canvas patches | reference patches | START, op₁, op₂, …]`. The
//! canvas (as it stood before the first op of the window) and the reference are
//! seen at `image_side`² and cut into `patch`² patches, each projected to one
//! position (with no reference, learned "no reference" positions stand in).
//! Each op is one position: the sum of one embedding per token field (see
//! [`crate::tokenizer`]) and, when the config has a `state` side, of a view of
//! the canvas as it stands after that op (and in copy mode of what the reference
//! still holds beyond it) at `state`² — so at every op the trunk sees what has
//! been painted so far, not only the canvas before the window and the ops' tokens.
//! Attention is causal over the whole sequence.
//!
//! The hidden state at op position t predicts op t+1 field by field: field j's
//! head reads the hidden state plus conditioning embeddings of fields 0..j of
//! the same op (the true ones in training, the sampled ones in generation), so
//! the fields of one op are decoded autoregressively by small heads, at the
//! cost of one transformer step per op.
//!
//! The place is decoded first (kind, x, y); then the fields after it also see
//! a *glimpse*: the canvas (and the reference, in copy mode) around that place
//! at two scales, at full detail (see [`crate::model::inputs::glimpse`]),
//! embedded by a small MLP into the same conditioning sum. So a colour is
//! chosen looking at what lies where it will be painted; the whole canvas
//! enters the trunk only as the coarse patch prefix.
//!
//! Everything here has a backward pass: no fused softmax or layer norm (see
//! the candle-nn trap in DESIGN.md), and a test checks every parameter's gradient.

use candle_core::{D, DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder, embedding, linear_no_bias};

use crate::model::bias;
use crate::model::gelu::gelu;
use crate::model::place_prior::{self, PlacePrior};
use crate::model::plain;
use crate::model::projected_state::ProjectedState;
use serde::{Deserialize, Serialize};

use crate::tokenizer::{ALL_FIELDS, FIELDS, Field, PLACE_END};

/// Parameters a model fine-tuned from an older one may lack: they start at their initial
/// values (zeros: the model starts out painting as the older one did).
pub const GROWN: &[&str] = &["progress_emb.", "state_proj.", "place_prior.", "shape_prior."];

/// Progress buckets of the default size: ops by fours up to 64, … , by 64s up to 1,984.
pub const PROGRESS_BUCKETS: usize = 80;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_ff: usize,
    /// Most op positions in one context, START included.
    pub max_ops: usize,
    /// Side length at which the canvas and the reference are seen.
    pub image_side: usize,
    /// Patch side length; `image_side` must be a multiple of it.
    pub patch: usize,
    /// Cells per side of each view of the glimpse around the place being painted.
    pub glimpse: usize,
    /// Buckets of "ops painted so far" (see [`Config::progress_bucket`]), so that the model
    /// knows how far into a picture it is — a painter blocks in early and details late. 0: it
    /// does not see it (models trained before it; their config files have no such field).
    #[serde(default)]
    pub progress: usize,
    /// Side of the per-op view of the canvas as it stands (see [`crate::model::inputs::state`]).
    /// 0: none (models trained before it; their config files have no such field).
    #[serde(default)]
    pub state: usize,
    /// Width of the place prior's keys ([`crate::model::place_prior`]; needs a `state`).
    /// 0: none.
    #[serde(default)]
    pub pointer: usize,
    /// Width of the shape prior's keys (where a stroke's first step goes from its start, the
    /// place prior anchored there; needs a `state`). 0: none.
    #[serde(default)]
    pub shape: usize,
    /// Coarser scales of the state map the priors' cells also read around them (the map
    /// pooled 2 × 2, 4 × 4, …; see [`crate::model::place_prior`]). 0: none.
    #[serde(default)]
    pub context: usize,
}

impl Config {
    /// A few thousand parameters: for tests. Like the shipped model, it does not see progress.
    pub fn tiny() -> Config {
        Config {
            d_model: 32,
            n_layers: 2,
            n_heads: 4,
            d_ff: 64,
            max_ops: 64,
            image_side: 16,
            patch: 8,
            glimpse: 4,
            progress: 0,
            state: 4,
            pointer: 8,
            shape: 8,
            context: 1,
        }
    }

    /// The default model's size: trains on a CPU, small enough to ship.
    pub fn small() -> Config {
        Config {
            d_model: 192,
            n_layers: 4,
            n_heads: 6,
            d_ff: 576,
            max_ops: 256,
            image_side: 64,
            patch: 16,
            glimpse: 8,
            progress: PROGRESS_BUCKETS,
            state: 16,
            pointer: 64,
            shape: 64,
            context: 2,
        }
    }

    /// The bucket of an op that has `ops` ops of its picture before it: 16 buckets 4 ops
    /// wide (fine while blocking in), then 16 of 8, of 16, … ; the last holds the rest.
    pub fn progress_bucket(&self, ops: usize) -> u32 {
        let last = self.progress.saturating_sub(1);
        let (mut bucket, mut start, mut width) = (0, 0, 4);
        while bucket < last {
            if ops < start + 16 * width {
                return (bucket + (ops - start) / width).min(last) as u32;
            }
            (bucket, start, width) = (bucket + 16, start + 16 * width, 2 * width);
        }
        last as u32
    }

    /// Positions taken by one picture.
    pub fn patches(&self) -> usize {
        (self.image_side / self.patch).pow(2)
    }

    /// Ops of a history the model is shown before it paints: half its positions, leaving
    /// room to paint.
    pub fn context_ops(&self) -> usize {
        self.max_ops / 2
    }

    /// Positions before the first op: canvas and reference patches.
    pub fn prefix_len(&self) -> usize {
        2 * self.patches()
    }

    /// Values of one glimpse: the canvas's views, the reference's (zeros
    /// without one), and 1 or 0 for whether there is a reference.
    pub fn glimpse_len(&self) -> usize {
        2 * crate::model::inputs::glimpse_len(self.glimpse) + 1
    }

    /// Values of one op's state input (0 without one).
    pub fn state_len(&self) -> usize {
        crate::model::inputs::state_len(self.state)
    }

    /// The same model seeing the canvas at every op twice as fine (a 16² view becomes 32²),
    /// the priors' cells reading one more context scale: what [`crate::model::finer::carry`]
    /// carries a model to.
    pub fn finer(&self) -> std::result::Result<Config, String> {
        match self.state {
            0 => Err("the model has no view of the canvas at every op to make finer".into()),
            s => Ok(Config { state: 2 * s, context: self.context + 1, ..self.clone() }),
        }
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        if self.d_model % self.n_heads != 0 {
            return Err(format!("d_model {} is not a multiple of n_heads {}", self.d_model, self.n_heads));
        }
        if self.patch == 0 || self.image_side % self.patch != 0 {
            return Err(format!("image_side {} is not a multiple of patch {}", self.image_side, self.patch));
        }
        if (self.pointer > 0 || self.shape > 0) && self.state == 0 {
            return Err("the place and shape priors (pointer, shape) need the state map (state > 0)".into());
        }
        if (self.pointer > 0 || self.shape > 0) && self.state % (1 << self.context) != 0 {
            return Err(format!(
                "context {}: the {}² state map cannot be pooled 2 × 2 that many times",
                self.context, self.state
            ));
        }
        if self.glimpse == 0 {
            return Err("glimpse must be at least 1 cell".into());
        }
        if self.max_ops < 2 {
            return Err("max_ops must be at least 2".into());
        }
        Ok(())
    }
}

/// Layer normalization with a backward pass ([`crate::model::layer_norm`]).
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    fn new(d: usize, vb: VarBuilder) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: vb.get_with_hints(d, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(d, "bias", candle_nn::Init::Const(0.0))?,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        crate::model::layer_norm::layer_norm(x, &self.weight, &self.bias, 1e-5)
    }
}

/// A linear layer (candle-nn's, with its parameter names and initialisation) whose bias is
/// added by [`bias::add`], so that its gradient is a plain sum of rows.
struct Linear {
    inner: candle_nn::Linear,
    bias: Option<Tensor>,
}

fn linear(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<Linear> {
    let l = candle_nn::linear(d_in, d_out, vb)?;
    Ok(Linear { inner: candle_nn::Linear::new(l.weight().clone(), None), bias: l.bias().cloned() })
}

fn no_bias(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<Linear> {
    Ok(Linear { inner: linear_no_bias(d_in, d_out, vb)?, bias: None })
}

impl Linear {
    /// `forward` of one row, in plain numbers (CPU weights).
    fn values(&self, x: &[f32]) -> Result<Vec<f32>> {
        plain::read(self.inner.weight(), |w| match &self.bias {
            Some(b) => plain::read(b, |b| plain::linear(x, w, Some(b))),
            None => Ok(plain::linear(x, w, None)),
        })?
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.inner.forward(x)?;
        match &self.bias {
            Some(b) => bias::add(&y, b),
            None => Ok(y),
        }
    }
}

/// Keys and values of the positions seen so far, per layer.
#[derive(Default)]
pub struct KvCache {
    layers: Vec<Option<LayerCache>>,
    /// Ops of the picture painted before the context's START.
    done: usize,
}

/// One layer's keys and values `[B, heads, capacity, head_dim]`, the first `len` positions
/// filled. A step writes its position in place (the buffer grows by doubling), where
/// concatenating copied the whole cache at every op.
struct LayerCache {
    k: Tensor,
    v: Tensor,
    len: usize,
}

impl LayerCache {
    /// Appends `k`, `v` `[B, heads, L, head_dim]`; returns all keys and values so far.
    fn append(slot: &mut Option<LayerCache>, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        let Some(c) = slot else {
            // The first call (a prefill, or a training window) keeps its own tensors: in
            // training they carry the gradient, and nothing ever writes into them.
            let len = k.dim(2)?;
            *slot = Some(LayerCache { k: k.clone(), v: v.clone(), len });
            return Ok((k, v));
        };
        let (l, end) = (k.dim(2)?, c.len + k.dim(2)?);
        if end > c.k.dim(2)? {
            let grow = |old: &Tensor| -> Result<Tensor> {
                let (b, h, _, hd) = old.dims4()?;
                let bigger = Tensor::zeros((b, h, (2 * end).max(16), hd), old.dtype(), old.device())?;
                bigger.slice_set(&old.narrow(2, 0, c.len)?.contiguous()?, 2, 0)?;
                Ok(bigger)
            };
            (c.k, c.v) = (grow(&c.k)?, grow(&c.v)?);
        }
        c.k.slice_set(&k, 2, c.len)?;
        c.v.slice_set(&v, 2, c.len)?;
        c.len += l;
        Ok((c.k.narrow(2, 0, end)?, c.v.narrow(2, 0, end)?))
    }
}

impl KvCache {
    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |c| c.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ops of the picture painted before the context's START.
    pub fn done(&self) -> usize {
        self.done
    }
}

struct Attention {
    qkv: Linear,
    out: Linear,
    n_heads: usize,
}

impl Attention {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Attention> {
        Ok(Attention {
            qkv: linear(cfg.d_model, 3 * cfg.d_model, vb.pp("qkv"))?,
            out: linear(cfg.d_model, cfg.d_model, vb.pp("out"))?,
            n_heads: cfg.n_heads,
        })
    }

    /// `x`: [B, L, d] new positions; `cache`: keys/values of earlier positions.
    fn forward(&self, x: &Tensor, cache: &mut Option<LayerCache>) -> Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let hd = d / self.n_heads;
        let qkv = self.qkv.forward(x)?.reshape((b, l, 3, self.n_heads, hd))?.permute((2, 0, 3, 1, 4))?;
        let (q, k, v) = (qkv.i(0)?.contiguous()?, qkv.i(1)?.contiguous()?, qkv.i(2)?.contiguous()?);
        let (k, v) = LayerCache::append(cache, k, v)?;
        let total = k.dim(2)?;
        let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?;
        let scores = if l > 1 {
            // Causal: new position i (at total - l + i) sees positions up to itself.
            let offset = total - l;
            let mask: Vec<f32> = (0..l)
                .flat_map(|i| (0..total).map(move |j| if j <= offset + i { 0.0 } else { f32::NEG_INFINITY }))
                .collect();
            let mask = Tensor::from_vec(mask, (l, total), x.device())?;
            scores.broadcast_add(&mask)?
        } else {
            scores
        };
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let y = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, l, d))?;
        self.out.forward(&y)
    }
}

struct Block {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl Block {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Block> {
        Ok(Block {
            ln1: LayerNorm::new(cfg.d_model, vb.pp("ln1"))?,
            attn: Attention::new(cfg, vb.pp("attn"))?,
            ln2: LayerNorm::new(cfg.d_model, vb.pp("ln2"))?,
            fc1: linear(cfg.d_model, cfg.d_ff, vb.pp("fc1"))?,
            fc2: linear(cfg.d_ff, cfg.d_model, vb.pp("fc2"))?,
        })
    }

    fn forward(&self, x: &Tensor, cache: &mut Option<LayerCache>) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, cache)?)?;
        let h = self.fc2.forward(&gelu(&self.fc1.forward(&self.ln2.forward(&x)?)?)?)?;
        x + h
    }
}

pub struct StrokeTransformer {
    cfg: Config,
    field_emb: Vec<Embedding>,
    op_pos: Embedding,
    /// How far into the picture each op position is (`None` when `progress` is 0).
    progress_emb: Option<Embedding>,
    /// The canvas as it stands at each op position (`None` when `state` is 0).
    state_proj: Option<Linear>,
    place_prior: Option<PlacePrior>,
    shape_prior: Option<PlacePrior>,
    patch_proj: Linear,
    patch_pos: Embedding,
    /// 0: canvas, 1: reference, 2: no reference.
    image_kind: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    cond_emb: Vec<Embedding>,
    glimpse_in: Linear,
    glimpse_out: Linear,
    head_ln: LayerNorm,
    heads: Vec<Linear>,
}

impl StrokeTransformer {
    pub fn new(vb: VarBuilder, cfg: &Config) -> Result<StrokeTransformer> {
        cfg.check().map_err(candle_core::Error::msg)?;
        let d = cfg.d_model;
        let vocab = |i: usize| usize::from(ALL_FIELDS[i].vocab());
        Ok(StrokeTransformer {
            cfg: cfg.clone(),
            field_emb: (0..FIELDS)
                .map(|i| embedding(vocab(i), d, vb.pp(format!("field_emb.{i}"))))
                .collect::<Result<_>>()?,
            op_pos: embedding(cfg.max_ops, d, vb.pp("op_pos"))?,
            // Zeros at first: a model fine-tuned from one without it starts out painting the same.
            progress_emb: match cfg.progress {
                0 => None,
                n => Some(Embedding::new(
                    vb.pp("progress_emb").get_with_hints((n, d), "weight", candle_nn::Init::Const(0.0))?,
                    d,
                )),
            },
            // Zeros at first, as the progress embedding.
            state_proj: match cfg.state {
                0 => None,
                _ => Some(Linear {
                    inner: candle_nn::Linear::new(
                        vb.pp("state_proj").get_with_hints(
                            (d, cfg.state_len()),
                            "weight",
                            candle_nn::Init::Const(0.0),
                        )?,
                        None,
                    ),
                    bias: None,
                }),
            },
            place_prior: match cfg.pointer {
                0 => None,
                width => Some(PlacePrior::new(vb.pp("place_prior"), d, cfg.state, width, cfg.context)?),
            },
            shape_prior: match cfg.shape {
                0 => None,
                width => Some(PlacePrior::anchored(vb.pp("shape_prior"), d, cfg.state, width, cfg.context)?),
            },
            patch_proj: linear(3 * cfg.patch * cfg.patch, d, vb.pp("patch_proj"))?,
            patch_pos: embedding(cfg.patches(), d, vb.pp("patch_pos"))?,
            image_kind: embedding(3, d, vb.pp("image_kind"))?,
            blocks: (0..cfg.n_layers)
                .map(|i| Block::new(cfg, vb.pp(format!("blocks.{i}"))))
                .collect::<Result<_>>()?,
            ln_f: LayerNorm::new(d, vb.pp("ln_f"))?,
            // The last field conditions nothing after it.
            cond_emb: (0..FIELDS - 1)
                .map(|i| embedding(vocab(i), d, vb.pp(format!("cond_emb.{i}"))))
                .collect::<Result<_>>()?,
            glimpse_in: linear(cfg.glimpse_len(), d, vb.pp("glimpse_in"))?,
            glimpse_out: linear(d, d, vb.pp("glimpse_out"))?,
            head_ln: LayerNorm::new(d, vb.pp("head_ln"))?,
            heads: (0..FIELDS)
                .map(|i| no_bias(d, vocab(i), vb.pp(format!("heads.{i}"))))
                .collect::<Result<_>>()?,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// [B, 3, S, S] pictures in [0, 1] → [B, patches, d].
    fn embed_picture(&self, pictures: &Tensor, kind: u32) -> Result<Tensor> {
        let (b, _, s, _) = pictures.dims4()?;
        let (p, n) = (self.cfg.patch, s / self.cfg.patch);
        let patches = pictures.reshape((b, 3, n, p, n, p))?.permute((0, 2, 4, 1, 3, 5))?.reshape((
            b,
            n * n,
            3 * p * p,
        ))?;
        let x = self.patch_proj.forward(&(patches - 0.5)?)?;
        let pos = self.patch_pos.forward(&Tensor::arange(0u32, (n * n) as u32, pictures.device())?)?;
        let kind = self.image_kind.forward(&Tensor::new(&[kind], pictures.device())?)?.squeeze(0)?;
        bias::add(&bias::add(&x, &pos)?, &kind)
    }

    /// The positions standing for "no reference": [B, patches, d].
    fn no_reference(&self, b: usize, device: &Device) -> Result<Tensor> {
        let n = self.cfg.patches();
        let pos = self.patch_pos.forward(&Tensor::arange(0u32, n as u32, device)?)?;
        let kind = self.image_kind.forward(&Tensor::new(&[2u32], device)?)?;
        pos.broadcast_add(&kind)?.unsqueeze(0)?.repeat((b, 1, 1))
    }

    /// [B, T, FIELDS] tokens at op positions `start..start + T` of contexts whose START
    /// follows `done[b]` ops of their picture, with the canvas after each ([B, T, state_len],
    /// when the model sees it) → [B, T, d].
    fn embed_ops(
        &self,
        tokens: &Tensor,
        states: Option<&Tensor>,
        start: usize,
        done: &[usize],
    ) -> Result<Tensor> {
        let projected = match &self.state_proj {
            None => None,
            Some(proj) => {
                let Some(states) = states else {
                    candle_core::bail!("this model sees the canvas at every op: no states given")
                };
                Some(proj.forward(&(states - 0.5)?)?)
            }
        };
        self.embed_projected(tokens, projected.as_ref(), start, done)
    }

    /// [`Self::embed_ops`] with the states already projected ([B, T, d], or [1, 1, d] from a
    /// [`ProjectedState`] while sampling).
    fn embed_projected(
        &self,
        tokens: &Tensor,
        projected: Option<&Tensor>,
        start: usize,
        done: &[usize],
    ) -> Result<Tensor> {
        let (b, t) = (tokens.dim(0)?, tokens.dim(1)?);
        let mut x: Option<Tensor> = None;
        for (i, emb) in self.field_emb.iter().enumerate() {
            let e = emb.forward(&tokens.i((.., .., i))?.contiguous()?)?;
            x = Some(match x {
                Some(x) => (x + e)?,
                None => e,
            });
        }
        let pos = self.op_pos.forward(&Tensor::arange(start as u32, (start + t) as u32, tokens.device())?)?;
        let mut x = bias::add(&x.expect("an op has fields"), &pos)?;
        if let Some(projected) = projected {
            x = (x + projected)?;
        }
        match &self.progress_emb {
            None => Ok(x),
            Some(emb) => {
                if done.len() != b {
                    candle_core::bail!("{} progress counts for a batch of {b}", done.len());
                }
                let ids: Vec<u32> = done
                    .iter()
                    .flat_map(|&d| (start..start + t).map(move |p| self.cfg.progress_bucket(d + p)))
                    .collect();
                x + emb.forward(&Tensor::from_vec(ids, (b, t), tokens.device())?)?
            }
        }
    }

    fn run_blocks(&self, mut x: Tensor, cache: &mut KvCache) -> Result<Tensor> {
        cache.layers.resize_with(self.blocks.len(), || None);
        for (block, layer_cache) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            x = block.forward(&x, layer_cache)?;
        }
        self.ln_f.forward(&x)
    }

    /// Hidden states at the op positions of a whole window: `inputs` [B, T, FIELDS]
    /// (START first, after `done[b]` ops of its picture) and the canvas after each
    /// (`states`, see [`crate::model::inputs::state`]), canvas and reference [B, 3, S, S]
    /// → [B, T, d].
    pub fn hidden(
        &self,
        canvas: &Tensor,
        reference: Option<&Tensor>,
        inputs: &Tensor,
        states: Option<&Tensor>,
        done: &[usize],
    ) -> Result<Tensor> {
        let b = inputs.dim(0)?;
        let reference = match reference {
            Some(r) => self.embed_picture(r, 1)?,
            None => self.no_reference(b, inputs.device())?,
        };
        let x = Tensor::cat(
            &[self.embed_picture(canvas, 0)?, reference, self.embed_ops(inputs, states, 0, done)?],
            1,
        )?;
        let h = self.run_blocks(x, &mut KvCache::default())?;
        h.narrow(1, self.cfg.prefix_len(), inputs.dim(1)?)
    }

    /// Logits of every field, teacher-forced by `targets` [B, T, FIELDS] and
    /// the glimpses at their places `glimpses` [B, T, glimpse_len], with the place
    /// prior read from the states at the positions ([B, T, state_len], when the model
    /// has one): one tensor [B, T, vocab] per field.
    pub fn field_logits(
        &self,
        hidden: &Tensor,
        targets: &Tensor,
        glimpses: &Tensor,
        states: Option<&Tensor>,
    ) -> Result<Vec<Tensor>> {
        self.group_logits(hidden, targets, glimpses, states, 1)
    }

    /// [`Self::field_logits`] for `group` sets of targets after the same positions: `hidden`
    /// and `states` [B, T, ..], `targets` and `glimpses` [G·B, T, ..] (rows `[group][b]`) →
    /// [G·B, T, vocab] per field. The place prior, which reads only the positions, is
    /// computed once for the group (on a fine view it costs more than the rest).
    pub fn group_logits(
        &self,
        hidden: &Tensor,
        targets: &Tensor,
        glimpses: &Tensor,
        states: Option<&Tensor>,
        group: usize,
    ) -> Result<Vec<Tensor>> {
        let (b, t, d) = hidden.dims3()?;
        let repeat = |x: &Tensor| Tensor::cat(&vec![x; group], 0);
        let joint = match self.place_prior(&hidden.reshape((b * t, d))?, states)? {
            Some(joint) => Some(repeat(&joint)?),
            None => None,
        };
        let (hidden, states) = (repeat(hidden)?, states.map(repeat).transpose()?);
        let (hidden, states, b) = (&hidden, states.as_ref(), b * group);
        let column = |f: Field| -> Result<Vec<u16>> {
            Ok(targets
                .i((.., .., f as usize))?
                .flatten_all()?
                .to_vec1::<u32>()?
                .iter()
                .map(|&v| v as u16)
                .collect())
        };
        let side = self.cfg.state;
        let mut shape = None;
        let mut cond = hidden.zeros_like()?;
        let mut out = Vec::with_capacity(FIELDS);
        for (i, field) in ALL_FIELDS.iter().enumerate() {
            let x = (hidden + &cond)?;
            let mut logits = self.heads[i].forward(&self.head_ln.forward(&x)?)?;
            if *field == Field::Dx1 && self.shape_prior.is_some() {
                let (xs, ys) = (column(Field::X)?, column(Field::Y)?);
                let anchors: Vec<usize> =
                    xs.iter().zip(&ys).map(|(&x, &y)| place_prior::anchor(x, y, side)).collect();
                shape = self.shape_prior(&x.reshape((b * t, d))?, states, &anchors)?.map(|j| (j, xs, ys));
            }
            let bias = match (field, &joint, &shape) {
                (Field::X, Some(joint), _) => Some(place_prior::x_bias(joint)?),
                (Field::Y, Some(joint), _) => {
                    let x = targets.i((.., .., Field::X as usize))?.flatten_all()?;
                    Some(place_prior::y_bias(joint, &x)?)
                }
                (Field::Dx1, _, Some((joint, xs, _))) => Some(place_prior::step_bias(joint, xs, None)?),
                (Field::Dy1, _, Some((joint, xs, ys))) => {
                    let reached: Vec<usize> = xs
                        .iter()
                        .zip(column(Field::Dx1)?)
                        .map(|(&x, dx)| place_prior::step_cells(x, side, 1.0)[usize::from(dx)])
                        .collect();
                    Some(place_prior::step_bias(joint, ys, Some(&reached))?)
                }
                _ => None,
            };
            if let Some(bias) = bias {
                logits = (logits + bias.reshape((b, t, ()))?)?;
            }
            out.push(logits);
            if let Some(emb) = self.cond_emb.get(i) {
                cond = (cond + emb.forward(&targets.i((.., .., i))?.contiguous()?)?)?;
            }
            if i == PLACE_END {
                cond = (cond + self.glimpse_condition(glimpses)?)?;
            }
        }
        Ok(out)
    }

    /// The shape prior's log-probabilities over the cells a stroke's first step reaches
    /// [N, G, G], for the heads' inputs at the first step [N, d], the states at their
    /// positions and each row's start cell; `None` for a model without one.
    pub fn shape_prior(
        &self,
        x: &Tensor,
        states: Option<&Tensor>,
        anchors: &[usize],
    ) -> Result<Option<Tensor>> {
        let Some(prior) = &self.shape_prior else { return Ok(None) };
        let Some(states) = states else {
            candle_core::bail!("this model's shape prior reads the states: none given")
        };
        let n = x.dim(0)?;
        prior.forward(x, &states.reshape((n, ()))?, Some(anchors)).map(Some)
    }

    /// The place prior's log-probabilities over cells [N, G, G] for hidden states [N, d] and
    /// the states at their positions ([.., state_len], N rows); `None` for a model without one.
    pub fn place_prior(&self, hidden: &Tensor, states: Option<&Tensor>) -> Result<Option<Tensor>> {
        let Some(prior) = &self.place_prior else { return Ok(None) };
        let Some(states) = states else {
            candle_core::bail!("this model's place prior reads the states: none given")
        };
        let n = hidden.dim(0)?;
        prior.forward(hidden, &states.reshape((n, ()))?, None).map(Some)
    }

    /// The glimpse's conditioning embedding: [.., glimpse_len] → [.., d].
    pub fn glimpse_condition(&self, glimpse: &Tensor) -> Result<Tensor> {
        self.glimpse_out.forward(&gelu(&self.glimpse_in.forward(&(glimpse - 0.5)?)?)?)
    }

    /// Mean cross-entropy per op over the fields each target op uses (`mask`
    /// [B, T, FIELDS], 1 where a field counts).
    #[allow(clippy::too_many_arguments)]
    pub fn loss(
        &self,
        canvas: &Tensor,
        reference: Option<&Tensor>,
        inputs: &Tensor,
        states: Option<&Tensor>,
        done: &[usize],
        targets: &Tensor,
        glimpses: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        let hidden = self.hidden(canvas, reference, inputs, states, done)?;
        let logits = self.field_logits(&hidden, targets, glimpses, states)?;
        let mut total = Tensor::zeros((), DType::F32, inputs.device())?;
        for (i, l) in logits.iter().enumerate() {
            let logp = candle_nn::ops::log_softmax(l, D::Minus1)?;
            let picked = logp
                .gather(&targets.i((.., .., i))?.contiguous()?.unsqueeze(D::Minus1)?, D::Minus1)?
                .squeeze(D::Minus1)?;
            total = (total - (picked * mask.i((.., .., i))?)?.sum_all()?)?;
        }
        let ops = mask.i((.., .., 0))?.sum_all()?;
        total.broadcast_div(&ops)
    }

    /// Starts generation: canvas, reference and the ops so far (START first,
    /// at most `max_ops - 1`, after `done` ops of the picture, with their states)
    /// go into the cache; returns the last hidden state [1, d].
    pub fn prefill(
        &self,
        canvas: &Tensor,
        reference: Option<&Tensor>,
        inputs: &Tensor,
        states: Option<&Tensor>,
        done: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        *cache = KvCache { done, ..KvCache::default() };
        let reference = match reference {
            Some(r) => self.embed_picture(r, 1)?,
            None => self.no_reference(1, inputs.device())?,
        };
        let x = Tensor::cat(
            &[self.embed_picture(canvas, 0)?, reference, self.embed_ops(inputs, states, 0, &[done])?],
            1,
        )?;
        let h = self.run_blocks(x, cache)?;
        let last = h.dim(1)? - 1;
        h.i((.., last, ..))
    }

    /// One more op (and the canvas after it) into the cache at op position `position`;
    /// returns its hidden state [1, d].
    pub fn step(
        &self,
        token: &Tensor,
        state: Option<&Tensor>,
        position: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let x = self.embed_ops(token, state, position, &[cache.done])?;
        self.run_blocks(x, cache)?.i((.., 0, ..))
    }

    /// The state input's projection for sampling op by op on the CPU, kept up to date by
    /// [`ProjectedState::update`] and given to [`Self::step_projected`] (`None` for a model
    /// without a state input, or off the CPU, where [`Self::step`] projects it).
    pub fn projected_state(&self, state: &[f32]) -> Result<Option<ProjectedState>> {
        match &self.state_proj {
            Some(proj) if self.on_cpu() => {
                plain::read(proj.inner.weight(), |w| ProjectedState::new(w, state)).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// [`Self::step`] with the state input already projected (see [`Self::projected_state`]).
    pub fn step_projected(
        &self,
        token: &Tensor,
        projected: &[f32],
        position: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let projected = Tensor::from_slice(projected, (1, 1, projected.len()), token.device())?;
        let x = self.embed_projected(token, Some(&projected), position, &[cache.done])?;
        self.run_blocks(x, cache)?.i((.., 0, ..))
    }

    // What sampling reads at batch 1, as plain numbers: on the CPU computed by
    // [`plain`] straight from the weights (see there why), elsewhere by the tensor
    // layers above. Tested equal to them.

    fn on_cpu(&self) -> bool {
        self.head_ln.weight.device().is_cpu()
    }

    fn row(&self, x: &[f32]) -> Result<Tensor> {
        Tensor::from_slice(x, (1, x.len()), self.head_ln.weight.device())
    }

    /// Logits of field `i` for `x`, the hidden state plus the conditioning so far ([d]).
    pub fn head_values(&self, i: usize, x: &[f32]) -> Result<Vec<f32>> {
        if !self.on_cpu() {
            return self.heads[i].forward(&self.head_ln.forward(&self.row(x)?)?)?.squeeze(0)?.to_vec1();
        }
        let ln = &self.head_ln;
        let normed =
            plain::read(&ln.weight, |w| plain::read(&ln.bias, |b| plain::layer_norm(x, w, b, 1e-5)))??;
        self.heads[i].values(&normed)
    }

    /// Adds the conditioning embedding of value `v` of field `i` (not the last) to `cond` ([d]).
    pub fn add_condition(&self, i: usize, v: u32, cond: &mut [f32]) -> Result<()> {
        let table = self.cond_emb[i].embeddings();
        let d = cond.len();
        let range = v as usize * d..(v as usize + 1) * d;
        if !self.on_cpu() {
            let row = table.get(v as usize)?.to_vec1::<f32>()?;
            plain::add_scaled(cond, 1.0, &row);
            return Ok(());
        }
        plain::read(table, |t| match t.get(range) {
            Some(row) => {
                plain::add_scaled(cond, 1.0, row);
                Ok(())
            }
            None => Err(candle_core::Error::Msg(format!("field {i} has no value {v}"))),
        })?
    }

    /// Adds the glimpse's conditioning embedding ([`Self::glimpse_condition`]) to `cond`.
    pub fn add_glimpse_condition(&self, glimpse: &[f32], cond: &mut [f32]) -> Result<()> {
        let e = if self.on_cpu() {
            let centred: Vec<f32> = glimpse.iter().map(|g| g - 0.5).collect();
            let mut h = self.glimpse_in.values(&centred)?;
            h.iter_mut().for_each(|v| *v = crate::model::gelu::value(*v));
            self.glimpse_out.values(&h)?
        } else {
            self.glimpse_condition(&self.row(glimpse)?)?.squeeze(0)?.to_vec1()?
        };
        plain::add_scaled(cond, 1.0, &e);
        Ok(())
    }

    /// The place prior's log-probabilities over cells (`state`² values, row by row) for one
    /// hidden state and the state input at its position; `None` for a model without one.
    pub fn place_prior_values(&self, hidden: &[f32], state: Option<&[f32]>) -> Result<Option<Vec<f32>>> {
        self.place_prior_values_kept(hidden, state, &mut None)
    }

    /// [`Self::place_prior_values`] with the prior's cells kept in `kept` from one call to
    /// the next of a run (on the CPU; see [`place_prior::Cells`]): made at the first, brought
    /// up to the state input at the others.
    pub fn place_prior_values_kept(
        &self,
        hidden: &[f32],
        state: Option<&[f32]>,
        kept: &mut Option<place_prior::Cells>,
    ) -> Result<Option<Vec<f32>>> {
        let Some(prior) = &self.place_prior else { return Ok(None) };
        let Some(state) = state else {
            candle_core::bail!("this model's place prior reads the states: none given")
        };
        if self.on_cpu() {
            match kept {
                Some(cells) => cells.update(state),
                None => *kept = Some(place_prior::Cells::new(prior, state, None)?),
            }
            return kept.as_ref().expect("made above").values(prior, hidden).map(Some);
        }
        prior.forward(&self.row(hidden)?, &self.row(state)?, None)?.flatten_all()?.to_vec1().map(Some)
    }

    /// The shape prior's log-probabilities over cells for the heads' input `x` at the first
    /// step, the state input and the start's cell; `None` for a model without one.
    pub fn shape_prior_values(
        &self,
        x: &[f32],
        state: Option<&[f32]>,
        anchor: usize,
    ) -> Result<Option<Vec<f32>>> {
        let Some(prior) = &self.shape_prior else { return Ok(None) };
        let Some(state) = state else {
            candle_core::bail!("this model's shape prior reads the states: none given")
        };
        if self.on_cpu() {
            return prior.values(x, state, Some(anchor)).map(Some);
        }
        prior.forward(&self.row(x)?, &self.row(state)?, Some(&[anchor]))?.flatten_all()?.to_vec1().map(Some)
    }
}

#[cfg(test)]
mod tests;
