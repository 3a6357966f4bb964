//! The transformer painter: the stroke transformer continues the history.
//!
//! Its context is the canvas as it stood before the last few ops, the
//! reference (copy mode), and those ops; it then samples one op at a time,
//! field by field, with the grammar of the tokenizer (the kind first, then only
//! the fields that kind uses), paints it on its own canvas and feeds it back
//! through the KV cache. When the context is full it starts a fresh one from
//! the canvas as it stands.
//!
//! Sampling: the place first; then the model glimpses the canvas (and the
//! reference) there before colour, size and shape. The temperature scales
//! every field, the colour's at [`COLOUR_TEMPERATURE`] of it (a colour should
//! come from the picture, not from chance), and each draw keeps only the most
//! likely values that make up [`TOP_P`] of the probability (nucleus sampling),
//! so the rare values the model barely believes in are never painted.

use std::sync::Arc;

use candle_core::Tensor;

use super::rng::Rng;
use super::{OpStream, Painter, Request};
use crate::engine::{Canvas, Engine};
use crate::model::projected_state::ProjectedState;
use crate::model::stroke_transformer::{KvCache, StrokeTransformer};
use crate::model::{inputs, place_prior};
use crate::ops::{pb, timeline};
use crate::tokenizer::{ALL_FIELDS, FIELDS, Field, OpToken, PLACE_END, Tokenizer, kind};

/// The default sampling temperature of every painter that samples the model:
/// chosen by `apprentice eval`'s continuation rows (README, "Sampling").
pub const DEFAULT_TEMPERATURE: f32 = 0.7;
/// The colour fields' temperature as a share of the others'.
pub const COLOUR_TEMPERATURE: f32 = 0.5;
/// Nucleus sampling: the share of probability mass kept at each draw.
pub const TOP_P: f32 = 0.95;

pub struct Transformer {
    /// `None`: the model in use when a run starts (see [`crate::model::registry`]).
    model: Option<Arc<StrokeTransformer>>,
}

impl Transformer {
    pub fn new(model: Arc<StrokeTransformer>) -> Transformer {
        Transformer { model: Some(model) }
    }

    /// Paints with whichever model is in use when a run starts.
    pub fn active() -> Transformer {
        Transformer { model: None }
    }
}

impl Painter for Transformer {
    fn name(&self) -> &'static str {
        "transformer"
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn start(&self, request: Request) -> Box<dyn OpStream> {
        let model = self.model.clone().unwrap_or_else(|| crate::model::registry::active().model);
        Box::new(TransformerRun::new(model, request))
    }
}

pub(crate) struct TransformerRun {
    model: Arc<StrokeTransformer>,
    tokenizer: Tokenizer,
    engine: Engine,
    reference: Option<Tensor>,
    /// The reference at full size, for glimpses.
    reference_canvas: Option<Canvas>,
    /// The reference at the state's side (`None` without a reference or a state input).
    reference_state: Option<Vec<f32>>,
    /// The state input given at the current position (`None` when the model has none).
    state: Option<Vec<f32>>,
    /// Its projection, kept up to date op by op (on the CPU; see [`ProjectedState`]).
    projected: Option<ProjectedState>,
    /// The place prior at the current position, once asked for: search samples many
    /// candidates from one position, and the prior costs more than the rest of a draw.
    joint: Option<Vec<f32>>,
    /// The place prior's cells, kept up to date from op to op (see [`place_prior::Cells`]).
    cells: Option<place_prior::Cells>,
    cache: KvCache,
    /// Hidden state that predicts the next op.
    hidden: Tensor,
    /// Op position of the next op in the context.
    position: usize,
    rng: Rng,
    temperature: f32,
    /// Draw from the model's own distribution (no colour scale, no nucleus): reinforcement.
    exact: bool,
    /// Which token kinds may be sampled.
    allowed: [bool; kind::COUNT as usize],
    /// The caller's stop ([`Request::stop`]).
    stop: Option<super::Stopped>,
}

