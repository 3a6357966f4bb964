//! `apprentice personalize`: the shipped model fine-tuned on one painter's recorded sessions
//! (a store made here, as the daemon makes it), checked on their latest sessions.

use std::path::Path;

use apprentice::ops::pb;
use apprentice::store::Store;
use apprentice_e2e::{apprentice, stderr};

/// A painter with a manner of their own: small blue pencil curls, left to right, on 96².
fn session(store: &Store, n: u32) {
    let header = pb::Header {
        width: 96,
        height: 96,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        ..Default::default()
    };
    let info = store.open_session(&format!("painter-{n}"), &header, "test", "1").unwrap();
    let ops: Vec<pb::Op> = (0..60)
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
        .collect();
    store.append(&info.session_id, 0, &ops).unwrap();
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
    assert!(text.contains("6 sessions: 5 to learn from, the latest 1 held out"), "{text}");
    let line = text.lines().find(|l| l.starts_with("next-op loss on the held-out sessions")).unwrap();
    let numbers: Vec<f64> =
        line.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter_map(|w| w.parse().ok()).collect();
    let (before, after) = (numbers[0], numbers[1]);
    println!("{line}");
    assert!(after < before, "the personal model predicts the painter better: {line}");
    let models = data.join("models");
    assert!(models.join("personal.safetensors").is_file() && models.join("personal.json").is_file());
    // Again: a new name, nothing replaced.
    let again = personalize(&data, &config, &["--steps", "2"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(models.join("personal-1.safetensors").is_file());
}
