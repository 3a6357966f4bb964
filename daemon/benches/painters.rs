//! How fast each painter makes ops, printed as a table:
//! `cargo bench -p apprentice --bench painters`.
//!
//! Batch 1, one op at a time as Continue streams them, each op also painted on
//! the painter's own canvas; the transformer uses the built-in default model
//! with its KV cache. Target (issue 4): at least 200 ops/s for the transformer.

use std::time::Instant;

use apprentice::engine::Canvas;
use apprentice::ops::{Rgba, pb};
use apprentice::painters::{self, Painter, Request};

/// A request to paint on a blank white `side`² canvas, copying `reference` when given.
fn blank(side: usize, reference: Option<Canvas>, temperature: f32) -> Request {
    let header = pb::Header { width: side as u32, height: side as u32, ..Default::default() };
    Request {
        history: pb::History { header: Some(header), ops: Vec::new() },
        canvas: Canvas::new(side, side, WHITE),
        reference,
        temperature,
        seed: 1,
        allowed_tools: Vec::new(),
        canvas_at: None,
        stop: None,
        imagination: None,
    }
}

const WHITE: Rgba = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };

fn main() {
    // As the binary runs (see `apprentice::tuning`).
    apprentice::tuning::allocator();
    // SAFETY: no other thread runs yet.
    unsafe { apprentice::tuning::threads(None) };
    let device = apprentice::device::from_args(std::env::args()).unwrap();
    let full = std::env::args().any(|a| a == "--bench");
    let ops = if full { 1000 } else { 20 };
    let side = 256;
    let reference = apprentice::training::scenes::scene(side, side, 7);
    println!(
        "painters, batch 1, {side}x{side} canvas, {ops} ops each, models on {}",
        apprentice::device::name(&device)
    );
    println!("{:<12} {:>10} {:>12}", "painter", "ops/s", "ms per op");
    for p in painters::all() {
        let start = Instant::now();
        let mut run = p.start(blank(side, p.requires_reference().then(|| reference.clone()), 1.0));
        for _ in 0..ops {
            std::hint::black_box(run.next_op());
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{:<12} {:>10.0} {:>12.2}", p.name(), ops as f64 / secs, secs * 1e3 / ops as f64);
    }

    // Search copying a picture, by canvas size: its candidates are judged on a working
    // canvas of at most `WORKING_SIDE` px (issue goal: 100 ops of a 2048² picture in ≤ 3 s).
    let sides: &[usize] = if full { &[256, 1024, 2048, 4096] } else { &[256] };
    let ops = if full { 100 } else { 5 };
    println!("\nsearch copying a scene, {ops} ops (working side {} px)", painters::working::WORKING_SIDE);
    println!("{:<12} {:>10} {:>12} {:>10}", "canvas", "seconds", "ms per op", "MSE");
    for &side in sides {
        let reference = apprentice::training::scenes::scene(side, side, 7);
        let start = Instant::now();
        let mut run = painters::search::Search::active().start(blank(side, Some(reference.clone()), 0.7));
        let mut engine = apprentice::engine::Engine::from_canvas(Canvas::new(side, side, WHITE));
        for _ in 0..ops {
            engine.apply(&run.next_op());
        }
        let secs = start.elapsed().as_secs_f64();
        let mse = painters::analysis::mse(engine.canvas(), &reference);
        println!(
            "{:<12} {:>10.2} {:>12.1} {:>10.4}",
            format!("{side}x{side}"),
            secs,
            secs * 1e3 / ops as f64,
            mse
        );
    }
}
