//! The search painter: at each step the stroke transformer proposes several
//! candidate ops, and the engine judges them against a target picture — the
//! model's taste, the engine's judgement. Each proposal is tried three ways:
//! as the model drew it; recoloured from the target; and, so recoloured, moved
//! to a place where the canvas is still wrong (drawn from the error map). The
//! op that brings the canvas closest is kept and fed back to the model.
//!
//! Copying, the colour is the one that brings the pixels an op covers closest
//! to the reference. Continuing, it is picked from the imagined picture where
//! the op starts, as a painter picks up paint where they begin, and each
//! proposal is also tried at the history's brush size and as a glaze
//! ([`GLAZE_OPACITY`]): a translucent layer moves a passage towards where the
//! picture is going and keeps what is already right under it, where a solid
//! stroke would paint it over. Strokes far bigger than the history's brushwork
//! are left out ([`SCALE_KEPT`]), and so, unless nothing else was proposed, are
//! ops a painter would not see and ops that spoil more than half of what they
//! mend ([`HARM_KEPT`]).
//!
//! In copy mode the target is the reference. Without one (Continue painting)
//! it imagines, then paints: the target is an imagined picture made from the
//! canvas — the canvas softened to its brushwork ([`super::imagination`]), or
//! what the request's imagination sees (the magic brush repainting the whole
//! canvas) — made again from the canvas as it then stands, every [`RESOFTEN`]
//! ops when softening, every [`REIMAGINE`] ops (or as often as the request
//! asks) with the magic brush. With neither brushwork nor an
//! imagination there is nothing to imagine from, and the model's own proposals
//! are painted as they come.

use std::sync::Arc;

use super::imagination;
use super::refine::moved;
use super::rng::Rng;
use super::transformer::TransformerRun;
use super::working::{VISIBLE, Working};
use super::{OpStream, Painter, Request};
use crate::engine::Canvas;
use crate::model::stroke_transformer::StrokeTransformer;
use crate::ops::pb;

/// Model proposals per op (each tried three ways).
pub const CANDIDATES: usize = 8;
/// When no candidate brings the canvas closer, up to this many rounds of
/// proposals in all before the least harmful one is painted (a stream must
/// give an op; near the end of a copy most proposals only disturb it).
const ROUNDS: usize = 3;
/// With the magic brush as imagination, the picture is imagined again after this
/// many ops (unless the request says otherwise); in copy mode on a big canvas, the
/// working copy is made afresh as often.
pub const REIMAGINE: usize = 25;
/// Imagining by softening, the picture is imagined again after this many ops. Softening
/// the painter's own strokes again and again drifts towards a blur: on pictures kept
/// apart from training and eval, continued by 100 ops, imagining every 10, 25, 50 and
/// 100 ops gave error ratios 0.940, 0.926, 0.929, 0.922 at half and colours 0.076,
/// 0.073, 0.069, 0.066 (and the same order at 30 and 80 %).
pub const RESOFTEN: usize = 100;

/// Continuing, each proposal is also tried at this opacity, at its own place, at the sizes of
/// [`GLAZE_SIZES`], in the colour picked where it starts (not when the history keeps to a
/// palette: a glaze mixes colours the palette does not have). Chosen on pictures kept apart
/// from training and eval (28 of them, `apprentice eval --kept-apart --continuation 12
/// --photo-crops 2`, cut at 30 / 50 / 80 %, continued by 100 ops): without glazes the error
/// ratios were 0.918 / 0.932 / 0.971 and the colours 0.084 / 0.063 / 0.045; with glazes at the
/// history's brush size and twice it 0.892 / 0.900 / 0.923 and 0.072 / 0.061 / 0.038 (at the
/// brush size alone 0.900 / 0.909 / 0.931, 0.076 / 0.065 / 0.042; at twice it alone 0.895 /
/// 0.910 / 0.933, 0.074 / 0.059 / 0.036; at 40 % opacity 0.907 / 0.912 / 0.938). At the
/// model's own size: 0.899 / 0.906 / 0.930, 0.078 / 0.065 / 0.043 — as good here, but the
/// model's odd sizes came in as glazes (the test painters' sizes). Glazes also tried where the
/// canvas is most wrong (moved there) reached 0.876 / 0.883 / 0.900, but their colours agreed
/// worse with the finished pictures (0.090 / 0.080 / 0.053): where the canvas is most wrong is
/// where the imagined picture is least sure of its colours.
pub const GLAZE_OPACITY: f32 = 0.3;
/// Glazes are tried at these multiples of the history's brush size: a glaze over a passage may
/// be broader than the strokes that made it (within [`SCALE_KEPT`]).
pub const GLAZE_SIZES: [f32; 2] = [1.0, 2.0];

/// Continuing, strokes more than this many times the history's brushwork are not painted:
/// a painter at work on detail is not continued with washes. On the kept-apart pictures
/// (teacher processes, coarse to fine) no stroke search chose was that big: alone, this cap
/// changed none of their figures.
pub const SCALE_KEPT: f32 = 2.0;

