//! The daemon's view of a session's canvas: the editor's latest snapshot plus
//! the ops since, or a full replay when there is no usable snapshot.

use crate::canvas_cache::CanvasCache;
use crate::engine::{Canvas, Engine};
use crate::ops::{pb, timeline};
use crate::store::{Store, StoreError};

/// Decodes a PNG into a canvas of exactly `width × height`, or says why not.
pub fn canvas_from_png(png: &[u8], width: u32, height: u32) -> Result<Canvas, String> {
    let (w, h) = png_size(png)?;
    // Checked before decoding: a small file can declare a huge picture.
    if (w, h) != (width, height) {
        return Err(format!("{w}x{h} image for a {width}x{height} canvas"));
    }
    let img = decode_png(png, u64::from(width) * u64::from(height))?;
    Ok(Canvas::from_rgba8(width as usize, height as usize, img.as_raw()))
}

/// The size a PNG declares, read from its header alone.
pub fn png_size(png: &[u8]) -> Result<(u32, u32), String> {
    image::ImageReader::with_format(std::io::Cursor::new(png), image::ImageFormat::Png)
        .into_dimensions()
        .map_err(|e| format!("not a readable PNG: {e}"))
}

/// Decodes a PNG to RGBA8, refusing before any pixel is decoded one that declares more
/// than `max_pixels` (a 500 KiB file can declare 11585², a gigabyte decoded).
pub fn decode_png(png: &[u8], max_pixels: u64) -> Result<image::RgbaImage, String> {
    let (w, h) = png_size(png)?;
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(format!("the PNG is {w}x{h}, more than the limit of {max_pixels} pixels"));
    }
    if let Some(len) = palette_length(png).filter(|len| len % 3 != 0) {
        return Err(format!("not a readable PNG: its palette (PLTE) is {len} bytes, not a multiple of 3"));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(png), image::ImageFormat::Png);
    let mut limits = image::Limits::default();
    // The decoder's own guard too (16-bit and palette PNGs expand while decoding).
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(limits);
    // The decoder has panicked on malformed files the fuzzer made (png 0.18.1 on a short
    // palette, checked above); any other such file is refused rather than fatal.
    let decoded = std::panic::catch_unwind(|| reader.decode())
        .map_err(|_| "not a readable PNG: the decoder failed on it".to_owned())?;
    Ok(decoded.map_err(|e| format!("not a readable PNG: {e}"))?.to_rgba8())
}

/// The length of a PNG's PLTE chunk, if it has one.
fn palette_length(png: &[u8]) -> Option<usize> {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().ok()?) as usize;
        match &png[at + 4..at + 8] {
            b"PLTE" => return Some(len),
            b"IDAT" | b"IEND" => return None,
            _ => at = at.checked_add(12)?.checked_add(len)?,
        }
    }
    None
}

/// A canvas as straight RGBA8, scaled down (triangle filter) so that its
/// longest side is at most `max_side` (0: full size).
pub fn image_of(canvas: &Canvas, max_side: u32) -> image::RgbaImage {
    let img = image::RgbaImage::from_raw(canvas.width() as u32, canvas.height() as u32, canvas.to_rgba8())
        .expect("canvas size matches its pixels");
    let (w, h) = img.dimensions();
    if max_side == 0 || w.max(h) <= max_side {
        return img;
    }
    let scale = f64::from(max_side) / f64::from(w.max(h));
    let (nw, nh) =
        (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
    image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle)
}

/// Encodes a canvas as PNG, scaled as [`image_of`] does: `(png, width, height)`.
pub fn png_of(canvas: &Canvas, max_side: u32) -> (Vec<u8>, u32, u32) {
    let img = image_of(canvas, max_side);
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("PNG encoding into memory");
    (png, img.width(), img.height())
}

/// Replays a validated history from a blank canvas.
pub fn render(history: &pb::History) -> Canvas {
    crate::engine::render(history).0.into_canvas()
}

/// [`render`], unless `stop()` says so (it is asked every few ops): `None`.
pub fn render_until(history: &pb::History, stop: &dyn Fn() -> bool) -> Option<Canvas> {
    crate::engine::replay::render_until(history, stop).map(|(engine, _)| engine.into_canvas())
}

