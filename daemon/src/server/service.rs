//! The `apprentice.v1.Apprentice` service: sessions, continuation, rendering.
//! Every input is checked before it reaches the store or a painter; blocking
//! work (SQLite, painting) runs on tokio's blocking pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::status::{self, invalid};
use crate::canvas_view::{canvas_from_png, png_of, render, session_canvas, snapshot_canvas};
use crate::diffusion::sd::{SdDab, StableDiffusion};
use crate::diffusion::{SoftMask, brush as magic};
use crate::engine::Canvas;
use crate::ops::{pb, validate};
use crate::painters;
use crate::store::Store;

/// Request limits, each named in the status that enforces it.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_ops_per_batch: usize,
    pub max_continue_ops: u32,
    /// Largest region (the bounding box of its mask) one magic-brush dab may repaint.
    pub max_magic_pixels: u64,
}

/// The default limit on a magic-brush region: a 2048 × 2048 square, the largest dab.
pub const MAX_MAGIC_PIXELS: u64 = 2048 * 2048;

pub struct Service {
    store: Arc<Store>,
    limits: Limits,
    /// Where magic-brush styles are found by name.
    styles_dir: Option<PathBuf>,
    /// Where GetInfo looks for Stable Diffusion folders.
    models_dir: Option<PathBuf>,
    /// Paints the dabs that come with a prompt (the built-in brush reads no text).
    sd: Option<Arc<StableDiffusion>>,
}

impl Service {
    pub fn new(store: Arc<Store>, limits: Limits) -> Service {
        Service { store, limits, styles_dir: None, models_dir: None, sd: None }
    }

    /// GetInfo lists the Stable Diffusion folders in `dir`.
    pub fn with_models_dir(mut self, dir: PathBuf) -> Service {
        self.models_dir = Some(dir);
        self
    }

    /// Dabs with a prompt are painted with `sd`.
    pub fn with_sd(mut self, sd: Arc<StableDiffusion>) -> Service {
        self.sd = Some(sd);
        self
    }

    /// Magic-brush styles are looked up in `dir`.
    pub fn with_styles(mut self, dir: PathBuf) -> Service {
        self.styles_dir = Some(dir);
        self
    }
}

/// Runs blocking work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(status::task)?
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Status> {
    if value.len() < min || value.len() > max {
        return Err(invalid(field, format!("must be {min} to {max} bytes long, got {}", value.len())));
    }
    Ok(())
}

/// The client's deadline (`grpc-timeout` metadata: digits and a unit, H M S m u n).
fn deadline<T>(request: &Request<T>) -> Option<Instant> {
    let raw = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    Instant::now().checked_add(d)
}

/// The history and canvas a Continue or Render call is about.
fn source_canvas(store: &Store, source: Option<Source>) -> Result<(pb::History, Canvas), Status> {
    match source {
        None => Err(invalid("source", "set session_id or history")),
        Some(Source::Session(id)) => session_canvas(store, &id).map_err(status::store),
        Some(Source::History(h)) => {
            validate::history(&h).map_err(|e| status::field(e.under("history")))?;
            let canvas = render(&h);
            Ok((h, canvas))
        }
    }
}

/// Continue and Render name their source the same way.
enum Source {
    Session(String),
    History(pb::History),
}

impl From<pb::continue_request::Source> for Source {
    fn from(s: pb::continue_request::Source) -> Source {
        match s {
            pb::continue_request::Source::SessionId(id) => Source::Session(id),
            pb::continue_request::Source::History(h) => Source::History(h),
        }
    }
}

impl From<pb::magic_brush_request::Source> for Source {
    fn from(s: pb::magic_brush_request::Source) -> Source {
        match s {
            pb::magic_brush_request::Source::SessionId(id) => Source::Session(id),
            pb::magic_brush_request::Source::History(h) => Source::History(h),
        }
    }
}

impl From<pb::render_request::Source> for Source {
    fn from(s: pb::render_request::Source) -> Source {
        match s {
            pb::render_request::Source::SessionId(id) => Source::Session(id),
            pb::render_request::Source::History(h) => Source::History(h),
        }
    }
}

