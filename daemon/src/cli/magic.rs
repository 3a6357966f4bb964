//! `apprentice magic`: one magic-brush dab on a picture, for batch jobs.

use std::path::{Path, PathBuf};

use super::{CliError, CliResult, Dirs, require_extension};
use crate::diffusion::brush::{Brush, DEFAULT_STEPS, Dab, MAX_STEPS, NOISE_SCALE};
use crate::diffusion::sd::SdDab;
use crate::diffusion::{SoftMask, builtin, op, style};
use crate::engine::{Canvas, patch};
use crate::ops::limits::{MAX_COORD, MAX_MAGIC_RADIUS, MAX_PROMPT_BYTES};
use crate::ops::pb;

/// Repaint part of a picture with the magic brush: under a mask picture (white = repaint),
/// or along a path at a radius.
///
/// The built-in model fills the region from its surroundings, guided by a style picture
/// (DATA_DIR/styles/NAME.png, by its colours) when given; it reads no text, so a prompt
/// is reported and ignored. With --brush-model NAME a Stable Diffusion model from the
/// models folder (MODELS_DIR/sd/NAME/) paints the region under the prompt instead.
#[derive(clap::Args)]
pub struct Args {
    /// The picture (.png).
    input: PathBuf,
    /// The result (.png).
    #[arg(short, long, value_name = "OUT.png")]
    output: PathBuf,
    /// Mask picture of the same size: white repaints, black keeps, grey blends.
    #[arg(long, value_name = "M.png", conflicts_with_all = ["path", "radius"], required_unless_present = "path")]
    mask: Option<PathBuf>,
    /// The brush path in pixels: "x,y;x,y;…".
    #[arg(long, value_name = "X,Y;X,Y", requires = "radius")]
    path: Option<String>,
    /// The brush radius in pixels, (0, 1024].
    #[arg(long, value_name = "PX")]
    radius: Option<f32>,
    /// A text prompt, painted with --brush-model (the built-in model reads none: reported and ignored).
    #[arg(long, conflicts_with = "style")]
    prompt: Option<String>,
    /// A Stable Diffusion model (MODELS_DIR/sd/NAME/, see `apprentice info`) to paint with.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["model", "style"])]
    brush_model: Option<String>,
    /// A style picture's name (DATA_DIR/styles/NAME.png).
    #[arg(long)]
    style: Option<String>,
    /// How far the result may depart from the pixels under the mask, [0, 1].
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How much texture the built-in brush clones from the picture nearby into its smooth
    /// fill, [0, 1]; 0 is the smooth fill alone (Stable Diffusion paints its own).
    #[arg(long, default_value_t = 1.0)]
    texture: f32,
    /// Sampler steps at full strength, 1 to 50 (default: 8, or the Stable Diffusion model's own).
    #[arg(long)]
    steps: Option<usize>,
    /// A brush model (FILE.safetensors with its FILE.json) instead of the built-in one.
    #[arg(long, value_name = "FILE.safetensors")]
    model: Option<PathBuf>,
    #[command(flatten)]
    dirs: Dirs,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

/// `"x,y;x,y"` as path points; errors name `--path`.
fn parse_path(text: &str) -> Result<Vec<pb::PathPoint>, CliError> {
    let bad = |why: String| CliError::input(format!("--path: {why} (expected \"x,y;x,y;…\")"));
    let mut points = Vec::new();
    for (i, pair) in text.split(';').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        let (x, y) = pair.split_once(',').ok_or_else(|| bad(format!("point {i} {pair:?} is not x,y")))?;
        let num = |v: &str| v.trim().parse::<f32>().ok().filter(|v| v.is_finite() && v.abs() <= MAX_COORD);
        match (num(x), num(y)) {
            (Some(x), Some(y)) => points.push(pb::PathPoint { x, y }),
            _ => return Err(bad(format!("point {i} {pair:?} is not two numbers within ±{MAX_COORD}"))),
        }
    }
    if points.is_empty() {
        return Err(bad("no points".into()));
    }
    Ok(points)
}

