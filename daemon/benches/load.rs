//! The daemon under sustained load, printed as a table: `cargo bench -p apprentice --bench load`.
//!
//! 64 concurrent clients on loopback against the real binary for 10 minutes
//! (`APPRENTICE_LOAD_SECS` to change): 40 append batches of 20 strokes to their own
//! sessions, 16 stream Continue (10 ops, the default painter) on their sessions, 8 ask
//! for Render of theirs. Per kind of call: calls, throughput, p50 and p99 latency and
//! errors; and the daemon's resident memory, sampled every 5 s, with its drift: the median
//! of the second minute against the median of the last. `cargo test --benches` runs 3 seconds of it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

mod common;
use common::{memory_mib, start};

fn stroke(i: u64) -> pb::Op {
    let (x, y) = ((i * 37 % 500) as f32, (i * 53 % 380) as f32);
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 4.0 + (i % 20) as f32,
                color: Some(pb::Color { r: (i % 7) as f32 / 7.0, g: 0.4, b: (i % 5) as f32 / 5.0, a: None }),
                ..Default::default()
            }),
            points: (0..8)
                .map(|k| pb::Point { x: x + 4.0 * k as f32, y: y + 2.0 * k as f32, ..Default::default() })
                .collect(),
        })),
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
}

type Tallies = Arc<Mutex<BTreeMap<&'static str, Tally>>>;

fn record(tallies: &Tallies, kind: &'static str, took: Duration, result: Result<(), tonic::Status>) {
    let mut t = tallies.lock().unwrap();
    let tally = t.entry(kind).or_default();
    match result {
        Ok(()) => tally.latencies.push(took),
        Err(e) => *tally.errors.entry(format!("{:?}", e.code())).or_insert(0) += 1,
    }
}

async fn session(c: &mut ApprenticeClient<Channel>, n: usize) -> String {
    let header = pb::Header {
        width: 512,
        height: 384,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        ..Default::default()
    };
    let open = pb::OpenSessionRequest {
        document_id: format!("load-{n}"),
        header: Some(header),
        editor: "bench".into(),
        editor_version: "1".into(),
    };
    let id = c.open_session(open).await.unwrap().into_inner().session_id;
    // Something to continue and render from the start.
    let ops = (0..200).map(stroke).collect();
    c.append_ops(pb::AppendOpsRequest { session_id: id.clone(), sequence: 0, ops }).await.unwrap();
    id
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let secs: u64 = std::env::var("APPRENTICE_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let run_for = Duration::from_secs(if full { secs } else { 3 });
    let daemon = start();
    let pid = daemon.child.id();
    let tallies: Tallies = Arc::default();
    let c = ApprenticeClient::connect(daemon.url.clone()).await.unwrap().max_decoding_message_size(64 << 20);
    let end = Instant::now() + run_for;

    let mut tasks = Vec::new();
    for n in 0..64 {
        let (mut c, tallies) = (c.clone(), tallies.clone());
        tasks.push(tokio::spawn(async move {
            let id = session(&mut c, n).await;
            let mut sequence = 1u64;
            while Instant::now() < end {
                let t = Instant::now();
                let (kind, result) = match n {
                    0..40 => {
                        let ops = (sequence * 20..sequence * 20 + 20).map(stroke).collect();
                        let request = pb::AppendOpsRequest { session_id: id.clone(), sequence, ops };
                        sequence += 1;
                        ("AppendOps (20 strokes)", c.append_ops(request).await.map(|_| ()))
                    }
                    40..56 => {
                        let source = Some(pb::continue_request::Source::SessionId(id.clone()));
                        let request = pb::ContinueRequest { source, count: 10, ..Default::default() };
                        let result = match c.r#continue(request).await {
                            Ok(s) => s
                                .into_inner()
                                .collect::<Vec<_>>()
                                .await
                                .into_iter()
                                .try_for_each(|e| e.map(|_| ())),
                            Err(e) => Err(e),
                        };
                        ("Continue (10 ops)", result)
                    }
                    _ => {
                        let source = Some(pb::render_request::Source::SessionId(id.clone()));
                        (
                            "Render (512x384)",
                            c.render(pb::RenderRequest { source, max_side: 0 }).await.map(|_| ()),
                        )
                    }
                };
                record(&tallies, kind, t.elapsed(), result);
            }
        }));
    }
    let started = Instant::now();
    let mut memory = Vec::new();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(5).min(run_for)).await;
        memory.push((started.elapsed(), memory_mib(pid).0));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let wall = started.elapsed().as_secs_f64();

    println!("daemon under load: 64 clients on loopback for {:.0} s (2-core machine)", wall);
    println!("| call | calls | per second | p50 | p99 | errors |\n|---|---:|---:|---:|---:|---|");
    for (kind, tally) in tallies.lock().unwrap().iter_mut() {
        tally.latencies.sort();
        let pick = |q: f64| {
            let l = &tally.latencies;
            l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "| {kind} | {} | {:.1} | {:.0} ms | {:.0} ms | {} |",
            tally.latencies.len(),
            tally.latencies.len() as f64 / wall,
            pick(0.5),
            pick(0.99),
            if tally.errors.is_empty() { "0".to_owned() } else { format!("{:?}", tally.errors) }
        );
    }
    // Drift: the median of the second minute (after a minute of warm-up) against the median
    // of the last minute, so that one sample taken amid a burst of calls does not decide it.
    let median_between = |from: f64, to: f64| {
        let mut m: Vec<f64> =
            memory.iter().filter(|(t, _)| (from..=to).contains(&t.as_secs_f64())).map(|m| m.1).collect();
        m.sort_by(f64::total_cmp);
        m.get(m.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let span = run_for.as_secs_f64();
    let (warm, last) = if span >= 180.0 {
        (median_between(60.0, 120.0), median_between(span - 60.0, span + 60.0))
    } else {
        (memory.first().map_or(f64::NAN, |m| m.1), memory.last().map_or(f64::NAN, |m| m.1))
    };
    let peak = memory.iter().map(|m| m.1).fold(0.0, f64::max);
    let minutes: Vec<String> = memory
        .iter()
        .filter(|(t, _)| t.as_secs() % 60 < 5)
        .map(|(t, m)| format!("{} s {m:.0}", t.as_secs() / 60 * 60))
        .collect();
    println!("resident memory each minute (MiB): {}", minutes.join(", "));
    println!(
        "resident memory: median {warm:.0} MiB in the second minute, {last:.0} MiB in the last ({:+.1} %), {peak:.0} MiB at most",
        (last - warm) / warm.max(1.0) * 100.0
    );
}
