use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};

use super::*;
use crate::painters::rng::Rng;
use crate::tokenizer::{Field, OpToken, kind};

fn random_tokens(rng: &mut Rng, b: usize, t: usize) -> (Tensor, Tensor) {
    let mut values = Vec::new();
    let mut mask = Vec::new();
    for _ in 0..b * t {
        let mut tok = OpToken::default();
        tok.set(Field::Kind, 1 + rng.index(usize::from(kind::COUNT - 1)) as u16);
        for f in ALL_FIELDS {
            if f != Field::Kind {
                tok.set(f, rng.index(usize::from(f.vocab())) as u16);
            }
        }
        let tok = tok.canonical();
        let used = OpToken::used(tok.get(Field::Kind));
        values.extend(tok.0.iter().map(|&v| u32::from(v)));
        mask.extend(ALL_FIELDS.iter().map(|f| if used.contains(f) { 1f32 } else { 0.0 }));
    }
    let dev = Device::Cpu;
    (
        Tensor::from_vec(values, (b, t, FIELDS), &dev).unwrap(),
        Tensor::from_vec(mask, (b, t, FIELDS), &dev).unwrap(),
    )
}

/// The tiny config with progress seen (the tiny one, like the shipped model, does not).
fn tiny_with_progress() -> Config {
    Config { progress: 8, ..Config::tiny() }
}

fn model(cfg: &Config) -> (VarMap, StrokeTransformer) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let m = StrokeTransformer::new(vb, cfg).unwrap();
    (varmap, m)
}

fn pictures(b: usize, cfg: &Config) -> Tensor {
    Tensor::rand(0f32, 1f32, (b, 3, cfg.image_side, cfg.image_side), &Device::Cpu).unwrap()
}

/// The canvas at each op position as the model sees it (random values).
fn states(b: usize, t: usize, cfg: &Config) -> Tensor {
    Tensor::rand(0f32, 1f32, (b, t, cfg.state_len()), &Device::Cpu).unwrap()
}

fn glimpses(b: usize, t: usize, cfg: &Config) -> Tensor {
    Tensor::rand(0f32, 1f32, (b, t, cfg.glimpse_len()), &Device::Cpu).unwrap()
}

#[test]
fn every_parameter_receives_a_gradient() {
    let cfg = tiny_with_progress();
    let (varmap, m) = model(&cfg);
    // The priors' queries start at zeros, and while they are zero their keys learn nothing.
    learn(&varmap, "place_prior.query.weight");
    learn(&varmap, "shape_prior.query.weight");
    let mut rng = Rng::new(1);
    let (targets, mask) = random_tokens(&mut rng, 2, 5);
    let (inputs, _) = random_tokens(&mut rng, 2, 5);
    for reference in [None, Some(pictures(2, &cfg))] {
        let (g, st) = (glimpses(2, 5, &cfg), states(2, 5, &cfg));
        let loss = m
            .loss(&pictures(2, &cfg), reference.as_ref(), &inputs, Some(&st), &[0, 40], &targets, &g, &mask)
            .unwrap();
        let grads = loss.backward().unwrap();
        let vars = varmap.all_vars();
        let without: Vec<_> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, v)| {
                grads
                    .get(v.as_tensor())
                    .is_none_or(|g| g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() == 0.0)
            })
            .map(|(name, _)| name.clone())
            .collect();
        assert!(
            without.is_empty(),
            "{} of {} parameters got no gradient: {without:?}",
            without.len(),
            vars.len()
        );
    }
}

/// Gives the progress embedding random values (it starts at zeros), as training would.
fn learn_progress(varmap: &VarMap) {
    learn(varmap, "progress_emb.weight");
}

/// Gives a parameter that starts at zeros random values, as training would.
fn learn(varmap: &VarMap, name: &str) {
    let data = varmap.data().lock().unwrap();
    let var = &data[name];
    var.set(&Tensor::randn(0f32, 1f32, var.shape(), &Device::Cpu).unwrap()).unwrap();
}

