//! `apprentice eval`: how good the painters are, as tables.

use std::path::PathBuf;

use super::{CliError, CliResult, check_temperature};
use crate::engine::Canvas;
use crate::eval::{self, continuation, next_stroke};
use crate::model::stroke_transformer::StrokeTransformer;
use crate::model::{checkpoint, registry};
use crate::painters::transformer::DEFAULT_TEMPERATURE;
use crate::training::{photos, scenes, split};

/// Evaluate: held-out next-op loss of a model; next-stroke accuracy on held-out
/// Chinese characters against the rule "highest start, then leftmost" (also on
/// augmented copies with --augmented); continuation — held-out pictures painted by
/// the teacher, cut at 30/50/80 %, continued with no reference: error to the
/// finished painting ÷ error at the cut, and colour agreement (--continuation 0
/// leaves it out); and copy fidelity (MSE, PSNR) of every painter after
/// 100/300/1000 ops on scenes never used for training (--pictures 0 leaves it out).
#[derive(clap::Args)]
pub struct Args {
    /// Histories the model was trained on (the held-out split is evaluated).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Model to evaluate (default: the built-in one).
    #[arg(long, value_name = "FILE.safetensors")]
    model: Option<PathBuf>,
    /// Unpacked character package (hanzi-writer-data or KanjiVG): next-stroke accuracy on its
    /// held-out characters.
    #[arg(long, value_name = "DIR")]
    hanzi: Option<PathBuf>,
    /// Held-out characters to test (evenly spread over them).
    #[arg(long, default_value_t = 100, requires = "hanzi", value_parser = clap::value_parser!(u64).range(1..))]
    characters: u64,
    /// Also test augmented copies of the held-out characters (slanted, rescaled, moved, jittered).
    #[arg(long, requires = "hanzi")]
    augmented: bool,
    /// Canvas side for the characters (as `apprentice data --size`).
    #[arg(long, default_value_t = 128, requires = "hanzi", value_parser = clap::value_parser!(u32).range(16..=2048))]
    hanzi_size: u32,
    /// Reference pictures per size for copy fidelity (0: skip it).
    #[arg(long, default_value_t = 4)]
    pictures: u64,
    #[arg(long, value_delimiter = ',', default_value = "128,256")]
    sizes: Vec<u32>,
    #[arg(long, value_delimiter = ',', default_value = "100,300,1000")]
    ops: Vec<usize>,
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Sampling temperature of the painters (0: their most likely choice).
    #[arg(long, default_value_t = DEFAULT_TEMPERATURE)]
    temperature: f32,
    /// Held-out scenes for the continuation rows (0 and no --photos: skip them).
    #[arg(long, default_value_t = 4)]
    continuation: u64,
    /// Folder of PNG photographs: crops of the held-out ones join the continuation rows.
    #[arg(long, value_name = "DIR")]
    photos: Option<PathBuf>,
    /// Crops per held-out photograph.
    #[arg(long, default_value_t = 3)]
    photo_crops: u32,
    /// The continuation rows on pictures kept apart for choosing Continue's settings instead
    /// of the held-out ones: scenes of other seeds, crops of up to 8 training photographs,
    /// painted by the teacher from other seeds (so that the held-out figures stay unseen).
    #[arg(long)]
    kept_apart: bool,
    /// Where the teacher's histories are cut, as shares of their ops.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.8")]
    cuts: Vec<f32>,
    /// Ops the teacher paints each continuation picture in.
    #[arg(long, default_value_t = 600)]
    process_ops: usize,
    /// Ops each painter continues by.
    #[arg(long, default_value_t = 100)]
    continue_ops: usize,
    /// Side of the continuation pictures.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=2048))]
    continuation_size: u32,
    /// Temperatures the continuation rows try [default: --temperature].
    #[arg(long, value_delimiter = ',')]
    temperatures: Vec<f32>,
    /// Copy fidelity also for search trying a magic-brush dab every few ops (the built-in brush).
    #[arg(long)]
    with_magic_brush: bool,
    /// Continuation rows for search imagining with the built-in magic brush at these strengths,
    /// and with each Stable Diffusion model in DATA_DIR/models/sd (a row says when there is none).
    #[arg(long, value_delimiter = ',', value_name = "S,S")]
    imagine_strengths: Vec<f32>,
    /// The prompt Stable Diffusion imagines with in those rows.
    #[arg(long, default_value = "a painting", requires = "imagine_strengths")]
    imagine_prompt: String,
    /// The recorded sessions of the store (--store, else DATA_DIR's), the latest held out: next-op
    /// loss, and continued from half-way — style distance to what the painter did, error ratio —
    /// for the built-in model, --model, and every model in DATA_DIR/models.
    #[arg(long)]
    sessions: bool,
    /// The session store for --sessions [default: DATA_DIR/sessions.sqlite3].
    #[arg(long, value_name = "FILE", requires = "sessions")]
    store: Option<PathBuf>,
    /// The same rows for test painters of distinct habits (stippler, hatcher, blocker; all
    /// three without names): sessions made for each, a personal model learned from them
    /// (personalize), both models measured.
    #[arg(long, num_args = 0.., value_delimiter = ',', value_name = "NAME")]
    test_painters: Option<Vec<String>>,
    /// Personalize's steps for --test-painters.
    #[arg(long, default_value_t = 300, requires = "test_painters")]
    personalize_steps: usize,
    #[command(flatten)]
    dirs: super::Dirs,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(CliError::input)?;
    check_temperature(args.temperature)?;
    for &t in &args.temperatures {
        check_temperature(t)?;
    }
    // Checked before any test runs, so a bad flag is not found minutes in.
    if let Some(bad) = args.imagine_strengths.iter().find(|s| !(**s > 0.0 && **s <= 1.0)) {
        return Err(CliError::input(format!("--imagine-strengths: each must be in (0, 1], got {bad}")));
    }
    if let Some(bad) = args.cuts.iter().find(|c| !(0.0..=1.0).contains(*c)) {
        return Err(CliError::input(format!("--cuts: each must be a share of the ops in [0, 1], got {bad}")));
    }
    let model = match &args.model {
        Some(path) => std::sync::Arc::new(
            checkpoint::load_file(path, &crate::device::current()).map_err(CliError::input)?,
        ),
        None => registry::default_model(),
    };
    if let Some(dir) = &args.data {
        let (windows, loss) = eval::heldout(dir, &model, args.window).map_err(CliError::input)?;
        println!("held-out next-op loss: {loss:.3} nats per op (summed over its fields), {windows} windows");
        println!();
    }
    if let Some(dir) = &args.hanzi {
        let characters =
            next_stroke::held_out_characters(dir, args.characters as usize).map_err(CliError::input)?;
        let transformer = crate::painters::transformer::Transformer::new(model.clone());
        let mut sets = vec![("", characters.clone())];
        if args.augmented {
            let mut rng = crate::painters::rng::Rng::new(7);
            let copies = characters.iter().map(|c| crate::training::hanzi::augment(c, &mut rng).0).collect();
            sets.push((" (augmented)", copies));
        }
        for (label, set) in sets {
            let acc = next_stroke::evaluate(&transformer, &set, args.hanzi_size, args.temperature);
            println!(
                "next-stroke accuracy{label}: {} held-out characters, {} positions (the first k strokes shown, at least 2 left)",
                acc.characters, acc.positions
            );
            println!("| who | accuracy | over a written stroke | median miss |");
            println!("|---|---:|---:|---:|");
            println!(
                "| transformer (temperature {}) | {:.1} % | {:.1} % | {:.1} px |",
                args.temperature,
                100.0 * acc.painter_rate(),
                100.0 * acc.over_written_rate(),
                acc.median_miss()
            );
            println!("| rule: highest start, then leftmost | {:.1} % | — | — |", 100.0 * acc.rule_rate());
            println!("| chance: a random remaining stroke | {:.1} % | — | — |", 100.0 * acc.chance_rate());
            println!();
        }
    }
    if args.sessions {
        session_rows(&args, &model)?;
    }
    if let Some(names) = &args.test_painters {
        test_painter_rows(&args, names)?;
    }
    if args.continuation > 0 || args.photos.is_some() {
        continuation_rows(&args, &model)?;
    }
    if args.pictures == 0 {
        return Ok(());
    }
    let mut painters: Vec<Box<dyn crate::painters::Painter>> = vec![
        Box::new(crate::painters::transformer::Transformer::new(model.clone())),
        Box::new(crate::painters::search::Search::new(model.clone())),
        Box::new(crate::painters::teacher::Teacher),
        Box::new(crate::painters::sketch::Sketch),
    ];
    if args.with_magic_brush {
        let search =
            crate::painters::search::Search::new(model).with_magic_brush(crate::diffusion::builtin::brush());
        painters.insert(2, Box::new(search));
    }
    println!("copy fidelity: MSE (PSNR dB) to the reference, mean of {} scenes", args.pictures);
    print!("| painter | size |");
    for n in &args.ops {
        print!(" {n} ops |");
    }
    println!();
    println!("|---|---|{}", "---:|".repeat(args.ops.len()));
    let rows = eval::fidelity(&painters, &args.sizes, &args.ops, args.pictures, args.temperature);
    for chunk in rows.chunks(args.ops.len()) {
        print!("| {} | {}² |", chunk[0].painter, chunk[0].side);
        for r in chunk {
            print!(" {:.4} ({:.1}) |", r.mse, r.psnr);
        }
        println!();
    }
    for chunk in rows.chunks(args.ops.len()).filter(|c| c.iter().any(|r| r.magic_ops > 0)) {
        let last = chunk.last().expect("a row per op count");
        let all = last.ops * args.pictures as usize;
        println!(
            "{} at {}²: {} of its {all} ops were magic-brush dabs ({:.1} %)",
            last.painter,
            last.side,
            last.magic_ops,
            100.0 * last.magic_ops as f64 / all.max(1) as f64
        );
    }
    Ok(())
}

