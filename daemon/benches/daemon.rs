//! The daemon under load, printed as a table: `cargo bench -p apprentice --bench daemon`.
//!
//! Starts the real `apprentice serve` binary on a loopback port with a real
//! SQLite store and measures, with a tonic client:
//! - ops appended per second, in batches of 100 strokes of 16 points, each
//!   batch durable (committed to disk) before it is acknowledged: by one client,
//!   and by eight at once (their batches share commits);
//! - first-op latency of Continue: from the call to the first streamed op, for
//!   a fresh session and for one holding 10,000 ops: its first call (the canvas is
//!   replayed), then calls after each three more strokes (from the canvases the daemon
//!   kept), and on another with snapshots uploaded as the editors do;
//! - the daemon's memory (resident set, and its peak) with 64 sessions of
//!   10,000 ops each;
//! - eight concurrent Render calls of a 64-megapixel canvas (8192²), on a fresh
//!   daemon: how each was answered, the wall time, and the daemon's peak memory
//!   (its working-memory budget queues them).

use std::time::{Duration, Instant};

use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

mod common;
use common::{memory_mib, start};

/// A plausible recorded stroke: 16 points with pressure and time.
fn stroke(i: u64) -> pb::Op {
    let (x0, y0) = ((i * 37 % 1000) as f32, (i * 91 % 700) as f32);
    let points = (0..16u32)
        .map(|k| pb::Point {
            x: x0 + k as f32 * 3.0,
            y: y0 + (k as f32 * 0.4).sin() * 10.0,
            pressure: Some(0.3 + 0.04 * k as f32),
            time_ms: k * 8,
            tilt: None,
        })
        .collect();
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 4.0 + (i % 20) as f32,
                opacity: Some(0.8),
                color: Some(pb::Color { r: 0.2, g: 0.5, b: 0.7, a: None }),
                ..Default::default()
            }),
            points,
        })),
    }
}

async fn open(c: &mut ApprenticeClient<Channel>, doc: &str) -> String {
    let header = pb::Header { width: 1024, height: 768, ..Default::default() };
    let request =
        pb::OpenSessionRequest { document_id: doc.into(), header: Some(header), ..Default::default() };
    c.open_session(request).await.unwrap().into_inner().session_id
}

