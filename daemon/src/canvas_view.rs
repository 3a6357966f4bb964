//! The daemon's view of a session's canvas: the editor's latest snapshot plus
//! the ops since, or a full replay when there is no usable snapshot.

use crate::engine::{Canvas, Engine};
use crate::ops::{pb, timeline};
use crate::store::{Store, StoreError};

/// Decodes a PNG into a canvas of exactly `width × height`, or says why not.
pub fn canvas_from_png(png: &[u8], width: u32, height: u32) -> Result<Canvas, String> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| format!("not a readable PNG: {e}"))?
        .to_rgba8();
    if img.dimensions() != (width, height) {
        return Err(format!("{}x{} image for a {width}x{height} canvas", img.width(), img.height()));
    }
    Ok(Canvas::from_rgba8(width as usize, height as usize, img.as_raw()))
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

/// A session's history and its current canvas. A snapshot taken after `k` ops
/// is used when undo/redo since then has not reached back before it.
pub fn session_canvas(store: &Store, session_id: &str) -> Result<(pb::History, Canvas), StoreError> {
    let history = store.history(session_id)?;
    let header = history.header.clone().unwrap_or_default();
    let all = timeline::effective_indices(&history.ops);
    if let Some((k, png)) = store.snapshot_at(session_id, history.ops.len() as u64)? {
        let k = k as usize;
        let before = timeline::effective_indices(&history.ops[..k]);
        if all.starts_with(&before) {
            if let Ok(canvas) = canvas_from_png(&png, header.width, header.height) {
                let mut engine = Engine::from_canvas(canvas);
                for &i in &all[before.len()..] {
                    engine.apply(&history.ops[i]);
                }
                return Ok((history, engine.into_canvas()));
            }
        }
    }
    let canvas = render(&history);
    Ok((history, canvas))
}