const SESSION_HEADER: &str = "| painter | model | continued by | next-op loss | style distance | tools | sizes | lengths | turning | opacity | pressure | palette | order | error ratio |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn print_session_rows(painter: &str, rows: &[eval::sessions::Row]) {
    for r in rows {
        let d = r.style;
        println!(
            "| {painter} | {} | {} | {:.2} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} |",
            r.model,
            r.painter,
            r.loss,
            d.total,
            d.kinds,
            d.sizes,
            d.lengths,
            d.turning,
            d.opacity,
            d.pressure,
            d.palette,
            d.order,
            r.ratio
        );
    }
}

/// Held-out sessions continued by at most this many ops.
const SESSION_OPS: usize = 100;

fn session_rows(args: &Args, model: &std::sync::Arc<StrokeTransformer>) -> CliResult {
    let paths = args.dirs.clone().paths()?;
    let store = args.store.clone().unwrap_or_else(|| paths.store_file());
    let sessions: Vec<_> = super::data::recorded_sessions(&store, crate::training::personalize::MIN_OPS)?
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    if sessions.len() < 2 {
        return Err(CliError::input(format!("{}: at least 2 recorded sessions are needed", store.display())));
    }
    let (_, held) = eval::sessions::split(&sessions, 0.2);
    let mut models = vec![(registry::BUILT_IN.to_owned(), registry::default_model())];
    if args.model.is_some() {
        models.push(("--model".to_owned(), model.clone()));
    }
    for name in registry::names(Some(&paths.models_dir())).into_iter().filter(|n| n != registry::BUILT_IN) {
        let m = registry::named(Some(&paths.models_dir()), &name).map_err(CliError::input)?;
        models.push((name, m));
    }
    println!(
        "recorded sessions: {} held out of {}, each continued from half-way by up to {SESSION_OPS} ops",
        held.len(),
        sessions.len()
    );
    println!("{SESSION_HEADER}");
    print_session_rows("recorded", &eval::sessions::rows(&held, &models, SESSION_OPS, args.temperature));
    println!();
    Ok(())
}

