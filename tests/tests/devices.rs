//! `--device` on every command that runs a model: a GPU this build lacks is refused
//! before any work, in one clear line with exit code 2 (CI builds without GPU features).

use apprentice_e2e::{apprentice, stderr};

#[test]
fn every_model_command_refuses_a_gpu_this_build_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).display().to_string();
    let (data, config) = (p("data"), p("config"));
    let commands: Vec<Vec<String>> = [
        "serve",
        "continue h.jsonl --steps 1 -o o.jsonl",
        "paint ref.png --ops 1 -o o.png",
        "replay h.jsonl -o o.png",
        "magic in.png --path 1,1 --radius 2 -o o.png",
        "watch inbox outbox --once",
        "train --data d -o o.safetensors",
        "train-brush --out o.safetensors",
        "eval",
        "eval-brush",
        "info",
    ]
    .iter()
    .map(|c| c.split(' ').map(str::to_owned).collect())
    .collect();
    for (device, says) in [
        ("cuda", "--device: this build has no CUDA support; build with --features cuda"),
        ("metal", "--device: this build has no Metal support; build with --features metal"),
    ] {
        for command in &commands {
            let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
            args.extend(["--device", device]);
            // The commands with settings folders get fresh ones, to show nothing is made in them.
            if ["serve", "info", "magic", "watch"].contains(&args[0]) {
                args.extend(["--data-dir", &data, "--config-dir", &config]);
            }
            let out = apprentice(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert_eq!(stderr(&out).trim(), format!("error: {says}"), "{args:?}");
        }
    }
    assert!(!tmp.path().join("data").exists(), "nothing was created before the device was checked");
}
