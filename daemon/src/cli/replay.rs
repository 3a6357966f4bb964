//! `apprentice replay`: render a history to a picture, with process frames and a timelapse.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

use super::{CliError, CliResult, load_history, require_extension};
use crate::canvas_view::image_of;
use crate::engine::{Engine, replay::replay};

/// Render a history to a PNG, as the paint engine sees it.
///
/// Undo and redo are applied as the editor applied them. Magic-brush ops lay down
/// their recorded pixels; one without them is painted by the built-in brush.
#[derive(clap::Args)]
pub struct Args {
    /// History to replay (.jsonl or .binpb).
    history: PathBuf,
    /// The finished picture (.png).
    #[arg(short, long, value_name = "OUT.png")]
    output: PathBuf,
    /// Also save the picture as it stood every N ops into DIR, as frame-000010.png, ...
    #[arg(long, value_name = "DIR")]
    frames: Option<PathBuf>,
    /// Ops between frames (for --frames and --gif). Default: about 100 frames in all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    every: Option<u32>,
    /// Also write a timelapse of the painting process as an animated GIF.
    #[arg(long, value_name = "OUT.gif")]
    gif: Option<PathBuf>,
    /// Longest side of the timelapse frames, in pixels.
    #[arg(long, value_name = "PX", default_value_t = 512, value_parser = clap::value_parser!(u32).range(16..=4096))]
    gif_size: u32,
    /// Time each timelapse frame is shown, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 80, value_parser = clap::value_parser!(u32).range(10..=10_000))]
    gif_delay: u32,
    /// Also write the history with the pixels of its magic-brush dabs recorded (those that
    /// had none), so that it replays to this picture anywhere, with any brush model or none.
    #[arg(long, value_name = "OUT.jsonl")]
    record: Option<PathBuf>,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::failure(format!("cannot write {}: {e}", path.display()))
}

fn save_png(engine: &Engine, path: &Path) -> CliResult {
    super::write_output(path, &crate::canvas_view::png_of(engine.canvas(), 0).0)
}

/// A file that remembers a failed write: the GIF encoder writes its trailer and last
/// buffered bytes when dropped, where an error could not be returned.
struct Noting {
    file: File,
    failed: Arc<AtomicBool>,
}

impl Write for Noting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf);
        self.failed.fetch_or(written.is_err(), Ordering::Relaxed);
        written
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let flushed = self.file.flush();
        self.failed.fetch_or(flushed.is_err(), Ordering::Relaxed);
        flushed
    }
}

/// The GIF is encoded into a temporary file that takes its name once complete, so a
/// failed replay never leaves a truncated GIF where a good one was.
struct Timelapse {
    encoder: Option<GifEncoder<BufWriter<Noting>>>,
    failed: Arc<AtomicBool>,
    tmp: PathBuf,
    path: PathBuf,
    max_side: u32,
}

impl Timelapse {
    fn create(path: &Path, max_side: u32) -> Result<Timelapse, CliError> {
        let tmp = crate::files::temporary_for(path).map_err(|e| write_err(path, e))?;
        let file = File::create_new(&tmp).map_err(|e| write_err(path, e))?;
        // Speed 10 of 30: good colours at a few ms per frame.
        let failed = Arc::new(AtomicBool::new(false));
        let noting = Noting { file, failed: failed.clone() };
        let encoder = GifEncoder::new_with_speed(BufWriter::new(noting), 10);
        // Made first, so that a failure from here on removes the temporary file.
        let mut timelapse =
            Timelapse { encoder: Some(encoder), failed, tmp, path: path.to_owned(), max_side };
        let encoder = timelapse.encoder.as_mut().expect("just made");
        encoder.set_repeat(Repeat::Infinite).map_err(|e| write_err(path, e))?;
        Ok(timelapse)
    }

    /// Ends the GIF and gives it its name.
    fn finish(mut self) -> CliResult {
        // Dropping the encoder writes the GIF trailer and flushes.
        drop(self.encoder.take());
        let committed = match self.failed.load(Ordering::Relaxed) {
            true => Err(std::io::Error::other("writing the end of the GIF failed")),
            false => crate::files::commit(&self.tmp, &self.path),
        };
        if committed.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        committed.map_err(|e| write_err(&self.path, e))
    }

    fn add(&mut self, engine: &Engine, delay_ms: u32) -> CliResult {
        let img = image_of(engine.canvas(), self.max_side);
        let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(delay_ms, 1));
        let encoder = self.encoder.as_mut().expect("only finish takes the encoder");
        encoder.encode_frame(frame).map_err(|e| write_err(&self.path, e))
    }
}

impl Drop for Timelapse {
    fn drop(&mut self) {
        // Not finished (a failure): the old GIF, if any, stays; the partial one goes.
        if self.encoder.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    require_extension(&args.output, "png", "output")?;
    if let Some(gif) = &args.gif {
        require_extension(gif, "gif", "--gif")?;
    }
    if let Some(path) = &args.record {
        super::require_history_path(path)?;
    }
    let mut outputs = vec![("-o", args.output.as_path())];
    outputs.extend(args.gif.as_deref().map(|p| ("--gif", p)));
    outputs.extend(args.record.as_deref().map(|p| ("--record", p)));
    super::refuse_clobbering(&outputs, &[("HISTORY", &args.history)])?;
    let history = load_history(&args.history)?;
    if let Some(dir) = &args.frames {
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    }
    let mut timelapse = match &args.gif {
        Some(path) => Some(Timelapse::create(path, args.gif_size)?),
        None => None,
    };

    let progress = super::progress_bar(history.ops.len() as u64, "replaying");
    let mut failure = None;
    let (engine, stats) = replay(&history, |i, n, engine| {
        progress.set_length(n as u64);
        progress.set_position(i as u64 + 1);
        let every = args.every.map_or_else(|| n.div_ceil(100).max(1), |e| e as usize);
        let is_frame = (i + 1) % every == 0 || i + 1 == n;
        if !is_frame || failure.is_some() {
            return;
        }
        if let Some(dir) = &args.frames {
            let path = dir.join(format!("frame-{:06}.png", i + 1));
            if let Err(e) = save_png(engine, &path) {
                failure = Some(e);
            }
        }
        if let Some(t) = timelapse.as_mut() {
            // The last frame lingers so the finished picture can be seen.
            let delay = if i + 1 == n { args.gif_delay.max(2000) } else { args.gif_delay };
            if let Err(e) = t.add(engine, delay) {
                failure = Some(e);
            }
        }
    });
    progress.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    if stats.effective == 0 {
        if let Some(t) = timelapse.as_mut() {
            t.add(&engine, args.gif_delay.max(2000))?;
        }
    }
    if let Some(t) = timelapse {
        t.finish()?;
    }
    save_png(&engine, &args.output)?;

    tracing::info!(
        "painted {} of {} ops ({} recorded, undo/redo resolved) into {}",
        stats.painted,
        stats.effective,
        stats.recorded,
        args.output.display()
    );
    for (why, n) in &stats.skipped {
        tracing::warn!("skipped {n} op(s): {why}");
    }
    if let Some(path) = &args.record {
        // Painted again as replay painted them (deterministic), now kept in the ops.
        let (recorded, n) = crate::diffusion::op::record(&history).map_err(CliError::failure)?;
        super::write_history(&recorded, path)?;
        tracing::info!("recorded the pixels of {n} magic-brush op(s) in {}", path.display());
    }
    Ok(())
}