/// Sessions per test painter, and ops per session.
const TEST_SESSIONS: u64 = 10;
const TEST_SESSION_OPS: usize = 120;

fn test_painter_rows(args: &Args, names: &[String]) -> CliResult {
    if let Some(bad) = names.iter().find(|n| !eval::sessions::TEST_PAINTERS.contains(&n.as_str())) {
        return Err(CliError::input(format!(
            "--test-painters: no test painter {bad:?} (there are {})",
            eval::sessions::TEST_PAINTERS.join(", ")
        )));
    }
    use crate::training::personalize::{self, Plan};
    println!(
        "test painters: {TEST_SESSIONS} sessions of {TEST_SESSION_OPS} ops each, the latest 2 held out; personalized in {} steps",
        args.personalize_steps
    );
    println!("{SESSION_HEADER}");
    for name in eval::sessions::TEST_PAINTERS
        .into_iter()
        .filter(|&n| names.is_empty() || names.iter().any(|m| m == n))
    {
        // Latest first, as the store lists them.
        let sessions: Vec<_> = (0..TEST_SESSIONS)
            .rev()
            .map(|s| eval::sessions::test_painter(name, s, TEST_SESSION_OPS))
            .collect();
        let (_, held) = eval::sessions::split(&sessions, 0.2);
        let work = tempfile::tempdir().map_err(|e| CliError::failure(e.to_string()))?;
        let named = sessions.iter().enumerate().map(|(i, h)| (format!("{i:02}"), h.clone())).collect();
        let plan = Plan { name: name.into(), steps: args.personalize_steps, ..Plan::default() };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = personalize::personalize(
            named,
            &work.path().join("work"),
            &work.path().join("models"),
            &plan,
            stop,
            |_| {},
        )?
        .ok_or_else(|| CliError::failure("personalize stopped"))?;
        let personal = std::sync::Arc::new(
            checkpoint::load_file(&done.path, &crate::device::current()).map_err(CliError::failure)?,
        );
        let models =
            [(registry::BUILT_IN.to_owned(), registry::default_model()), ("personal".to_owned(), personal)];
        print_session_rows(name, &eval::sessions::rows(&held, &models, SESSION_OPS, args.temperature));
    }
    println!();
    Ok(())
}