#[test]
fn cached_generation_matches_the_full_forward() {
    let cfg = tiny_with_progress();
    let (varmap, m) = model(&cfg);
    learn_progress(&varmap);
    learn(&varmap, "state_proj.weight");
    let mut rng = Rng::new(2);
    let (inputs, _) = random_tokens(&mut rng, 1, 6);
    let st = states(1, 6, &cfg);
    let (canvas, reference) = (pictures(1, &cfg), pictures(1, &cfg));
    // 29 ops before the context: its positions cross from one progress bucket to the next.
    let full = m.hidden(&canvas, Some(&reference), &inputs, Some(&st), &[29]).unwrap();

    let mut cache = KvCache::default();
    let (first, firsts) = (inputs.narrow(1, 0, 3).unwrap(), st.narrow(1, 0, 3).unwrap());
    let mut h = m.prefill(&canvas, Some(&reference), &first, Some(&firsts), 29, &mut cache).unwrap();
    let close = |a: &Tensor, b: &Tensor| {
        (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    };
    assert!(close(&h, &full.i((.., 2, ..)).unwrap()) < 1e-4);
    for pos in 3..6 {
        let state = st.narrow(1, pos, 1).unwrap();
        h = m.step(&inputs.narrow(1, pos, 1).unwrap(), Some(&state), pos, &mut cache).unwrap();
        assert!(close(&h, &full.i((.., pos, ..)).unwrap()) < 1e-4, "position {pos}");
    }
    assert_eq!(cache.len(), cfg.prefix_len() + 6);
}

#[test]
fn training_steps_lower_the_loss_on_a_batch() {
    let cfg = Config::tiny();
    let (varmap, m) = model(&cfg);
    let mut rng = Rng::new(3);
    let (targets, mask) = random_tokens(&mut rng, 4, 8);
    let (inputs, _) = random_tokens(&mut rng, 4, 8);
    let canvas = pictures(4, &cfg);
    let (g, st) = (glimpses(4, 8, &cfg), states(4, 8, &cfg));
    let mut opt =
        candle_nn::AdamW::new(varmap.all_vars(), candle_nn::ParamsAdamW { lr: 3e-3, ..Default::default() })
            .unwrap();
    let done = [0; 4];
    let loss = |m: &StrokeTransformer| {
        m.loss(&canvas, None, &inputs, Some(&st), &done, &targets, &g, &mask).unwrap()
    };
    let first = loss(&m).to_scalar::<f32>().unwrap();
    for _ in 0..30 {
        opt.backward_step(&loss(&m)).unwrap();
    }
    let last = loss(&m).to_scalar::<f32>().unwrap();
    assert!(last < 0.5 * first, "{first} -> {last}");
}

#[test]
fn weights_round_trip_through_safetensors() {
    let cfg = Config::tiny();
    let (varmap, m) = model(&cfg);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    varmap.save(&path).unwrap();
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&path], DType::F32, &Device::Cpu).unwrap() };
    let loaded = StrokeTransformer::new(vb, &cfg).unwrap();
    let mut rng = Rng::new(4);
    let (inputs, _) = random_tokens(&mut rng, 1, 4);
    let (canvas, st) = (pictures(1, &cfg), states(1, 4, &cfg));
    let a = m.hidden(&canvas, None, &inputs, Some(&st), &[0]).unwrap();
    let b = loaded.hidden(&canvas, None, &inputs, Some(&st), &[0]).unwrap();
    assert_eq!(a.to_vec3::<f32>().unwrap(), b.to_vec3::<f32>().unwrap());
}

#[test]
fn a_bad_config_is_refused_with_a_reason() {
    let cfg = Config { n_heads: 5, ..Config::tiny() };
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let err = StrokeTransformer::new(vb, &cfg).err().unwrap().to_string();
    assert!(err.contains("not a multiple of n_heads"), "{err}");
}

#[test]
fn a_group_of_targets_after_the_same_positions_gets_the_logits_each_would_alone() {
    let cfg = Config::tiny();
    let (varmap, m) = model(&cfg);
    learn(&varmap, "place_prior.query.weight");
    learn(&varmap, "shape_prior.query.weight");
    let (b, t, group) = (2, 3, 3);
    let mut rng = Rng::new(11);
    let (inputs, _) = random_tokens(&mut rng, b, t);
    let (targets, _) = random_tokens(&mut rng, group * b, t);
    let (st, g) = (states(b, t, &cfg), glimpses(group * b, t, &cfg));
    let hidden = m.hidden(&pictures(b, &cfg), None, &inputs, Some(&st), &[0; 2]).unwrap();
    let grouped = m.group_logits(&hidden, &targets, &g, Some(&st), group).unwrap();
    let repeat = |x: &Tensor| Tensor::cat(&vec![x; group], 0).unwrap();
    let each = m.field_logits(&repeat(&hidden), &targets, &g, Some(&repeat(&st))).unwrap();
    for (field, (a, b)) in ALL_FIELDS.iter().zip(grouped.iter().zip(&each)) {
        let gap = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(gap < 1e-5, "{field:?}: {gap}");
    }
}

