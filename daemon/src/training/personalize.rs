//! A personal apprentice: the shipped stroke transformer fine-tuned on one
//! painter's recorded sessions, the latest held out to check it, written into
//! the models folder under a name not taken (where the daemon picks it up).
//!
//! A run works in its own folder (`WORK/NAME/`): the sessions as they were when
//! it started, the model it starts from, its checkpoint. Stopped (cancelled, the
//! daemon closed), it keeps that folder, and the next run of the same name
//! resumes from the checkpoint on the same sessions; finished, the folder goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::{RunError, TrainOptions, heldout_loss, heldout_windows, load_histories};
use crate::model::checkpoint;
use crate::model::stroke_transformer::{Config, PROGRESS_BUCKETS, StrokeTransformer};
use crate::ops::pb;

pub const DEFAULT_NAME: &str = "personal";
pub const DEFAULT_STEPS: usize = 300;
/// Sessions with fewer effective ops (after undo and redo) teach too little to use.
pub const MIN_OPS: usize = 20;
/// Ops per training window: sessions are long, and a painter's habits span strokes.
const WINDOW: usize = 64;
/// Ways each session is cut into windows: a painter has few sessions, and what they do next
/// depends on where in a session they are, so each op is learned in several contexts...
const CUTS: usize = 8;
/// ...as long as the windows stay under this many (each holds ~160 KB of pictures and
/// glimpses): a painter with many sessions has contexts enough.
const MOST_WINDOWS: usize = 2048;
/// The run's checkpoint is written this often (a stopped run loses at most this many steps).
const CHECKPOINT_EVERY: usize = 25;

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Share of the sessions, the latest, held out to check the model (at least one).
    pub held_out: f32,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan { name: DEFAULT_NAME.into(), steps: DEFAULT_STEPS, batch: 8, lr: 3e-4, held_out: 0.2 }
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    pub step: usize,
    pub steps: usize,
    /// Training loss of the last step (next-op loss, nats summed over an op's fields).
    pub loss: f32,
    pub seconds_left: f32,
    /// Sessions learned from and held out, and the ops learned from.
    pub sessions: usize,
    pub held_out: usize,
    pub ops: usize,
    /// Whether the run picked up an earlier one's checkpoint.
    pub resumed: bool,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Personalized {
    /// The model's name (its file stem in the models folder) and its weights.
    pub name: String,
    pub path: PathBuf,
    pub sessions: usize,
    pub held_out: usize,
    /// Next-op loss on the held-out sessions: the shipped model's and the personal one's.
    pub loss_before: f32,
    pub loss_after: f32,
}

/// A model name: letters, digits, `-` and `_`, 1 to 64 of them.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(format!("{name:?}: 1 to 64 letters, digits, - and _")) }
}

/// The sessions worth learning from, of `(id, history)` listed latest first.
pub fn usable(sessions: Vec<(String, pb::History)>) -> Vec<(String, pb::History)> {
    sessions.into_iter().filter(|(_, h)| crate::ops::timeline::effective(&h.ops).len() >= MIN_OPS).collect()
}

/// Whether a stopped run of `name` waits in `work` to be resumed.
pub fn unfinished(work: &Path, name: &str) -> bool {
    work.join(name).join("held-out.json").is_file()
}

fn io(what: &Path, e: impl std::fmt::Display) -> RunError {
    RunError::Failed(format!("{}: {e}", what.display()))
}

