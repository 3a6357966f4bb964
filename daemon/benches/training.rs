//! Training speed beside PyTorch, printed as a table: `cargo bench -p apprentice --bench training`.
//!
//! The same model (the default `small` size), the same batches and the same starting weights
//! for both: the bench has the real binary's `apprentice data` paint procedural scenes, cuts
//! them into training windows as `apprentice train` does, draws batches (half of them in copy
//! mode), and writes them and a freshly initialised model to a folder as `.npz`. It then times
//! AdamW steps in candle (this crate's training code) and in PyTorch
//! (`benches/training_torch.py`, the same model written with PyTorch's own fused layer norm,
//! attention and cross-entropy), each in a process of its own on 1 and on 2 threads. Both
//! report the loss of the first batch before any step: the two must agree, or the models are
//! not the same and the bench fails.
//!
//! PyTorch is not a dependency of the product: the bench uses the Python given by
//! `APPRENTICE_TORCH_PYTHON` (else `python3`) and says so when it has no `torch`.
//! Without `--bench` (the test suite's smoke pass) it makes a few windows and takes two steps.
//! `APPRENTICE_BENCH_TRAINING_OUT=DIR` keeps what it wrote, to time either side again by hand.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use apprentice::model::stroke_transformer::{Config, StrokeTransformer};
use apprentice::painters::rng::Rng;
use apprentice::tokenizer::{ALL_FIELDS, PLACE_END};
use apprentice::training::{self, Mixture};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};

/// Ops per window and windows per batch: `apprentice train`'s defaults for the shipped model.
const WINDOW: usize = 32;
const BATCH: usize = 16;
/// Distinct batches, used in turn.
const BATCHES: usize = 8;
const NAMES: [&str; 6] = ["canvas", "reference", "inputs", "targets", "glimpses", "mask"];

