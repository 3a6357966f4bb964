//! Stable Diffusion end to end: a tiny random model folder written where a user's
//! real one goes (DATA_DIR/models/sd/NAME/), painted with by `apprentice magic
//! --brush-model` and by the daemon's MagicBrush call, listed by `info` and GetInfo;
//! and `--device` refusing what this build cannot do.

use apprentice_e2e::{Daemon, apprentice, stderr};
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::magic_brush_event::Event;
use tokio_stream::StreamExt;

/// A home folder whose data folder holds the tiny inpainting model `tiny`.
fn home() -> std::sync::Arc<tempfile::TempDir> {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("data").join("models");
    apprentice::diffusion::sd::tiny::write(&apprentice::diffusion::sd::folder(&models, "tiny"), true)
        .unwrap();
    std::sync::Arc::new(tmp)
}

fn changed(a: &image::RgbaImage, b: &image::RgbaImage) -> Vec<(u32, u32)> {
    a.enumerate_pixels().filter(|(x, y, p)| b.get_pixel(*x, *y) != *p).map(|(x, y, _)| (x, y)).collect()
}

#[test]
fn the_magic_command_paints_a_prompt_with_a_stable_diffusion_folder() {
    let tmp = home();
    let p = |name: &str| tmp.path().join(name).display().to_string();
    let img = image::RgbaImage::from_fn(80, 60, |x, y| image::Rgba([(x * 3) as u8, (y * 4) as u8, 120, 255]));
    img.save(p("in.png")).unwrap();
    let (input, data) = (p("in.png"), p("data"));
    for (seed, out) in [("3", "a.png"), ("3", "b.png"), ("4", "c.png")] {
        let o = apprentice(&[
            "magic",
            &input,
            "--path",
            "20,20;50,30",
            "--radius",
            "6",
            "--prompt",
            "a red barn in the snow",
            "--brush-model",
            "tiny",
            "--steps",
            "3",
            "--seed",
            seed,
            "--device",
            "cpu",
            "--data-dir",
            &data,
            "-o",
            &p(out),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("with Stable Diffusion tiny in 3 steps"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("reads no text"), "{}", stderr(&o));
    }
    let read = |name: &str| image::open(p(name)).unwrap().to_rgba8();
    let (a, b, c) = (read("a.png"), read("b.png"), read("c.png"));
    assert_eq!(a, b, "same seed, same pixels");
    assert_ne!(a, c, "another seed");
    let diff = changed(&img, &a);
    assert!(!diff.is_empty(), "the dab changed pixels");
    assert!(
        diff.iter().all(|&(x, y)| (12..=58).contains(&x) && (12..=38).contains(&y)),
        "only under the path"
    );

    // info lists the folder; a prompt without --brush-model says which model could read it.
    let out = apprentice(&["info", "--data-dir", &data, "--config-dir", &p("config")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sd models:   tiny (custom, 32 px)"), "{text}");
    assert!(text.contains("stroke transformer: cpu"), "{text}");
    let out = apprentice(&[
        "magic",
        &input,
        "--path",
        "20,20",
        "--radius",
        "6",
        "--prompt",
        "a cat",
        "--data-dir",
        &data,
        "-o",
        &p("d.png"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reads no text") && stderr(&out).contains("--brush-model tiny"),
        "{}",
        stderr(&out)
    );

    // Bad input is one clear line, exit code 2.
    std::fs::remove_file(tmp.path().join("data/models/sd/tiny/unet.safetensors")).unwrap();
    for (args, says) in [
        (vec!["--brush-model", "nope"], "--brush-model: no Stable Diffusion model \"nope\""),
        (vec!["--brush-model", "tiny"], "unet.safetensors"),
        (vec!["--device", "cuda:1"], "--device: this build has no CUDA support; build with --features cuda"),
        (vec!["--device", "tpu"], "unknown device \"tpu\""),
    ] {
        let out_png = p("x.png");
        let mut all =
            vec!["magic", &input, "--path", "20,20", "--radius", "6", "--data-dir", &data, "-o", &out_png];
        all.extend(args);
        let out = apprentice(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{says} in {}", stderr(&out));
    }
}

#[tokio::test]
async fn the_daemon_paints_prompts_with_its_brush_model_and_lists_it() {
    let d = Daemon::start_in(home(), &["--brush-model", "tiny", "--device", "cpu"]);
    let mut c = ApprenticeClient::connect(d.url()).await.unwrap();
    let info = c.get_info(pb::GetInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.device, "cpu");
    assert_eq!(info.brush_models, ["brush (built in)", "tiny (custom, 32 px)"]);
    assert!(info.devices.contains(&"Stable Diffusion tiny (prompts): cpu".to_owned()), "{:?}", info.devices);

    let history = pb::History {
        header: Some(pb::Header { width: 64, height: 48, ..Default::default() }),
        ops: vec![pb::Op {
            kind: Some(pb::op::Kind::Fill(pb::Fill {
                x: 1.0,
                y: 1.0,
                color: Some(pb::Color { r: 0.2, g: 0.5, b: 0.9, a: None }),
                ..Default::default()
            })),
        }],
    };
    let request = |guidance| pb::MagicBrushRequest {
        source: Some(pb::magic_brush_request::Source::History(history.clone())),
        dab: Some(pb::MagicBrush {
            path: vec![pb::PathPoint { x: 20.0, y: 20.0 }, pb::PathPoint { x: 40.0, y: 26.0 }],
            radius: 6.0,
            guidance,
            strength: 1.0,
            seed: 9,
            result: None,
            texture: 0.0,
        }),
        steps: 3,
    };
    let prompt = || Some(pb::magic_brush::Guidance::Prompt("blue sky".into()));
    let mut run = async |r| {
        let mut stream = c.magic_brush(r).await.unwrap().into_inner();
        let (mut steps, mut done) = (Vec::new(), None);
        while let Some(e) = stream.next().await {
            match e.unwrap().event.unwrap() {
                Event::Progress(p) => steps.push((p.step, p.steps)),
                Event::Done(d) => done = Some(d),
            }
        }
        (steps, done.unwrap())
    };
    let (steps, done) = run(request(prompt())).await;
    assert_eq!(steps, [(0, 3), (1, 3), (2, 3)]);
    assert_eq!((done.model.as_str(), done.note.as_str()), ("tiny", ""));
    let patch = |d: &pb::MagicBrushDone| match d.op.as_ref().unwrap().kind.as_ref().unwrap() {
        pb::op::Kind::MagicBrush(m) => m.result.clone().unwrap(),
        _ => unreachable!(),
    };
    let first = patch(&done);
    assert!(first.width > 0 && first.rgba.iter().skip(3).step_by(4).any(|&a| a > 0));
    assert_eq!(patch(&run(request(prompt())).await.1), first, "same seed, same pixels");
    // Without a prompt the built-in brush paints.
    let (_, done) = run(request(None)).await;
    assert_eq!(done.model, "brush (built in)");
}

#[test]
fn evals_imagining_rows_imagine_with_each_stable_diffusion_folder_and_say_when_there_is_none() {
    let tmp = home();
    let empty = tempfile::tempdir().unwrap();
    let eval = |data: &std::path::Path| {
        let data = data.display().to_string();
        let mut args = vec!["eval", "--pictures", "0", "--continuation", "1", "--continuation-size", "32"];
        args.extend(["--process-ops", "40", "--continue-ops", "3", "--cuts", "0.5", "--temperatures", "0.7"]);
        args.extend(["--imagine-strengths", "0.5", "--imagine-prompt", "a red barn", "--data-dir", &data]);
        let o = apprentice(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let table = eval(&tmp.path().join("data"));
    let row = "| search imagining with Stable Diffusion tiny at 0.5 (prompt \"a red barn\"), temperature 0.7 | 50 % | ";
    let line = table.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("{table}"));
    let ratio: f64 =
        line[row.len()..].split(" |").next().unwrap().parse().unwrap_or_else(|_| panic!("{line}"));
    assert!(ratio.is_finite() && ratio > 0.0, "{line}");
    assert!(!table.contains("skipped"), "{table}");
    // The built-in brush's row is there either way; without a folder, a row says why there is no other.
    let table = eval(empty.path());
    assert!(
        table.contains("| search imagining with the magic brush at 0.5, temperature 0.7 | 50 % |"),
        "{table}"
    );
    assert!(
        table.contains("| search imagining with Stable Diffusion | 50 % | skipped: no model in "),
        "{table}"
    );
}