fn picture_tensor(canvas: &Canvas, side: usize) -> Tensor {
    Tensor::from_vec(inputs::picture(canvas, side), (1, 3, side, side), &crate::device::current())
        .expect("shape matches")
}

/// States of consecutive positions as one [1, n, state_len] tensor (`None` without any).
fn states_tensor(states: &[Vec<f32>]) -> Option<Tensor> {
    let len = states.first()?.len();
    let values = states.concat();
    Some(Tensor::from_vec(values, (1, states.len(), len), &crate::device::current()).expect("shape matches"))
}

/// The model's state input for `canvas` (`None` when the model has none).
fn state_of(side: usize, canvas: &Canvas, reference: Option<&[f32]>) -> Option<Vec<f32>> {
    (side > 0).then(|| inputs::state(&inputs::state_picture(canvas, side), reference))
}

fn tokens_tensor(tokens: &[OpToken]) -> Tensor {
    Tensor::from_vec(inputs::flatten(tokens), (1, tokens.len(), FIELDS), &crate::device::current())
        .expect("shape matches")
}

/// Samples an index from logits at `temperature` (0: the most likely) among
/// the most likely values holding `top_p` of the probability.
pub fn sample(logits: &[f32], temperature: f32, top_p: f32, rng: &mut Rng) -> usize {
    let best = logits.iter().enumerate().fold(0, |b, (i, &v)| if v > logits[b] { i } else { b });
    if temperature <= 0.0 {
        return best;
    }
    let max = logits[best];
    let mut weights: Vec<(usize, f32)> =
        logits.iter().map(|&l| ((l - max) / temperature).exp()).enumerate().collect();
    weights.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f32 = weights.iter().map(|w| w.1).sum();
    let mut kept = 0.0;
    let nucleus = weights.iter().position(|w| {
        kept += w.1;
        kept >= top_p * total
    });
    weights.truncate(nucleus.map_or(weights.len(), |i| i + 1));
    let mut r = rng.unit() * weights.iter().map(|w| w.1).sum::<f32>();
    for &(i, w) in &weights {
        if r < w {
            return i;
        }
        r -= w;
    }
    best
}

/// The temperature of `field` when the painter's is `t`.
fn field_temperature(field: Field, t: f32) -> f32 {
    match field {
        Field::Red | Field::Green | Field::Blue => t * COLOUR_TEMPERATURE,
        _ => t,
    }
}

