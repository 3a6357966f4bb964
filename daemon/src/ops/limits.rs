//! Hard limits on what a history may contain. They bound memory and time for
//! every consumer (replay, daemon, training), and each is named in the error
//! that enforces it.

/// Longest canvas side in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Most canvas pixels (64 Mpx: 1 GiB of premultiplied f32 RGBA in the engine).
pub const MAX_CANVAS_PIXELS: u64 = 64 << 20;
/// Largest brush diameter in pixels.
pub const MAX_BRUSH_SIZE: f32 = 2048.0;
/// Most points in one stroke or magic-brush path.
pub const MAX_POINTS: usize = 100_000;
/// Coordinates may leave the canvas (strokes run off the edge) but stay within this.
pub const MAX_COORD: f32 = 65_536.0;
/// Largest magic-brush radius in pixels.
pub const MAX_MAGIC_RADIUS: f32 = 1024.0;
/// Longest magic-brush prompt or style name, in bytes.
pub const MAX_PROMPT_BYTES: usize = 4096;
/// Most pixels in one raster patch (16 Mpx: 64 MiB of RGBA8).
pub const MAX_PATCH_PIXELS: u64 = 16 << 20;
/// Most steps one undo or redo marker may take back.
pub const MAX_UNDO_COUNT: u32 = 1_000_000;
/// Largest encoded record in a binary history file.
pub const MAX_RECORD_BYTES: u64 = (MAX_PATCH_PIXELS * 4) + (1 << 20);