/// A reference picture of any size, scaled to the canvas.
fn reference_canvas(png: &[u8], width: u32, height: u32) -> Result<Canvas, Status> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| invalid("reference_png", format!("not a readable PNG: {e}")))?
        .to_rgba8();
    let img = if img.dimensions() == (width, height) {
        img
    } else {
        image::imageops::resize(&img, width, height, image::imageops::FilterType::Triangle)
    };
    Ok(Canvas::from_rgba8(width as usize, height as usize, img.as_raw()))
}

#[tonic::async_trait]
impl pb::apprentice_server::Apprentice for Service {
    async fn open_session(
        &self,
        request: Request<pb::OpenSessionRequest>,
    ) -> Result<Response<pb::OpenSessionResponse>, Status> {
        let r = request.into_inner();
        text("document_id", &r.document_id, 1, 256)?;
        text("editor", &r.editor, 0, 256)?;
        text("editor_version", &r.editor_version, 0, 256)?;
        let header = r.header.ok_or_else(|| invalid("header", "must be set"))?;
        validate::header(&header).map_err(status::field)?;
        let store = self.store.clone();
        let info = blocking(move || {
            store.open_session(&r.document_id, &header, &r.editor, &r.editor_version).map_err(status::store)
        })
        .await?;
        tracing::info!(session = %info.session_id, document = %info.document_id, editor = %info.editor, "session opened");
        Ok(Response::new(pb::OpenSessionResponse {
            session_id: info.session_id,
            next_sequence: info.next_sequence,
            op_count: info.op_count,
        }))
    }

    async fn append_ops(
        &self,
        request: Request<pb::AppendOpsRequest>,
    ) -> Result<Response<pb::AppendOpsResponse>, Status> {
        let r = request.into_inner();
        let max = self.limits.max_ops_per_batch;
        if r.ops.len() > max {
            return Err(Status::resource_exhausted(format!(
                "ops: {} ops in one batch, more than the limit of {max}",
                r.ops.len()
            )));
        }
        let store = self.store.clone();
        blocking(move || {
            let header = store.session(&r.session_id).map_err(status::store)?.header.unwrap_or_default();
            for (i, op) in r.ops.iter().enumerate() {
                validate::op(op, &header).map_err(|e| status::field(e.at(&format!("ops[{i}]"))))?;
            }
            let a = store.append(&r.session_id, r.sequence, &r.ops).map_err(status::store)?;
            Ok(Response::new(pb::AppendOpsResponse {
                next_sequence: a.next_sequence,
                op_count: a.op_count,
                duplicate: a.duplicate,
            }))
        })
        .await
    }

    async fn upload_snapshot(
        &self,
        request: Request<pb::UploadSnapshotRequest>,
    ) -> Result<Response<pb::UploadSnapshotResponse>, Status> {
        use pb::upload_snapshot_request::Image;
        let r = request.into_inner();
        let store = self.store.clone();
        blocking(move || {
            let info = store.session(&r.session_id).map_err(status::store)?;
            let h = info.header.unwrap_or_default();
            if r.op_count > info.op_count {
                return Err(Status::failed_precondition(format!(
                    "op_count: snapshot after {} ops, but the session holds {}",
                    r.op_count, info.op_count
                )));
            }
            let png = match r.image {
                None => return Err(invalid("image", "set png or rgba")),
                Some(Image::Png(png)) => {
                    canvas_from_png(&png, h.width, h.height).map_err(|m| invalid("png", m))?;
                    png
                }
                Some(Image::Rgba(rgba)) => {
                    let expected = h.width as usize * h.height as usize * 4;
                    if rgba.len() != expected {
                        return Err(invalid(
                            "rgba",
                            format!(
                                "holds {} bytes; the {}x{} canvas needs {expected}",
                                rgba.len(),
                                h.width,
                                h.height
                            ),
                        ));
                    }
                    png_of(&Canvas::from_rgba8(h.width as usize, h.height as usize, &rgba), 0).0
                }
            };
            store.put_snapshot(&r.session_id, r.op_count, &png).map_err(status::store)?;
            Ok(Response::new(pb::UploadSnapshotResponse {}))
        })
        .await
    }

    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::History>, Status> {
        let id = request.into_inner().session_id;
        let store = self.store.clone();
        blocking(move || store.history(&id).map(Response::new).map_err(status::store)).await
    }

