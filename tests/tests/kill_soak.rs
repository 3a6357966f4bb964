//! A SIGKILL soak: one store, twenty kills at random moments while clients append to
//! several sessions, stream Continue and Render. After every kill the daemon starts on
//! the same store, and every acknowledged op is there, intact and in order, with no
//! batch stored in part.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apprentice_e2e::Daemon;
use apprentice_e2e::fuzz::Rng;
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use tokio_stream::StreamExt;

const BATCH: u64 = 20;
const SESSIONS: usize = 4;
const KILLS: usize = 20;

/// Op number `i` of session `s`, recognisable from its content.
fn op(s: usize, i: u64) -> pb::Op {
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState { size: 1.0 + s as f32, ..Default::default() }),
            points: vec![pb::Point {
                x: (i % 256) as f32,
                y: (i / 256 % 256) as f32,
                time_ms: i as u32,
                ..Default::default()
            }],
        })),
    }
}

fn open(s: usize) -> pb::OpenSessionRequest {
    pb::OpenSessionRequest {
        document_id: format!("doc-{s}"),
        header: Some(pb::Header { width: 256, height: 256, ..Default::default() }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kills_under_load_lose_no_acknowledged_op() {
    let home = Arc::new(tempfile::tempdir().unwrap());
    let mut rng = Rng::new(2026);
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..SESSIONS).map(|_| AtomicU64::new(0)).collect());
    let mut total_acked = 0;
    for kill in 0..KILLS {
        let daemon = Daemon::start_in(home.clone(), &[]);
        let c = ApprenticeClient::connect(daemon.url()).await.unwrap();
        let mut load = Vec::new();
        for s in 0..SESSIONS {
            let (mut c, acked) = (c.clone(), acked.clone());
            load.push(tokio::spawn(async move {
                let resumed = c.open_session(open(s)).await.unwrap().into_inner();
                assert!(resumed.op_count >= acked[s].load(Ordering::SeqCst), "session {s} lost ops");
                let id = resumed.session_id;
                for seq in resumed.next_sequence.. {
                    let ops = (seq * BATCH..(seq + 1) * BATCH).map(|i| op(s, i)).collect();
                    let request = pb::AppendOpsRequest { session_id: id.clone(), sequence: seq, ops };
                    match c.append_ops(request).await {
                        Ok(r) => acked[s].store(r.into_inner().op_count, Ordering::SeqCst),
                        Err(_) => return,
                    }
                }
            }));
        }
        // Reads and painting alongside, to be killed mid-way too.
        let mut reader = c.clone();
        load.push(tokio::spawn(async move {
            let sessions =
                reader.list_sessions(pb::ListSessionsRequest {}).await.map(|r| r.into_inner().sessions);
            let Some(id) = sessions.ok().and_then(|s| s.first().map(|s| s.session_id.clone())) else {
                return;
            };
            loop {
                let source = Some(pb::continue_request::Source::SessionId(id.clone()));
                let request = pb::ContinueRequest { source, count: 5, ..Default::default() };
                let Ok(stream) = reader.r#continue(request).await else { return };
                let _: Vec<_> = stream.into_inner().collect().await;
                let source = Some(pb::render_request::Source::SessionId(id.clone()));
                if reader.render(pb::RenderRequest { source, max_side: 64 }).await.is_err() {
                    return;
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(150 + rng.below(600) as u64)).await;
        tokio::task::spawn_blocking(move || daemon.kill_hard()).await.unwrap();
        for task in load {
            task.await.unwrap();
        }

        // The store opens again and holds everything acknowledged, whole batches only.
        let daemon = Daemon::start_in(home.clone(), &[]);
        let mut c = ApprenticeClient::connect(daemon.url()).await.unwrap();
        total_acked = 0;
        for s in 0..SESSIONS {
            let id = c.open_session(open(s)).await.unwrap().into_inner().session_id;
            let request = pb::GetHistoryRequest { session_id: id, ..Default::default() };
            let stored = c.get_history(request).await.unwrap().into_inner().ops;
            let (n, a) = (stored.len() as u64, acked[s].load(Ordering::SeqCst));
            assert!(n >= a, "kill {kill}, session {s}: {n} ops stored, {a} acknowledged");
            assert_eq!(n % BATCH, 0, "kill {kill}, session {s}: no batch is stored in part");
            for (i, o) in stored.iter().enumerate() {
                assert_eq!(o, &op(s, i as u64), "kill {kill}, session {s}: op {i} intact and in order");
            }
            total_acked += a;
        }
        drop(daemon);
    }
    eprintln!("{KILLS} kills, {total_acked} ops acknowledged in all, none lost");
    assert!(total_acked > (KILLS as u64) * BATCH, "the load really ran: {total_acked}");
}
