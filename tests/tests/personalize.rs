//! A personal apprentice: the shipped model fine-tuned on one painter's recorded sessions,
//! checked on their latest sessions — by `apprentice personalize` (a store made here, as the
//! daemon makes it) and by the daemon's Personalize call (sessions recorded over gRPC, as the
//! editors record them).

use std::path::Path;

use apprentice::ops::pb;
use apprentice::store::Store;
use apprentice_e2e::{apprentice, stderr};

fn header() -> pb::Header {
    pb::Header {
        width: 96,
        height: 96,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        ..Default::default()
    }
}

fn session(store: &Store, n: u32) {
    let info = store.open_session(&format!("painter-{n}"), &header(), "test", "1").unwrap();
    store.append(&info.session_id, 0, &curls(n)).unwrap();
}

/// A painter with a manner of their own: small blue pencil curls, left to right, on 96².
fn curls(n: u32) -> Vec<pb::Op> {
    (0..60)
        .map(|i| {
            let (x, y) = (8.0 + (i * 7 + n * 3) as f32 % 80.0, 10.0 + (i / 10) as f32 * 14.0);
            let points = (0..6)
                .map(|k| pb::Point {
                    x: x + 4.0 * (k as f32).cos(),
                    y: y + 4.0 * (k as f32).sin(),
                    ..Default::default()
                })
                .collect();
            pb::Op {
                kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                    tool: pb::Tool::Pencil as i32,
                    brush: Some(pb::BrushState {
                        size: 3.0,
                        color: Some(pb::Color { r: 0.1, g: 0.2, b: 0.7, a: None }),
                        ..Default::default()
                    }),
                    points,
                })),
            }
        })
        .collect()
}

