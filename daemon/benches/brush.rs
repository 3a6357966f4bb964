//! How fast the magic brush paints, printed as a table:
//! `cargo bench -p apprentice --bench brush` (`cargo test --all-targets` runs a
//! smoke pass: one repetition, a few training steps).
//!
//! The built-in model on a 1024² scene: a 64 px dab (radius 32) and a 512² region
//! at the default 8 steps and at 1 step, without and with cloned texture, then
//! training steps of the shipped size.
//! Goal (issue 11): at most 250 ms per 64 px dab on 2 CPU cores.

use std::time::Instant;

use apprentice::diffusion::brush::{DEFAULT_STEPS, Dab, NOISE_SCALE};
use apprentice::diffusion::train::{BrushTrainOptions, train};
use apprentice::diffusion::unet::Config;
use apprentice::diffusion::{SoftMask, builtin, style};
use apprentice::ops::pb;

fn main() {
    apprentice::tuning::allocator();
    // SAFETY: no other thread runs yet.
    unsafe { apprentice::tuning::threads(None) };
    let device = apprentice::device::from_args(std::env::args()).unwrap();
    let full = std::env::args().any(|a| a == "--bench");
    let reps = if full { 10 } else { 1 };
    let canvas = apprentice::training::scenes::scene(1024, 1024, 7);
    let brush = builtin::brush();
    let dab_mask = SoftMask::from_path(&[pb::PathPoint { x: 500.0, y: 600.0 }], 32.0, 1024, 1024);
    let region = SoftMask::from_path(
        &[pb::PathPoint { x: 300.0, y: 300.0 }, pb::PathPoint { x: 556.0, y: 556.0 }],
        128.0,
        1024,
        1024,
    );
    println!(
        "magic brush, built-in model, 1024x1024 canvas, {reps} repetitions each, on {}",
        apprentice::device::name(&device)
    );
    println!("{:<34} {:>6} {:>8} {:>12}", "what", "steps", "texture", "ms per dab");
    for (what, mask) in [("64 px dab (radius 32)", &dab_mask), ("region (radius 128 sweep)", &region)] {
        for (steps, texture) in [(DEFAULT_STEPS, 0.0), (DEFAULT_STEPS, 1.0), (1, 0.0), (1, 1.0)] {
            let dab =
                Dab { style: style::NONE, strength: 1.0, seed: 1, steps, texture, noise_scale: NOISE_SCALE };
            brush.paint(&canvas, mask, &dab, &mut |_, _| true).unwrap(); // warm-up
            let start = Instant::now();
            for _ in 0..reps {
                std::hint::black_box(brush.paint(&canvas, mask, &dab, &mut |_, _| true).unwrap());
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / reps as f64;
            let label = format!("{what}, {}x{}", mask.width, mask.height);
            println!("{label:<34} {steps:>6} {texture:>8} {ms:>12.1}");
        }
    }

    let dir = std::env::temp_dir().join(format!("apprentice-brush-bench-{}", std::process::id()));
    tiny_sd(&canvas, &dab_mask, &dir, reps);

    let steps = if full { 20 } else { 2 };
    let options = BrushTrainOptions {
        photos: Vec::new(),
        out: dir.join("bench.safetensors"),
        config: Config::small(),
        steps,
        batch: 8,
        lr: 1e-3,
        seed: 1,
        eval_every: usize::MAX,
        resume: false,
        init: None,
        full_noise_share: 0.5,
        ema: 0.999,
    };
    let start = Instant::now();
    train(&options, |_, _| {}).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "training, shipped size, batch 8: {:.2} s per step ({steps} steps, with one held-out pass)",
        secs / steps as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Stable Diffusion's loop on the tests' tiny random model (32 px, a two-level UNet,
/// guidance on: two UNet passes a step): seconds per dab at 1 and 4 steps, and per
/// step as their difference. It measures the pipeline around the networks; a real
/// model's steps cost what its UNet costs.
fn tiny_sd(canvas: &apprentice::engine::Canvas, mask: &SoftMask, dir: &std::path::Path, reps: usize) {
    use apprentice::diffusion::sd;
    let models = dir.join("models");
    sd::tiny::write(&sd::folder(&models, "tiny"), true).unwrap();
    let model = sd::load(&models, "tiny", &apprentice::device::current()).unwrap();
    let time = |steps| {
        let dab = sd::SdDab { strength: 1.0, seed: 1, steps };
        model.paint(canvas, mask, "a red barn", &dab, &mut |_, _| true).unwrap(); // warm-up
        let start = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(model.paint(canvas, mask, "a red barn", &dab, &mut |_, _| true).unwrap());
        }
        start.elapsed().as_secs_f64() / reps as f64
    };
    let (one, four) = (time(1), time(4));
    println!(
        "Stable Diffusion, tiny random model (32 px), 64 px dab: {:.3} s at 1 step, {:.3} s at 4; {:.4} s per step",
        one,
        four,
        (four - one) / 3.0
    );
}
