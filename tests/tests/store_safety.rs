//! The store is never shared by accident, and what it holds is checked again on the way out:
//! a damaged record gets a clear status for its session, never a crash or a silent "OK".

use std::sync::Arc;

use apprentice_e2e::{Daemon, apprentice_bin};
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

fn header(w: u32, h: u32) -> pb::Header {
    pb::Header { width: w, height: h, ..Default::default() }
}

fn dab(x: f32) -> pb::Op {
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState { size: 6.0, ..Default::default() }),
            points: vec![pb::Point { x, y: 10.0, ..Default::default() }],
        })),
    }
}

async fn session_with_ops(c: &mut ApprenticeClient<Channel>, doc: &str) -> String {
    let id = c
        .open_session(pb::OpenSessionRequest {
            document_id: doc.into(),
            header: Some(header(64, 48)),
            editor: "test".into(),
            editor_version: "1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .session_id;
    let ops = vec![dab(10.0), dab(20.0)];
    c.append_ops(pb::AppendOpsRequest { session_id: id.clone(), sequence: 0, ops }).await.unwrap();
    id
}

async fn health(d: &Daemon) -> tonic_health::pb::health_check_response::ServingStatus {
    let channel = Channel::from_shared(d.url()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let request = tonic_health::pb::HealthCheckRequest { service: "apprentice.v1.Apprentice".into() };
    health.check(request).await.unwrap().into_inner().status()
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_folder_is_refused() {
    let first = Daemon::start(&[]);
    let home = first.home.path();
    let second = std::process::Command::new(apprentice_bin())
        .args(["serve", "--address", "127.0.0.1:0"])
        .arg("--config-dir")
        .arg(home.join("config"))
        .arg("--data-dir")
        .arg(home.join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in use by another Apprentice daemon"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.child.id())), "{stderr}");

    // The first is unharmed and keeps every append.
    let mut c = ApprenticeClient::connect(first.url()).await.unwrap();
    session_with_ops(&mut c, "doc").await;
}

#[tokio::test]
async fn damaged_records_get_a_status_and_the_daemon_stays_up() {
    let home = Arc::new(tempfile::tempdir().unwrap());
    let d = Daemon::start_in(home.clone(), &[]);
    let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
    let bad_op = session_with_ops(&mut c, "bad-op").await;
    let bad_header = session_with_ops(&mut c, "bad-header").await;
    assert!(d.terminate().success());

    let db = tamper(home.path().join("data/sessions.sqlite3"));
    db(&format!("UPDATE ops SET op = X'{}' WHERE session_id = '{bad_op}' AND idx = 1", hex(&undo_zero())));
    db(&format!(
        "UPDATE sessions SET header = X'{}' WHERE id = '{bad_header}'",
        hex(&header(100_000, 100_000).encode_to_vec())
    ));

    let d = Daemon::start_in(home, &[]);
    let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
    let render = |id: &str| pb::RenderRequest {
        source: Some(pb::render_request::Source::SessionId(id.into())),
        ..Default::default()
    };
    for id in [&bad_op, &bad_header] {
        let e = c.render(render(id)).await.unwrap_err();
        assert_eq!(e.code(), Code::Internal, "{e:?}");
        assert!(e.message().contains("damaged"), "{e:?}");
    }
    // Continue does not end "OK" with no ops: it fails, saying why.
    let request = pb::ContinueRequest {
        source: Some(pb::continue_request::Source::SessionId(bad_op.clone())),
        count: 3,
        ..Default::default()
    };
    let outcome = match c.r#continue(request).await {
        Err(e) => Err(e),
        Ok(stream) => {
            stream.into_inner().collect::<Vec<_>>().await.into_iter().collect::<Result<Vec<_>, _>>()
        }
    };
    let e = outcome.expect_err("a damaged session cannot be continued");
    assert!(e.message().contains("damaged"), "{e:?}");
    // Other sessions are served as before.
    session_with_ops(&mut c, "fresh").await;
    assert_eq!(health(&d).await, tonic_health::pb::health_check_response::ServingStatus::Serving);
}

fn undo_zero() -> Vec<u8> {
    pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(0) })) }.encode_to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Edits the database directly, as damage or a hand edit would.
fn tamper(path: std::path::PathBuf) -> impl Fn(&str) {
    move |sql: &str| {
        rusqlite::Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    }
}

#[tokio::test]
async fn a_damaged_store_file_is_reported_to_health_checks() {
    let home = Arc::new(tempfile::tempdir().unwrap());
    let d = Daemon::start_in(home.clone(), &[]);
    let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
    let id = session_with_ops(&mut c, "doc").await;
    for sequence in 1..60 {
        let ops = (0..40).map(|i| dab(i as f32)).collect();
        c.append_ops(pb::AppendOpsRequest { session_id: id.clone(), sequence, ops }).await.unwrap();
    }
    assert!(d.terminate().success());
    let path = home.path().join("data/sessions.sqlite3");
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4 * 4096, "{}", bytes.len());
    bytes[2 * 4096..3 * 4096].fill(0xA5);
    std::fs::write(&path, bytes).unwrap();

    let d = Daemon::start_in(home, &[]);
    assert_eq!(health(&d).await, tonic_health::pb::health_check_response::ServingStatus::NotServing);
}
