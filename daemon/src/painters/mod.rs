//! Painters: generators of the next ops of a painting, behind one interface,
//! so that the daemon and the CLI can stream from any of them.
//!
//! [`transformer::Transformer`] continues a history with the stroke
//! transformer; [`search::Search`] copies a reference with the transformer's
//! proposals judged by the engine ([`refine`]); [`teacher::Teacher`] paints a
//! reference coarse to fine (copy mode) and makes the training data;
//! [`sketch::Sketch`] is a simple non-learned baseline. Search also continues
//! without a reference, towards a picture it imagines ([`imagination`]).

pub mod analysis;
pub mod imagination;
pub mod refine;
pub mod rng;
pub mod search;
pub mod sketch;
pub mod teacher;
pub mod transformer;
pub mod working;

use crate::engine::Canvas;
use crate::ops::pb;

/// What a painter is asked to continue.
pub struct Request {
    /// The history so far (validated; undo/redo markers included).
    pub history: pb::History,
    /// The canvas as it stands after the history (or as the editor last showed it).
    pub canvas: Canvas,
    /// Copy mode: the picture to repaint, at the canvas size.
    pub reference: Option<Canvas>,
    /// 0 is the painter's most likely choice; higher is more adventurous.
    pub temperature: f32,
    pub seed: u64,
    /// Stroke tools the painter may use; empty means all.
    pub allowed_tools: Vec<pb::Tool>,
    /// A faster way than a replay to the canvas after the history's first
    /// ops, when the caller has one (a session's snapshots); `None`: replay.
    pub canvas_at: Option<CanvasAt>,
    /// Without a reference: how to imagine the finished picture (the magic
    /// brush); `None`: the canvas softened to its brushwork ([`imagination`]).
    pub imagination: Option<Imagination>,
    /// Whether the caller has gone (cancelled, or past its deadline): set-up and long work
    /// within one op end early, with any valid op, which the caller will not take.
    pub stop: Option<Stopped>,
}

/// True once the work is no longer wanted.
pub type Stopped = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// Imagines the finished picture from the canvas as it stands.
pub type Imagine = Box<dyn FnMut(&Canvas) -> Canvas + Send>;

/// A way to imagine where the picture is going, and how often to look again.
pub struct Imagination {
    pub imagine: Imagine,
    /// Imagine again after this many ops (at least 1).
    pub every: usize,
}

/// The canvas after the first `n` effective ops (after undo/redo) of the
/// request's history, or `None` when it cannot say (then the painter replays).
pub type CanvasAt = Box<dyn Fn(usize) -> Option<Canvas> + Send>;

impl Request {
    /// Whether `tool` may be used.
    pub fn allows(&self, tool: pb::Tool) -> bool {
        self.allowed_tools.is_empty() || self.allowed_tools.contains(&tool)
    }

    /// Whether the caller has gone ([`Request::stop`]).
    pub fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s())
    }
}

/// A running continuation: yields one valid op at a time, as it decides it.
pub trait OpStream: Send {
    fn next_op(&mut self) -> pb::Op;
    /// The picture imagined while deciding the last op, once (a painter that
    /// imagines where the picture is going; others never have one).
    fn imagined(&mut self) -> Option<Canvas> {
        None
    }
}

pub trait Painter: Send + Sync {
    /// Short name, as clients ask for it (`ContinueRequest.painter`).
    fn name(&self) -> &'static str;
    /// Whether it can only work from a reference picture (copy mode).
    fn requires_reference(&self) -> bool {
        false
    }
    /// Whether it paints with the stroke transformer in use (a model file changes it).
    fn uses_model(&self) -> bool {
        false
    }
    fn start(&self, request: Request) -> Box<dyn OpStream>;
}

/// The painters this build offers.
pub fn all() -> Vec<Box<dyn Painter>> {
    all_with(None)
}

/// The painters, those that use the stroke transformer with `model` (`None`: the one in use
/// when they start).
fn all_with(
    model: Option<std::sync::Arc<crate::model::stroke_transformer::StrokeTransformer>>,
) -> Vec<Box<dyn Painter>> {
    let (transformer, search) = match model {
        Some(m) => (transformer::Transformer::new(m.clone()), search::Search::new(m)),
        None => (transformer::Transformer::active(), search::Search::active()),
    };
    vec![Box::new(transformer), Box::new(search), Box::new(teacher::Teacher), Box::new(sketch::Sketch)]
}

/// The painter used when none is named: search, in both modes — it copies
/// closest, and without a reference it continues a picture best (see
/// `apprentice eval`'s copy and continuation rows).
pub fn default_name(_copy_mode: bool) -> &'static str {
    "search"
}

/// The painter called `name`, or the default for the mode when `name` is empty.
pub fn by_name(name: &str, copy_mode: bool) -> Option<Box<dyn Painter>> {
    let name = if name.is_empty() { default_name(copy_mode) } else { name };
    all().into_iter().find(|p| p.name() == name)
}

/// Why a painter cannot be used for a request.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    #[error("unknown painter {name:?} (available: {available})")]
    Unknown { name: String, available: String },
    /// The painter only copies, and there is no reference.
    #[error("the {0} painter copies a reference: give one")]
    NeedsReference(&'static str),
}

/// The painter for a request: [`by_name`], refusing unknown names and copy-only
/// painters without a reference.
pub fn choose(name: &str, copy_mode: bool) -> Result<Box<dyn Painter>, ChoiceError> {
    choose_with(name, copy_mode, None)
}

/// [`choose`], the painter painting with `model` when it uses the stroke transformer.
pub fn choose_with(
    name: &str,
    copy_mode: bool,
    model: Option<std::sync::Arc<crate::model::stroke_transformer::StrokeTransformer>>,
) -> Result<Box<dyn Painter>, ChoiceError> {
    let wanted = if name.is_empty() { default_name(copy_mode) } else { name };
    let painter =
        all_with(model).into_iter().find(|p| p.name() == wanted).ok_or_else(|| ChoiceError::Unknown {
            name: name.to_owned(),
            available: all().iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        })?;
    if painter.requires_reference() && !copy_mode {
        return Err(ChoiceError::NeedsReference(painter.name()));
    }
    Ok(painter)
}