#[test]
fn the_fields_after_the_place_read_the_glimpse_and_those_before_do_not() {
    let cfg = Config::tiny();
    let (_, m) = model(&cfg);
    let mut rng = Rng::new(5);
    let (targets, _) = random_tokens(&mut rng, 1, 3);
    let (inputs, _) = random_tokens(&mut rng, 1, 3);
    let hidden = m.hidden(&pictures(1, &cfg), None, &inputs, Some(&states(1, 3, &cfg)), &[0]).unwrap();
    let st = states(1, 3, &cfg);
    let a = m.field_logits(&hidden, &targets, &glimpses(1, 3, &cfg), Some(&st)).unwrap();
    let b = m.field_logits(&hidden, &targets, &glimpses(1, 3, &cfg), Some(&st)).unwrap();
    let differ = |i: usize| {
        (&a[i] - &b[i]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() > 1e-6
    };
    for f in [Field::Kind, Field::X, Field::Y] {
        assert!(!differ(f as usize), "{f:?} is decoded before the glimpse");
    }
    for f in [Field::Red, Field::Size, Field::Dx1, Field::Tolerance] {
        assert!(differ(f as usize), "{f:?} should see the glimpse");
    }
}

#[test]
fn how_far_into_the_picture_it_is_tells_once_learned_and_not_before() {
    let cfg = tiny_with_progress();
    let (varmap, m) = model(&cfg);
    let mut rng = Rng::new(6);
    let (inputs, _) = random_tokens(&mut rng, 1, 1);
    let (canvas, st) = (pictures(1, &cfg), states(1, 1, &cfg));
    let differ = |m: &StrokeTransformer, a: usize, b: usize| {
        let hidden = |done| m.hidden(&canvas, None, &inputs, Some(&st), &[done]).unwrap();
        (hidden(a) - hidden(b)).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() > 1e-6
    };
    // Untrained (zeros), a model fine-tuned from one that never saw progress paints as it did.
    assert!(!differ(&m, 0, 500));
    learn_progress(&varmap);
    assert!(differ(&m, 0, 500));
    // Within one bucket the model cannot tell; fours while blocking in, then coarser.
    assert!(!differ(&m, 8, 11));
    assert!(differ(&m, 8, 12));
    let big = Config::small();
    let buckets: Vec<u32> = [0, 3, 4, 63, 64, 71, 72, 191, 192, 1983, 1984, 1_000_000]
        .iter()
        .map(|&n| big.progress_bucket(n))
        .collect();
    assert_eq!(buckets, [0, 0, 1, 15, 16, 16, 17, 31, 32, 79, 79, 79]);
    assert_eq!(cfg.progress_bucket(10_000), cfg.progress as u32 - 1);
}

#[test]
fn a_config_file_without_progress_is_a_model_that_does_not_see_it() {
    let mut json = serde_json::to_value(Config::small()).unwrap();
    json.as_object_mut().unwrap().remove("progress");
    let cfg: Config = serde_json::from_value(json).unwrap();
    assert_eq!(cfg.progress, 0);
    let varmap = VarMap::new();
    StrokeTransformer::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &cfg).unwrap();
    assert!(varmap.data().lock().unwrap().keys().all(|k| !k.starts_with("progress_emb")));
}

#[test]
fn the_canvas_at_each_op_tells_once_learned_and_a_model_without_it_loads_as_before() {
    let cfg = Config::tiny();
    let (varmap, m) = model(&cfg);
    let mut rng = Rng::new(7);
    let (inputs, _) = random_tokens(&mut rng, 1, 3);
    let canvas = pictures(1, &cfg);
    let (a, b) = (states(1, 3, &cfg), states(1, 3, &cfg));
    let differ = |m: &StrokeTransformer| {
        let hidden = |st: &Tensor| m.hidden(&canvas, None, &inputs, Some(st), &[0]).unwrap();
        (hidden(&a) - hidden(&b)).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
            > 1e-6
    };
    // Untrained (zeros), a model fine-tuned from one that never saw the state paints as it did.
    assert!(!differ(&m));
    learn(&varmap, "state_proj.weight");
    assert!(differ(&m));
    let err = m.hidden(&canvas, None, &inputs, None, &[0]).unwrap_err().to_string();
    assert!(err.contains("no states given"), "{err}");

    // The shipped model's config file has no `state`: it loads without one and needs none.
    let mut json = serde_json::to_value(Config::small()).unwrap();
    json.as_object_mut().unwrap().remove("state");
    let old: Config = serde_json::from_value(json).unwrap();
    assert_eq!(old.state, 0);
    let (varmap, _) = model(&Config { state: 0, pointer: 0, shape: 0, ..Config::tiny() });
    assert!(varmap.data().lock().unwrap().keys().all(|k| !k.starts_with("state_proj")));
}