impl TransformerRun {
    pub(crate) fn new(model: Arc<StrokeTransformer>, request: Request) -> TransformerRun {
        let cfg = model.config().clone();
        let header = request.history.header.clone().unwrap_or_default();
        let tokenizer = Tokenizer::new(&header);
        let mut allowed = [false; kind::COUNT as usize];
        for (k, tool) in [
            (kind::BRUSH, pb::Tool::Brush),
            (kind::AIRBRUSH, pb::Tool::Airbrush),
            (kind::PENCIL, pb::Tool::Pencil),
            (kind::ERASER, pb::Tool::Eraser),
            (kind::SMUDGE, pb::Tool::Smudge),
        ] {
            allowed[k as usize] = request.allows(tool);
        }
        allowed[kind::FILL as usize] = request.allowed_tools.is_empty();

        // Context: the last ops (up to half the window, leaving room to paint) and the
        // canvas as it stood before them; only those are tokenized, however long the history.
        let ops = timeline::effective(&request.history.ops);
        let mut recent: Vec<(usize, OpToken)> = ops
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(i, o)| tokenizer.encode(o).map(|t| (i, t)))
            .take(cfg.context_ops())
            .collect();
        recent.reverse();
        // With no ops in the context, the canvas before them is the canvas itself (not copied).
        let before = match recent.first() {
            None => None,
            Some(&(cut, _)) => Some(request.canvas_at.as_ref().and_then(|at| at(cut)).unwrap_or_else(|| {
                let mut engine = Engine::new(&header);
                // A caller gone stops the replay: what is made of it will not be used.
                for op in &ops[..cut] {
                    if request.stopped() {
                        break;
                    }
                    engine.apply(op);
                }
                engine.into_canvas()
            })),
        };
        let before = before.as_ref().unwrap_or(&request.canvas);
        let reference = request.reference.as_ref().map(|r| picture_tensor(r, cfg.image_side));
        let reference_canvas = request.reference.clone();
        let reference_state = match cfg.state {
            0 => None,
            side => request.reference.as_ref().map(|r| inputs::state_picture(r, side)),
        };
        // The canvas at each context position: before the first op, after each op of the
        // context (replayed, with whatever untokenized ops lie between), and as it stands.
        let mut states = Vec::new();
        if cfg.state > 0 {
            let state = |c: &Canvas| state_of(cfg.state, c, reference_state.as_deref()).expect("state > 0");
            states.push(state(before));
            if let Some(&(cut, _)) = recent.first() {
                let mut engine = Engine::from_canvas(before.clone());
                let mut next = recent.iter().skip(1).map(|&(i, _)| i).peekable();
                for (i, op) in ops.iter().enumerate().skip(cut) {
                    // A caller gone stops the replay, as above.
                    if request.stopped() {
                        break;
                    }
                    if next.peek() == Some(&i) {
                        next.next();
                        states.push(state(engine.canvas()));
                    }
                    // A magic-brush dab without its pixels would be painted by the brush again
                    // (a fifth of a second) for a 16² view: left out of the views between; the
                    // last one, the canvas as it stands, has it.
                    if !matches!(&op.kind, Some(pb::op::Kind::MagicBrush(m)) if m.result.is_none()) {
                        engine.apply(op);
                    }
                }
                // Stopped early, some are missing: the run will not be used, any state will do.
                states.resize(recent.len(), states[0].clone());
                states.push(state(&request.canvas));
            }
        }
        let mut context = vec![inputs::start()];
        context.extend(recent.iter().map(|&(_, t)| t));
        // Ops of the history before the context (all of them when it holds none).
        let done = recent.first().map_or(ops.len(), |&(i, _)| i);
        let mut cache = KvCache::default();
        let hidden = model
            .prefill(
                &picture_tensor(before, cfg.image_side),
                reference.as_ref(),
                &tokens_tensor(&context),
                states_tensor(&states).as_ref(),
                done,
                &mut cache,
            )
            .expect("the model runs on its own shapes");
        let state = states.pop();
        let projected = match &state {
            Some(s) => model.projected_state(s).expect("the model runs on its own shapes"),
            None => None,
        };
        TransformerRun {
            model,
            tokenizer,
            engine: Engine::from_canvas(request.canvas),
            reference,
            reference_canvas,
            reference_state,
            state,
            projected,
            joint: None,
            cells: None,
            cache,
            hidden,
            position: context.len(),
            rng: Rng::new(request.seed),
            temperature: request.temperature,
            exact: false,
            allowed,
            stop: request.stop,
        }
    }

    /// Whether the caller has gone: long work for the next op may end early.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s())
    }

    /// Samples from the model's own distribution at the run's temperature, as
    /// reinforcement differentiates it (no colour scale, no nucleus).
    pub(crate) fn exactly(mut self) -> TransformerRun {
        self.exact = true;
        self
    }

    /// The model's glimpse input at the place of `token` (its x and y decoded).
    pub(crate) fn glimpse(&self, token: &OpToken) -> Vec<f32> {
        let cells = self.model.config().glimpse;
        let (x, y) = self.tokenizer.place(token);
        let mut g = inputs::glimpse(self.engine.canvas(), x, y, cells);
        match &self.reference_canvas {
            Some(r) => {
                g.extend(inputs::glimpse(r, x, y, cells));
                g.push(1.0);
            }
            None => g.extend(std::iter::repeat_n(0.0, inputs::glimpse_len(cells) + 1)),
        }
        g
    }

    /// Samples the next op's token, field by field, within the grammar.
    pub(crate) fn sample_token(&mut self) -> candle_core::Result<OpToken> {
        Ok(self.sample_token_and_glimpse()?.0)
    }

    /// Samples the next op's token and says what the model glimpsed at its place.
    pub(crate) fn sample_token_and_glimpse(&mut self) -> candle_core::Result<(OpToken, Vec<f32>)> {
        // Plain numbers, not tensors, from here: see `crate::model::plain`.
        let hidden = self.hidden.flatten_all()?.to_vec1::<f32>()?;
        let mut cond = vec![0.0f32; hidden.len()];
        let mut token = OpToken::default();
        let mut glimpse = Vec::new();
        let side = self.model.config().state;
        if self.joint.is_none() {
            self.joint =
                self.model.place_prior_values_kept(&hidden, self.state.as_deref(), &mut self.cells)?;
        }
        let joint = self.joint.clone();
        let (aspect_x, aspect_y) = self.tokenizer.aspects();
        let mut shape = None;
        for (i, &field) in ALL_FIELDS.iter().enumerate() {
            let used = i == 0 || OpToken::used(token.get(Field::Kind)).contains(&field);
            let value = if used {
                let x: Vec<f32> = hidden.iter().zip(&cond).map(|(h, c)| h + c).collect();
                let mut logits = self.model.head_values(i, &x)?;
                let (start_x, start_y) = (token.get(Field::X), token.get(Field::Y));
                if field == Field::Dx1 {
                    let anchor = place_prior::anchor(start_x, start_y, side);
                    shape = self.model.shape_prior_values(&x, self.state.as_deref(), anchor)?;
                }
                let prior = match (field, &joint, &shape) {
                    (Field::X, Some(joint), _) => Some(place_prior::bias_values(joint, side, None)),
                    (Field::Y, Some(joint), _) => Some(place_prior::bias_values(joint, side, Some(start_x))),
                    (Field::Dx1, _, Some(shape)) => {
                        Some(place_prior::step_bias_values(shape, side, start_x, aspect_x, None))
                    }
                    (Field::Dy1, _, Some(shape)) => {
                        let reached = place_prior::step_cells(start_x, side, aspect_x)
                            [usize::from(token.get(Field::Dx1))];
                        Some(place_prior::step_bias_values(shape, side, start_y, aspect_y, Some(reached)))
                    }
                    _ => None,
                };
                if let Some(prior) = prior {
                    logits.iter_mut().zip(prior).for_each(|(l, p)| *l += p);
                }
                if field == Field::Kind {
                    for (k, l) in logits.iter_mut().enumerate() {
                        if k == kind::START as usize || !self.allowed[k] {
                            *l = f32::NEG_INFINITY;
                        }
                    }
                }
                if self.exact {
                    sample(&logits, self.temperature, 1.0, &mut self.rng) as u16
                } else {
                    sample(&logits, field_temperature(field, self.temperature), TOP_P, &mut self.rng) as u16
                }
            } else {
                0
            };
            token.set(field, value);
            if i + 1 < FIELDS {
                self.model.add_condition(i, u32::from(value), &mut cond)?;
            }
            if i == PLACE_END {
                glimpse = self.glimpse(&token);
                self.model.add_glimpse_condition(&glimpse, &mut cond)?;
            }
        }
        Ok((token, glimpse))
    }

    /// The state input given at the current position (`None` when the model has none).
    pub(crate) fn state(&self) -> Option<&[f32]> {
        self.state.as_deref()
    }

    pub(crate) fn advance(&mut self, token: &OpToken) -> candle_core::Result<()> {
        let cfg = self.model.config().clone();
        self.state = state_of(cfg.state, self.engine.canvas(), self.reference_state.as_deref());
        self.joint = None;
        let state = || self.state.as_ref().and_then(|s| states_tensor(std::slice::from_ref(s)));
        if self.position >= cfg.max_ops {
            // The context is full: start again from the canvas as it is now, after the
            // context's ops and this one.
            let canvas = picture_tensor(self.engine.canvas(), cfg.image_side);
            let start = tokens_tensor(&[inputs::start()]);
            let done = self.cache.done() + self.position;
            self.hidden = self.model.prefill(
                &canvas,
                self.reference.as_ref(),
                &start,
                state().as_ref(),
                done,
                &mut self.cache,
            )?;
            self.position = 1;
            return Ok(());
        }
        let token = tokens_tensor(&[*token]);
        self.hidden = match (&mut self.projected, &self.state) {
            (Some(p), Some(s)) => {
                self.model.step_projected(&token, p.update(s), self.position, &mut self.cache)?
            }
            _ => self.model.step(&token, state().as_ref(), self.position, &mut self.cache)?,
        };
        self.position += 1;
        Ok(())
    }
}