/// Fine-tunes the shipped model on `sessions` (`(id, history)`, latest first, at least two
/// usable), in `work/NAME/`, and writes the result into `models`. `None` when `stop` was
/// set first: the checkpoint stays for the next run of the name to resume.
pub fn personalize(
    sessions: Vec<(String, pb::History)>,
    work: &Path,
    models: &Path,
    plan: &Plan,
    stop: Arc<AtomicBool>,
    mut progress: impl FnMut(Progress),
) -> Result<Option<Personalized>, RunError> {
    check_name(&plan.name).map_err(|e| RunError::Input(format!("name {e}")))?;
    let dir = work.join(&plan.name);
    let data = dir.join("sessions");
    let held_file = dir.join("held-out.json");
    let resumed = unfinished(work, &plan.name);
    let held: Vec<String> = if resumed {
        // The sessions as they were when the run started: a resumed run learns the same.
        let text = std::fs::read_to_string(&held_file).map_err(|e| io(&held_file, e))?;
        serde_json::from_str(&text).map_err(|e| RunError::Input(format!("{}: {e}", held_file.display())))?
    } else {
        let sessions = usable(sessions);
        if sessions.len() < 2 {
            return Err(RunError::Input(format!(
                "{} recorded session(s) of at least {MIN_OPS} ops: at least 2 are needed (the latest is held out to check the model)",
                sessions.len()
            )));
        }
        let n = ((sessions.len() as f32 * plan.held_out.clamp(0.0, 0.9)).round() as usize)
            .clamp(1, sessions.len() - 1);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&data).map_err(|e| io(&data, e))?;
        let mut held = Vec::new();
        for (i, (id, history)) in sessions.iter().enumerate() {
            let file = format!("session-{id}.binpb");
            crate::ops::history::write_path(history, &data.join(&file)).map_err(|e| io(&data, e))?;
            if i < n {
                held.push(file);
            }
        }
        let (weights, config) = crate::model::registry::default_files();
        let base = dir.join("base.safetensors");
        crate::files::write(&base, weights).map_err(|e| io(&base, e))?;
        crate::files::write(&base.with_extension("json"), config.as_bytes()).map_err(|e| io(&base, e))?;
        // Written last: its presence marks a run that can be resumed.
        let json = serde_json::to_string(&held).expect("names serialize");
        crate::files::write(&held_file, json.as_bytes()).map_err(|e| io(&held_file, e))?;
        held
    };
    let histories = load_histories(&data).map_err(RunError::Input)?;
    let ops: usize = histories
        .iter()
        .filter(|(name, _)| !held.contains(name))
        .map(|(_, h)| crate::ops::timeline::effective(&h.ops).len())
        .sum();
    let base_model = crate::model::registry::default_model();
    // The personal model learns how far into a picture the painter is (blocking in early,
    // detail late), from a base that may not have seen it: its progress starts at zeros.
    let base_cfg = base_model.config().clone();
    let buckets = if base_cfg.progress == 0 { PROGRESS_BUCKETS } else { base_cfg.progress };
    let cfg = Config { progress: buckets, ..base_cfg };
    let out = dir.join(format!("{}.safetensors", plan.name));
    let options = TrainOptions {
        data: data.clone(),
        out: out.clone(),
        config: cfg.clone(),
        steps: plan.steps,
        batch: plan.batch.max(1),
        window: WINDOW,
        cuts: (MOST_WINDOWS / (ops / WINDOW + histories.len()).max(1)).clamp(1, CUTS),
        lr: plan.lr,
        seed: 0,
        // Sessions have no reference picture: Continue without one is what is learned.
        reference_rate: 0.0,
        copy_character_share: None,
        eval_every: CHECKPOINT_EVERY.min(plan.steps.max(1)),
        resume: resumed,
        init: Some(dir.join("base.safetensors")),
        only_grown: false,
        held_out: Some(held.clone()),
        // From a trained model: a short warm-up, so that even a short run learns.
        warmup: (plan.steps / 10).clamp(1, 100),
        stop: Some(stop),
    };
    let (learned, held_n) = (histories.len() - held.len(), held.len());
    let start = Instant::now();
    let mut first = None;
    let state = super::train(
        &options,
        |_| {},
        |step, loss, _| {
            let first = *first.get_or_insert(step - 1);
            let per_step = start.elapsed().as_secs_f32() / (step - first) as f32;
            progress(Progress {
                step,
                steps: plan.steps,
                loss,
                seconds_left: per_step * plan.steps.saturating_sub(step) as f32,
                sessions: learned,
                held_out: held_n,
                ops,
                resumed,
            });
        },
    )?;
    if state.step < plan.steps {
        return Ok(None);
    }

    // The check: next-op loss on the held-out sessions, the shipped model and the personal one.
    let flags: Vec<bool> = histories.iter().map(|(n, _)| held.contains(n)).collect();
    let windows = heldout_windows(&histories, &flags, &cfg, WINDOW);
    let personal = checkpoint::load_file(&out, &crate::device::current()).map_err(RunError::Failed)?;
    let loss = |m: &StrokeTransformer| heldout_loss(m, &windows, &cfg, WINDOW);
    let (loss_before, loss_after) = (loss(&base_model)?, loss(&personal)?);

    // Into the models folder, under a name not taken (nothing there is replaced).
    std::fs::create_dir_all(models).map_err(|e| io(models, e))?;
    let mut n = 0;
    let (name, target) = loop {
        let stem = if n == 0 { plan.name.clone() } else { format!("{}-{n}", plan.name) };
        let candidate = models.join(format!("{stem}.safetensors"));
        if !candidate.exists() && !candidate.with_extension("json").exists() {
            break (stem, candidate);
        }
        n += 1;
    };
    // The config first: the daemon's watch loads a model when its weights appear.
    let config = std::fs::read(out.with_extension("json")).map_err(|e| io(&out, e))?;
    crate::files::write(&target.with_extension("json"), &config).map_err(|e| io(&target, e))?;
    let weights = std::fs::read(&out).map_err(|e| io(&out, e))?;
    crate::files::write(&target, &weights).map_err(|e| io(&target, e))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Some(Personalized {
        name,
        path: target,
        sessions: learned,
        held_out: held_n,
        loss_before,
        loss_after,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// A painter's session: `n` short pencil curls in one blue.
    fn session(id: usize, n: usize) -> (String, pb::History) {
        let ops = (0..n)
            .map(|i| {
                let (x, y) = (8.0 + (i * 7 + id * 3) as f32 % 40.0, 6.0 + (i / 6) as f32 * 5.0);
                let points = (0..5)
                    .map(|k| pb::Point { x: x + 3.0 * (k as f32).cos(), y, ..Default::default() })
                    .collect();
                pb::Op {
                    kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                        tool: pb::Tool::Pencil as i32,
                        brush: Some(pb::BrushState {
                            size: 2.0,
                            color: Some(pb::Color { r: 0.1, g: 0.2, b: 0.7, a: None }),
                            ..Default::default()
                        }),
                        points,
                    })),
                }
            })
            .collect();
        let header = pb::Header { width: 48, height: 48, ..Default::default() };
        (format!("s{id}"), pb::History { header: Some(header), ops })
    }

    #[test]
    fn a_stopped_run_resumes_on_the_same_sessions_and_a_finished_one_lands_in_the_models_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (work, models) = (dir.path().join("work"), dir.path().join("models"));
        let plan = Plan { steps: 6, batch: 2, ..Plan::default() };
        let sessions: Vec<_> = (0..4).map(|i| session(i, 30)).chain([session(9, 5)]).collect();
        // Stopped after the second step.
        let stop = Arc::new(AtomicBool::new(false));
        let mut seen = Vec::new();
        let stopped = personalize(sessions, &work, &models, &plan, stop.clone(), |p| {
            seen.push(p);
            if p.step == 2 {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .unwrap();
        assert!(stopped.is_none());
        assert_eq!(seen.len(), 2);
        // The 5-op session teaches too little; one of the four others, the first listed (latest), is held out.
        assert_eq!((seen[0].sessions, seen[0].held_out, seen[0].ops, seen[0].resumed), (3, 1, 90, false));
        assert!(unfinished(&work, "personal") && !models.exists());

        // Resumed at step 2, whatever sessions are given now.
        let mut steps = Vec::new();
        let done = personalize(Vec::new(), &work, &models, &plan, Arc::new(AtomicBool::new(false)), |p| {
            assert!(p.resumed);
            steps.push(p.step);
        })
        .unwrap()
        .unwrap();
        assert_eq!(steps, [3, 4, 5, 6]);
        assert_eq!((done.name.as_str(), done.sessions, done.held_out), ("personal", 3, 1));
        assert!(done.path.is_file() && models.join("personal.json").is_file());
        assert!(!work.join("personal").exists(), "a finished run leaves no work behind");
        assert!(done.loss_before.is_finite() && done.loss_after.is_finite());
    }

    #[test]
    fn too_few_sessions_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = |sessions, name: &str| {
            let plan = Plan { name: name.into(), steps: 1, ..Plan::default() };
            personalize(sessions, dir.path(), dir.path(), &plan, Arc::new(AtomicBool::new(false)), |_| {})
        };
        let err = run(vec![session(0, 30), session(1, 3)], "personal").unwrap_err().to_string();
        assert!(err.contains("1 recorded session(s) of at least 20 ops: at least 2 are needed"), "{err}");
        let err = run(vec![session(0, 30), session(1, 30)], "../x").unwrap_err().to_string();
        assert!(err.contains("name \"../x\": 1 to 64 letters"), "{err}");
    }
}
