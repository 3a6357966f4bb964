//! The learning pipeline end to end: make data, train a model with the CLI
//! into the models folder of a running daemon, and see the daemon pick it up
//! and paint with it, without a restart.

use std::time::{Duration, Instant};

use apprentice_e2e::{Daemon, apprentice, examples_dir, stderr};
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use tokio_stream::StreamExt;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_trained_into_the_models_folder_is_used_without_a_restart() {
    let d = Daemon::start(&[]);
    let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
    let info = c.get_info(pb::GetInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.models, ["default (built in)"]);
    assert_eq!(info.painters[0], "transformer");

    let data = d.home.path().join("training-data");
    let run = apprentice(&[
        "data",
        "--out",
        s(&data),
        "--scenes",
        "4",
        "--size",
        "32",
        "--ops",
        "30",
        "--seed",
        "3",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let models = d.home.path().join("data/models");
    let out = models.join("mine.safetensors");
    let run = apprentice(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--size",
        "tiny",
        "--steps",
        "6",
        "--batch",
        "2",
        "--window",
        "16",
        "--eval-every",
        "3",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(out.exists() && models.join("mine.json").exists() && models.join("mine.train.json").exists());

    let start = Instant::now();
    loop {
        let info = c.get_info(pb::GetInfoRequest {}).await.unwrap().into_inner();
        // The one in use first; the built-in one stays a choice.
        if info.models == ["mine", "default (built in)"] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the daemon did not pick up the model: {:?}",
            info.models
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let history = apprentice::ops::history::read_path(&examples_dir().join("hello.jsonl")).unwrap();
    let header = history.header.clone().unwrap();
    let request = pb::ContinueRequest {
        source: Some(pb::continue_request::Source::History(history)),
        count: 12,
        painter: "transformer".into(),
        ..Default::default()
    };
    let mut stream = c.r#continue(request).await.unwrap().into_inner();
    let mut n = 0;
    while let Some(event) = stream.next().await {
        apprentice::ops::validate::op(&event.unwrap().op.unwrap(), &header).unwrap();
        n += 1;
    }
    assert_eq!(n, 12);
}

#[test]
fn continue_and_paint_work_offline_with_the_built_in_models() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("more.jsonl");
    let run =
        apprentice(&["continue", s(&examples_dir().join("hello.jsonl")), "--steps", "15", "-o", s(&out)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let before = apprentice::ops::history::read_path(&examples_dir().join("hello.jsonl")).unwrap();
    let after = apprentice::ops::history::read_path(&out).unwrap();
    assert_eq!(after.ops.len(), before.ops.len() + 15);

    let reference = tmp.path().join("ref.png");
    image::RgbaImage::from_fn(40, 30, |x, y| image::Rgba([(x * 6) as u8, (y * 8) as u8, 90, 255]))
        .save(&reference)
        .unwrap();
    let (png, hist) = (tmp.path().join("copy.png"), tmp.path().join("copy.jsonl"));
    let run = apprentice(&["paint", s(&reference), "--ops", "40", "-o", s(&png), "--history", s(&hist)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(apprentice::ops::history::read_path(&hist).unwrap().ops.len(), 40);
    assert_eq!(image::open(&png).unwrap().width(), 40);
}

#[test]
fn eval_prints_held_out_loss_continuation_and_copy_fidelity_for_every_painter() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = apprentice(&["data", "--out", s(&data), "--scenes", "3", "--size", "32", "--ops", "20"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let mut args = vec!["eval", "--data", s(&data), "--pictures", "1", "--sizes", "32", "--ops", "5,10"];
    args.extend(["--continuation", "1", "--continuation-size", "32", "--process-ops", "40"]);
    args.extend(["--continue-ops", "5", "--cuts", "0.5"]);
    let run = apprentice(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains("held-out next-op loss:"), "{table}");
    // The continuation rows: each painter at the default temperature, the oracle, doing nothing.
    for row in [
        "| search (imagine, then paint), temperature 0.7 | 50 % |",
        "| teacher's own next ops (oracle) | 50 % |",
    ] {
        assert!(table.contains(row), "{row} in {table}");
    }
    assert!(table.contains("| doing nothing | 50 % | 1.000 | 1.000 |"), "{table}");
    // Settings are chosen on other pictures than the held-out ones the figures come from.
    let oracle = |table: &str| {
        let row = "| teacher's own next ops (oracle) | 50 % |";
        table.lines().find(|l| l.starts_with(row)).map(str::to_owned).unwrap_or_else(|| panic!("{table}"))
    };
    let mut kept = vec!["eval", "--kept-apart", "--pictures", "0", "--continuation", "1"];
    kept.extend(["--continuation-size", "32", "--process-ops", "40", "--continue-ops", "5", "--cuts", "0.5"]);
    let run = apprentice(&kept);
    assert!(run.status.success(), "{}", stderr(&run));
    let kept_table = String::from_utf8_lossy(&run.stdout);
    assert!(kept_table.contains("continuation: 1 kept-apart pictures"), "{kept_table}");
    assert_ne!(oracle(&kept_table), oracle(&table), "another picture, another process");
    let run = apprentice(&["eval", "--pictures", "0", "--cuts", "0.5,1.5"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--cuts") && stderr(&run).contains("1.5"), "{}", stderr(&run));
    for painter in ["transformer", "search", "teacher", "sketch"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {painter} | 32² |")))
            .unwrap_or_else(|| panic!("{table}"));
        assert_eq!(row.matches('(').count(), 2, "a (PSNR) for each of the two op counts: {row}");
    }
}

#[test]
fn search_paints_training_data_and_training_can_start_from_a_model() {
    // Distilling search: the search painter (with the built-in model) paints the
    // histories, and the next model is fine-tuned from the current one.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut args = vec!["data", "--out", s(&data), "--scenes", "2", "--size", "32", "--ops", "12"];
    args.extend(["--painter", "search"]);
    let run = apprentice(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    for i in 0..2 {
        // Named as search's, so that `train` can tell them from the teacher's in one folder.
        let h =
            apprentice::ops::history::read_path(&data.join(format!("search-scene-0000{i}.binpb"))).unwrap();
        assert_eq!(h.ops.len(), 12);
    }
    let run = apprentice(&["data", "--out", s(&tmp.path().join("x")), "--painter", "nobody"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--painter") && stderr(&run).contains("nobody"), "{}", stderr(&run));
    let run = apprentice(&["data", "--out", s(&tmp.path().join("x")), "--model", s(&data)]);
    assert_eq!(run.status.code(), Some(2), "the teacher uses no model: {}", stderr(&run));
    assert!(stderr(&run).contains("--model"), "{}", stderr(&run));
    assert!(!tmp.path().join("x").exists(), "nothing is written when an argument is wrong");

    let init = tmp.path().join("init.safetensors");
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--data", s(&data), "--steps", "2", "--batch", "2", "--window", "8"];
        args.extend_from_slice(extra);
        apprentice(&args)
    };
    let run = train(&["--out", s(&init), "--size", "tiny"]);
    assert!(run.status.success(), "{}", stderr(&run));
    // With no teacher's pictures beside them, search's serve both kinds of batches.
    assert!(stderr(&run).contains("search: "), "{}", stderr(&run));
    assert!(stderr(&run).contains("100 % of free batches, 100 % of copy batches"), "{}", stderr(&run));
    // At learning rate 0 a fine-tuned model is its starting model: same held-out loss to the digit.
    let tuned = tmp.path().join("tuned.safetensors");
    let run = train(&["--out", s(&tuned), "--init", s(&init), "--lr", "0"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let loss = |model: &std::path::Path| {
        let run = apprentice(&["eval", "--data", s(&data), "--model", s(model), "--pictures", "0"]);
        assert!(run.status.success(), "{}", stderr(&run));
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    assert_eq!(loss(&init), loss(&tuned));
    assert!(loss(&init).contains("held-out next-op loss"));
    // The priors' context grown on a model made without it starts at zeros: the same model.
    let plain = tmp.path().join("plain.safetensors");
    let run = train(&["--out", s(&plain), "--size", "tiny", "--context", "0"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let grown = tmp.path().join("grown.safetensors");
    let run = train(&["--out", s(&grown), "--init", s(&plain), "--context", "1", "--lr", "0"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(loss(&plain), loss(&grown));
    let config = std::fs::read_to_string(tmp.path().join("grown.json")).unwrap();
    assert!(config.contains("\"context\": 1"), "{config}");
    // Tiny's 4² view pools 2 × 2 twice at most.
    let run = train(&["--out", s(&grown), "--init", s(&plain), "--context", "3"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--context 3") && stderr(&run).contains("pooled"), "{}", stderr(&run));
    // A finer view is carried over only where it can be exactly: not a shape prior's offsets.
    let run = train(&["--out", s(&grown), "--init", s(&plain), "--finer"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("offsets"), "{}", stderr(&run));

    // The starting model is never overwritten, however its path is spelled.
    let respelled = tmp.path().join(".").join("init.safetensors");
    let run = train(&["--out", s(&respelled), "--init", s(&init)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--init"), "{}", stderr(&run));
    let run = train(&["--out", s(&tuned), "--init", s(&init), "--size", "small"]);
    assert_eq!(run.status.code(), Some(2), "the size comes from --init: {}", stderr(&run));
    // A checkpoint that cannot be written is a failed run (1), not a bad input (2).
    let blocked = tmp.path().join("a-file").join("m.safetensors");
    std::fs::write(tmp.path().join("a-file"), "").unwrap();
    let run = train(&["--out", s(&blocked), "--size", "tiny"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("cannot write") && stderr(&run).contains("a-file"), "{}", stderr(&run));
}

#[test]
fn reinforce_continues_an_imitation_model_and_refuses_bad_input_with_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = apprentice(&["data", "--out", s(&data), "--scenes", "3", "--size", "32", "--ops", "20"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let init = tmp.path().join("tiny.safetensors");
    let mut train = vec!["train", "--data", s(&data), "--out", s(&init)];
    train.extend(["--size", "tiny", "--steps", "2", "--batch", "2", "--window", "8"]);
    let run = apprentice(&train);
    assert!(run.status.success(), "{}", stderr(&run));

    let out = tmp.path().join("rl.safetensors");
    let reinforce = |extra: &[&str]| {
        let mut args = vec!["reinforce", "--init", s(&init), "--data", s(&data), "--out", s(&out)];
        args.extend_from_slice(&["--steps", "2", "--episodes", "2", "--ops", "4", "--group", "2"]);
        args.extend_from_slice(extra);
        apprentice(&args)
    };
    let run = reinforce(&[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("step 2/2: reward"), "{}", stderr(&run));
    let progress = std::fs::read_to_string(tmp.path().join("rl.train.json")).unwrap();
    assert!(progress.contains("\"step\": 2") && progress.contains("heldout_reward_start"), "{progress}");
    let run = apprentice(&["eval", "--data", s(&data), "--model", s(&out), "--pictures", "0"]);
    assert!(run.status.success(), "{}", stderr(&run));

    for (extra, names) in
        [(&["--group", "1"][..], "--group"), (&["--ops", "64"][..], "--ops"), (&["--beta=-1"][..], "--beta")]
    {
        let run = reinforce(extra);
        assert_eq!(run.status.code(), Some(2), "{extra:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(names), "{extra:?}: {}", stderr(&run));
    }
    let run =
        apprentice(&["reinforce", "--init", "missing.safetensors", "--data", s(&data), "--out", s(&out)]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("missing.json"), "{}", stderr(&run));
}
