//! Paint engine throughput, printed as a table: `cargo bench -p apprentice --bench engine`.
//!
//! - dabs/s and composited Mpx/s for round brushes of 4, 16, 64 and 256 px on a
//!   2048² canvas, one thread, for the brush (dabs build a stroke mask, laid down
//!   once) and the airbrush (every dab composited straight onto the canvas);
//!   "Mpx" counts each dab's footprint, π(r + ½)², the pixels its coverage reaches;
//! - the editors' benchmark strokes (random 10-point strokes, hardness 0.75) at 4, 16
//!   and 64 px: strokes/s on one thread and band by band on every core, beside GIMP's
//!   and Krita's figures;
//! - a whole-history replay of 10,000 strokes of mixed sizes and tools, one thread and
//!   every core.
//!
//! Targets (issue 2): ≥ 1 M 4-px dabs/s and ≥ 500 Mpx/s for large brushes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use apprentice::engine::{Engine, render, stroke::place_dabs};
use apprentice::ops::{Brush, pb, pb::op::Kind};

const SIDE: u32 = 2048;

fn header() -> pb::Header {
    pb::Header {
        width: SIDE,
        height: SIDE,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        ..Default::default()
    }
}

fn pt(x: f32, y: f32, time_ms: u32) -> pb::Point {
    pb::Point { x, y, pressure: None, time_ms, tilt: None }
}

/// A stroke of about `dabs` dabs of `size` px, raster-scanning the canvas.
fn stroke(tool: pb::Tool, size: f32, dabs: usize) -> pb::Op {
    let spacing = (0.1 * size).max(0.5);
    let mut points = Vec::new();
    let mut left = dabs as f32 * spacing;
    let (mut y, mut t) = (size, 0);
    while left > 0.0 {
        let run = left.min(SIDE as f32 - 2.0 * size);
        points.push(pt(size, y, t));
        points.push(pt(size + run, y, t));
        left -= run;
        y = (y + size * 0.5) % (SIDE as f32 - size) + size * 0.5;
        t += 1;
    }
    let brush = pb::BrushState {
        size,
        hardness: Some(0.5),
        flow: Some(0.5),
        color: Some(pb::Color { r: 0.2, g: 0.4, b: 0.6, a: None }),
        ..Default::default()
    };
    pb::Op { kind: Some(Kind::Stroke(pb::Stroke { tool: tool as i32, brush: Some(brush), points })) }
}

fn count_dabs(op: &pb::Op) -> usize {
    let Some(Kind::Stroke(s)) = &op.kind else { unreachable!() };
    let mut n = 0;
    place_dabs(&s.points, &Brush::of(s), |_| n += 1);
    n
}

/// Runs `f` repeatedly for at least `budget`; returns the mean time per run.
fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm-up: page in the canvas
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < budget || runs < 3 {
        f();
        runs += 1;
    }
    start.elapsed() / runs
}

/// A tiny deterministic generator (xorshift64*), so the bench needs no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The editors' benchmark strokes (issue 15): `n` random 10-point brush strokes of
/// `size` px in random colours, hardness 0.75, on a 2048² canvas — each a random walk of
/// steps up to 32 px each way from a random start.
fn editors_batch(size: f32, n: usize, seed: u64) -> Vec<pb::Op> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let (mut x, mut y) = (rng.next() * SIDE as f32, rng.next() * SIDE as f32);
            let points = (0..10u32)
                .map(|i| {
                    x = (x + (rng.next() - 0.5) * 64.0).clamp(0.0, SIDE as f32);
                    y = (y + (rng.next() - 0.5) * 64.0).clamp(0.0, SIDE as f32);
                    pt(x, y, i * 10)
                })
                .collect();
            let brush = pb::BrushState {
                size,
                hardness: Some(0.75),
                color: Some(pb::Color { r: rng.next(), g: rng.next(), b: rng.next(), a: None }),
                ..Default::default()
            };
            pb::Op {
                kind: Some(Kind::Stroke(pb::Stroke {
                    tool: pb::Tool::Brush as i32,
                    brush: Some(brush),
                    points,
                })),
            }
        })
        .collect()
}

/// Strokes/s on the editors' benchmark strokes, one stroke at a time on one thread and
/// [`Engine::apply_many`] on every core, beside the editors' own figures (measured through
/// GIMP 3.0.4's PDB and Krita 5.3.4's `Node.paintPath`, headless, on this machine kind).
fn editors_strokes(full: bool) {
    let n = if full { 20_000 } else { 200 };
    let threads = apprentice::engine::threads();
    println!();
    println!("the editors' benchmark strokes: {n} random 10-point strokes, {SIDE}x{SIDE}, hardness 0.75");
    println!(
        "{:>8} {:>14} {:>22} {:>10} {:>10}",
        "diameter",
        "one thread",
        format!("{threads} threads (banded)"),
        "GIMP",
        "Krita"
    );
    let editors = [(4.0f32, 621, 851), (16.0, 533, 1012), (64.0, 401, 838)];
    for (size, gimp, krita) in editors {
        let ops = editors_batch(size, n, 0x0ed1_7025 ^ size as u64);
        let refs: Vec<&pb::Op> = ops.iter().collect();
        let mut one = Engine::new(&header());
        let start = Instant::now();
        for op in &refs {
            one.apply(black_box(op));
        }
        let single = n as f64 / start.elapsed().as_secs_f64();
        let mut many = Engine::new(&header());
        let start = Instant::now();
        for chunk in refs.chunks(64) {
            many.apply_many(black_box(chunk));
        }
        let banded = n as f64 / start.elapsed().as_secs_f64();
        assert!(one.canvas() == many.canvas(), "banded painting differs");
        println!("{:>6} px {:>12.0}/s {:>20.0}/s {:>8}/s {:>8}/s", size, single, banded, gimp, krita);
    }
    println!();
}