impl TransformerRun {
    /// The op a token stands for on this canvas.
    pub(crate) fn decode(&self, token: &OpToken) -> pb::Op {
        self.tokenizer.decode(token)
    }

    /// The token of `op` (`None` for ops the tokenizer does not cover).
    pub(crate) fn encode(&self, op: &pb::Op) -> Option<OpToken> {
        self.tokenizer.encode(op)
    }

    pub(crate) fn canvas(&self) -> &Canvas {
        self.engine.canvas()
    }

    /// The canvas being painted, for trials that put back what they change.
    pub(crate) fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Paints `op` (the decoding of `token`) and feeds it back to the model.
    pub(crate) fn commit(&mut self, token: &OpToken, op: &pb::Op) {
        self.engine.apply(op);
        self.advance(token).expect("the model runs on its own shapes");
    }
}

impl OpStream for TransformerRun {
    fn next_op(&mut self) -> pb::Op {
        let token = self.sample_token().expect("the model runs on its own shapes");
        let op = self.decode(&token);
        self.commit(&token, &op);
        op
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;
    use crate::model::stroke_transformer::Config;
    use crate::ops::{Rgba, validate};

    fn tiny() -> Arc<StrokeTransformer> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        Arc::new(StrokeTransformer::new(vb, &Config { max_ops: 12, ..Config::tiny() }).unwrap())
    }

