//! A painter's recorded sessions become training data: `apprentice data
//! --sessions` reads the running daemon's store and writes each session's
//! history, ready for `apprentice train`.

use apprentice_e2e::{Daemon, apprentice, stderr};
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn dab(x: f32) -> pb::Op {
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 6.0,
                color: Some(pb::Color { r: 0.2, g: 0.4, b: 0.8, a: None }),
                ..Default::default()
            }),
            points: vec![
                pb::Point { x, y: 10.0, ..Default::default() },
                pb::Point { x: x + 5.0, y: 20.0, ..Default::default() },
            ],
        })),
    }
}

async fn record(c: &mut ApprenticeClient<tonic::transport::Channel>, doc: &str, ops: Vec<pb::Op>) -> String {
    let header = pb::Header { width: 64, height: 48, ..Default::default() };
    let id = c
        .open_session(pb::OpenSessionRequest {
            document_id: doc.into(),
            header: Some(header),
            editor: "krita".into(),
            editor_version: "5.2.9".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .session_id;
    c.append_ops(pb::AppendOpsRequest { session_id: id.clone(), sequence: 0, ops }).await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_sessions_are_written_as_training_histories_while_the_daemon_runs() {
    let d = Daemon::start(&[]);
    let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
    let long = record(&mut c, "painting", (0..10).map(|i| dab(i as f32 * 5.0)).collect()).await;
    record(&mut c, "study", (0..4).map(|i| dab(i as f32 * 9.0)).collect()).await;
    // Three strokes, two of them taken back: one effective op, below --min-ops.
    let undone =
        vec![dab(1.0), dab(2.0), dab(3.0), pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(2) })) }];
    let short = record(&mut c, "doodle", undone).await;

    let out = d.home.path().join("mine");
    let data_dir = d.home.path().join("data");
    let run =
        apprentice(&["data", "--out", s(&out), "--sessions", "--data-dir", s(&data_dir), "--min-ops", "2"]);
    assert!(run.status.success(), "{}", stderr(&run));

    let written = apprentice::ops::history::read_path(&out.join(format!("session-{long}.binpb"))).unwrap();
    let stored = c
        .get_history(pb::GetHistoryRequest { session_id: long, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(written, stored);
    assert!(!out.join(format!("session-{short}.binpb")).exists());
    // The two long sessions, and no procedural scenes mixed in.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);

    // The files train like any other data.
    let model = d.home.path().join("mine.safetensors");
    let args =
        ["train", "--data", s(&out), "--out", s(&model), "--size", "tiny", "--steps", "2", "--window", "8"];
    let run = apprentice(&args);
    assert!(run.status.success(), "{}", stderr(&run));
}

#[test]
fn a_missing_store_is_bad_input_that_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nothing.sqlite3");
    let run = apprentice(&["data", "--out", s(&dir.path().join("out")), "--store", s(&store)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains(&format!("no session store at {}", store.display())), "{}", stderr(&run));
    assert!(!dir.path().join("out").exists(), "nothing is written when an input is bad");
}