/// A session's whole history: the one kept in `cache` and the ops appended since (read
/// from the store and validated), or all of it from the store; then kept.
fn session_history(store: &Store, cache: &CanvasCache, session_id: &str) -> Result<pb::History, StoreError> {
    let stored = store.session(session_id)?.op_count;
    let history = match cache.history(session_id).filter(|h| h.ops.len() as u64 <= stored) {
        Some(kept) => {
            let since = store.history_page(session_id, kept.ops.len() as u64, 0, usize::MAX)?.history;
            let mut history = pb::History::clone(&kept);
            history.ops.extend(since.ops);
            history
        }
        None => store.history(session_id)?,
    };
    cache.put_history(session_id, history.clone());
    Ok(history)
}

/// A session's history and its current canvas (`None` for the canvas when `stop()`
/// said so while replaying). The latest canvas kept in `cache` or snapshot that undo/redo
/// since has not reached back before is used, plus the ops since; the canvas is kept.
pub fn session_canvas(
    store: &Store,
    cache: &CanvasCache,
    session_id: &str,
    stop: &dyn Fn() -> bool,
) -> Result<(pb::History, Option<Canvas>), StoreError> {
    let history = session_history(store, cache, session_id)?;
    let all = timeline::effective_indices(&history.ops);
    let canvas = match snapshot_canvas(store, cache, session_id, &history, all.len())? {
        Some(canvas) => Some(canvas),
        None => {
            // One replay, keeping on its way the canvas [`KEPT_ON_THE_WAY`] raw ops before the end.
            let way = history.ops.len().saturating_sub(KEPT_ON_THE_WAY);
            let on_the_way = all.partition_point(|&i| i < way);
            let canvas = match on_the_way {
                0 => render_until(&history, stop),
                _ => canvas_after(store, cache, session_id, &history, on_the_way, stop)?
                    .and_then(|c| painted_on(c, &history, &all[on_the_way..], stop)),
            };
            if let Some(c) = &canvas {
                cache.put(session_id, history.ops.len() as u64, c);
            }
            canvas
        }
    };
    Ok((history, canvas))
}

/// Raw ops before the end at which a whole replay keeps a canvas on its way: the canvas
/// before the model's context (at most 128 ops back) is then a short replay from it.
const KEPT_ON_THE_WAY: usize = 256;

/// `canvas` with the history's ops at `indices` painted on it; `None` once `stop()` says so.
fn painted_on(
    canvas: Canvas,
    history: &pb::History,
    indices: &[usize],
    stop: &dyn Fn() -> bool,
) -> Option<Canvas> {
    let mut engine = Engine::from_canvas(canvas);
    // A look at `stop` every few ops, each few painted on every core.
    for chunk in indices.chunks(crate::engine::replay::CHUNK) {
        if stop() {
            return None;
        }
        engine.apply_many(&chunk.iter().map(|&i| &history.ops[i]).collect::<Vec<_>>());
    }
    Some(engine.into_canvas())
}

/// How many of the effective ops `all` (of the whole history) the first `k` raw ops
/// paint, when they paint exactly the first that many of them; `None` when they paint
/// an op undone later.
fn painted_prefix(history: &pb::History, all: &[usize], k: usize) -> Option<usize> {
    let before = timeline::effective_indices(&history.ops[..k]);
    all.starts_with(&before).then_some(before.len())
}