/// The state input of a white canvas whose reference holds ink in one cell of `g`²
/// (reference − canvas = −1, shifted by ½).
fn ink_state(g: usize, cell: usize) -> Vec<f32> {
    let mut state = vec![1.0f32; 3 * g * g];
    state.extend((0..3).flat_map(|_| (0..g * g).map(|i| if i == cell { -0.5 } else { 0.5 })));
    state
}

/// The place bin in the middle of cell `c` of `g` along one axis.
fn middle_bin(c: usize, g: usize) -> u16 {
    (c * 256 / g + 128 / g) as u16
}

/// Batches where the next op starts in the one cell of the state map whose
/// reference holds ink the canvas lacks: kind, x and y count, nothing else.
fn ink_in_one_cell(rng: &mut Rng, b: usize, cfg: &Config) -> (Tensor, Tensor, Tensor, Vec<usize>) {
    let g = cfg.state;
    let (mut states, mut targets, mut mask, mut cells) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..b {
        let cell = rng.index(g * g);
        cells.push(cell);
        states.extend(ink_state(g, cell));
        let mut tok = OpToken::default();
        tok.set(Field::Kind, kind::BRUSH);
        tok.set(Field::X, middle_bin(cell % g, g));
        tok.set(Field::Y, middle_bin(cell / g, g));
        targets.extend(tok.0.iter().map(|&v| u32::from(v)));
        mask.extend(
            ALL_FIELDS
                .iter()
                .map(|&f| if matches!(f, Field::Kind | Field::X | Field::Y) { 1f32 } else { 0.0 }),
        );
    }
    let dev = Device::Cpu;
    (
        Tensor::from_vec(states, (b, 1, cfg.state_len()), &dev).unwrap(),
        Tensor::from_vec(targets, (b, 1, FIELDS), &dev).unwrap(),
        Tensor::from_vec(mask, (b, 1, FIELDS), &dev).unwrap(),
        cells,
    )
}

/// One op's batch: the state inputs, targets and mask, and the inked cell of each row.
type Batch = (Tensor, Tensor, Tensor, Vec<usize>);

/// Trains a fresh model of `cfg` for 150 steps on batches of 16 single ops drawn by `batch`
/// (a white canvas, no reference), then gives the most likely value of each field on a new
/// batch, with that batch.
fn learn_from(
    cfg: &Config,
    seed: u64,
    batch: fn(&mut Rng, usize, &Config) -> Batch,
) -> (Vec<Vec<u32>>, Batch) {
    let (varmap, m) = model(cfg);
    let mut rng = Rng::new(seed);
    let inputs = Tensor::zeros((16, 1, FIELDS), DType::U32, &Device::Cpu).unwrap();
    let canvas = Tensor::ones((16, 3, cfg.image_side, cfg.image_side), DType::F32, &Device::Cpu).unwrap();
    let g = glimpses(16, 1, cfg);
    let mut opt =
        candle_nn::AdamW::new(varmap.all_vars(), candle_nn::ParamsAdamW { lr: 1e-2, ..Default::default() })
            .unwrap();
    for _ in 0..150 {
        let (states, targets, mask, _) = batch(&mut rng, 16, cfg);
        let loss = m.loss(&canvas, None, &inputs, Some(&states), &[0; 16], &targets, &g, &mask).unwrap();
        opt.backward_step(&loss).unwrap();
    }
    let new = batch(&mut rng, 16, cfg);
    let hidden = m.hidden(&canvas, None, &inputs, Some(&new.0), &[0; 16]).unwrap();
    let logits = m.field_logits(&hidden, &new.1, &g, Some(&new.0)).unwrap();
    let argmax = logits
        .iter()
        .map(|l| l.argmax(D::Minus1).unwrap().flatten_all().unwrap().to_vec1::<u32>().unwrap())
        .collect();
    (argmax, new)
}