/// Continuing, a candidate is painted only when what it spoils (the error it adds where it
/// moves pixels away from the imagined picture) is at most this share of what it mends, and
/// only when a painter would see it ([`VISIBLE`]); others are the last choice of all, when
/// nothing else was proposed. A stroke that mends one spot and spoils a longer path (a pale
/// glaze dragged from a small pattern across a meadow) is not a painter's stroke, and one in
/// the colour already under it is no step of the painting. On the pictures kept apart (as
/// for [`GLAZE_OPACITY`]): error ratios 0.892 / 0.900 / 0.923 and colours 0.072 / 0.061 /
/// 0.038 before; seen ops only, 0.887 / 0.900 / 0.919 and 0.074 / 0.064 / 0.040; also at
/// most as much spoilt as mended (1), 0.888 / 0.900 / 0.916 and 0.074 / 0.062 / 0.040; half
/// (this) 0.888 / 0.900 / 0.918 and 0.074 / 0.064 / 0.039, with the fewest streaks on the
/// still life; a quarter drew a long dark streak there.
pub const HARM_KEPT: f64 = 0.5;

/// In copy mode with a magic brush, a dab is tried every this many ops.
pub const MAGIC_EVERY: usize = 5;

pub struct Search {
    /// `None`: the model in use when a run starts.
    model: Option<Arc<StrokeTransformer>>,
    /// Copy mode: also try this magic brush, a dab every [`MAGIC_EVERY`] ops.
    magic: Option<Arc<crate::diffusion::Brush>>,
}

impl Search {
    pub fn new(model: Arc<StrokeTransformer>) -> Search {
        Search { model: Some(model), magic: None }
    }

    pub fn active() -> Search {
        Search { model: None, magic: None }
    }

    /// In copy mode, every [`MAGIC_EVERY`] ops a magic-brush dab joins the candidates: at a
    /// place where the canvas is still wrong, a disc an eighth of the canvas wide, in the style
    /// (colour statistics) of the reference under it. It is painted when it brings the canvas
    /// closer than every stroke proposed; its pixels are recorded in the op.
    pub fn with_magic_brush(mut self, brush: Arc<crate::diffusion::Brush>) -> Search {
        self.magic = Some(brush);
        self
    }
}

impl Painter for Search {
    fn name(&self) -> &'static str {
        if self.magic.is_some() { "search + magic brush" } else { "search" }
    }

    fn uses_model(&self) -> bool {
        true
    }

    fn start(&self, request: Request) -> Box<dyn OpStream> {
        let model = self.model.clone().unwrap_or_else(|| crate::model::registry::active().model);
        // Placement draws from its own stream, so the model's samples do not depend on it.
        let rng = Rng::new(request.seed ^ 0x5ea2_c4e5);
        let Some(reference) = &request.reference else {
            let ops = crate::ops::timeline::effective(&request.history.ops);
            let brushwork = imagination::brushwork(&ops);
            let palette = imagination::palette(&ops);
            let mut request = request;
            let imagination = request.imagination.take();
            return Box::new(Imagining {
                inner: TransformerRun::new(model, request),
                working: None,
                brushwork,
                palette,
                own: Vec::new(),
                painted: 0,
                imagination,
                fresh: None,
                rng,
            });
        };
        let size = |c: &crate::engine::Canvas| (c.width(), c.height());
        assert_eq!(
            size(reference),
            size(&request.canvas),
            "the reference is scaled to the canvas before painting (Request::reference)"
        );
        // A dab's pixels cannot be scaled: with the magic brush, candidates are judged at full size.
        let working = match &self.magic {
            Some(_) => Working::full_size(&request.canvas, reference),
            None => Working::new(&request.canvas, reference),
        };
        let (magic, seed) = (self.magic.clone(), request.seed);
        Box::new(SearchRun {
            inner: TransformerRun::new(model, request),
            working,
            rng,
            magic,
            painted: 0,
            seed,
        })
    }
}

struct SearchRun {
    inner: TransformerRun,
    working: Working,
    rng: Rng,
    magic: Option<Arc<crate::diffusion::Brush>>,
    painted: usize,
    seed: u64,
}

/// Search without a reference: towards a picture imagined from the canvas.
struct Imagining {
    inner: TransformerRun,
    /// Judges against the picture imagined last; `None` until it is (re)imagined.
    working: Option<Working>,
    /// The diameter of the history's recent brushwork, which the painter keeps
    /// to; `None` when nothing was painted before it.
    brushwork: Option<f32>,
    /// The painter's palette, when the history keeps to one ([`imagination::palette`]).
    palette: Option<Vec<[f32; 3]>>,
    /// What this run painted, for the brushwork when the history had none.
    own: Vec<pb::Op>,
    /// Ops painted so far (the picture is imagined again every [`RESOFTEN`],
    /// or as often as the imagination asks).
    painted: usize,
    /// The magic brush's imagination, when the request brought one.
    imagination: Option<super::Imagination>,
    /// The picture imagined last, until it is asked for ([`OpStream::imagined`]).
    fresh: Option<Canvas>,
    rng: Rng,
}

