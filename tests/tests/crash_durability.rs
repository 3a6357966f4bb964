//! The hard way: SIGKILL the daemon while a client streams ops into it, start
//! it again on the same store, and check that every acknowledged op is there,
//! in order, and that no batch was stored in part.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apprentice_e2e::Daemon;
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;

const BATCH: u64 = 50;

/// Op number `i`, recognisable from its content.
fn op(i: u64) -> pb::Op {
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState { size: 1.0 + (i % 97) as f32, ..Default::default() }),
            points: vec![pb::Point {
                x: (i % 640) as f32,
                y: (i / 640) as f32,
                time_ms: i as u32,
                ..Default::default()
            }],
        })),
    }
}

fn header() -> pb::Header {
    pb::Header { width: 640, height: 480, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_ops_survive_sigkill_mid_stream() {
    for round in 0..4u64 {
        let home = Arc::new(tempfile::tempdir().unwrap());
        let daemon = Daemon::start_in(home.clone(), &[]);
        let mut c = ApprenticeClient::connect(daemon.url()).await.unwrap();
        let open = pb::OpenSessionRequest {
            document_id: "doc".into(),
            header: Some(header()),
            ..Default::default()
        };
        let id = c.open_session(open.clone()).await.unwrap().into_inner().session_id;

        let acked = Arc::new(AtomicU64::new(0));
        let writer = {
            let (mut c, id, acked) = (c.clone(), id.clone(), acked.clone());
            tokio::spawn(async move {
                for seq in 0u64.. {
                    let ops = (seq * BATCH..(seq + 1) * BATCH).map(op).collect();
                    match c
                        .append_ops(pb::AppendOpsRequest { session_id: id.clone(), sequence: seq, ops })
                        .await
                    {
                        Ok(r) => acked.store(r.into_inner().op_count, Ordering::SeqCst),
                        Err(_) => return,
                    }
                }
            })
        };
        // Let some batches land, then crash at a different moment each round.
        tokio::time::sleep(Duration::from_millis(300 + 170 * round)).await;
        tokio::task::spawn_blocking(move || daemon.kill_hard()).await.unwrap();
        writer.await.unwrap();
        let acked = acked.load(Ordering::SeqCst);
        assert!(acked >= BATCH, "round {round}: some batches were acknowledged before the kill");

        let daemon = Daemon::start_in(home.clone(), &[]);
        let mut c = ApprenticeClient::connect(daemon.url()).await.unwrap();
        let stored = c
            .get_history(pb::GetHistoryRequest { session_id: id.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .ops;
        let n = stored.len() as u64;
        eprintln!("round {round}: {acked} ops acknowledged before SIGKILL, {n} stored");
        assert!(n >= acked, "round {round}: {n} ops stored, {acked} acknowledged");
        assert!(n <= acked + BATCH, "round {round}: at most the batch in flight is extra");
        assert_eq!(n % BATCH, 0, "round {round}: no batch is stored in part");
        for (i, o) in stored.iter().enumerate() {
            assert_eq!(o, &op(i as u64), "round {round}: op {i} is intact and in order");
        }

        // The plugin reconnects and carries on from where the store says.
        let resumed = c.open_session(open).await.unwrap().into_inner();
        assert_eq!((resumed.session_id, resumed.next_sequence, resumed.op_count), (id.clone(), n / BATCH, n));
        let next = (n..n + BATCH).map(op).collect();
        c.append_ops(pb::AppendOpsRequest { session_id: id, sequence: n / BATCH, ops: next }).await.unwrap();
    }
}