#[test]
fn the_place_prior_learns_to_start_where_the_state_map_shows_ink_still_to_paint() {
    let cfg = Config::tiny();
    // On new maps, the most likely x and y fall in the inked cell.
    let (argmax, (_, _, _, cells)) = learn_from(&cfg, 8, ink_in_one_cell);
    let argmax = |f: Field| &argmax[f as usize];
    let (xs, ys) = (argmax(Field::X), argmax(Field::Y));
    let cell_of = |bin: u32| bin as usize * cfg.state / 256;
    let right = cells
        .iter()
        .zip(xs.iter().zip(ys.iter()))
        .filter(|(c, (x, y))| cell_of(**y) * cfg.state + cell_of(**x) == **c)
        .count();
    assert!(right >= 14, "{right} of 16 placed in the inked cell");
}

/// Batches of strokes that start at a random cell, with the reference's ink still to paint
/// in one cell near it: the first step goes to the middle of that cell. Kind, place and the
/// first step count.
fn ink_near_the_start(rng: &mut Rng, b: usize, cfg: &Config) -> (Tensor, Tensor, Tensor, Vec<usize>) {
    let g = cfg.state;
    let (mut states, mut targets, mut mask, mut cells) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let step = |from: usize, to: usize| {
        let d = (to as f32 - from as f32) / g as f32;
        (d.signum() * d.abs().sqrt() * 32.0 + 32.0).round() as u16
    };
    for _ in 0..b {
        let (sy, sx) = (1 + rng.index(g - 2), 1 + rng.index(g - 2));
        let (ty, tx) = loop {
            let (ty, tx) = (sy + rng.index(3) - 1, sx + rng.index(3) - 1);
            if (ty, tx) != (sy, sx) {
                break (ty, tx);
            }
        };
        let cell = ty * g + tx;
        cells.push(cell);
        states.extend(ink_state(g, cell));
        let mut tok = OpToken::default();
        tok.set(Field::Kind, kind::BRUSH);
        tok.set(Field::X, middle_bin(sx, g));
        tok.set(Field::Y, middle_bin(sy, g));
        tok.set(Field::Dx1, step(sx, tx));
        tok.set(Field::Dy1, step(sy, ty));
        assert_eq!(place_prior::step_cells(middle_bin(sx, g), g, 1.0)[usize::from(step(sx, tx))], tx);
        targets.extend(tok.0.iter().map(|&v| u32::from(v)));
        let counts = |f: Field| matches!(f, Field::Kind | Field::X | Field::Y | Field::Dx1 | Field::Dy1);
        mask.extend(ALL_FIELDS.iter().map(|&f| if counts(f) { 1f32 } else { 0.0 }));
    }
    let dev = Device::Cpu;
    (
        Tensor::from_vec(states, (b, 1, cfg.state_len()), &dev).unwrap(),
        Tensor::from_vec(targets, (b, 1, FIELDS), &dev).unwrap(),
        Tensor::from_vec(mask, (b, 1, FIELDS), &dev).unwrap(),
        cells,
    )
}

#[test]
fn the_shape_prior_learns_to_send_the_first_step_to_the_ink_beside_the_start() {
    let cfg = Config { state: 8, ..Config::tiny() };
    // On new maps, the most likely first step (dx, then dy given the true dx) reaches the
    // inked cell.
    let (argmax, (_, targets, _, cells)) = learn_from(&cfg, 9, ink_near_the_start);
    let argmax = |f: Field| &argmax[f as usize];
    let (dxs, dys) = (argmax(Field::Dx1), argmax(Field::Dy1));
    let starts = targets.squeeze(1).unwrap().to_vec2::<u32>().unwrap();
    let right = (0..16)
        .filter(|&i| {
            let (sx, sy) = (starts[i][Field::X as usize] as u16, starts[i][Field::Y as usize] as u16);
            let x = place_prior::step_cells(sx, cfg.state, 1.0)[dxs[i] as usize];
            let y = place_prior::step_cells(sy, cfg.state, 1.0)[dys[i] as usize];
            y * cfg.state + x == cells[i]
        })
        .count();
    assert!(right >= 14, "{right} of 16 first steps reach the inked cell");
}