/// The held-out pictures of the continuation rows: scenes never used for
/// training, and crops of the photographs the training split holds out; with
/// `--kept-apart`, the pictures Continue's settings are chosen on instead.
fn continuation_pictures(args: &Args) -> Result<Vec<(String, Canvas)>, CliError> {
    let side = args.continuation_size as usize;
    let first_seed = if args.kept_apart { 2_000_000_000 } else { 1_000_000_000 };
    let mut pictures: Vec<(String, Canvas)> = (0..args.continuation)
        .map(|k| (format!("scene {k}"), scenes::scene(side, side, first_seed + k)))
        .collect();
    if let Some(dir) = &args.photos {
        let files = photos::list(dir).map_err(CliError::input)?;
        let names: Vec<String> = files
            .iter()
            .map(|f| format!("photo-{}-000.binpb", f.file_stem().unwrap_or_default().to_string_lossy()))
            .collect();
        let held = split::held_out(&names.iter().map(String::as_str).collect::<Vec<_>>());
        let (mut rng, wanted, most) = match args.kept_apart {
            false => (crate::painters::rng::Rng::new(11), true, usize::MAX),
            true => (crate::painters::rng::Rng::new(99), false, 8),
        };
        for (file, _) in files.iter().zip(held).filter(|(_, h)| *h == wanted).take(most) {
            let img = photos::load(file).map_err(CliError::input)?;
            for j in 0..args.photo_crops {
                let crop = photos::crop(&img, args.continuation_size, &mut rng);
                let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                pictures.push((format!("photo {stem} {j}"), Canvas::from_rgba8(side, side, crop.as_raw())));
            }
        }
    }
    Ok(pictures)
}

/// A Stable Diffusion model that imagines in continuation rows.
type Imagines = std::sync::Arc<crate::diffusion::sd::StableDiffusion>;
/// Who imagines in a continuation row, at what strength: the built-in brush, or Stable Diffusion.
type Imagining = (f32, Option<Imagines>);

/// A continuation row: its label, the painter (`None`: the teacher's own next ops), the
/// temperature, and who imagines when the painter imagines with the magic brush.
type Row<'a> = (String, Option<&'a dyn crate::painters::Painter>, f32, Option<Imagining>);

