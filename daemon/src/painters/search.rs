//! The search painter (copy mode): at each step the stroke transformer
//! proposes several candidate ops, each is painted on a copy of the canvas, and
//! the one that brings the canvas closest to the reference is kept — the
//! model's taste, the engine's judgement.

use std::sync::Arc;

use super::analysis::mse;
use super::transformer::TransformerRun;
use super::{OpStream, Painter, Request};
use crate::engine::{Canvas, Engine};
use crate::model::stroke_transformer::StrokeTransformer;
use crate::ops::pb;

/// Candidates tried per op.
pub const CANDIDATES: usize = 8;

pub struct Search {
    /// `None`: the model in use when a run starts.
    model: Option<Arc<StrokeTransformer>>,
}

impl Search {
    pub fn new(model: Arc<StrokeTransformer>) -> Search {
        Search { model: Some(model) }
    }

    pub fn active() -> Search {
        Search { model: None }
    }
}

impl Painter for Search {
    fn name(&self) -> &'static str {
        "search"
    }

    fn requires_reference(&self) -> bool {
        true
    }

    fn start(&self, request: Request) -> Box<dyn OpStream> {
        let model = self.model.clone().unwrap_or_else(|| crate::model::registry::active().model);
        let reference = request.reference.clone().unwrap_or_else(|| request.canvas.clone());
        Box::new(SearchRun { inner: TransformerRun::new(model, request), reference })
    }
}

struct SearchRun {
    inner: TransformerRun,
    reference: Canvas,
}

impl OpStream for SearchRun {
    fn next_op(&mut self) -> pb::Op {
        let mut best: Option<(f64, crate::tokenizer::OpToken, pb::Op)> = None;
        for _ in 0..CANDIDATES {
            let token = self.inner.sample_token().expect("the model runs on its own shapes");
            let op = self.inner.decode(&token);
            let mut trial = Engine::from_canvas(self.inner.canvas().clone());
            trial.apply(&op);
            let error = mse(trial.canvas(), &self.reference);
            if best.as_ref().is_none_or(|(e, _, _)| error < *e) {
                best = Some((error, token, op));
            }
        }
        let (_, token, op) = best.expect("at least one candidate");
        self.inner.commit(&token, &op);
        op
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;
    use crate::model::stroke_transformer::Config;
    use crate::ops::Rgba;

    #[test]
    fn search_keeps_the_candidate_closest_to_the_reference() {
        // Even an untrained model's proposals, filtered by the engine, approach the reference.
        let varmap = VarMap::new();
        let model = Arc::new(
            StrokeTransformer::new(
                VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
                &Config::tiny(),
            )
            .unwrap(),
        );
        let reference = crate::training::scenes::scene(48, 48, 5);
        let white = Canvas::new(48, 48, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 });
        let request = |seed| Request {
            history: pb::History {
                header: Some(pb::Header { width: 48, height: 48, ..Default::default() }),
                ops: vec![],
            },
            canvas: white.clone(),
            reference: Some(reference.clone()),
            temperature: 1.0,
            seed,
            allowed_tools: vec![],
        };
        let paint = |mut run: Box<dyn OpStream>| {
            let mut engine = Engine::from_canvas(white.clone());
            for _ in 0..40 {
                engine.apply(&run.next_op());
            }
            mse(engine.canvas(), &reference)
        };
        let searched = paint(Search::new(model.clone()).start(request(1)));
        let sampled = paint(super::super::transformer::Transformer::new(model).start(request(1)));
        assert!(
            searched < mse(&white, &reference),
            "search ends closer to the reference than the blank start"
        );
        assert!(searched < sampled, "search {searched} vs plain sampling {sampled}");
    }
}