impl Imagining {
    fn imagine(&mut self) {
        if self.brushwork.is_none() {
            self.brushwork = imagination::brushwork(&self.own.iter().collect::<Vec<_>>());
        }
        match &mut self.imagination {
            Some(imagination) => {
                let imagined = (imagination.imagine)(self.inner.canvas());
                // Even a blank canvas can be imagined; its brushwork is then a 16th of the canvas.
                let canvas = self.inner.canvas();
                let side = canvas.width().max(canvas.height()) as f32;
                self.brushwork = self.brushwork.or(Some((side / 16.0).max(2.0)));
                self.working = Some(Working::new(canvas, &imagined));
                self.fresh = Some(imagined);
            }
            None => {
                // Softened at the working size: the same blur in fewer pixels.
                let stop = || self.inner.stopped();
                self.working = self.brushwork.and_then(|d| {
                    Working::imagining(self.inner.canvas(), |copy, scale| {
                        imagination::soften_until(copy, d * scale, &stop)
                    })
                });
            }
        }
    }
}

impl OpStream for Imagining {
    fn imagined(&mut self) -> Option<Canvas> {
        self.fresh.take()
    }

    fn next_op(&mut self) -> pb::Op {
        let every = self.imagination.as_ref().map_or(RESOFTEN, |i| i.every.max(1));
        // Imagining takes whole-canvas work; a caller gone will not take this op.
        if self.painted % every == 0 && !self.inner.stopped() {
            self.imagine();
        } else if self.painted % REIMAGINE == 0
            && let Some(working) = &mut self.working
        {
            working.refresh(self.inner.canvas());
        }
        self.painted += 1;
        match &mut self.working {
            Some(working) => {
                let scale = self.brushwork.expect("a target is imagined from the brushwork");
                let palette = self.palette.as_deref();
                best_op(&mut self.inner, working, &mut self.rng, Colouring::Pick { scale, palette })
            }
            None => {
                let token = self.inner.sample_token().expect("the model runs on its own shapes");
                let op = self.inner.decode(&token);
                self.inner.commit(&token, &op);
                self.own.push(op.clone());
                op
            }
        }
    }
}

impl OpStream for SearchRun {
    fn next_op(&mut self) -> pb::Op {
        // What painting small got wrong is put right as often as Continue imagines again.
        if self.painted > 0 && self.painted % REIMAGINE == 0 {
            self.working.refresh(self.inner.canvas());
        }
        let (gain, op) = best_candidate(&mut self.inner, &mut self.working, &mut self.rng, Colouring::Fit);
        let turn = self.painted % MAGIC_EVERY == 0;
        self.painted += 1;
        if let Some(brush) = self.magic.clone().filter(|_| turn) {
            let seed = self.seed.wrapping_add(self.painted as u64);
            if let Some(dab) = magic_candidate(&brush, &mut self.inner, &self.working, &mut self.rng, seed)
                && self.working.gain(&dab) < gain
            {
                // The model has no token for a dab: it sees its pixels in the canvas only.
                self.inner.engine_mut().apply(&dab);
                self.working.paint(&dab);
                return dab;
            }
        }
        commit(&mut self.inner, &mut self.working, &op);
        op
    }
}

/// A magic-brush dab at a place where the canvas is still wrong, in the style of the
/// reference there, its pixels recorded; `None` when nothing is wrong or the brush fails.
fn magic_candidate(
    brush: &crate::diffusion::Brush,
    inner: &mut TransformerRun,
    working: &Working,
    rng: &mut Rng,
    seed: u64,
) -> Option<pb::Op> {
    use crate::diffusion::{Dab, SoftMask, brush::DEFAULT_STEPS, picture, style};
    debug_assert_eq!(working.scale(), 1.0, "dabs are judged at full size");
    let (w, h) = (inner.canvas().width(), inner.canvas().height());
    let (x, y) = working.errors().sample(rng)?;
    let radius = (w.min(h) as f32 / 16.0).max(4.0);
    let path = vec![pb::PathPoint { x, y }];
    let mask = SoftMask::from_path(&path, radius, w, h);
    // The reference's colours under the dab, weighted by the mask, as the dab's style.
    let r = working.target();
    let mut under = picture::Picture::new(mask.width, mask.height, [0.0; 3]);
    for my in 0..mask.height {
        for mx in 0..mask.width {
            let [cr, cg, cb] = r.at(mask.x as usize + mx, mask.y as usize + my);
            under.rgb[my * mask.width + mx] = [cr, cg, cb];
        }
    }
    let dab =
        // No cloned texture: search keeps what brings the canvas closer to the reference, and
        // texture from elsewhere never lines up with the reference's.
        Dab {
            style: style::features(&under, Some(&mask.alpha)),
            strength: 1.0,
            seed,
            steps: DEFAULT_STEPS,
            texture: 0.0,
            // Full noise: search picks among varied candidates.
            noise_scale: 1.0,
        };
    let result = brush.paint(inner.canvas(), &mask, &dab, &mut |_, _| true).ok()??;
    let m = pb::MagicBrush { path, radius, strength: 1.0, seed, result: Some(result), ..Default::default() };
    Some(pb::Op { kind: Some(pb::op::Kind::MagicBrush(m)) })
}

