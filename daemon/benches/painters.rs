//! How fast each painter makes ops, printed as a table:
//! `cargo bench -p apprentice --bench painters`.
//!
//! Batch 1, one op at a time as Continue streams them, each op also painted on
//! the painter's own canvas; the transformer uses the built-in default model
//! with its KV cache. Target (issue 4): at least 200 ops/s for the transformer.

use std::time::Instant;

use apprentice::engine::Canvas;
use apprentice::ops::{Rgba, pb};
use apprentice::painters::{self, Request};

fn main() {
    // As the binary runs (see `apprentice::tuning`).
    apprentice::tuning::allocator();
    // SAFETY: no other thread runs yet.
    unsafe { apprentice::tuning::threads(None) };
    let full = std::env::args().any(|a| a == "--bench");
    let ops = if full { 1000 } else { 20 };
    let side = 256;
    let header = pb::Header { width: side, height: side, ..Default::default() };
    let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
    let reference = apprentice::training::scenes::scene(side as usize, side as usize, 7);
    println!("painters, batch 1, {side}x{side} canvas, {ops} ops each");
    println!("{:<12} {:>10} {:>12}", "painter", "ops/s", "ms per op");
    for p in painters::all() {
        let request = Request {
            history: pb::History { header: Some(header.clone()), ops: Vec::new() },
            canvas: Canvas::new(side as usize, side as usize, white),
            reference: p.requires_reference().then(|| reference.clone()),
            temperature: 1.0,
            seed: 1,
            allowed_tools: Vec::new(),
            canvas_at: None,
            stop: None,
            imagination: None,
        };
        let start = Instant::now();
        let mut run = p.start(request);
        for _ in 0..ops {
            std::hint::black_box(run.next_op());
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{:<12} {:>10.0} {:>12.2}", p.name(), ops as f64 / secs, secs * 1e3 / ops as f64);
    }
}
