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
use super::work::{self, Budget, Stop, deadline};
use crate::canvas_cache::CanvasCache;
use crate::canvas_view::{canvas_after, canvas_from_png, png_of, render_until, session_canvas};
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
    /// Working memory all heavy calls together may hold, in MiB (see `work.rs`).
    pub max_work_mib: u32,
    /// Largest response (GetHistory says to page beyond it).
    pub max_message_bytes: usize,
    /// Sessions' canvases kept in memory between calls, in MiB (see `canvas_cache.rs`).
    pub canvas_cache_mib: u32,
}

/// The default limit on a magic-brush region: a 2048 × 2048 square, the largest dab.
pub const MAX_MAGIC_PIXELS: u64 = 2048 * 2048;

pub struct Service {
    store: Arc<Store>,
    limits: Limits,
    budget: Arc<Budget>,
    /// Sessions' canvases painted lately.
    canvases: Arc<CanvasCache>,
    /// Where magic-brush styles are found by name.
    styles_dir: Option<PathBuf>,
    /// Where GetInfo looks for Stable Diffusion folders.
    models_dir: Option<PathBuf>,
    /// Paints the dabs that come with a prompt (the built-in brush reads no text).
    sd: Option<Arc<StableDiffusion>>,
    /// Set while a Personalize run trains (one at a time).
    personalizing: Arc<std::sync::atomic::AtomicBool>,
}

impl Service {
    pub fn new(store: Arc<Store>, limits: Limits) -> Service {
        Service {
            store,
            limits,
            budget: Arc::new(Budget::new(limits.max_work_mib)),
            canvases: Arc::new(CanvasCache::new(limits.canvas_cache_mib as usize * 1024 * 1024)),
            styles_dir: None,
            models_dir: None,
            sd: None,
            personalizing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// GetInfo lists the stroke transformers and Stable Diffusion folders in `dir`, a
    /// Continue may name a model there, and Personalize writes its models there (and keeps
    /// its unfinished runs beside it, in `personalizing/`).
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

    /// How a Continue imagines with the magic brush (a prompt goes to Stable Diffusion
    /// when the daemon has one, all else to the built-in brush), and what it cannot follow.
    fn imagination(
        &self,
        i: pb::Imagine,
        seed: u64,
        deadline: Option<Instant>,
    ) -> (painters::Imagination, Option<String>) {
        use crate::diffusion::imagine::{DEFAULT_STRENGTH, Imaginer};
        use pb::imagine::Guidance;
        let strength = if i.strength == 0.0 { DEFAULT_STRENGTH } else { i.strength };
        let every = if i.every == 0 { painters::search::REIMAGINE } else { i.every as usize };
        let prompt = match &i.guidance {
            Some(Guidance::Prompt(p)) if !p.is_empty() => Some(p.clone()),
            _ => None,
        };
        let sd = self.sd.clone().zip(prompt.clone());
        let (style, note) = match (&sd, &i.guidance) {
            (Some(_), _) => (crate::diffusion::style::NONE, None),
            (None, Some(Guidance::Style(name))) => {
                let dab = pb::MagicBrush {
                    guidance: Some(pb::magic_brush::Guidance::Style(name.clone())),
                    ..Default::default()
                };
                crate::diffusion::op::guidance(&dab, self.styles_dir.as_deref())
            }
            (None, _) if prompt.is_some() => {
                (crate::diffusion::style::NONE, Some(PROMPT_NOT_IMAGINED.to_owned()))
            }
            (None, _) => (crate::diffusion::style::NONE, None),
        };
        let steps = sd.as_ref().map_or(magic::DEFAULT_STEPS, |(sd, _)| sd.default_steps());
        let mut imaginer = Imaginer::new(crate::diffusion::builtin::brush(), style, strength, steps, seed);
        imaginer.sd = sd;
        let imagine: painters::Imagine = Box::new(move |canvas: &Canvas| {
            imaginer.imagine(canvas, &mut || deadline.is_none_or(|d| Instant::now() < d))
        });
        (painters::Imagination { imagine, every }, note)
    }
}

/// What Continue says about a prompt when no model can read it.
const PROMPT_NOT_IMAGINED: &str = "the built-in magic brush reads no text: the prompt is ignored and the \
     picture imagined from the canvas alone (a Stable Diffusion model in the models folder reads prompts)";

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce() + Send) -> impl Drop + Send {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

/// The calling thread at the lowest scheduling priority (nice 19; Linux nices threads one by one).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
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

/// The history and canvas a Continue or Render call is about; replaying stops early
/// (with the status that says why) when `stop` fires.
fn source_canvas(
    store: &Store,
    canvases: &CanvasCache,
    source: Option<Source>,
    stop: &Stop,
) -> Result<(pb::History, Canvas), Status> {
    let (history, canvas) = match source {
        None => return Err(invalid("source", "set session_id or history")),
        Some(Source::Session(id)) => {
            session_canvas(store, canvases, &id, &|| stop.now()).map_err(status::store)?
        }
        Some(Source::History(h)) => {
            validate::history(&h).map_err(|e| status::field(e.under("history")))?;
            let canvas = render_until(&h, &|| stop.now());
            (h, canvas)
        }
    };
    Ok((history, canvas.ok_or_else(|| stop.status("replaying the history"))?))
}

/// The canvas size of a call's source, known before anything is painted (for the budget).
fn source_pixels(store: &Store, source: Option<&Source>) -> Result<u64, Status> {
    let header = match source {
        None => return Err(invalid("source", "set session_id or history")),
        Some(Source::Session(id)) => store.session(id).map_err(status::store)?.header.unwrap_or_default(),
        Some(Source::History(h)) => {
            let header = h.header.clone().ok_or_else(|| invalid("history.header", "must be set"))?;
            validate::header(&header).map_err(|e| status::field(e.under("history")))?;
            header
        }
    };
    Ok(u64::from(header.width) * u64::from(header.height))
}

/// The source with its canvas size in pixels, looked up off the async threads.
async fn sized(store: &Arc<Store>, source: Option<Source>) -> Result<(Option<Source>, u64), Status> {
    let store = store.clone();
    blocking(move || {
        let pixels = source_pixels(&store, source.as_ref())?;
        Ok((source, pixels))
    })
    .await
}

/// Runs `work` on the blocking pool, answering DEADLINE_EXCEEDED at the deadline even if
/// the work has not noticed yet (it stops at its next check of the same deadline).
async fn blocking_until<T: Send + 'static>(
    deadline: Option<Instant>,
    what: &str,
    work: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    let work = blocking(work);
    match deadline {
        None => work.await,
        Some(d) => tokio::time::timeout_at(d.into(), work)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded(format!("deadline passed while {what}")))),
    }
}

