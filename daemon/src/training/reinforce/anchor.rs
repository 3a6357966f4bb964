//! The anchor: what a reward must not cost. The KL penalty of the loss is taken where the
//! reward is earned — stroke order measures it on characters only — but the weights it
//! moves also paint pictures, where a painter's copies and continuations were measured good.
//! So each step also reads a few windows of picture histories (teacher-forced, as training
//! does; half with their reference, as copy mode, half without, as Continue) through the
//! policy and the model it started from, and adds the KL between the two there, summed
//! over every field.

use std::path::Path;

use candle_core::{D, DType, IndexOp, Tensor};

use crate::model::stroke_transformer::{Config, StrokeTransformer};
use crate::ops::pb;
use crate::painters::rng::Rng;
use crate::training;
use crate::training::data::{self, Window};

/// Ops per anchor window.
const WINDOW: usize = 32;

pub struct Anchor {
    windows: Vec<Window>,
    cfg: Config,
}

impl Anchor {
    /// Windows of every history in `dir` not held out (the held-out ones stay for `eval`).
    pub fn load(dir: &Path, cfg: &Config) -> Result<Anchor, String> {
        let histories = training::load_histories(dir)?;
        let held = training::held_out(&histories);
        let kept: Vec<pb::History> =
            histories.into_iter().zip(held).filter(|(_, held)| !held).map(|((_, h), _)| h).collect();
        Anchor::of(&kept, cfg)
            .ok_or_else(|| format!("--anchor {}: no training histories with ops", dir.display()))
    }

    /// Windows of `histories` (`None` when they hold no ops).
    pub fn of(histories: &[pb::History], cfg: &Config) -> Option<Anchor> {
        let windows: Vec<Window> = histories.iter().flat_map(|h| data::windows(h, cfg, WINDOW, 0)).collect();
        (!windows.is_empty()).then(|| Anchor { windows, cfg: cfg.clone() })
    }

    /// Mean KL(policy ‖ start) per op over `n` windows drawn from the anchor (at least 2:
    /// half are read with their reference).
    pub fn kl(
        &self,
        policy: &StrokeTransformer,
        start: &StrokeTransformer,
        n: usize,
        rng: &mut Rng,
    ) -> candle_core::Result<Tensor> {
        let half = n.div_ceil(2);
        let mut draw =
            || -> Vec<&Window> { (0..half).map(|_| &self.windows[rng.index(self.windows.len())]).collect() };
        let (copying, continuing) = (draw(), draw());
        let with = self.kl_of(policy, start, &copying, true)?;
        let without = self.kl_of(policy, start, &continuing, false)?;
        (with + without)? / 2.0
    }

    fn kl_of(
        &self,
        policy: &StrokeTransformer,
        start: &StrokeTransformer,
        windows: &[&Window],
        with_reference: bool,
    ) -> candle_core::Result<Tensor> {
        let [canvas, reference, inputs, targets, glimpses, mask, states] =
            training::batch(windows, &self.cfg, WINDOW, with_reference)?;
        let some = |x: &Option<Tensor>| x.clone().expect("always set");
        let (canvas, inputs, targets, glimpses, mask) =
            (some(&canvas), some(&inputs), some(&targets), some(&glimpses), some(&mask));
        let done: Vec<usize> = windows.iter().map(|w| w.done).collect();
        let log_probs = |m: &StrokeTransformer| -> candle_core::Result<Vec<Tensor>> {
            let hidden = m.hidden(&canvas, reference.as_ref(), &inputs, states.as_ref(), &done)?;
            m.field_logits(&hidden, &targets, &glimpses, states.as_ref())?
                .iter()
                .map(|l| candle_nn::ops::log_softmax(l, D::Minus1))
                .collect()
        };
        let (lp, li) = (log_probs(policy)?, log_probs(start)?);
        let (b, t, _) = mask.dims3()?;
        let mut kl = Tensor::zeros((b, t), DType::F32, mask.device())?;
        for (i, (p, q)) in lp.iter().zip(&li).enumerate() {
            let used = mask.i((.., .., i))?;
            kl = (kl + (super::field_kl(p, q)? * used)?)?;
        }
        // Per op: the positions that hold one (the kind is used by every op).
        let ops = mask.i((.., .., 0))?.sum_all()?;
        kl.sum_all()? / ops.to_scalar::<f32>()?.max(1.0) as f64
    }
}