    fn request(seed: u64, allowed_tools: Vec<pb::Tool>, ops: Vec<pb::Op>) -> Request {
        let header = pb::Header { width: 80, height: 60, ..Default::default() };
        Request {
            history: pb::History { header: Some(header), ops },
            canvas: Canvas::new(80, 60, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }),
            reference: None,
            temperature: 1.0,
            seed,
            allowed_tools,
            canvas_at: None,
            stop: None,
            imagination: None,
        }
    }

    #[test]
    fn a_random_model_still_paints_only_valid_ops_within_the_allowed_tools() {
        let model = tiny();
        let header = pb::Header { width: 80, height: 60, ..Default::default() };
        let start: Vec<pb::Op> = {
            let mut run = Transformer::new(model.clone()).start(request(1, vec![], vec![]));
            (0..5).map(|_| run.next_op()).collect()
        };
        // Past the 12-op context, from a history of 5, with only the pencil and the eraser.
        let mut run =
            Transformer::new(model).start(request(2, vec![pb::Tool::Pencil, pb::Tool::Eraser], start));
        for _ in 0..30 {
            let op = run.next_op();
            validate::op(&op, &header).unwrap();
            let Some(pb::op::Kind::Stroke(s)) = &op.kind else {
                panic!("no fills when tools are restricted")
            };
            assert!(matches!(s.tool(), pb::Tool::Pencil | pb::Tool::Eraser), "{:?}", s.tool());
        }
    }

    #[test]
    fn the_same_seed_paints_the_same_ops() {
        let model = tiny();
        let paint = |seed| {
            let mut run = Transformer::new(model.clone()).start(request(seed, vec![], vec![]));
            (0..8).map(|_| run.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(paint(5), paint(5));
        assert_ne!(paint(5), paint(6));
    }

    #[test]
    fn the_model_is_shown_the_canvas_as_it_stands_after_every_op_it_paints() {
        let model = tiny();
        let side = model.config().state;
        let mut req = request(3, vec![pb::Tool::Brush], vec![]);
        let reference = crate::training::scenes::scene(80, 60, 2);
        req.reference = Some(reference.clone());
        let mut run = TransformerRun::new(model, req);
        let small = |c: &Canvas| inputs::state_picture(c, side);
        for _ in 0..4 {
            let expected = inputs::state(&small(run.canvas()), Some(&small(&reference)));
            assert_eq!(run.state(), Some(&expected[..]));
            run.next_op();
        }
        // Painted over, the canvas differs from the white it started as, and so does the state.
        let white = inputs::state(
            &small(&Canvas::new(80, 60, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 })),
            Some(&small(&reference)),
        );
        assert_ne!(run.state(), Some(&white[..]));
    }

    #[test]
    fn what_is_kept_of_the_canvas_op_by_op_is_what_would_be_made_afresh_at_every_op() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        // Past a 24-op context, so that the context starts again from the canvas once.
        let model = Arc::new(StrokeTransformer::new(vb, &Config { max_ops: 24, ..Config::tiny() }).unwrap());
        // The canvas's projection and the place prior's query and context start at zeros (grown
        // inputs): given weights, the canvas counts.
        for (name, var) in varmap.data().lock().unwrap().iter() {
            if name.starts_with("state_proj.") || name.starts_with("place_prior.") {
                var.set(&Tensor::randn(0f32, 0.5, var.shape(), &Device::Cpu).unwrap()).unwrap();
            }
        }
        let copying = || Request {
            reference: Some(crate::training::scenes::scene(80, 60, 3)),
            ..request(9, vec![], vec![])
        };
        let mut kept = TransformerRun::new(model.clone(), copying());
        let mut afresh = TransformerRun::new(model, copying());
        assert!(kept.projected.is_some(), "on the CPU the projection is kept");
        afresh.projected = None;
        for i in 0..40 {
            // The place prior's cells too: made afresh from the state input at every op.
            afresh.cells = None;
            if i > 0 {
                assert!(kept.cells.is_some(), "op {i}: the cells are kept");
            }
            assert_eq!(kept.next_op(), afresh.next_op(), "op {i}");
            let (a, b) = (kept.hidden.flatten_all().unwrap(), afresh.hidden.flatten_all().unwrap());
            let (a, b) = (a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());
            let most = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(most < 1e-4, "op {i}: hidden states differ by {most}");
        }
    }
}

#[cfg(test)]
mod sampling_tests {
    use super::*;

    #[test]
    fn nucleus_sampling_never_draws_values_outside_the_top_p() {
        // Probabilities about 0.6, 0.3, 0.07, 0.03: at top_p 0.9 only the first two are drawn.
        let logits = [0.6f32.ln(), 0.3f32.ln(), 0.07f32.ln(), 0.03f32.ln()];
        let mut rng = Rng::new(1);
        let mut seen = [0; 4];
        for _ in 0..2000 {
            seen[sample(&logits, 1.0, 0.9, &mut rng)] += 1;
        }
        assert_eq!(seen[2] + seen[3], 0, "{seen:?}");
        assert!(seen[1] > 400, "the second value is still drawn: {seen:?}");
        // With top_p 1 the tail is drawn too.
        let tail = (0..2000).filter(|_| sample(&logits, 1.0, 1.0, &mut rng) >= 2).count();
        assert!(tail > 100, "{tail}");
        assert_eq!(sample(&logits, 0.0, 0.9, &mut rng), 0, "temperature 0 is the most likely");
    }
}