/// Appends `n` ops in batches of 100; returns the seconds it took.
async fn fill(c: &mut ApprenticeClient<Channel>, id: &str, n: u64) -> f64 {
    let start = Instant::now();
    for seq in 0..n / 100 {
        let ops = (seq * 100..(seq + 1) * 100).map(stroke).collect();
        c.append_ops(pb::AppendOpsRequest { session_id: id.into(), sequence: seq, ops }).await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

/// Median time from a Continue call to its first op. With `painting`, the painter adds
/// three strokes to the session before each call (the next batch's sequence number), as
/// a painter does between two presses of Continue.
async fn first_op_latency(
    c: &mut ApprenticeClient<Channel>,
    id: &str,
    runs: u32,
    mut painting: Option<u64>,
) -> Duration {
    let mut times = Vec::new();
    for seed in 0..runs {
        if let Some(sequence) = painting.as_mut() {
            let ops = (0..3).map(|i| stroke(*sequence * 3 + i)).collect();
            let batch = pb::AppendOpsRequest { session_id: id.into(), sequence: *sequence, ops };
            c.append_ops(batch).await.unwrap();
            *sequence += 1;
        }
        let request = pb::ContinueRequest {
            source: Some(pb::continue_request::Source::SessionId(id.into())),
            count: 50,
            seed: u64::from(seed),
            ..Default::default()
        };
        let start = Instant::now();
        let mut stream = c.r#continue(request).await.unwrap().into_inner();
        stream.next().await.unwrap().unwrap();
        times.push(start.elapsed());
        // Read to the end, as an editor does: no call still painting slows the next.
        while let Some(event) = stream.next().await {
            event.unwrap();
        }
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a short smoke pass.
    let full = std::env::args().any(|a| a == "--bench");
    let (sessions, ops_per_session, runs) = if full { (64, 10_000, 15) } else { (2, 200, 2) };

    let daemon = start();
    let mut c = ApprenticeClient::connect(daemon.url.clone()).await.unwrap();
    println!("daemon, real binary on loopback, SQLite store (WAL, synchronous=FULL)");
    let (rss, _) = memory_mib(daemon.child.id());
    println!("{:<52} {:>10.1} MiB", "memory at start (resident)", rss);

    let fresh = open(&mut c, "fresh").await;
    let latency = first_op_latency(&mut c, &fresh, runs, None).await;
    println!(
        "{:<52} {:>10.1} ms",
        "Continue first-op latency, empty 1024x768 session",
        latency.as_secs_f64() * 1e3
    );

    let mut append_secs = 0.0;
    let mut ids = Vec::new();
    for s in 0..sessions {
        let id = open(&mut c, &format!("doc-{s}")).await;
        append_secs += fill(&mut c, &id, ops_per_session).await;
        ids.push(id);
    }
    let appended = (sessions as u64 * ops_per_session) as f64;
    println!("{:<52} {:>10.0} ops/s", "append, batches of 100 strokes, durable", appended / append_secs);
    println!("{:<52} {:>10.0} batches/s", "", appended / 100.0 / append_secs);

    // Eight painters at once, each on its own connection: their batches share commits.
    let appenders = 8;
    let began = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|a| {
            let url = daemon.url.clone();
            tokio::spawn(async move {
                let mut c = ApprenticeClient::connect(url).await.unwrap();
                let id = open(&mut c, &format!("concurrent-{a}")).await;
                fill(&mut c, &id, ops_per_session).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let together = (appenders * ops_per_session) as f64 / began.elapsed().as_secs_f64();
    println!("{:<52} {:>10.0} ops/s", format!("append, {appenders} appenders at once, durable"), together);

    // The first call replays the session; the daemon keeps the canvases it painted.
    let first = first_op_latency(&mut c, &ids[1], 1, None).await;
    let label = format!("Continue first-op latency, {ops_per_session}-op session, first call");
    println!("{:<52} {:>10.1} ms", label, first.as_secs_f64() * 1e3);
    let latency = first_op_latency(&mut c, &ids[1], runs, Some(ops_per_session / 100)).await;
    let label = "  then after each 3 more strokes".to_string();
    println!("{:<52} {:>10.1} ms", label, latency.as_secs_f64() * 1e3);

    // As the Krita plug-in does (one every 50 ops): snapshots of the canvas, here
    // the last two that matter — before the transformer's context and now.
    let history = c
        .get_history(pb::GetHistoryRequest { session_id: ids[0].clone(), ..Default::default() })
        .await
        .unwrap();
    let history = history.into_inner();
    for op_count in [ops_per_session - 150, ops_per_session] {
        let upto = pb::History { ops: history.ops[..op_count as usize].to_vec(), ..history.clone() };
        let source = Some(pb::render_request::Source::History(upto));
        let png = c.render(pb::RenderRequest { source, max_side: 0 }).await.unwrap().into_inner().png;
        let image = Some(pb::upload_snapshot_request::Image::Png(png));
        let snapshot = pb::UploadSnapshotRequest { session_id: ids[0].clone(), op_count, image };
        c.upload_snapshot(snapshot).await.unwrap();
    }
    let latency = first_op_latency(&mut c, &ids[0], runs, None).await;
    let label = format!("Continue first-op latency, {ops_per_session}-op session, editor's snapshots");
    println!("{:<52} {:>10.1} ms", label, latency.as_secs_f64() * 1e3);

    let (rss, peak) = memory_mib(daemon.child.id());
    let label = format!("memory with {sessions} sessions x {ops_per_session} ops");
    println!("{label:<52} {rss:>10.1} MiB resident, {peak:.1} MiB peak");

    drop(daemon);

    // Eight 64-megapixel Render calls at once, each a ~100-byte request.
    let (calls, side) = if full { (8, 8192) } else { (2, 1024) };
    let daemon = start();
    let c = ApprenticeClient::connect(daemon.url.clone()).await.unwrap();
    let history = pb::History {
        // A white background: every pixel of the canvas is written, as in a real picture.
        header: Some(pb::Header {
            width: side,
            height: side,
            background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
            ..Default::default()
        }),
        ops: (0..4).map(stroke).collect(),
    };
    let start = Instant::now();
    let handles: Vec<_> = (0..calls)
        .map(|_| {
            let (mut c, history) = (c.clone(), history.clone());
            tokio::spawn(async move {
                let source = Some(pb::render_request::Source::History(history));
                c.render(pb::RenderRequest { source, max_side: 256 }).await.map(|_| ())
            })
        })
        .collect();
    let mut outcomes = std::collections::BTreeMap::new();
    for h in handles {
        let code = match h.await.unwrap() {
            Ok(()) => "rendered".to_owned(),
            Err(e) => format!("{:?}", e.code()),
        };
        *outcomes.entry(code).or_insert(0) += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let (_, peak) = memory_mib(daemon.child.id());
    let channel = Channel::from_shared(daemon.url.clone()).unwrap().connect().await.unwrap();
    let healthy = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .is_ok();
    let label = format!("{calls} concurrent Render calls of {side}x{side}");
    println!("{label:<52} {outcomes:?} in {wall:.1} s, {peak:.0} MiB peak, healthy after: {healthy}");
}