fn read_png(path: &Path, what: &str) -> Result<image::RgbaImage, CliError> {
    crate::training::photos::load(path).map_err(|e| CliError::input(format!("{what}: {e}")))
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    require_extension(&args.output, "png", "output")?;
    if !(0.0..=1.0).contains(&args.strength) {
        return Err(CliError::input(format!("--strength must be in [0, 1], got {}", args.strength)));
    }
    if !(0.0..=1.0).contains(&args.texture) {
        return Err(CliError::input(format!("--texture must be in [0, 1], got {}", args.texture)));
    }
    if let Some(steps) = args.steps.filter(|&s| s == 0 || s > MAX_STEPS) {
        return Err(CliError::input(format!("--steps must be in [1, {MAX_STEPS}], got {steps}")));
    }
    if args.prompt.as_ref().is_some_and(|p| p.len() > MAX_PROMPT_BYTES) {
        return Err(CliError::input(format!("--prompt is longer than {MAX_PROMPT_BYTES} bytes")));
    }
    let mut inputs = vec![("INPUT", args.input.as_path())];
    inputs.extend(args.mask.as_deref().map(|p| ("--mask", p)));
    super::refuse_clobbering(&[("-o", &args.output)], &inputs)?;
    let img = read_png(&args.input, "input")?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let canvas = Canvas::from_rgba8(w, h, img.as_raw());
    let mask = match (&args.mask, &args.path, args.radius) {
        (Some(m), _, _) => {
            let m_img = read_png(m, "--mask")?;
            if m_img.dimensions() != img.dimensions() {
                return Err(CliError::input(format!(
                    "--mask: {} is {}x{}, the picture {w}x{h}",
                    m.display(),
                    m_img.width(),
                    m_img.height()
                )));
            }
            SoftMask::from_image(m_img.as_raw(), w, h)
        }
        (None, Some(path), Some(r)) => {
            if !(r > 0.0 && r <= MAX_MAGIC_RADIUS) {
                return Err(CliError::input(format!("--radius must be in (0, {MAX_MAGIC_RADIUS}], got {r}")));
            }
            SoftMask::from_path(&parse_path(path)?, r, w, h)
        }
        _ => return Err(CliError::input("--mask or --path with --radius: say where to paint")),
    };
    if mask.is_empty() {
        return Err(CliError::input(
            "the mask covers no pixel of the picture (--mask is black, or --path is off it)",
        ));
    }
    let (patch, painter, steps) = match &args.brush_model {
        Some(name) => {
            let models = args.dirs.clone().paths()?.models_dir();
            let sd = crate::diffusion::sd::load(&models, name, &crate::device::current())
                .map_err(|e| CliError::input(format!("--brush-model: {e}")))?;
            let steps = args.steps.unwrap_or(sd.default_steps());
            let dab = SdDab { strength: args.strength, seed: args.seed, steps };
            let prompt = args.prompt.as_deref().unwrap_or("");
            let patch = sd
                .paint(&canvas, &mask, prompt, &dab, &mut |_, _| true)
                .map_err(|e| CliError::failure(format!("magic brush: {e}")))?;
            (patch, format!("Stable Diffusion {}", sd.name), steps)
        }
        None => builtin_dab(&args, &canvas, &mask)?,
    };
    let patch = patch.expect("not cancelled");
    let mut out = canvas;
    patch::paste(&mut out, &patch);
    super::write_output(&args.output, &crate::canvas_view::png_of(&out, 0).0)?;
    tracing::info!(
        "painted {}x{} px at ({}, {}) with {} in {} steps; wrote {}",
        patch.width,
        patch.height,
        patch.x,
        patch.y,
        painter,
        crate::diffusion::sampler::steps_for(steps, args.strength),
        args.output.display()
    );
    Ok(())
}

/// A dab of the built-in brush (or a `--model` file): its patch, its name and its steps.
fn builtin_dab(args: &Args, canvas: &Canvas, mask: &SoftMask) -> Result<Painted, CliError> {
    let brush = match &args.model {
        Some(path) => {
            std::sync::Arc::new(Brush::from_file(path).map_err(|e| CliError::input(format!("--model: {e}")))?)
        }
        None => builtin::brush(),
    };
    let style_vec = match (&args.prompt, &args.style) {
        (Some(_), _) => {
            tracing::warn!("{}", op::PROMPT_IGNORED);
            let found = args.dirs.clone().paths().map(|p| crate::diffusion::sd::found(&p.models_dir()));
            if let Some(first) = found.ok().and_then(|f| f.into_iter().next()) {
                let name = first.file_name().unwrap_or_default().to_string_lossy().into_owned();
                tracing::warn!(
                    "a Stable Diffusion model is installed: paint prompts with --brush-model {name}"
                );
            }
            style::NONE
        }
        (_, Some(name)) => style::load(&style::styles_dir(&args.dirs.clone().paths()?.data_dir), name)
            .map_err(|e| CliError::input(format!("--{e}")))?,
        _ => style::NONE,
    };
    let steps = args.steps.unwrap_or(DEFAULT_STEPS);
    let dab = Dab {
        style: style_vec,
        strength: args.strength,
        seed: args.seed,
        steps,
        texture: args.texture,
        noise_scale: NOISE_SCALE,
    };
    let patch = brush
        .paint(canvas, mask, &dab, &mut |_, _| true)
        .map_err(|e| CliError::failure(format!("magic brush: {e}")))?;
    Ok((patch, brush.name.clone(), steps))
}

/// A dab's patch (`None`: cancelled), the painter's name and the steps it took.
type Painted = (Option<pb::RasterPatch>, String, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_bad_ones_are_named() {
        let p = parse_path("1,2; 3.5,4").unwrap();
        assert_eq!((p[1].x, p[1].y), (3.5, 4.0));
        for bad in ["", "1", "1,x", "1,2;nan,3", "1,1e9"] {
            let e = parse_path(bad).unwrap_err();
            assert!(e.code == 2 && e.message.starts_with("--path: "), "{bad}: {}", e.message);
        }
    }
}
