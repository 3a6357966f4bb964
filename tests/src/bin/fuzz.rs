//! The long fuzz run: `cargo run --release -p apprentice-e2e --bin fuzz -- [--secs N] [--seed S] [TARGET…]`.
//! Targets: history, png, tokens, rpc (all by default), each for N seconds (default 60).
//! Prints a table; findings (inputs that panicked or hung) go to `fuzz-findings/`; exit
//! code 1 if there are any.

use std::path::PathBuf;
use std::time::Duration;

use apprentice_e2e::fuzz;

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1));
    kib.and_then(|k| k.parse::<f64>().ok()).map_or(0.0, |k| k / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut secs, mut seed, mut targets) = (60u64, 1u64, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).expect("--secs N"),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).expect("--seed S"),
            t => targets.push(t.to_owned()),
        }
    }
    if targets.is_empty() {
        targets = ["history", "png", "tokens", "rpc"].map(String::from).to_vec();
    }
    let budget = Duration::from_secs(secs);
    let findings = PathBuf::from("fuzz-findings");
    println!("| target | inputs | panics | hangs (> {} s) | slowest input |", fuzz::HANG.as_secs());
    println!("|---|---:|---:|---:|---:|");
    let mut found = 0;
    for t in &targets {
        let run = match t.as_str() {
            "history" => fuzz::histories,
            "png" => fuzz::pngs,
            "tokens" => fuzz::tokens,
            "rpc" => fuzz::rpcs,
            other => panic!("unknown target {other:?} (history, png, tokens, rpc)"),
        };
        let r = run(budget, u64::MAX, &findings, seed);
        found += r.panics.len() + r.hangs.len();
        println!(
            "| {} | {} | {} | {} | {:.0} ms |",
            r.target,
            r.inputs,
            r.panics.len(),
            r.hangs.len(),
            r.slowest.as_secs_f64() * 1e3
        );
        for p in r.panics.iter().chain(&r.hangs) {
            eprintln!("finding: {}", p.display());
        }
    }
    println!("peak memory of the run: {:.0} MiB", peak_mib());
    std::process::exit(i32::from(found > 0));
}
