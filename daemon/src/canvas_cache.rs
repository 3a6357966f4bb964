//! Canvases the daemon painted lately, kept in memory like the editor's snapshots: a
//! session's canvas after its first `k` ops; and sessions' histories as last read. A
//! painter who presses Continue again after a few strokes gets the canvas from here plus
//! those strokes, not a replay of the whole session, and only the new strokes are read
//! from the store. Bounded in bytes, the least recently used going first; and at most
//! [`PER_SESSION`] canvases a session, spread over its history.

use std::sync::{Arc, Mutex};

use crate::engine::Canvas;
use crate::ops::pb;

/// At most this many canvases of one session: now and before the model's context, for the
/// latest two calls.
const PER_SESSION: usize = 4;

struct Entry {
    session: String,
    /// Raw ops (undo/redo markers included) painted on it.
    ops: u64,
    kept: Kept,
    bytes: usize,
    /// When it was last put or taken (a counter).
    used: u64,
}

enum Kept {
    Canvas(Arc<Canvas>),
    /// The whole history as read (its ops validated then).
    History(Arc<pb::History>),
}

impl Kept {
    fn bytes(&self) -> usize {
        match self {
            Kept::Canvas(c) => c.width() * c.height() * std::mem::size_of::<crate::engine::Px>(),
            // Decoded ops take about three times their encoded size.
            Kept::History(h) => 3 * prost::Message::encoded_len(h.as_ref()),
        }
    }
}

pub struct CanvasCache {
    max_bytes: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    clock: u64,
}