/// 10,000 strokes: sizes log-uniform in 2..128 px, 4–12 points over 40–400 px,
/// mostly brush, with pencil, airbrush, eraser and smudge mixed in.
fn history_10k() -> pb::History {
    let mut rng = Rng(0x5eed_1998);
    let tools = [
        pb::Tool::Brush,
        pb::Tool::Brush,
        pb::Tool::Brush,
        pb::Tool::Brush,
        pb::Tool::Brush,
        pb::Tool::Pencil,
        pb::Tool::Airbrush,
        pb::Tool::Eraser,
        pb::Tool::Smudge,
    ];
    let ops = (0..10_000)
        .map(|_| {
            let tool = tools[(rng.next() * tools.len() as f32) as usize % tools.len()];
            let size = 2.0 * 64f32.powf(rng.next());
            let (mut x, mut y) = (rng.next() * SIDE as f32, rng.next() * SIDE as f32);
            let n = 4 + (rng.next() * 9.0) as u32;
            let step = (40.0 + rng.next() * 360.0) / n as f32;
            let angle = rng.next() * std::f32::consts::TAU;
            let points = (0..n)
                .map(|i| {
                    let a = angle + (rng.next() - 0.5);
                    x += step * a.cos();
                    y += step * a.sin();
                    pb::Point { x, y, pressure: Some(0.3 + 0.7 * rng.next()), time_ms: i * 15, tilt: None }
                })
                .collect();
            let brush = pb::BrushState {
                size,
                hardness: Some(rng.next()),
                opacity: Some(0.5 + 0.5 * rng.next()),
                flow: Some(if tool == pb::Tool::Airbrush { 0.1 } else { 1.0 }),
                color: Some(pb::Color { r: rng.next(), g: rng.next(), b: rng.next(), a: None }),
                ..Default::default()
            };
            pb::Op { kind: Some(Kind::Stroke(pb::Stroke { tool: tool as i32, brush: Some(brush), points })) }
        })
        .collect();
    pb::History { header: Some(header()), ops }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) runs a short smoke pass.
    let full = std::env::args().any(|a| a == "--bench");
    let budget = Duration::from_millis(if full { 1500 } else { 50 });

    println!("paint engine, one thread, {SIDE}x{SIDE} canvas");
    println!(
        "{:<10} {:>8} {:>12} {:>14} {:>16}",
        "tool", "diameter", "dabs/stroke", "dabs/s", "composited Mpx/s"
    );
    for tool in [pb::Tool::Brush, pb::Tool::Airbrush] {
        for size in [4.0f32, 16.0, 64.0, 256.0] {
            let dabs_wanted = if full { (4e6 / (size * size)).clamp(2e3, 2e5) as usize } else { 500 };
            let op = stroke(tool, size, dabs_wanted);
            let dabs = count_dabs(&op);
            let mut engine = Engine::new(&header());
            let per_stroke = time(budget, || {
                engine.apply(black_box(&op));
            });
            let dabs_per_s = dabs as f64 / per_stroke.as_secs_f64();
            let r = f64::from(size) / 2.0 + 0.5;
            let mpx_per_s = dabs_per_s * std::f64::consts::PI * r * r / 1e6;
            let name = format!("{tool:?}").to_lowercase();
            println!("{name:<10} {size:>6} px {dabs:>12} {dabs_per_s:>14.0} {mpx_per_s:>16.0}");
        }
    }

    editors_strokes(full);

    let history = history_10k();
    let ops = if full { history.ops.len() } else { 200 };
    let h = pb::History { header: history.header.clone(), ops: history.ops[..ops].to_vec() };
    let start = Instant::now();
    let mut one = Engine::new(&header());
    for op in &h.ops {
        one.apply(black_box(op));
    }
    let single = start.elapsed();
    let start = Instant::now();
    let (engine, stats) = render(black_box(&h));
    let elapsed = start.elapsed();
    assert!(engine.canvas() == one.canvas(), "render on every core differs");
    println!(
        "replay: {} strokes on {SIDE}x{SIDE}: one thread {:.2} s ({:.0} strokes/s), every core ({}) {:.2} s ({:.0} strokes/s)",
        stats.painted,
        single.as_secs_f64(),
        stats.painted as f64 / single.as_secs_f64(),
        apprentice::engine::threads(),
        elapsed.as_secs_f64(),
        stats.painted as f64 / elapsed.as_secs_f64()
    );
}