/// How long a streaming call's painter waits for a client that stops reading before it
/// gives up (and frees the canvas it holds).
const STALLED_CLIENT: Duration = Duration::from_secs(60);

/// Sends from a blocking task; false when the client is gone or has not read for
/// [`STALLED_CLIENT`].
fn send_blocking<T>(tx: &mpsc::Sender<T>, item: T) -> bool {
    let runtime = tokio::runtime::Handle::current();
    runtime.block_on(tx.send_timeout(item, STALLED_CLIENT)).is_ok()
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
    let img = crate::canvas_view::decode_png(png, crate::ops::limits::MAX_CANVAS_PIXELS)
        .map_err(|e| Status::resource_exhausted(format!("reference_png: {e}")))?;
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
        let deadline = deadline(&request);
        let r = request.into_inner();
        let store = self.store.clone();
        let id = r.session_id.clone();
        let pixels = blocking(move || source_pixels(&store, Some(&Source::Session(id)))).await?;
        let permit = self.budget.admit("snapshot", pixels * work::SNAPSHOT_BYTES_PER_PIXEL, deadline).await?;
        let store = self.store.clone();
        blocking(move || {
            let _permit = permit;
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
        let r = request.into_inner();
        let store = self.store.clone();
        let limit = self.limits.max_message_bytes;
        blocking(move || {
            // Read no more than a message can carry: a page too big is refused without
            // holding it, and the status says how many of its ops do fit.
            let page =
                store.history_page(&r.session_id, r.start_op, r.max_ops, limit).map_err(status::store)?;
            if !page.complete {
                return Err(Status::out_of_range(format!(
                    "the history from op {} is more than the message limit of {limit} bytes: \
                     ask for pages (start_op, max_ops); max_ops = {} fits",
                    r.start_op,
                    page.history.ops.len().max(1)
                )));
            }
            Ok(Response::new(page.history))
        })
        .await
    }

    async fn delete_session(
        &self,
        request: Request<pb::DeleteSessionRequest>,
    ) -> Result<Response<pb::DeleteSessionResponse>, Status> {
        let id = request.into_inner().session_id;
        let (store, canvases) = (self.store.clone(), self.canvases.clone());
        blocking(move || {
            let (ops_deleted, snapshots_deleted) = store.delete_session(&id).map_err(status::store)?;
            canvases.forget(&id);
            tracing::info!("deleted session {id}: {ops_deleted} ops, {snapshots_deleted} snapshots");
            Ok(Response::new(pb::DeleteSessionResponse { ops_deleted, snapshots_deleted }))
        })
        .await
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
        let imagine = match r.imagine {
            None => None,
            Some(_) if copy_mode => {
                return Err(invalid(
                    "imagine",
                    "copy mode paints towards its reference: imagine is for Continue without one",
                ));
            }
            Some(_) if !(r.painter.is_empty() || r.painter == "search") => {
                return Err(invalid(
                    "imagine",
                    format!(
                        "only the search painter imagines, not {:?}: ask for \"search\" or no painter",
                        r.painter
                    ),
                ));
            }
            Some(i) if !(0.0..=1.0).contains(&i.strength) => {
                return Err(invalid(
                    "imagine.strength",
                    format!("must be a number in [0, 1], got {}", i.strength),
                ));
            }
            Some(i) => Some(i),
        };
        let painter_name = if imagine.is_some() { "search" } else { r.painter.as_str() };
        let model = if r.model.is_empty() {
            None
        } else {
            let (dir, name) = (self.models_dir.clone(), r.model.clone());
            Some(
                blocking(move || {
                    crate::model::registry::named(dir.as_deref(), &name).map_err(|e| invalid("model", e))
                })
                .await?,
            )
        };
        let painter = painters::choose_with(painter_name, copy_mode, model).map_err(|e| match e {
            painters::ChoiceError::Unknown { .. } => invalid("painter", e),
            painters::ChoiceError::NeedsReference(_) => invalid("reference_png", e),
        })?;
        let (source, reference_png, seed) = (r.source.map(Source::from), r.reference_png, r.seed);
        let reference_pixels = match reference_png.is_empty() {
            true => 0,
            false => {
                let (w, h) =
                    crate::canvas_view::png_size(&reference_png).map_err(|e| invalid("reference_png", e))?;
                u64::from(w) * u64::from(h)
            }
        };
        let (source, pixels) = sized(&self.store, source).await?;
        // The reference is decoded (RGBA8) and scaled to the canvas; imagining holds the brush's pictures.
        let imagining = if imagine.is_some() { work::MAGIC_BYTES_PER_PIXEL } else { 0 };
        let bytes = pixels * (work::CONTINUE_BYTES_PER_PIXEL + imagining) + reference_pixels * 8;
        let permit = self.budget.admit("continue", bytes, deadline).await?;
        let (stop, _call) = Stop::new(deadline);
        let store = self.store.clone();
        let canvases = self.canvases.clone();
        let preview = imagine.as_ref().is_some_and(|i| i.preview);
        let imagination = imagine.map(|i| self.imagination(i, seed, deadline));
        let note = imagination.as_ref().and_then(|(_, note)| note.clone());
        let (tx, rx) = mpsc::channel(4);
        // While painting, the call is gone once its stream is dropped or its deadline passes.
        let gone = tx.clone();
        let painting_stop: painters::Stopped =
            Arc::new(move || gone.is_closed() || deadline.is_some_and(|d| Instant::now() >= d));
        let request = blocking_until(deadline, "setting up", move || {
            let session = match &source {
                Some(Source::Session(id)) => Some(id.clone()),
                _ => None,
            };
            let (history, canvas) = source_canvas(&store, &canvases, source, &stop)?;
            // The transformer's context starts from an earlier canvas: kept, or from a
            // snapshot, or replayed here and kept for the next call.
            let context_stop = painting_stop.clone();
            let canvas_at = session.map(|id| {
                let history = history.clone();
                Box::new(move |n| {
                    canvas_after(&store, &canvases, &id, &history, n, &*context_stop).ok().flatten()
                }) as painters::CanvasAt
            });
            let reference = match reference_png.is_empty() {
                true => None,
                false => {
                    Some(reference_canvas(&reference_png, canvas.width() as u32, canvas.height() as u32)?)
                }
            };
            let imagination = imagination.map(|(i, _)| i);
            Ok(painters::Request {
                history,
                canvas,
                reference,
                temperature,
                seed,
                allowed_tools,
                canvas_at,
                imagination,
                stop: Some(painting_stop),
            })
        })
        .await?;

        let count = r.count;
        let watcher = tx.clone();
        let painting = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut ops = painter.start(request);
            let mut note = note;
            for index in 0..count {
                let op = ops.next_op();
                // Past the deadline the painter decides in haste (see `painting_stop`): that
                // op is not sent.
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let _ =
                        tx.blocking_send(Err(Status::deadline_exceeded("deadline passed while painting")));
                    return;
                }
                if let Some(imagined) = ops.imagined().filter(|_| preview) {
                    let (png, _, _) = crate::canvas_view::png_of(&imagined, 0);
                    let note = note.take().unwrap_or_default();
                    let event = pb::ContinueEvent { op: None, index, imagined_png: png, note };
                    if !send_blocking(&tx, Ok(event)) {
                        return;
                    }
                }
                let note = note.take().unwrap_or_default();
                let event = pb::ContinueEvent { op: Some(op), index, note, ..Default::default() };
                // The client went away (cancelled, deadline passed, or stopped reading): stop painting.
                if !send_blocking(&tx, Ok(event)) {
                    tracing::debug!("continue cancelled after {index} ops");
                    return;
                }
            }
        });
        // A painter that panics (a bug) ends the stream with INTERNAL, never with OK after
        // fewer ops than asked for.
        tokio::spawn(async move {
            if let Err(e) = painting.await {
                let _ = watcher.send(Err(status::task(e))).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn render(
        &self,
        request: Request<pb::RenderRequest>,
    ) -> Result<Response<pb::RenderResponse>, Status> {
        let deadline = deadline(&request);
        let r = request.into_inner();
        let source = r.source.map(Source::from);
        let (source, pixels) = sized(&self.store, source).await?;
        let permit = self.budget.admit("render", pixels * work::RENDER_BYTES_PER_PIXEL, deadline).await?;
        let (stop, _call) = Stop::new(deadline);
        let store = self.store.clone();
        let canvases = self.canvases.clone();
        blocking_until(deadline, "rendering", move || {
            let _permit = permit;
            let (_, canvas) = source_canvas(&store, &canvases, source, &stop)?;
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
            0 => sd.as_ref().map_or(magic::DEFAULT_STEPS, |sd| sd.default_steps()),
            s if s as usize > magic::MAX_STEPS => {
                return Err(Status::resource_exhausted(format!(
                    "steps: {s}, more than the limit of {}",
                    magic::MAX_STEPS
                )));
            }
            s => s as usize,
        };
        let max_pixels = self.limits.max_magic_pixels;
        let styles = self.styles_dir.clone();
        let source = r.source.map(Source::from);
        let (source, pixels) = sized(&self.store, source).await?;
        let permit = self.budget.admit("magic brush", pixels * work::MAGIC_BYTES_PER_PIXEL, deadline).await?;
        let (stop, _call) = Stop::new(deadline);
        let store = self.store.clone();
        let canvases = self.canvases.clone();
        let (path, radius) = (dab.path.clone(), dab.radius);
        let (canvas, mask) = blocking_until(deadline, "setting up", move || {
            let (_, canvas) = source_canvas(&store, &canvases, source, &stop)?;
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
            let _permit = permit;
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
                // The client went away (cancelled, deadline passed, or stopped reading): stop painting.
                send_blocking(&tx, Ok(event))
            };
            let dab_params = magic::Dab {
                style,
                strength: dab.strength,
                seed: dab.seed,
                steps,
                texture: dab.texture,
                noise_scale: magic::NOISE_SCALE,
            };
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

    type PersonalizeStream = ReceiverStream<Result<pb::PersonalizeEvent, Status>>;

    async fn personalize(
        &self,
        request: Request<pb::PersonalizeRequest>,
    ) -> Result<Response<Self::PersonalizeStream>, Status> {
        use crate::training::personalize::{self as personal, Plan};
        use std::sync::atomic::{AtomicBool, Ordering};
        let r = request.into_inner();
        let name = if r.name.is_empty() { personal::DEFAULT_NAME.to_owned() } else { r.name };
        personal::check_name(&name).map_err(|e| invalid("name", e))?;
        let steps = match r.steps {
            0 => personal::DEFAULT_STEPS,
            s if s > 20_000 => return Err(invalid("steps", format!("{s}: at most 20000"))),
            s => s as usize,
        };
        let models = self.models_dir.clone().ok_or_else(|| {
            Status::failed_precondition("this daemon has no models folder to write a personal model into")
        })?;
        let work = models.with_file_name("personalizing");
        // One run at a time: training takes a core.
        if self.personalizing.swap(true, Ordering::SeqCst) {
            return Err(Status::failed_precondition(
                "a Personalize run is already training; wait for it or cancel it",
            ));
        }
        let running = self.personalizing.clone();
        let release = scopeguard(move || running.store(false, Ordering::SeqCst));
        let store = self.store.clone();
        let resume = personal::unfinished(&work, &name);
        let sessions = blocking(move || {
            if resume {
                return Ok(Vec::new());
            }
            let mut out = Vec::new();
            // Latest first: the store lists by last change.
            for info in store.list().map_err(status::store)? {
                out.push((info.session_id.clone(), store.history(&info.session_id).map_err(status::store)?));
            }
            Ok(out)
        })
        .await?;
        let (tx, rx) = mpsc::channel(8);
        let stop = Arc::new(AtomicBool::new(false));
        let plan = Plan { name, steps, ..Plan::default() };
        // Its threads are not the runtime's: sends go through the runtime's handle.
        let runtime = tokio::runtime::Handle::current();
        let send =
            move |tx: &mpsc::Sender<_>, item| runtime.block_on(tx.send_timeout(item, STALLED_CLIENT)).is_ok();
        // A thread of its own at the lowest priority, with candle's work in a one-thread pool
        // niced the same: Continue keeps the cores while it trains.
        let spawned = std::thread::Builder::new().name("personalize".into()).spawn(move || {
            let _release = release;
            lower_priority();
            let pool = match rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .start_handler(|_| lower_priority())
                .build()
            {
                Ok(pool) => pool,
                Err(e) => {
                    send(&tx, Err(Status::internal(format!("personalize: a thread pool: {e}"))));
                    return;
                }
            };
            let result = pool.install(|| {
                personal::personalize(sessions, &work, &models, &plan, stop.clone(), |p| {
                    let event = pb::PersonalizeEvent {
                        event: Some(pb::personalize_event::Event::Progress(pb::PersonalizeProgress {
                            step: p.step as u32,
                            steps: p.steps as u32,
                            loss: p.loss,
                            seconds_left: p.seconds_left,
                            sessions: p.sessions as u32,
                            held_out: p.held_out as u32,
                            ops: p.ops as u64,
                            resumed: p.resumed,
                        })),
                    };
                    // The client went away (cancelled): stop, keeping the checkpoint to resume.
                    if !send(&tx, Ok(event)) {
                        stop.store(true, Ordering::Relaxed);
                    }
                })
            });
            let event = match result {
                Ok(Some(done)) => {
                    tracing::info!(
                        "personal model {} (held-out next-op loss {:.3}, the shipped model's {:.3})",
                        done.name,
                        done.loss_after,
                        done.loss_before
                    );
                    // Used from now on, without waiting for the folder's watch.
                    if let Err(e) = crate::model::registry::use_file(&done.path) {
                        tracing::warn!("personal model not loaded: {e}");
                    }
                    Ok(pb::PersonalizeEvent {
                        event: Some(pb::personalize_event::Event::Done(pb::PersonalizeDone {
                            model: done.name,
                            loss_before: done.loss_before,
                            loss_after: done.loss_after,
                            sessions: done.sessions as u32,
                            held_out: done.held_out as u32,
                        })),
                    })
                }
                Ok(None) => {
                    tracing::info!("personalize stopped; the next run of {:?} resumes it", plan.name);
                    return;
                }
                Err(crate::training::RunError::Input(m)) => Err(Status::failed_precondition(m)),
                Err(crate::training::RunError::Failed(m)) => {
                    Err(Status::internal(format!("personalize: {m}")))
                }
            };
            send(&tx, event);
        });
        if let Err(e) = spawned {
            return Err(Status::internal(format!("personalize: cannot start its thread: {e}")));
        }
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_info(&self, _request: Request<pb::GetInfoRequest>) -> Result<Response<pb::Info>, Status> {
        let mut info = crate::info(self.models_dir.as_deref(), self.sd.as_deref());
        info.styles = self.styles_dir.as_deref().map(crate::diffusion::style::names).unwrap_or_default();
        Ok(Response::new(info))
    }
}