impl CanvasCache {
    pub fn new(max_bytes: usize) -> CanvasCache {
        CanvasCache { max_bytes, state: Mutex::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding it leaves nothing half-done worth refusing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `canvas` as the session's canvas after its first `ops` ops.
    pub fn put(&self, session: &str, ops: u64, canvas: &Canvas) {
        self.keep(session, ops, Kept::Canvas(Arc::new(canvas.clone())));
    }

    /// Keeps the session's whole history as read.
    pub fn put_history(&self, session: &str, history: pb::History) {
        let ops = history.ops.len() as u64;
        self.state().entries.retain(|e| !(e.session == session && matches!(e.kept, Kept::History(_))));
        self.keep(session, ops, Kept::History(Arc::new(history)));
    }

    /// The session's history as last read, if kept.
    pub fn history(&self, session: &str) -> Option<Arc<pb::History>> {
        let mut s = self.state();
        s.clock += 1;
        let now = s.clock;
        let e = s.entries.iter_mut().find(|e| e.session == session && matches!(e.kept, Kept::History(_)))?;
        e.used = now;
        match &e.kept {
            Kept::History(h) => Some(h.clone()),
            Kept::Canvas(_) => None,
        }
    }

    fn keep(&self, session: &str, ops: u64, kept: Kept) {
        let bytes = kept.bytes();
        if bytes > self.max_bytes {
            return;
        }
        let canvas = matches!(kept, Kept::Canvas(_));
        let mut s = self.state();
        s.clock += 1;
        let used = s.clock;
        s.entries.retain(|e| {
            !(e.session == session && e.ops == ops && matches!(e.kept, Kept::Canvas(_)) == canvas)
        });
        s.entries.push(Entry { session: session.to_owned(), ops, kept, bytes, used });
        let is_canvas_of = |e: &Entry| e.session == session && matches!(e.kept, Kept::Canvas(_));
        // Within a session, the canvas with another kept canvas closest above it goes: only a
        // call asking for a canvas between the two would have started from it, and calls ask
        // for the latest canvases. Continue keeps two a call, the canvas now and the one
        // before its model's context, 128 ops apart: both of the latest call stay. (By use,
        // the look for the context canvas, made after the canvas now was kept, made the latter
        // the oldest: the next call painted 131 ops where 3 were new.)
        while s.entries.iter().filter(|e| is_canvas_of(e)).count() > PER_SESSION {
            let mine: Vec<(usize, u64)> = s
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| is_canvas_of(e))
                .map(|(i, e)| (i, e.ops))
                .collect();
            let gap_above =
                |ops: u64| mine.iter().map(|m| m.1).filter(|&o| o > ops).min().map_or(u64::MAX, |o| o - ops);
            let least = mine.iter().min_by_key(|m| (gap_above(m.1), m.1));
            let i = least.map(|m| m.0).expect("the session has canvases");
            s.entries.swap_remove(i);
        }
        // Across sessions, the least recently used go first.
        while s.entries.iter().map(|e| e.bytes).sum::<usize>() > self.max_bytes {
            let oldest = s.entries.iter().enumerate().min_by_key(|(_, e)| e.used);
            let i = oldest.map(|(i, _)| i).expect("over the bound means some entry");
            s.entries.swap_remove(i);
        }
    }

    /// The session's kept canvases after at most `limit` ops, the most ops first.
    pub fn up_to(&self, session: &str, limit: u64) -> Vec<(u64, Arc<Canvas>)> {
        let mut s = self.state();
        s.clock += 1;
        let now = s.clock;
        let mut found: Vec<(u64, Arc<Canvas>)> = s
            .entries
            .iter_mut()
            .filter(|e| e.session == session && e.ops <= limit)
            .filter_map(|e| match &e.kept {
                Kept::Canvas(c) => {
                    e.used = now;
                    Some((e.ops, c.clone()))
                }
                Kept::History(_) => None,
            })
            .collect();
        found.sort_by_key(|(ops, _)| std::cmp::Reverse(*ops));
        found
    }

    /// Drops what is kept of the session (it was deleted).
    pub fn forget(&self, session: &str) {
        self.state().entries.retain(|e| e.session != session);
    }

    /// Bytes held (estimated for histories).
    pub fn held_bytes(&self) -> usize {
        self.state().entries.iter().map(|e| e.bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Rgba;

    fn canvas(side: usize, shade: f32) -> Canvas {
        Canvas::new(side, side, Rgba { r: shade, g: shade, b: shade, a: 1.0 })
    }

    #[test]
    fn canvases_come_back_by_session_and_op_count_most_ops_first() {
        let cache = CanvasCache::new(1 << 20);
        cache.put("a", 10, &canvas(8, 0.1));
        cache.put("a", 30, &canvas(8, 0.3));
        cache.put("b", 20, &canvas(8, 0.2));
        let ops = |found: Vec<(u64, Arc<Canvas>)>| found.iter().map(|f| f.0).collect::<Vec<_>>();
        assert_eq!(ops(cache.up_to("a", 100)), [30, 10]);
        assert_eq!(ops(cache.up_to("a", 29)), [10]);
        assert_eq!(cache.up_to("a", 30)[0].1.get(0, 0), canvas(8, 0.3).get(0, 0));
        cache.forget("a");
        assert!(cache.up_to("a", 100).is_empty());
        assert_eq!(ops(cache.up_to("b", 100)), [20]);
    }

    #[test]
    fn a_history_is_kept_beside_the_canvases_one_per_session() {
        let cache = CanvasCache::new(1 << 20);
        cache.put("a", 2, &canvas(8, 0.1));
        assert!(cache.history("a").is_none());
        let history = |n: usize| pb::History { header: None, ops: vec![pb::Op::default(); n] };
        cache.put_history("a", history(2));
        cache.put_history("a", history(5));
        assert_eq!(cache.history("a").unwrap().ops.len(), 5, "the latest read replaces the one before");
        assert_eq!(cache.up_to("a", 10).len(), 1, "canvases are not histories");
        cache.forget("a");
        assert!(cache.history("a").is_none());
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_bound_holds() {
        // Room for three 16² canvases (4 KiB each).
        let cache = CanvasCache::new(3 * 16 * 16 * 16);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            cache.put(id, i as u64, &canvas(16, 0.5));
        }
        cache.up_to("a", 10); // used: now "b" is the oldest
        cache.put("d", 0, &canvas(16, 0.5));
        assert!(cache.up_to("b", 10).is_empty());
        assert!(!cache.up_to("a", 10).is_empty() && !cache.up_to("c", 10).is_empty());
        assert!(cache.held_bytes() <= 3 * 16 * 16 * 16);
        // One session keeps at most four; a canvas bigger than the whole bound is not kept.
        for k in 0..6 {
            cache.put("a", k, &canvas(1, 0.5));
        }
        assert_eq!(cache.up_to("a", 100).len(), PER_SESSION);
        cache.put("e", 0, &canvas(64, 0.5));
        assert!(cache.up_to("e", 10).is_empty());
    }

    #[test]
    fn a_session_keeps_the_latest_calls_canvases_however_they_were_used() {
        // As Continue does: the canvas now (k), then the one before the model's context (k - 128),
        // found among the kept ones after the canvas now was put.
        let cache = CanvasCache::new(1 << 20);
        for k in [1000u64, 1003, 1006, 1009] {
            cache.up_to("a", k);
            cache.put("a", k, &canvas(8, 0.5));
            cache.up_to("a", k - 128);
            cache.put("a", k - 128, &canvas(8, 0.5));
        }
        let ops: Vec<u64> = cache.up_to("a", u64::MAX).iter().map(|f| f.0).collect();
        assert_eq!(ops.len(), PER_SESSION);
        assert!(ops.contains(&1009) && ops.contains(&881), "the latest call's canvases are kept: {ops:?}");
    }
}