fn main() {
    if let Ok(dir) = std::env::var("APPRENTICE_BENCH_TRAINING_DIR") {
        let steps = std::env::var("APPRENTICE_BENCH_TRAINING_STEPS").unwrap().parse().unwrap();
        return candle_child(Path::new(&dir), steps);
    }
    if let Ok(reps) = std::env::var("APPRENTICE_BENCH_MATMUL_REPS") {
        return matmul_child(reps.parse().unwrap());
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (scenes, steps, threads): (usize, usize, &[usize]) =
        if full { (60, 40, &[1, 2]) } else { (3, 2, &[1]) };
    // `APPRENTICE_BENCH_TRAINING_OUT` keeps the batches and weights, to time either side by hand.
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("APPRENTICE_BENCH_TRAINING_OUT").map_or(temp.path().to_owned(), Into::into);
    std::fs::create_dir_all(&dir).unwrap();
    let made = Instant::now();
    prepare(&dir, scenes);
    println!(
        "data: {scenes} scenes painted, {BATCHES} batches of {BATCH} × {WINDOW} ops ({:.1} s)",
        secs(made)
    );

    let mut rows = Vec::new();
    for &t in threads {
        rows.push((format!("candle (this crate), {t} thread{}", plural(t)), candle(&dir, steps, t)));
    }
    let python = std::env::var("APPRENTICE_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch =
        Command::new(&python).args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    if has_torch {
        for &t in threads {
            rows.push((
                format!("PyTorch fp32 eager, {t} thread{}", plural(t)),
                torch(&python, &dir, steps, t),
            ));
        }
    }

    println!("\n| trainer | ops/s | ms per step | loss of the first batch |");
    println!("|---|---:|---:|---:|");
    for (who, r) in &rows {
        println!(
            "| {who} | {:.0} | {:.0} | {:.4} |",
            r.ops_per_s,
            1000.0 * (BATCH * WINDOW) as f64 / r.ops_per_s,
            r.loss0
        );
    }
    if !has_torch {
        println!("| PyTorch | not measured: `{python}` has no torch (set APPRENTICE_TORCH_PYTHON) | | |");
    }
    // The same model, batches and weights must give the same loss before any step.
    let first = rows[0].1.loss0;
    for (who, r) in &rows {
        assert!(
            (r.loss0 - first).abs() <= 1e-3 * first.abs(),
            "{who}: first loss {} against {first}: not the same model",
            r.loss0
        );
    }
    matmuls(&python, has_torch, threads, if full { 200 } else { 2 });
    if has_torch {
        for &t in threads {
            let find = |prefix: &str| {
                rows.iter()
                    .find(|(w, _)| {
                        w.starts_with(prefix) && w.ends_with(&format!(", {t} thread{}", plural(t)))
                    })
                    .map(|r| r.1.ops_per_s)
            };
            if let (Some(c), Some(p)) = (find("candle"), find("PyTorch")) {
                println!("\ncandle ÷ PyTorch on {t} thread{}: {:.2}×", plural(t), c / p);
            }
        }
    }
}

/// The matrix product most of a step is made of (an MLP layer over a batch's 1,024
/// positions, d 192 → 576), alone, in GFLOP/s: how far the two differ before any overhead.
fn matmuls(python: &str, has_torch: bool, threads: &[usize], reps: usize) {
    println!("\n| one matmul, 1024×192 · 192×576 | GFLOP/s |");
    println!("|---|---:|");
    for &t in threads {
        let out = Command::new(std::env::current_exe().unwrap())
            .env("APPRENTICE_BENCH_MATMUL_REPS", reps.to_string())
            .env("RAYON_NUM_THREADS", t.to_string())
            .output()
            .unwrap();
        println!("| candle, {t} thread{} | {:.1} |", plural(t), parse_number(out, "candle matmul"));
        if has_torch {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/training_torch.py");
            let out = Command::new(python)
                .arg(script)
                .args(["--matmul", &reps.to_string(), "--threads", &t.to_string()])
                .env("OMP_NUM_THREADS", t.to_string())
                .output()
                .unwrap();
            println!("| PyTorch, {t} thread{} | {:.1} |", plural(t), parse_number(out, "PyTorch matmul"));
        }
    }
}

/// GFLOP/s of `reps` products of the shape [`matmuls`] times (in a process of its own).
fn matmul_child(reps: usize) {
    let x = Tensor::randn(0f32, 1.0, (1024, 192), &Device::Cpu).unwrap();
    let w = Tensor::randn(0f32, 1.0, (576, 192), &Device::Cpu).unwrap();
    let wt = w.t().unwrap();
    x.matmul(&wt).unwrap();
    let start = Instant::now();
    for _ in 0..reps {
        x.matmul(&wt).unwrap();
    }
    println!("{}", (2 * 1024 * 192 * 576 * reps) as f64 / secs(start) / 1e9);
}

fn parse_number(out: std::process::Output, who: &str) -> f64 {
    assert!(out.status.success(), "{who} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().parse().unwrap()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Scenes painted by the real binary, cut into windows and drawn into batches, written to
/// `dir` with a new model's weights and a manifest of the shapes.
fn prepare(dir: &Path, scenes: usize) {
    let data = dir.join("data");
    let status = Command::new(env!("CARGO_BIN_EXE_apprentice"))
        .args(["data", "--out"])
        .arg(&data)
        .args(["--scenes", &scenes.to_string(), "--size", "128", "--ops", "300", "--seed", "1"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "apprentice data failed");
    let histories = training::load_histories(&data).unwrap();
    let cfg = mirrored_shape();
    let mixture = Mixture::of(&histories, &vec![false; histories.len()], &cfg, WINDOW, 1);
    let mut rng = Rng::new(1);
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for b in 0..BATCHES {
        let with_reference = b % 2 == 1;
        let chosen = mixture.draw(BATCH, with_reference, &mut rng);
        let t = training::batch(&chosen, &cfg, WINDOW, with_reference).unwrap();
        for (name, tensor) in NAMES.iter().zip(t) {
            if let Some(tensor) = tensor {
                tensors.push((format!("b{b}.{name}"), tensor));
            }
        }
    }
    Tensor::write_npz(
        &tensors.iter().map(|(n, t)| (n.as_str(), t)).collect::<Vec<_>>(),
        dir.join("batches.npz"),
    )
    .unwrap();

    let varmap = VarMap::new();
    StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &cfg).unwrap();
    varmap.save(dir.join("init.safetensors")).unwrap();
    let weights: HashMap<String, Tensor> =
        varmap.data().lock().unwrap().iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
    Tensor::write_npz(
        &weights.iter().map(|(n, t)| (n.as_str(), t)).collect::<Vec<_>>(),
        dir.join("init.npz"),
    )
    .unwrap();
    let parameters: usize = weights.values().map(|t| t.elem_count()).sum();
    let manifest = serde_json::json!({
        "config": cfg,
        "vocab": ALL_FIELDS.iter().map(|f| f.vocab()).collect::<Vec<_>>(),
        "place_end": PLACE_END,
        "batches": BATCHES,
        "batch": BATCH,
        "window": WINDOW,
        "parameters": parameters,
        "lr": 1e-3,
        "weight_decay": 0.01,
    });
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

struct Run {
    ops_per_s: f64,
    loss0: f64,
}

/// Parses the one line a timing process prints: `ops_per_s loss0`.
fn parse(out: std::process::Output, who: &str) -> Run {
    assert!(out.status.success(), "{who} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let mut v = line.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    Run { ops_per_s: v.next().unwrap(), loss0: v.next().unwrap() }
}

fn candle(dir: &Path, steps: usize, threads: usize) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("APPRENTICE_BENCH_TRAINING_DIR", dir)
        .env("APPRENTICE_BENCH_TRAINING_STEPS", steps.to_string())
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    parse(out, "candle")
}

fn torch(python: &str, dir: &Path, steps: usize, threads: usize) -> Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/training_torch.py");
    let out = Command::new(python)
        .arg(script)
        .arg(dir)
        .args(["--steps", &steps.to_string(), "--threads", &threads.to_string()])
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    parse(out, "PyTorch")
}

/// The shape the PyTorch side mirrors: the small size without progress, the state map and the
/// place prior (the trunk and heads that every model has).
fn mirrored_shape() -> Config {
    Config { progress: 0, state: 0, pointer: 0, shape: 0, ..Config::small() }
}

/// In a process of its own (its thread count is fixed at start): the loss of the first batch,
/// then `steps` timed AdamW steps after two untimed ones. Prints `ops_per_s loss0`.
fn candle_child(dir: &Path, steps: usize) {
    apprentice::tuning::allocator();
    let cfg = mirrored_shape();
    let batches: HashMap<String, Tensor> =
        Tensor::read_npz(dir.join("batches.npz")).unwrap().into_iter().collect();
    let get = |b: usize, name: &str| batches.get(&format!("b{b}.{name}")).cloned();
    let mut varmap = VarMap::new();
    let model =
        StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &cfg).unwrap();
    varmap.load(dir.join("init.safetensors")).unwrap();
    let loss = |b: usize| {
        let t = |name| get(b, name).unwrap();
        model.loss(
            &t("canvas"),
            get(b, "reference").as_ref(),
            &t("inputs"),
            None,
            &[0; BATCH],
            &t("targets"),
            &t("glimpses"),
            &t("mask"),
        )
    };
    let loss0 = loss(0).unwrap().to_scalar::<f32>().unwrap();
    let mut opt = training::adamw(&varmap, 1e-3).unwrap();
    let mut start = Instant::now();
    for step in 0..steps + 2 {
        if step == 2 {
            start = Instant::now();
        }
        opt.backward_step(&loss(step % BATCHES).unwrap()).unwrap();
    }
    let ops = (steps * BATCH * WINDOW) as f64;
    println!("{} {loss0}", ops / secs(start));
}
