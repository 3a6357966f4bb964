//! Continue while Personalize trains, printed as a table: `cargo bench -p apprentice --bench personalize`.
//!
//! Starts the real `apprentice serve` binary, records a painter's sessions over gRPC, and times
//! Continue (the default painter, 50 ops, the whole stream) with nothing else running, then while
//! a Personalize run trains in the background (its thread at the lowest priority), then the
//! training's own pace. The bar: training slows Continue by at most 2×.

use std::time::{Duration, Instant};

use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::personalize_event::Event;
use tonic::transport::Channel;

mod common;
use common::{memory_mib, start};

/// A stippling painter's session: `n` short dabs in a palette of three.
fn session(k: u64, n: u64) -> Vec<pb::Op> {
    let palette = [(0.8, 0.25, 0.15), (0.15, 0.35, 0.65), (0.9, 0.75, 0.25)];
    (0..n)
        .map(|i| {
            let (x, y) = (((i * 37 + k * 11) % 480) as f32 + 16.0, ((i * 53 + k * 7) % 330) as f32 + 16.0);
            let (r, g, b) = palette[(i % 3) as usize];
            pb::Op {
                kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                    tool: pb::Tool::Brush as i32,
                    brush: Some(pb::BrushState {
                        size: 6.0,
                        color: Some(pb::Color { r, g, b, a: None }),
                        ..Default::default()
                    }),
                    points: (0..3)
                        .map(|j| pb::Point { x: x + 2.0 * j as f32, y: y + j as f32, ..Default::default() })
                        .collect(),
                })),
            }
        })
        .collect()
}

/// Seconds for a 50-op Continue of `id`, median of `runs`.
async fn continue_secs(c: &mut ApprenticeClient<Channel>, id: &str, runs: u32) -> f64 {
    let mut times = Vec::new();
    for seed in 0..runs {
        let request = pb::ContinueRequest {
            source: Some(pb::continue_request::Source::SessionId(id.into())),
            count: 50,
            seed: u64::from(seed),
            ..Default::default()
        };
        let start = Instant::now();
        let mut stream = c.r#continue(request).await.unwrap().into_inner();
        while stream.message().await.unwrap().is_some() {}
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a short smoke pass.
    let full = std::env::args().any(|a| a == "--bench");
    let (sessions, ops, runs) = if full { (8, 120, 7) } else { (3, 25, 1) };
    let daemon = start();
    let mut c = ApprenticeClient::connect(daemon.url.clone()).await.unwrap();
    let header = pb::Header { width: 512, height: 384, ..Default::default() };
    let mut ids = Vec::new();
    for k in 0..sessions {
        let open = pb::OpenSessionRequest {
            document_id: format!("doc-{k}"),
            header: Some(header.clone()),
            ..Default::default()
        };
        let id = c.open_session(open).await.unwrap().into_inner().session_id;
        let append = pb::AppendOpsRequest { session_id: id.clone(), sequence: 0, ops: session(k, ops) };
        c.append_ops(append).await.unwrap();
        ids.push(id);
    }
    println!("Continue while Personalize trains: real binary on loopback, {sessions} sessions of {ops} ops");
    let alone = continue_secs(&mut c, &ids[0], runs).await;
    println!("{:<56} {:>8.2} s", "Continue, 50 ops (search, 512x384), nothing else running", alone);

    let mut training = c
        .personalize(pb::PersonalizeRequest { name: "bench".into(), steps: 20_000 })
        .await
        .unwrap()
        .into_inner();
    let first = loop {
        if let Some(Event::Progress(p)) = training.message().await.unwrap().unwrap().event {
            break p.step;
        }
    };
    let t0 = Instant::now();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(first));
    let seen = reached.clone();
    let trainer = tokio::spawn(async move {
        while let Ok(Some(e)) = training.message().await {
            if let Some(Event::Progress(p)) = e.event {
                seen.store(p.step, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let busy = continue_secs(&mut c, &ids[0], runs).await;
    println!("{:<56} {:>8.2} s", "Continue, 50 ops, while Personalize trains", busy);
    println!("{:<56} {:>8.2} x", "slowdown (the bar: at most 2x)", busy / alone);
    let (rss, peak) = memory_mib(daemon.child.id());
    println!("{:<56} {:>8.0} MiB", "daemon's memory while training (resident)", rss);
    println!("{:<56} {:>8.0} MiB", "daemon's peak memory so far", peak);
    // The training's pace alongside.
    tokio::time::sleep(Duration::from_millis(if full { 5000 } else { 500 })).await;
    let steps = reached.load(std::sync::atomic::Ordering::Relaxed) - first;
    let secs = t0.elapsed().as_secs_f64();
    trainer.abort(); // the stream goes: the daemon stops training
    println!(
        "{:<56} {:>8.2} steps/s",
        "Personalize's pace meanwhile (8 windows of 64 ops)",
        f64::from(steps) / secs
    );
}