#[test]
fn sampling_reads_the_same_numbers_as_the_tensor_layers() {
    let cfg = Config::tiny();
    let (varmap, m) = model(&cfg);
    learn(&varmap, "place_prior.query.weight");
    learn(&varmap, "shape_prior.query.weight");
    learn(&varmap, "place_prior.context.1.weight");
    learn(&varmap, "shape_prior.context.1.weight");
    let mut rng = Rng::new(5);
    let (inputs, _) = random_tokens(&mut rng, 1, 1);
    let (hidden, targets, glimpse) =
        (Tensor::randn(0f32, 1f32, (1, 1, cfg.d_model), &Device::Cpu).unwrap(), inputs, glimpses(1, 1, &cfg));
    let state = states(1, 1, &cfg);
    let logits = m.field_logits(&hidden, &targets, &glimpse, Some(&state)).unwrap();
    let close = |a: &[f32], b: &Tensor| {
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max)
    };
    let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();

    // The place prior, then every head read as sampling reads it: the hidden state, plus the
    // fields before it, plus the glimpse after the place; the place prior added to x and y,
    // the shape prior (anchored at the start's cell) to the first step.
    let (h, st) = (values(&hidden), values(&state));
    let joint = m.place_prior_values(&h, Some(&st)).unwrap().unwrap();
    let expected = m.place_prior(&hidden.reshape((1, cfg.d_model)).unwrap(), Some(&state)).unwrap().unwrap();
    assert!(close(&joint, &expected) < 1e-5, "place prior");
    let token = values(&targets.to_dtype(DType::F32).unwrap());
    let mut cond = vec![0.0f32; cfg.d_model];
    let (g, sx, sy) = (cfg.state, token[Field::X as usize] as u16, token[Field::Y as usize] as u16);
    let mut shape = Vec::new();
    for (i, field) in ALL_FIELDS.iter().enumerate() {
        let x: Vec<f32> = h.iter().zip(&cond).map(|(h, c)| h + c).collect();
        let mut got = m.head_values(i, &x).unwrap();
        if *field == Field::Dx1 {
            let anchor = place_prior::anchor(sx, sy, g);
            shape = m.shape_prior_values(&x, Some(&st), anchor).unwrap().unwrap();
        }
        let prior = match field {
            Field::X => Some(place_prior::bias_values(&joint, g, None)),
            Field::Y => Some(place_prior::bias_values(&joint, g, Some(sx))),
            Field::Dx1 => Some(place_prior::step_bias_values(&shape, g, sx, 1.0, None)),
            Field::Dy1 => {
                let reached = place_prior::step_cells(sx, g, 1.0)[token[Field::Dx1 as usize] as usize];
                Some(place_prior::step_bias_values(&shape, g, sy, 1.0, Some(reached)))
            }
            _ => None,
        };
        if let Some(prior) = prior {
            got.iter_mut().zip(prior).for_each(|(l, p)| *l += p);
        }
        assert!(close(&got, &logits[i]) < 1e-4, "field {field:?}");
        if i + 1 < FIELDS {
            m.add_condition(i, token[i] as u32, &mut cond).unwrap();
        }
        if i == PLACE_END {
            m.add_glimpse_condition(&values(&glimpse), &mut cond).unwrap();
        }
    }
    assert!(
        m.add_condition(0, u32::from(kind::COUNT), &mut cond).is_err(),
        "a value past the field's vocabulary"
    );
}

#[test]
fn priors_that_have_learned_nothing_leave_every_field_as_the_heads_alone_give_it() {
    // One set of weights for both models: the one with the priors (queries at zeros, as
    // grown) and the one without.
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let with = StrokeTransformer::new(vb.clone(), &Config::tiny()).unwrap();
    let without = StrokeTransformer::new(vb, &Config { pointer: 0, shape: 0, ..Config::tiny() }).unwrap();
    let cfg = Config::tiny();
    let mut rng = Rng::new(3);
    let (targets, _) = random_tokens(&mut rng, 2, 4);
    let (hidden, g, st) = (
        Tensor::randn(0f32, 1f32, (2, 4, cfg.d_model), &Device::Cpu).unwrap(),
        glimpses(2, 4, &cfg),
        states(2, 4, &cfg),
    );
    let a = with.field_logits(&hidden, &targets, &g, Some(&st)).unwrap();
    let b = without.field_logits(&hidden, &targets, &g, Some(&st)).unwrap();
    for (i, field) in ALL_FIELDS.iter().enumerate() {
        let p = |l: &Tensor| candle_nn::ops::log_softmax(l, D::Minus1).unwrap();
        let gap =
            (p(&a[i]) - p(&b[i])).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(gap < 1e-4, "{field:?} moved by {gap}");
    }
}