    async fn list_sessions(
        &self,
        _request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let store = self.store.clone();
        blocking(move || {
            store
                .list()
                .map(|sessions| Response::new(pb::ListSessionsResponse { sessions }))
                .map_err(status::store)
        })
        .await
    }

    type ContinueStream = ReceiverStream<Result<pb::ContinueEvent, Status>>;

    async fn r#continue(
        &self,
        request: Request<pb::ContinueRequest>,
    ) -> Result<Response<Self::ContinueStream>, Status> {
        let deadline = deadline(&request);
        let r = request.into_inner();
        let max = self.limits.max_continue_ops;
        if r.count == 0 {
            return Err(invalid("count", "must be at least 1"));
        }
        if r.count > max {
            return Err(Status::resource_exhausted(format!(
                "count: {} ops, more than the limit of {max}",
                r.count
            )));
        }
        let temperature = r.temperature.unwrap_or(crate::painters::transformer::DEFAULT_TEMPERATURE);
        if !(0.0..=4.0).contains(&temperature) {
            return Err(invalid("temperature", format!("must be a number in [0, 4], got {temperature}")));
        }
        let mut allowed_tools = Vec::new();
        for (i, &t) in r.allowed_tools.iter().enumerate() {
            match pb::Tool::try_from(t) {
                Ok(pb::Tool::Unspecified) | Err(_) => {
                    return Err(invalid(&format!("allowed_tools[{i}]"), format!("not a stroke tool: {t}")));
                }
                Ok(tool) => allowed_tools.push(tool),
            }
        }
        let copy_mode = !r.reference_png.is_empty();
        let painter = painters::choose(&r.painter, copy_mode).map_err(|e| match e {
            painters::ChoiceError::Unknown { .. } => invalid("painter", e),
            painters::ChoiceError::NeedsReference(_) => invalid("reference_png", e),
        })?;
        let store = self.store.clone();
        let (source, reference_png, seed) = (r.source.map(Source::from), r.reference_png, r.seed);
        let request = blocking(move || {
            let session = match &source {
                Some(Source::Session(id)) => Some(id.clone()),
                _ => None,
            };
            let (history, canvas) = source_canvas(&store, source)?;
            // The transformer's context starts from an earlier canvas: from a snapshot, not a replay.
            let canvas_at = session.map(|id| {
                let history = history.clone();
                Box::new(move |n| snapshot_canvas(&store, &id, &history, n).ok().flatten())
                    as painters::CanvasAt
            });
            let reference = match reference_png.is_empty() {
                true => None,
                false => {
                    Some(reference_canvas(&reference_png, canvas.width() as u32, canvas.height() as u32)?)
                }
            };
            Ok(painters::Request { history, canvas, reference, temperature, seed, allowed_tools, canvas_at })
        })
        .await?;

        let (tx, rx) = mpsc::channel(4);
        let count = r.count;
        tokio::task::spawn_blocking(move || {
            let mut ops = painter.start(request);
            for index in 0..count {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let _ =
                        tx.blocking_send(Err(Status::deadline_exceeded("deadline passed while painting")));
                    return;
                }
                let event = pb::ContinueEvent { op: Some(ops.next_op()), index };
                // The client went away (cancelled, or its deadline passed): stop painting.
                if tx.blocking_send(Ok(event)).is_err() {
                    tracing::debug!("continue cancelled after {index} ops");
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn render(
        &self,
        request: Request<pb::RenderRequest>,
    ) -> Result<Response<pb::RenderResponse>, Status> {
        let r = request.into_inner();
        let store = self.store.clone();
        blocking(move || {
            let (_, canvas) = source_canvas(&store, r.source.map(Source::from))?;
            let (png, width, height) = png_of(&canvas, r.max_side);
            Ok(Response::new(pb::RenderResponse { png, width, height }))
        })
        .await
    }

    type MagicBrushStream = ReceiverStream<Result<pb::MagicBrushEvent, Status>>;

    async fn magic_brush(
        &self,
        request: Request<pb::MagicBrushRequest>,
    ) -> Result<Response<Self::MagicBrushStream>, Status> {
        let deadline = deadline(&request);
        let r = request.into_inner();
        let dab = r.dab.ok_or_else(|| invalid("dab", "must be set (path, radius, strength)"))?;
        // Errors name the request's field: `dab.radius`, not the op's `op.magic_brush.radius`.
        validate::magic_brush_request(&dab).map_err(|mut e| {
            e.field = format!("dab{}", e.field.strip_prefix("op.magic_brush").unwrap_or(&e.field));
            status::field(e)
        })?;
        // A prompt goes to Stable Diffusion when the daemon has one; all else to the built-in brush.
        let prompt = match &dab.guidance {
            Some(pb::magic_brush::Guidance::Prompt(p)) if !p.is_empty() => Some(p.clone()),
            _ => None,
        };
        let sd = self.sd.clone().filter(|_| prompt.is_some());
        let steps = match r.steps {
            0 => sd.as_ref().map_or(magic::DEFAULT_STEPS, |sd| sd.config.steps.min(magic::MAX_STEPS)),
            s if s as usize > magic::MAX_STEPS => {
                return Err(Status::resource_exhausted(format!(
                    "steps: {s}, more than the limit of {}",
                    magic::MAX_STEPS
                )));
            }
            s => s as usize,
        };
        let max_pixels = self.limits.max_magic_pixels;
        let store = self.store.clone();
        let styles = self.styles_dir.clone();
        let source = r.source.map(Source::from);
        let (path, radius) = (dab.path.clone(), dab.radius);
        let (canvas, mask) = blocking(move || {
            let (_, canvas) = source_canvas(&store, source)?;
            let mask = SoftMask::from_path(&path, radius, canvas.width(), canvas.height());
            let area = mask.width as u64 * mask.height as u64;
            if area > max_pixels {
                return Err(Status::resource_exhausted(format!(
                    "dab: the brushed region is {}x{} = {area} pixels, more than the limit of {max_pixels}",
                    mask.width, mask.height
                )));
            }
            Ok((canvas, mask))
        })
        .await?;
        let (style, note) = match &sd {
            Some(_) => (crate::diffusion::style::NONE, None),
            None => crate::diffusion::op::guidance(&dab, styles.as_deref()),
        };
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let brush = crate::diffusion::builtin::brush();
            let mut stopped = None;
            let mut progress = |step: usize, steps: usize| {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    stopped = Some(Status::deadline_exceeded("deadline passed while painting"));
                    return false;
                }
                let event = pb::MagicBrushEvent {
                    event: Some(pb::magic_brush_event::Event::Progress(pb::MagicBrushProgress {
                        step: step as u32,
                        steps: steps as u32,
                    })),
                };
                // The client went away (cancelled, or its deadline passed): stop painting.
                tx.blocking_send(Ok(event)).is_ok()
            };
            let dab_params = magic::Dab { style, strength: dab.strength, seed: dab.seed, steps };
            let result = if mask.is_empty() {
                Ok(Some(None))
            } else if let (Some(sd), Some(prompt)) = (&sd, &prompt) {
                let sd_dab = SdDab { strength: dab.strength, seed: dab.seed, steps };
                sd.paint(&canvas, &mask, prompt, &sd_dab, &mut progress).map(|p| p.map(Some))
            } else {
                brush.paint(&canvas, &mask, &dab_params, &mut progress).map(|p| p.map(Some))
            };
            let patch = match result {
                Ok(Some(patch)) => patch,
                Ok(None) => {
                    if let Some(status) = stopped {
                        let _ = tx.blocking_send(Err(status));
                    }
                    tracing::debug!("magic brush cancelled");
                    return;
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(Status::internal(format!("magic brush: {e}"))));
                    return;
                }
            };
            let op = pb::Op { kind: Some(pb::op::Kind::MagicBrush(pb::MagicBrush { result: patch, ..dab })) };
            let done = pb::MagicBrushDone {
                op: Some(op),
                model: sd.as_ref().map_or_else(|| brush.name.clone(), |sd| sd.name.clone()),
                note: note.unwrap_or_default(),
            };
            let _ = tx.blocking_send(Ok(pb::MagicBrushEvent {
                event: Some(pb::magic_brush_event::Event::Done(done)),
            }));
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_info(&self, _request: Request<pb::GetInfoRequest>) -> Result<Response<pb::Info>, Status> {
        Ok(Response::new(crate::info(self.models_dir.as_deref(), self.sd.as_deref())))
    }
}