fn continuation_rows(args: &Args, model: &std::sync::Arc<StrokeTransformer>) -> CliResult {
    let temperatures =
        if args.temperatures.is_empty() { vec![args.temperature] } else { args.temperatures.clone() };
    let pictures = continuation_pictures(args)?;
    let processes: Vec<continuation::Process> = pictures
        .iter()
        .enumerate()
        .map(|(i, (name, c))| {
            let seed = if args.kept_apart { 1000 + i as u64 } else { i as u64 };
            continuation::process(name, c, args.process_ops, seed)
        })
        .collect();
    let search = crate::painters::search::Search::new(model.clone());
    let transformer = crate::painters::transformer::Transformer::new(model.clone());
    let sketch = crate::painters::sketch::Sketch;
    let sampled: [(&str, &dyn crate::painters::Painter); 3] =
        [("search (imagine, then paint)", &search), ("transformer", &transformer), ("sketch", &sketch)];
    let mut painters: Vec<Row> = Vec::new();
    for (label, painter) in sampled {
        for &t in &temperatures {
            painters.push((format!("{label}, temperature {t}"), Some(painter), t, None));
        }
    }
    for &strength in &args.imagine_strengths {
        for &t in &temperatures {
            let label = format!("search imagining with the magic brush at {strength}, temperature {t}");
            painters.push((label, Some(&search), t, Some((strength, None))));
        }
    }
    let (sd_models, sd_skipped) = stable_diffusion_models(args);
    for (name, sd) in &sd_models {
        for &strength in &args.imagine_strengths {
            for &t in &temperatures {
                let label = format!(
                    "search imagining with Stable Diffusion {name} at {strength} (prompt {:?}), temperature {t}",
                    args.imagine_prompt
                );
                painters.push((label, Some(&search), t, Some((strength, Some(sd.clone())))));
            }
        }
    }
    painters.push(("teacher's own next ops (oracle)".into(), None, 0.0, None));
    println!(
        "continuation: {} {} pictures at {}², painted by the teacher in {} ops, cut, continued by {} ops with no reference",
        processes.len(),
        if args.kept_apart { "kept-apart" } else { "held-out" },
        args.continuation_size,
        args.process_ops,
        args.continue_ops
    );
    println!(
        "error ratio: error to the finished painting after ÷ at the cut (1: as if nothing was done; below 1 helps)"
    );
    println!(
        "colour: mean difference per channel between a new op's colour and the finished painting under it"
    );
    println!("| painter | cut | mean ratio | median ratio | colour |");
    println!("|---|---:|---:|---:|---:|");
    for &cut in &args.cuts {
        for (name, painter, t, imagining) in &painters {
            let outcomes: Vec<continuation::Outcome> = processes
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let imagination = imagining.as_ref().map(|(strength, sd)| {
                        let sd = sd.clone().map(|sd| (sd, args.imagine_prompt.clone()));
                        brush_imagination(*strength, sd, i as u64)
                    });
                    continuation::continue_process(
                        p,
                        cut,
                        args.continue_ops,
                        *painter,
                        *t,
                        i as u64,
                        imagination,
                    )
                })
                .collect();
            let s = continuation::summarize(&outcomes);
            println!("| {name} | {:.0} % | {:.3} | {:.3} | {:.4} |", 100.0 * cut, s.mean, s.median, s.colour);
        }
        if let Some(why) = &sd_skipped {
            println!(
                "| search imagining with Stable Diffusion | {:.0} % | skipped: {why} | | |",
                100.0 * cut
            );
        }
        println!("| doing nothing | {:.0} % | 1.000 | 1.000 | — |", 100.0 * cut);
    }
    println!();
    Ok(())
}

/// The Stable Diffusion models for the imagining rows (name and model), loaded from the models
/// folder; or why there are none, when rows with imagining were asked for.
fn stable_diffusion_models(args: &Args) -> (Vec<(String, Imagines)>, Option<String>) {
    use crate::diffusion::sd;
    if args.imagine_strengths.is_empty() {
        return (Vec::new(), None);
    }
    let models = match args.dirs.clone().paths() {
        Ok(paths) => paths.models_dir(),
        Err(e) => return (Vec::new(), Some(e.message)),
    };
    let mut loaded = Vec::new();
    let mut failed = Vec::new();
    for dir in sd::found(&models) {
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        match sd::load(&models, &name, &crate::device::current()) {
            Ok(model) => loaded.push((name, std::sync::Arc::new(model))),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    let why = match (loaded.is_empty(), failed.is_empty()) {
        (true, true) => Some(format!("no model in {}", models.join(sd::DIR).display())),
        (_, false) => Some(failed.join("; ")),
        (false, true) => None,
    };
    (loaded, why)
}

/// The magic brush imagining at `strength`, every [`REIMAGINE`](crate::painters::search::REIMAGINE)
/// ops: the built-in brush, or Stable Diffusion with its prompt.
fn brush_imagination(
    strength: f32,
    sd: Option<(Imagines, String)>,
    seed: u64,
) -> crate::painters::Imagination {
    use crate::diffusion::{brush::DEFAULT_STEPS, builtin, imagine::Imaginer, style};
    let steps = sd.as_ref().map_or(DEFAULT_STEPS, |(model, _)| model.default_steps());
    let mut imaginer = Imaginer::new(builtin::brush(), style::NONE, strength, steps, seed);
    imaginer.sd = sd;
    crate::painters::Imagination {
        imagine: Box::new(move |canvas| imaginer.imagine(canvas, &mut || true)),
        every: crate::painters::search::REIMAGINE,
    }
}
