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

fn model(cfg: &Config) -> (VarMap, StrokeTransformer) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let m = StrokeTransformer::new(vb, cfg).unwrap();
    (varmap, m)
}

fn pictures(b: usize, cfg: &Config) -> Tensor {
    Tensor::rand(0f32, 1f32, (b, 3, cfg.image_side, cfg.image_side), &Device::Cpu).unwrap()
}

fn glimpses(b: usize, t: usize, cfg: &Config) -> Tensor {
    Tensor::rand(0f32, 1f32, (b, t, cfg.glimpse_len()), &Device::Cpu).unwrap()
}

#[test]
fn every_parameter_receives_a_gradient() {
    let cfg = Config::tiny();
    let (varmap, m) = model(&cfg);
    let mut rng = Rng::new(1);
    let (targets, mask) = random_tokens(&mut rng, 2, 5);
    let (inputs, _) = random_tokens(&mut rng, 2, 5);
    for reference in [None, Some(pictures(2, &cfg))] {
        let g = glimpses(2, 5, &cfg);
        let loss = m.loss(&pictures(2, &cfg), reference.as_ref(), &inputs, &targets, &g, &mask).unwrap();
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

#[test]
fn cached_generation_matches_the_full_forward() {
    let cfg = Config::tiny();
    let (_, m) = model(&cfg);
    let mut rng = Rng::new(2);
    let (inputs, _) = random_tokens(&mut rng, 1, 6);
    let (canvas, reference) = (pictures(1, &cfg), pictures(1, &cfg));
    let full = m.hidden(&canvas, Some(&reference), &inputs).unwrap();

    let mut cache = KvCache::default();
    let mut h = m.prefill(&canvas, Some(&reference), &inputs.narrow(1, 0, 3).unwrap(), &mut cache).unwrap();
    let close = |a: &Tensor, b: &Tensor| {
        (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    };
    assert!(close(&h, &full.i((.., 2, ..)).unwrap()) < 1e-4);
    for pos in 3..6 {
        h = m.step(&inputs.narrow(1, pos, 1).unwrap(), pos, &mut cache).unwrap();
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
    let g = glimpses(4, 8, &cfg);
    let mut opt =
        candle_nn::AdamW::new(varmap.all_vars(), candle_nn::ParamsAdamW { lr: 3e-3, ..Default::default() })
            .unwrap();
    let first = m.loss(&canvas, None, &inputs, &targets, &g, &mask).unwrap().to_scalar::<f32>().unwrap();
    for _ in 0..30 {
        let loss = m.loss(&canvas, None, &inputs, &targets, &g, &mask).unwrap();
        opt.backward_step(&loss).unwrap();
    }
    let last = m.loss(&canvas, None, &inputs, &targets, &g, &mask).unwrap().to_scalar::<f32>().unwrap();
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
    let canvas = pictures(1, &cfg);
    let a = m.hidden(&canvas, None, &inputs).unwrap();
    let b = loaded.hidden(&canvas, None, &inputs).unwrap();
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
fn the_fields_after_the_place_read_the_glimpse_and_those_before_do_not() {
    let cfg = Config::tiny();
    let (_, m) = model(&cfg);
    let mut rng = Rng::new(5);
    let (targets, _) = random_tokens(&mut rng, 1, 3);
    let (inputs, _) = random_tokens(&mut rng, 1, 3);
    let hidden = m.hidden(&pictures(1, &cfg), None, &inputs).unwrap();
    let a = m.field_logits(&hidden, &targets, &glimpses(1, 3, &cfg)).unwrap();
    let b = m.field_logits(&hidden, &targets, &glimpses(1, 3, &cfg)).unwrap();
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