/// The canvas after the first `n` effective ops of a session's `history`, from a kept
/// canvas or snapshot ([`snapshot_canvas`]) or else replayed (and then kept); `None` when
/// `stop()` said so while replaying.
pub fn canvas_after(
    store: &Store,
    cache: &CanvasCache,
    session_id: &str,
    history: &pb::History,
    n: usize,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Canvas>, StoreError> {
    if let Some(canvas) = snapshot_canvas(store, cache, session_id, history, n)? {
        return Ok(Some(canvas));
    }
    let all = timeline::effective_indices(&history.ops);
    if n > all.len() {
        return Ok(None);
    }
    let blank = Engine::new(&history.header.clone().unwrap_or_default()).into_canvas();
    let canvas = painted_on(blank, history, &all[..n], stop);
    keep(cache, session_id, history, &all, n, canvas.as_ref());
    Ok(canvas)
}

/// Keeps `canvas`, the canvas after the first `n` effective ops `all`, under the raw
/// count that paints exactly those ops, when there is one.
fn keep(
    cache: &CanvasCache,
    session_id: &str,
    history: &pb::History,
    all: &[usize],
    n: usize,
    canvas: Option<&Canvas>,
) {
    let limit = all.get(n).copied().unwrap_or(history.ops.len());
    if let Some(c) = canvas
        && painted_prefix(history, all, limit) == Some(n)
    {
        cache.put(session_id, limit as u64, c);
    }
}

/// The canvas after the first `n` effective ops (after undo/redo) of a session's
/// `history`: the latest canvas kept in `cache` or snapshot that shows only some of
/// those ops, plus the rest of them (and then kept in `cache`). `None` when none does,
/// or the snapshot that does is not a readable PNG of the canvas size: then replay.
pub fn snapshot_canvas(
    store: &Store,
    cache: &CanvasCache,
    session_id: &str,
    history: &pb::History,
    n: usize,
) -> Result<Option<Canvas>, StoreError> {
    let header = history.header.clone().unwrap_or_default();
    let all = timeline::effective_indices(&history.ops);
    if n > all.len() {
        return Ok(None);
    }
    // Canvases after the first k raw ops, taken before the (n+1)-th effective op; one
    // that shows an op undone later is passed over.
    let limit = all.get(n).copied().unwrap_or(history.ops.len()) as u64;
    let usable = |k: u64| painted_prefix(history, &all, k as usize).filter(|&done| done <= n);
    let kept =
        cache.up_to(session_id, limit).into_iter().find_map(|(k, c)| usable(k).map(|done| (k, done, c)));
    let mut start: Option<(usize, Canvas)> = None;
    // A snapshot beats a kept canvas only when it shows more ops.
    let mut below = limit;
    while let Some((k, png)) = store.snapshot_at(session_id, below)? {
        if kept.as_ref().is_some_and(|(kept_k, _, _)| *kept_k >= k) {
            break;
        }
        if let Some(done) = usable(k) {
            let Ok(canvas) = canvas_from_png(&png, header.width, header.height) else { break };
            start = Some((done, canvas));
            break;
        }
        let Some(earlier) = k.checked_sub(1) else { break };
        below = earlier;
    }
    let (done, canvas) = match (start, kept) {
        (Some(s), _) => s,
        (None, Some((_, done, canvas))) => (done, Canvas::clone(&canvas)),
        (None, None) => return Ok(None),
    };
    let canvas = painted_on(canvas, history, &all[done..n], &|| false).expect("never stopped");
    keep(cache, session_id, history, &all, n, Some(&canvas));
    Ok(Some(canvas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::pb::op::Kind;

    fn stroke(i: u32) -> pb::Op {
        let dot = |x: f32, y: f32| pb::Point { x, y, pressure: Some(1.0), time_ms: 0, tilt: None };
        let c = i as f32 / 12.0;
        pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState {
                    size: 6.0,
                    color: Some(pb::Color { r: c, g: 1.0 - c, b: 0.5, a: None }),
                    ..Default::default()
                }),
                points: vec![dot(2.0 + 2.0 * i as f32, 3.0), dot(30.0 - i as f32, 20.0)],
            })),
        }
    }

    #[test]
    fn a_canvas_part_way_through_a_session_comes_from_a_snapshot_that_undo_did_not_reach() {
        let store = Store::in_memory().unwrap();
        // An opaque paper, as editors snapshot it (a transparent pixel's colour does not survive PNG).
        let white = Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: Some(1.0) });
        let header = pb::Header { width: 32, height: 24, background: white, ..Default::default() };
        let id = store.open_session("doc", &header, "test", "").unwrap().session_id;
        let history = |ops: &[pb::Op]| pb::History { header: Some(header.clone()), ops: ops.to_vec() };
        let mut ops: Vec<pb::Op> = (0..10).map(stroke).collect();
        // Snapshots as an editor takes them: after 4 ops and after 7.
        for k in [4, 7] {
            store.put_snapshot(&id, k as u64, &png_of(&render(&history(&ops[..k])), 0).0).unwrap();
        }
        // An undo reaching back past the second snapshot, then two more strokes.
        ops.push(pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(4) })) });
        ops.extend([stroke(11), stroke(12)]);
        store.append(&id, 0, &ops).unwrap();

        let h = store.history(&id).unwrap();
        let effective: Vec<pb::Op> = timeline::effective(&h.ops).into_iter().cloned().collect();
        assert_eq!(effective.len(), 8);
        for n in 0..=effective.len() {
            let got = snapshot_canvas(&store, &CanvasCache::new(0), &id, &h, n).unwrap();
            // Before the first snapshot there is none to use; after it, the one at 4 (7 was undone).
            assert_eq!(got.is_some(), n >= 4, "n = {n}");
            if let Some(canvas) = got {
                let want = render(&history(&effective[..n])).to_rgba8();
                let worst = canvas.to_rgba8().iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max();
                assert!(worst <= Some(1), "n = {n}: off by {worst:?} (the snapshot is 8-bit)");
            }
        }
        assert!(snapshot_canvas(&store, &CanvasCache::new(0), &id, &h, 9).unwrap().is_none(), "past the end");
        let (_, now) = session_canvas(&store, &CanvasCache::new(0), &id, &|| false).unwrap();
        let want = render(&h).to_rgba8();
        assert!(now.unwrap().to_rgba8().iter().zip(&want).all(|(a, b)| a.abs_diff(*b) <= 1));
    }

    #[test]
    fn a_whole_replay_keeps_a_canvas_on_its_way_for_the_one_before_the_context() {
        let store = Store::in_memory().unwrap();
        let header = pb::Header { width: 32, height: 24, ..Default::default() };
        let id = store.open_session("doc", &header, "test", "").unwrap().session_id;
        let n = KEPT_ON_THE_WAY + 40;
        store.append(&id, 0, &(0..n as u32).map(|i| stroke(i % 12)).collect::<Vec<_>>()).unwrap();
        let cache = CanvasCache::new(1 << 20);
        let (h, canvas) = session_canvas(&store, &cache, &id, &|| false).unwrap();
        assert_eq!(canvas.unwrap(), render(&h));
        let kept: Vec<u64> = cache.up_to(&id, u64::MAX).iter().map(|k| k.0).collect();
        assert_eq!(kept, [n as u64, 40]);
        let on_the_way = cache.up_to(&id, 40).remove(0).1;
        assert_eq!(*on_the_way, render(&pb::History { ops: h.ops[..40].to_vec(), ..h.clone() }));
    }

    #[test]
    fn a_kept_canvas_is_used_like_a_snapshot_until_an_undo_reaches_back_past_it() {
        let store = Store::in_memory().unwrap();
        let header = pb::Header { width: 32, height: 24, ..Default::default() };
        let id = store.open_session("doc", &header, "test", "").unwrap().session_id;
        store.append(&id, 0, &(0..10).map(stroke).collect::<Vec<_>>()).unwrap();
        let cache = CanvasCache::new(1 << 20);
        let (h, canvas) = session_canvas(&store, &cache, &id, &|| false).unwrap();
        assert_eq!(canvas.unwrap(), render(&h), "replayed once, and kept");
        assert_eq!(cache.up_to(&id, 100).iter().map(|k| k.0).collect::<Vec<_>>(), [10]);
        // So is a canvas part way through (the one before the model's context).
        let five = canvas_after(&store, &cache, &id, &h, 5, &|| false).unwrap().unwrap();
        assert_eq!(five, render(&pb::History { ops: h.ops[..5].to_vec(), ..h.clone() }));
        assert_eq!(cache.up_to(&id, 100).iter().map(|k| k.0).collect::<Vec<_>>(), [10, 5]);

        // What is kept is trusted: a marked canvas in its place shows through the next call.
        let marked = Canvas::new(32, 24, crate::ops::Rgba { r: 0.0, g: 0.0, b: 1.0, a: 1.0 });
        cache.put(&id, 10, &marked);
        store.append(&id, 1, &[stroke(10), stroke(11)]).unwrap();
        let (h, canvas) = session_canvas(&store, &cache, &id, &|| false).unwrap();
        let mut want = Engine::from_canvas(marked);
        want.apply(&h.ops[10]);
        want.apply(&h.ops[11]);
        assert_eq!(canvas.unwrap(), want.into_canvas(), "the kept canvas plus the two new strokes");

        // An undo of three reaches back past op 10: the canvases kept at 10 and 12 show an
        // op undone, so the session is replayed.
        store.append(&id, 2, &[pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(3) })) }]).unwrap();
        let (h, canvas) = session_canvas(&store, &cache, &id, &|| false).unwrap();
        assert_eq!(canvas.unwrap(), render(&h));
        // The history is kept too, and only what was appended since is read again.
        assert_eq!(h, store.history(&id).unwrap());
        assert_eq!(*cache.history(&id).unwrap(), h);
    }
}