/// A stroke at brush diameter `size` (`None` for other ops).
fn resized(op: &pb::Op, size: f32) -> Option<pb::Op> {
    let mut op = op.clone();
    match &mut op.kind {
        Some(pb::op::Kind::Stroke(s)) => {
            s.brush.get_or_insert_with(Default::default).size =
                size.clamp(0.5, crate::ops::limits::MAX_BRUSH_SIZE);
            Some(op)
        }
        _ => None,
    }
}

/// How a proposal gets its colour from the target.
#[derive(Clone, Copy)]
enum Colouring<'a> {
    /// The least-squares colour (copy mode: the closest copy).
    Fit,
    /// The target's colour where the op starts (continuing: colours from the imagined
    /// picture), the proposal also tried at the history's brush size `scale` and as a
    /// glaze; with a painter's palette, its colour nearest to that.
    Pick { scale: f32, palette: Option<&'a [[f32; 3]]> },
}

fn recolour(working: &mut Working, op: &pb::Op, c: Colouring) -> Option<pb::Op> {
    let op = match c {
        Colouring::Fit => working.recoloured(op)?,
        Colouring::Pick { .. } => working.picked(op)?,
    };
    Some(in_palette(&op, c))
}

/// A stroke as a glaze: the same stroke at [`GLAZE_OPACITY`] (`None` for other ops).
fn glazed(op: &pb::Op) -> Option<pb::Op> {
    let mut op = op.clone();
    match &mut op.kind {
        Some(pb::op::Kind::Stroke(s)) => {
            s.brush.get_or_insert_with(Default::default).opacity = Some(GLAZE_OPACITY);
            Some(op)
        }
        _ => None,
    }
}

/// `op` in the palette's colour nearest to its own, when continuing a painter's palette.
fn in_palette(op: &pb::Op, c: Colouring) -> pb::Op {
    let Colouring::Pick { palette: Some(palette), .. } = c else { return op.clone() };
    let own = match &op.kind {
        Some(pb::op::Kind::Stroke(s)) => s.brush.as_ref().and_then(|b| b.color),
        Some(pb::op::Kind::Fill(f)) => f.color,
        _ => None,
    };
    match own {
        Some(own) => super::refine::with_colour(op, imagination::nearest(palette, [own.r, own.g, own.b])),
        None => op.clone(),
    }
}

/// The best candidate ([`best_candidate`]), painted and fed back to the model.
fn best_op(inner: &mut TransformerRun, working: &mut Working, rng: &mut Rng, colouring: Colouring) -> pb::Op {
    let (_, op) = best_candidate(inner, working, rng, colouring);
    commit(inner, working, &op);
    op
}

/// Paints `op` and feeds its token to the model. The model gets the token of what was
/// painted; the canvas gets the op itself, with its exact colour and place (a token snaps
/// colours to 32 levels and positions to the tokenizer's grid).
fn commit(inner: &mut TransformerRun, working: &mut Working, op: &pb::Op) {
    let token = inner.encode(op).expect("candidates are strokes and fills, which tokenize");
    inner.commit(&token, op);
    working.paint(op);
}

/// The ways `proposed` is tried: as proposed, recoloured, moved to where the canvas is still
/// wrong, and continuing at the brushwork's size and as glazes — none bigger than the scale kept.
fn candidates(
    working: &mut Working,
    errors: &super::working::Places,
    rng: &mut Rng,
    proposed: pb::Op,
    colouring: Colouring,
    (w, h): (usize, usize),
) -> Vec<pb::Op> {
    let recoloured = recolour(working, &proposed, colouring);
    let relocated = errors.sample(rng).map(|(x, y)| {
        let there = moved(recoloured.as_ref().unwrap_or(&proposed), x, y, w, h);
        recolour(working, &there, colouring).unwrap_or(there)
    });
    let (rescaled, glazes) = match colouring {
        Colouring::Pick { scale, palette } => (
            resized(relocated.as_ref().unwrap_or(&proposed), scale)
                .map(|op| recolour(working, &op, colouring).unwrap_or(op)),
            // A glaze mixes colours a palette does not have.
            match recoloured.as_ref().filter(|_| palette.is_none()) {
                Some(op) => GLAZE_SIZES.iter().filter_map(|&k| glazed(&resized(op, k * scale)?)).collect(),
                None => Vec::new(),
            },
        ),
        Colouring::Fit => (None, Vec::new()),
    };
    let in_scale = |op: &pb::Op| match (colouring, &op.kind) {
        (Colouring::Pick { scale, .. }, Some(pb::op::Kind::Stroke(s))) => {
            crate::ops::Brush::of(s).size <= SCALE_KEPT * scale
        }
        _ => true,
    };
    [Some(proposed), recoloured, relocated, rescaled]
        .into_iter()
        .flatten()
        .chain(glazes)
        .filter(in_scale)
        .collect()
}