fn personalize(data: &Path, config: &Path, extra: &[&str]) -> std::process::Output {
    let mut args =
        vec!["personalize", "--data-dir", data.to_str().unwrap(), "--config-dir", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    apprentice(&args)
}

#[test]
fn a_painters_sessions_make_a_model_that_predicts_their_latest_sessions_better() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config) = (dir.path().join("data"), dir.path().join("config"));
    std::fs::create_dir_all(&data).unwrap();
    {
        let store = Store::open(&data.join("sessions.sqlite3")).unwrap();
        session(&store, 0);
        // One session is not enough: one is held out to check the model.
        drop(store);
        let out = personalize(&data, &config, &["--steps", "5"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("at least 2 are needed"), "{}", stderr(&out));
        let store = Store::open(&data.join("sessions.sqlite3")).unwrap();
        for n in 1..6 {
            session(&store, n);
        }
    }
    let out = personalize(&data, &config, &["--steps", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("6 sessions: 5 to learn from (300 ops), the latest 1 held out"), "{text}");
    let line = text.lines().find(|l| l.starts_with("next-op loss on the held-out sessions")).unwrap();
    let numbers: Vec<f64> =
        line.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter_map(|w| w.parse().ok()).collect();
    let (before, after) = (numbers[0], numbers[1]);
    println!("{line}");
    assert!(after < before, "the personal model predicts the painter better: {line}");
    let models = data.join("models");
    assert!(models.join("personal.safetensors").is_file() && models.join("personal.json").is_file());
    // Measured on the held-out session: both models, continued by the model alone and by search.
    let eval = apprentice(&[
        "eval",
        "--sessions",
        "--data-dir",
        data.to_str().unwrap(),
        "--config-dir",
        config.to_str().unwrap(),
        "--pictures",
        "0",
        "--continuation",
        "0",
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let table = String::from_utf8_lossy(&eval.stdout);
    assert!(table.contains("recorded sessions: 1 held out of 6"), "{table}");
    for row in [
        "| recorded | default (built in) | transformer |",
        "| recorded | default (built in) | search |",
        "| recorded | personal | transformer |",
        "| recorded | personal | search |",
    ] {
        assert!(table.contains(row), "{row} in {table}");
    }
    // Again: a new name, nothing replaced.
    let again = personalize(&data, &config, &["--steps", "2"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(models.join("personal-1.safetensors").is_file());
}

mod rpc {
    use super::*;
    use apprentice_e2e::Daemon;
    use apprentice_proto::v1;
    use v1::apprentice_client::ApprenticeClient;
    use v1::personalize_event::Event;

    type Client = ApprenticeClient<tonic::transport::Channel>;

    /// Six sessions recorded as an editor records them.
    async fn record(c: &mut Client) {
        for n in 0..6 {
            let id = c
                .open_session(v1::OpenSessionRequest {
                    document_id: format!("doc-{n}"),
                    header: Some(header()),
                    editor: "test".into(),
                    editor_version: "1".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .session_id;
            c.append_ops(v1::AppendOpsRequest { session_id: id, sequence: 0, ops: curls(n) }).await.unwrap();
        }
    }

    fn personalize(steps: u32) -> v1::PersonalizeRequest {
        v1::PersonalizeRequest { name: String::new(), steps }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn personalize_streams_progress_and_the_new_model_paints_while_the_built_in_one_stays_a_choice() {
        let d = Daemon::start(&[]);
        let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
        record(&mut c).await;
        let mut events = c.personalize(personalize(20)).await.unwrap().into_inner();
        let mut steps = Vec::new();
        let mut done = None;
        while let Some(e) = events.message().await.unwrap() {
            match e.event.unwrap() {
                Event::Progress(p) => {
                    assert_eq!((p.steps, p.sessions, p.held_out, p.ops, p.resumed), (20, 5, 1, 300, false));
                    assert!(p.loss.is_finite() && p.seconds_left >= 0.0);
                    steps.push(p.step);
                }
                Event::Done(d) => done = Some(d),
            }
        }
        assert_eq!(steps, (1..=20).collect::<Vec<_>>());
        let done = done.expect("the stream ends with the new model");
        assert_eq!(done.model, "personal");
        assert!(done.loss_after < done.loss_before, "{done:?}");
        assert!(d.home.path().join("data/models/personal.safetensors").is_file());

        let info = c.get_info(v1::GetInfoRequest {}).await.unwrap().into_inner();
        assert_eq!(info.models, ["personal", "default (built in)"], "the new model is the one in use");
        for model in ["", "personal", "default (built in)"] {
            let request = v1::ContinueRequest {
                source: Some(v1::continue_request::Source::History(v1::History {
                    header: Some(header()),
                    ops: curls(9),
                })),
                count: 3,
                model: model.into(),
                ..Default::default()
            };
            let mut ops = c.r#continue(request).await.unwrap().into_inner();
            let mut n = 0;
            while let Some(e) = ops.message().await.unwrap() {
                n += usize::from(e.op.is_some());
            }
            assert_eq!(n, 3, "model {model:?}");
        }
        let bad = v1::ContinueRequest { count: 1, model: "../personal".into(), ..Default::default() };
        let err = c.r#continue(bad).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message()
                .contains("model: unknown model \"../personal\" (available: personal, default (built in))"),
            "{}",
            err.message()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_run_resumes_where_it_stopped_and_only_one_runs_at_a_time() {
        let d = Daemon::start(&[]);
        let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
        let err = c.personalize(personalize(5)).await.unwrap().into_inner().message().await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert!(err.message().contains("0 recorded session(s) of at least 20 ops"), "{}", err.message());
        record(&mut c).await;
        let bad = c.personalize(v1::PersonalizeRequest { name: "a/b".into(), steps: 5 }).await.unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);

        let mut first = c.personalize(personalize(4000)).await.unwrap().into_inner();
        let mut reached = 0;
        while reached < 3 {
            if let Some(Event::Progress(p)) = first.message().await.unwrap().unwrap().event {
                reached = p.step;
            }
        }
        let busy = c.personalize(personalize(5)).await.unwrap_err();
        assert_eq!(busy.code(), tonic::Code::FailedPrecondition, "{busy:?}");
        drop(first);
        // The first run notices at its next step, saves its checkpoint and lets go.
        let mut second = loop {
            match c.personalize(personalize(reached + 4)).await {
                Ok(s) => break s.into_inner(),
                Err(e) if e.code() == tonic::Code::FailedPrecondition => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        let Some(Event::Progress(p)) = second.message().await.unwrap().unwrap().event else {
            panic!("progress first")
        };
        assert!(p.resumed && p.step > reached, "{p:?} after step {reached}");
        while let Some(e) = second.message().await.unwrap() {
            if let Some(Event::Done(done)) = e.event {
                assert_eq!(done.model, "personal");
            }
        }
        assert!(!d.home.path().join("data/personalizing/personal").exists(), "no work left behind");
    }
}
