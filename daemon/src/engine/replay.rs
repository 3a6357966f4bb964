//! Replaying a history: resolve undo/redo, then perform each op in order.

use super::{Applied, Engine};
use crate::ops::{pb, timeline};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Ops in the file, undo/redo markers included.
    pub recorded: usize,
    /// Ops in effect after undo/redo.
    pub effective: usize,
    pub painted: usize,
    /// Ops the engine does not paint, by reason.
    pub skipped: Vec<(&'static str, usize)>,
}

impl ReplayStats {
    fn skip(&mut self, why: &'static str) {
        match self.skipped.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((why, 1)),
        }
    }
}

/// Replays a validated history; `after_op(i, n, engine)` runs after the `i`-th
/// of `n` effective ops (0-based) — for progress bars and process frames.
pub fn replay(history: &pb::History, after_op: impl FnMut(usize, usize, &Engine)) -> (Engine, ReplayStats) {
    replay_until(history, after_op, || false).expect("never stopped")
}

/// [`replay`], asking `stop()` before each op: `None` once it says stop (the caller
/// went away or ran out of time), so long replays end early.
pub fn replay_until(
    history: &pb::History,
    mut after_op: impl FnMut(usize, usize, &Engine),
    stop: impl Fn() -> bool,
) -> Option<(Engine, ReplayStats)> {
    let header = history.header.clone().unwrap_or_default();
    let mut engine = Engine::new(&header);
    let ops = timeline::effective(&history.ops);
    let mut stats = ReplayStats { recorded: history.ops.len(), effective: ops.len(), ..Default::default() };
    for (i, op) in ops.iter().enumerate() {
        if stop() {
            return None;
        }
        match engine.apply(op) {
            Applied::Painted => stats.painted += 1,
            Applied::Skipped(why) => stats.skip(why),
        }
        after_op(i, ops.len(), &engine);
    }
    Some((engine, stats))
}

/// Ops painted between two looks at `stop` when only the final picture is wanted: few
/// enough that a caller gone is noticed soon even with huge brushes on a huge canvas,
/// enough for runs of strokes worth painting on every core.
pub const CHUNK: usize = 16;

/// The final picture of a validated history, painted on every core ([`Engine::apply_many`]).
pub fn render(history: &pb::History) -> (Engine, ReplayStats) {
    render_until(history, || false).expect("never stopped")
}

/// [`render`], asking `stop()` every [`CHUNK`] ops: `None` once it says stop.
pub fn render_until(history: &pb::History, stop: impl Fn() -> bool) -> Option<(Engine, ReplayStats)> {
    let header = history.header.clone().unwrap_or_default();
    let mut engine = Engine::new(&header);
    let ops = timeline::effective(&history.ops);
    let mut stats = ReplayStats { recorded: history.ops.len(), effective: ops.len(), ..Default::default() };
    for chunk in ops.chunks(CHUNK) {
        if stop() {
            return None;
        }
        for applied in engine.apply_many(chunk) {
            match applied {
                Applied::Painted => stats.painted += 1,
                Applied::Skipped(why) => stats.skip(why),
            }
        }
    }
    Some((engine, stats))
}