/// Draws proposals from the model and judges each (as proposed, recoloured, moved, and when
/// picking colours at the brushwork's size and as a glaze) against the judge's target: the
/// best, with how much it changes the error (negative: closer).
fn best_candidate(
    inner: &mut TransformerRun,
    working: &mut Working,
    rng: &mut Rng,
    colouring: Colouring,
) -> (f64, pb::Op) {
    let (w, h) = (inner.canvas().width(), inner.canvas().height());
    let errors = working.errors();
    let mut best: Option<(f64, pb::Op)> = None;
    // Continuing, ops kept back (unseen, or spoiling too much: see HARM_KEPT): the last choice.
    let mut unseen: Option<(f64, pb::Op)> = None;
    for _ in 0..ROUNDS {
        let proposals: Vec<pb::Op> = (0..CANDIDATES)
            .map(|_| {
                let token = inner.sample_token().expect("the model runs on its own shapes");
                in_palette(&inner.decode(&token), colouring)
            })
            .collect();
        for proposed in proposals {
            for op in candidates(working, &errors, rng, proposed, colouring, (w, h)) {
                let gain = match colouring {
                    Colouring::Fit => working.gain(&op),
                    // Continuing: seen, and mending more than it spoils (see HARM_KEPT).
                    Colouring::Pick { .. } => {
                        let e = working.effect(&op);
                        if e.largest >= VISIBLE && e.harm <= HARM_KEPT * (e.harm - e.gain) {
                            e.gain
                        } else {
                            if unseen.as_ref().is_none_or(|(g, _)| e.gain < *g) {
                                unseen = Some((e.gain, op));
                            }
                            continue;
                        }
                    }
                };
                if best.as_ref().is_none_or(|(g, _)| gain < *g) {
                    best = Some((gain, op));
                }
            }
            if inner.stopped() {
                break;
            }
        }
        if best.as_ref().is_some_and(|(gain, _)| *gain < 0.0) || inner.stopped() {
            break;
        }
    }
    best.or(unseen).expect("at least one candidate")
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::VarBuilder;

    use super::super::analysis::{Picture, mse};
    use super::super::teacher::Teacher;
    use super::super::transformer::{DEFAULT_TEMPERATURE, Transformer};
    use super::*;
    use crate::engine::{Canvas, Engine};
    use crate::model::stroke_transformer::Config;
    use crate::ops::{Brush, Rgba, validate};

    fn request(side: u32, reference: &Canvas, seed: u64) -> Request {
        Request {
            history: pb::History {
                header: Some(pb::Header { width: side, height: side, ..Default::default() }),
                ops: vec![],
            },
            canvas: white(side),
            reference: Some(reference.clone()),
            temperature: 0.7,
            seed,
            allowed_tools: vec![],
            canvas_at: None,
            stop: None,
            imagination: None,
        }
    }

    fn white(side: u32) -> Canvas {
        Canvas::new(side as usize, side as usize, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 })
    }

    /// A tiny model with random weights.
    /// A model that knows nothing, the same every run: zero weights give uniform logits,
    /// so its proposals come from the painter's seeded sampling alone. (Random weights
    /// would come from candle's unseeded CPU generator and make these tests flaky.)
    fn untrained() -> Arc<StrokeTransformer> {
        let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
        Arc::new(StrokeTransformer::new(vb, &Config::tiny()).unwrap())
    }

    #[test]
    fn continuing_a_painter_who_keeps_to_a_palette_paints_in_it() {
        let paints = [[0.8f32, 0.25, 0.15], [0.15, 0.35, 0.65], [0.9, 0.75, 0.25]];
        let header = pb::Header { width: 64, height: 64, ..Default::default() };
        // Thirty short dabs of a 6 px brush in three paints.
        let mut rng = Rng::new(5);
        let history: Vec<pb::Op> = (0..30)
            .map(|i| {
                let (x, y) = (rng.range(6.0, 58.0), rng.range(6.0, 58.0));
                let [r, g, b] = paints[i % 3];
                pb::Op {
                    kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                        tool: pb::Tool::Brush as i32,
                        brush: Some(pb::BrushState {
                            size: 6.0,
                            color: Some(pb::Color { r, g, b, a: None }),
                            ..Default::default()
                        }),
                        points: vec![
                            pb::Point { x, y, ..Default::default() },
                            pb::Point { x: x + 2.0, y, ..Default::default() },
                        ],
                    })),
                }
            })
            .collect();
        let mut engine = Engine::from_canvas(white(64));
        for op in &history {
            engine.apply(op);
        }
        let mut run = Search::new(untrained()).start(Request {
            history: pb::History { header: Some(header.clone()), ops: history },
            canvas: engine.canvas().clone(),
            reference: None,
            ..request(64, &white(64), 4)
        });
        let mut coloured = 0;
        for _ in 0..20 {
            let op = run.next_op();
            validate::op(&op, &header).unwrap();
            let colour = match &op.kind {
                Some(pb::op::Kind::Stroke(s)) if Brush::of(s).tool != pb::Tool::Eraser => {
                    s.brush.as_ref().and_then(|b| b.color)
                }
                Some(pb::op::Kind::Fill(f)) => f.color,
                _ => None,
            };
            if let Some(c) = colour {
                coloured += 1;
                assert!(paints.contains(&[c.r, c.g, c.b]), "{c:?} is not one of the painter's paints");
            }
            if let Some(pb::op::Kind::Stroke(s)) = &op.kind {
                let b = Brush::of(s);
                assert!(b.size <= SCALE_KEPT * 6.0, "{} px: the painter works at 6", b.size);
                assert!(b.opacity != GLAZE_OPACITY, "a glaze would mix colours the palette lacks");
            }
        }
        assert!(coloured > 0, "nothing laid colour down");
    }

    /// Paints `ops` ops from white and returns the MSE to the reference.
    fn copy(mut run: Box<dyn OpStream>, side: u32, reference: &Canvas, ops: usize) -> f64 {
        let header = pb::Header { width: side, height: side, ..Default::default() };
        let mut engine = Engine::from_canvas(white(side));
        for _ in 0..ops {
            let op = run.next_op();
            validate::op(&op, &header).unwrap();
            engine.apply(&op);
        }
        mse(engine.canvas(), reference)
    }

    #[test]
    fn search_keeps_the_candidate_closest_to_the_reference() {
        // Even an untrained model's proposals, judged by the engine, approach the reference.
        let model = untrained();
        let reference = crate::training::scenes::scene(48, 48, 5);
        let searched = copy(Search::new(model.clone()).start(request(48, &reference, 1)), 48, &reference, 40);
        let sampled = copy(Transformer::new(model).start(request(48, &reference, 1)), 48, &reference, 40);
        assert!(searched < mse(&white(48), &reference), "search ends closer than the blank start");
        assert!(searched < sampled, "search {searched} vs plain sampling {sampled}");
    }

    #[test]
    fn without_a_reference_search_paints_towards_the_softened_canvas() {
        let model = untrained();
        // A half-painted scene: the teacher's first 60 ops.
        let scene = crate::training::scenes::scene(64, 64, 3);
        let header = pb::Header { width: 64, height: 64, ..Default::default() };
        let mut taught = Teacher.start(Request { canvas: white(64), ..request(64, &scene, 2) });
        let history: Vec<pb::Op> = (0..60).map(|_| taught.next_op()).collect();
        let mut engine = Engine::from_canvas(white(64));
        for op in &history {
            engine.apply(op);
        }
        let half = engine.canvas().clone();
        let ops: Vec<&pb::Op> = history.iter().collect();
        let imagined = imagination::soften(&half, imagination::brushwork(&ops).unwrap());
        let to_imagined = |c: &Canvas| {
            let p = Picture::of(c);
            (0..3)
                .map(|k| p.rgb[k].iter().zip(&imagined.rgb[k]).map(|(a, b)| (a - b).powi(2)).sum::<f32>())
                .sum::<f32>()
        };
        let mut run = Search::new(model).start(Request {
            history: pb::History { header: Some(header.clone()), ops: history.clone() },
            canvas: half.clone(),
            reference: None,
            ..request(64, &scene, 4)
        });
        // Fewer than RESOFTEN ops: all towards the first imagined picture.
        for _ in 0..REIMAGINE - 1 {
            let op = run.next_op();
            validate::op(&op, &header).unwrap();
            engine.apply(&op);
        }
        let ratio = to_imagined(engine.canvas()) / to_imagined(&half);
        assert!(ratio < 0.9, "{ratio}");
    }

    #[test]
    fn with_an_imagination_search_paints_towards_what_it_imagines_and_shows_each_picture_once() {
        let model = untrained();
        let header = pb::Header { width: 48, height: 48, ..Default::default() };
        // An imagination that sees a red picture in any canvas, counting how often it is asked.
        let red = Canvas::new(48, 48, Rgba { r: 0.9, g: 0.1, b: 0.1, a: 1.0 });
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (imagined, counter) = (red.clone(), asked.clone());
        let imagination = super::super::Imagination {
            imagine: Box::new(move |_: &Canvas| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                imagined.clone()
            }),
            every: 4,
        };
        // A blank canvas: there is nothing to soften, but there is something to imagine.
        let mut run = Search::new(model).start(Request {
            reference: None,
            imagination: Some(imagination),
            ..request(48, &white(48), 3)
        });
        let mut engine = Engine::from_canvas(white(48));
        let mut shown = 0;
        for i in 0..10 {
            let op = run.next_op();
            validate::op(&op, &header).unwrap();
            engine.apply(&op);
            if let Some(picture) = run.imagined() {
                assert_eq!(picture, red);
                assert_eq!(i % 4, 0, "imagined before ops 0, 4 and 8");
                shown += 1;
            }
            assert!(run.imagined().is_none(), "each picture is shown once");
        }
        assert_eq!((shown, asked.load(std::sync::atomic::Ordering::SeqCst)), (3, 3));
        assert!(mse(engine.canvas(), &red) < 0.8 * mse(&white(48), &red), "painted towards the red picture");
    }

    /// Five one-dab strokes of a `size` px brush in the default colour, along a row.
    fn dabs(size: f32) -> Vec<pb::Op> {
        (0..5)
            .map(|i| pb::Op {
                kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                    tool: pb::Tool::Brush as i32,
                    brush: Some(pb::BrushState { size, ..Default::default() }),
                    points: vec![pb::Point { x: 9.0 * i as f32, y: 9.0, ..Default::default() }],
                })),
            })
            .collect()
    }

    #[test]
    fn continuing_search_glazes_a_passage_whose_detail_is_right_and_whose_colour_is_not() {
        // A fine blue-and-white checker; the imagined picture is the same checker, warmer. A
        // solid stroke in any one colour would paint over the checker; a glaze keeps it.
        let checker = |red: f32| {
            let mut c = white(48);
            for y in 0..48 {
                for (x, px) in c.row_mut(y, 0, 48).iter_mut().enumerate() {
                    let b = if (x + y) % 2 == 0 { 0.9 } else { 0.3 };
                    *px = [red, 0.4, b, 1.0];
                }
            }
            c
        };
        let (canvas, imagined) = (checker(0.2), checker(0.45));
        let header = pb::Header { width: 48, height: 48, ..Default::default() };
        // Five strokes of a 16 px brush came before (too few to show a palette).
        let history = dabs(16.0);
        let model = untrained();
        let mut glazes = 0;
        for seed in 0..4 {
            let seen = imagined.clone();
            let imagination =
                super::super::Imagination { imagine: Box::new(move |_: &Canvas| seen.clone()), every: 100 };
            let mut run = Search::new(model.clone()).start(Request {
                history: pb::History { header: Some(header.clone()), ops: history.clone() },
                canvas: canvas.clone(),
                reference: None,
                imagination: Some(imagination),
                ..request(48, &white(48), seed)
            });
            let mut engine = Engine::from_canvas(canvas.clone());
            for _ in 0..12 {
                let op = run.next_op();
                validate::op(&op, &header).unwrap();
                // The model's own opacities come in 15ths: exactly GLAZE_OPACITY is a glaze.
                if let Some(pb::op::Kind::Stroke(s)) = &op.kind
                    && s.brush.as_ref().and_then(|b| b.opacity) == Some(GLAZE_OPACITY)
                {
                    glazes += 1;
                }
                engine.apply(&op);
            }
            let (before, after) = (mse(&canvas, &imagined), mse(engine.canvas(), &imagined));
            assert!(after < 0.8 * before, "towards the warmer checker: {before} -> {after}");
        }
        assert!(glazes >= 4, "{glazes} of 48 ops were glazes");
    }

    #[test]
    fn continuing_search_keeps_to_the_scale_of_the_painters_recent_brushwork() {
        // Detail work with a 4 px brush on a busy canvas; imagined flat grey, which one
        // wash across the canvas would come closest to in one op.
        let mut canvas = white(48);
        for y in 0..48 {
            for (x, px) in canvas.row_mut(y, 0, 48).iter_mut().enumerate() {
                let v = if (x / 3 + y / 3) % 2 == 0 { 0.1 } else { 0.9 };
                *px = [v, v, v, 1.0];
            }
        }
        let grey = Canvas::new(48, 48, Rgba { r: 0.5, g: 0.5, b: 0.5, a: 1.0 });
        let header = pb::Header { width: 48, height: 48, ..Default::default() };
        let history = dabs(4.0);
        for seed in 0..3 {
            let seen = grey.clone();
            let imagination =
                super::super::Imagination { imagine: Box::new(move |_: &Canvas| seen.clone()), every: 100 };
            let mut run = Search::new(untrained()).start(Request {
                history: pb::History { header: Some(header.clone()), ops: history.clone() },
                canvas: canvas.clone(),
                reference: None,
                imagination: Some(imagination),
                ..request(48, &white(48), seed)
            });
            for _ in 0..10 {
                let op = run.next_op();
                validate::op(&op, &header).unwrap();
                if let Some(pb::op::Kind::Stroke(s)) = &op.kind {
                    let size = Brush::of(s).size;
                    assert!(size <= SCALE_KEPT * 4.0, "a {size} px stroke where the painter works at 4");
                }
            }
        }
    }

    #[test]
    fn continuing_search_paints_only_ops_a_painter_sees() {
        // Sky over ground in two broad flat strokes, as a painter blocks in. Picked where they
        // start, most colours are the very colour already there: such a glaze changes nothing.
        let (w, h) = (64u32, 48u32);
        let header = pb::Header { width: w, height: h, ..Default::default() };
        let band = |y: f32, rgb: [f32; 3]| pb::Op {
            kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState {
                    size: 28.0,
                    color: Some(pb::Color { r: rgb[0], g: rgb[1], b: rgb[2], a: None }),
                    ..Default::default()
                }),
                points: [-10.0, 74.0].map(|x| pb::Point { x, y, ..Default::default() }).to_vec(),
            })),
        };
        let history = vec![band(12.0, [0.55, 0.7, 0.9]), band(36.0, [0.3, 0.5, 0.25])];
        let mut engine = Engine::new(&header);
        for op in &history {
            engine.apply(op);
        }
        for seed in 0..4 {
            let mut run = Search::new(untrained()).start(Request {
                history: pb::History { header: Some(header.clone()), ops: history.clone() },
                canvas: engine.canvas().clone(),
                reference: None,
                ..request(w, &white(w), seed)
            });
            let mut painted = Engine::from_canvas(engine.canvas().clone());
            for i in 0..12 {
                let op = run.next_op();
                let before = painted.canvas().clone();
                painted.apply(&op);
                let largest = before
                    .pixels()
                    .iter()
                    .zip(painted.canvas().pixels())
                    .flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).abs()))
                    .fold(0.0f32, f32::max);
                assert!(
                    largest >= VISIBLE,
                    "seed {seed}, op {i} changed no pixel by more than {largest}: {op:?}"
                );
            }
        }
    }

    #[test]
    fn in_copy_mode_search_can_choose_a_magic_brush_dab_and_records_its_pixels() {
        // A soft gradient, the kind of region a dab fills better than a stroke.
        let mut reference = white(48);
        for y in 0..48 {
            for (x, px) in reference.row_mut(y, 0, 48).iter_mut().enumerate() {
                let t = (x + y) as f32 / 94.0;
                *px = [0.9 - 0.6 * t, 0.3 + 0.4 * t, 0.2 + 0.7 * t, 1.0];
            }
        }
        let search = Search::new(untrained()).with_magic_brush(crate::diffusion::builtin::brush());
        assert_eq!(search.name(), "search + magic brush");
        let header = pb::Header { width: 48, height: 48, ..Default::default() };
        let mut run = search.start(request(48, &reference, 2));
        let mut engine = Engine::from_canvas(white(48));
        let mut dabs = 0;
        for i in 0..20 {
            let op = run.next_op();
            validate::op(&op, &header).unwrap();
            if let Some(pb::op::Kind::MagicBrush(m)) = &op.kind {
                assert_eq!(i % MAGIC_EVERY, 0, "tried every {MAGIC_EVERY} ops");
                assert!(m.result.is_some(), "its pixels are in the op: the history replays anywhere");
                dabs += 1;
            }
            engine.apply(&op);
        }
        assert!(dabs > 0, "a dab is chosen on a gradient");
        assert!(mse(engine.canvas(), &reference) < 0.5 * mse(&white(48), &reference));
    }

    #[test]
    fn on_a_blank_canvas_search_without_a_reference_paints_the_models_proposals() {
        let model = untrained();
        let blank = white(32);
        let plain = |seed| {
            let mut run = Transformer::new(model.clone())
                .start(Request { reference: None, ..request(32, &blank, seed) });
            (0..5).map(|_| run.next_op()).collect::<Vec<_>>()
        };
        let mut run = Search::new(model.clone()).start(Request { reference: None, ..request(32, &blank, 9) });
        let searched: Vec<pb::Op> = (0..5).map(|_| run.next_op()).collect();
        assert_eq!(searched, plain(9), "nothing to imagine from yet: the model paints as it samples");
    }

    #[test]
    fn with_the_default_model_search_continues_a_half_painted_picture_closer_to_its_finish() {
        // Issue 10's bar as `apprentice eval` measures it, in small: held-out scenes, cut at half.
        let model = crate::model::registry::default_model();
        let search = Search::new(model);
        let outcomes: Vec<_> = (0..3)
            .map(|k| {
                let scene = crate::training::scenes::scene(96, 96, 1_000_000_000 + k);
                let p = crate::eval::continuation::process("scene", &scene, 300, k);
                crate::eval::continuation::continue_process(
                    &p,
                    0.5,
                    50,
                    Some(&search),
                    DEFAULT_TEMPERATURE,
                    k,
                    None,
                )
            })
            .collect();
        let s = crate::eval::continuation::summarize(&outcomes);
        assert!(s.mean < 1.0 && s.median < 1.0, "{s:?}");
    }

    #[test]
    fn with_the_default_model_search_copies_closer_than_the_teacher_in_as_many_ops() {
        // Issue 4's bar as `apprentice eval` measures it, in small: eval's held-out scenes.
        let model = crate::model::registry::default_model();
        let painters: Vec<Box<dyn Painter>> = vec![Box::new(Search::new(model)), Box::new(Teacher)];
        let rows = crate::eval::fidelity(&painters, &[96], &[50, 150], 4, 0.7);
        for (searched, taught) in rows[..2].iter().zip(&rows[2..]) {
            assert_eq!((searched.painter.as_str(), taught.painter.as_str()), ("search", "teacher"));
            assert!(searched.mse < taught.mse, "{searched:?} vs {taught:?}");
        }
    }
}
