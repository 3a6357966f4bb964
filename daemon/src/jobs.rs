//! One-shot painting jobs on whole files, shared by the CLI and the watch
//! folder: continue a history, or paint a picture as a process (copy mode).

use crate::canvas_view::render;
use crate::engine::Canvas;
use crate::ops::{Rgba, limits, pb};
use crate::painters::{self, Painter, Request};

/// Settings common to both jobs.
#[derive(Clone, Debug, Default)]
pub struct JobOptions {
    /// Painter name; empty: the default.
    pub painter: String,
    pub ops: u32,
    pub temperature: f32,
    pub seed: u64,
    /// Continue only: imagine the finished picture with the magic brush (the search painter).
    pub imagine: Option<ImagineOptions>,
    /// Copy only: search also tries magic-brush dabs (the built-in brush).
    pub magic_brush: bool,
}

/// How a continuation imagines with the built-in magic brush.
#[derive(Clone, Debug, Default)]
pub struct ImagineOptions {
    /// (0, 1]; how far the imagined picture departs from the canvas.
    pub strength: f32,
    /// A style picture's name in the styles folder; empty: none.
    pub style: String,
    /// Imagine again after this many ops.
    pub every: usize,
    /// Where each imagined picture goes (`imagined-000.png`, ...), if anywhere.
    pub keep_in: Option<std::path::PathBuf>,
}

/// The painters' imagination for `o`: the built-in brush, its style from the styles folder.
fn imagination(o: &ImagineOptions, seed: u64) -> Result<painters::Imagination, String> {
    use crate::diffusion::{builtin, imagine::Imaginer, style};
    let features = if o.style.is_empty() {
        style::NONE
    } else {
        let paths = crate::config::Paths::resolve(None, None).map_err(|e| e.to_string())?;
        style::load(&style::styles_dir(&paths.data_dir), &o.style)?
    };
    let mut imaginer =
        Imaginer::new(builtin::brush(), features, o.strength, crate::diffusion::brush::DEFAULT_STEPS, seed);
    let keep_in = o.keep_in.clone();
    let mut n = 0;
    let imagine: painters::Imagine = Box::new(move |canvas: &Canvas| {
        let imagined = imaginer.imagine(canvas, &mut || true);
        if let Some(dir) = &keep_in {
            let path = dir.join(format!("imagined-{n:03}.png"));
            if let Err(e) = crate::files::write(&path, &crate::canvas_view::png_of(&imagined, 0).0) {
                tracing::warn!("could not keep the imagined picture: {e}");
            }
        }
        n += 1;
        imagined
    });
    Ok(painters::Imagination { imagine, every: o.every.max(1) })
}

fn painter(name: &str, copy_mode: bool) -> Result<Box<dyn Painter>, String> {
    painters::choose(name, copy_mode).map_err(|e| match e {
        painters::ChoiceError::NeedsReference(n) => {
            format!("the {n} painter copies a reference picture; use `apprentice paint`")
        }
        other => other.to_string(),
    })
}

fn run(painter: &dyn Painter, request: Request, ops: u32, mut each: impl FnMut(u32)) -> Vec<pb::Op> {
    let mut stream = painter.start(request);
    (0..ops)
        .map(|i| {
            each(i);
            stream.next_op()
        })
        .collect()
}

/// The validated `history` with `options.ops` more ops from the painter.
pub fn continue_history(
    history: &pb::History,
    options: &JobOptions,
    each: impl FnMut(u32),
) -> Result<pb::History, String> {
    let imagination = options.imagine.as_ref().map(|o| imagination(o, options.seed)).transpose()?;
    let name = match (&imagination, options.painter.as_str()) {
        (Some(_), "" | "search") => "search",
        (Some(_), other) => return Err(format!("only the search painter imagines, not {other:?}")),
        (None, name) => name,
    };
    let painter = painter(name, false)?;
    let request = Request {
        history: history.clone(),
        canvas: render(history),
        reference: None,
        temperature: options.temperature,
        seed: options.seed,
        allowed_tools: Vec::new(),
        canvas_at: None,
        stop: None,
        imagination,
    };
    let mut out = history.clone();
    out.ops.extend(run(painter.as_ref(), request, options.ops, each));
    Ok(out)
}

/// A history that paints `reference` on a white canvas of its size, and the result.
pub fn paint_picture(
    reference: &image::RgbaImage,
    title: &str,
    options: &JobOptions,
    each: impl FnMut(u32),
) -> Result<(pb::History, Canvas), String> {
    let (w, h) = reference.dimensions();
    if w > limits::MAX_SIDE || h > limits::MAX_SIDE || u64::from(w) * u64::from(h) > limits::MAX_CANVAS_PIXELS
    {
        return Err(format!(
            "the picture is {w}x{h}; canvases are limited to {0}x{0} and {1} pixels",
            limits::MAX_SIDE,
            limits::MAX_CANVAS_PIXELS
        ));
    }
    let painter: Box<dyn Painter> = match (options.magic_brush, options.painter.as_str()) {
        (true, "" | "search") => {
            Box::new(painters::search::Search::active().with_magic_brush(crate::diffusion::builtin::brush()))
        }
        (true, other) => return Err(format!("only the search painter tries the magic brush, not {other:?}")),
        (false, name) => painter(name, true)?,
    };
    let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
    let header = pb::Header {
        width: w,
        height: h,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        title: title.to_owned(),
    };
    let request = Request {
        history: pb::History { header: Some(header.clone()), ops: Vec::new() },
        canvas: Canvas::new(w as usize, h as usize, white),
        reference: Some(Canvas::from_rgba8(w as usize, h as usize, reference.as_raw())),
        temperature: options.temperature,
        seed: options.seed,
        allowed_tools: Vec::new(),
        canvas_at: None,
        stop: None,
        imagination: None,
    };
    let ops = run(painter.as_ref(), request, options.ops, each);
    let history = pb::History { header: Some(header), ops };
    let canvas = render(&history);
    Ok((history, canvas))
}
