//! The Stable Diffusion path end to end on a tiny random model folder, loaded
//! exactly as a user's folder is.

use candle_core::{DType, Device, Tensor};

use super::*;
use crate::diffusion::SoftMask;
use crate::diffusion::testing::{pasted_inside, striped};
use crate::engine::patch;
use crate::ops::pb;

fn models(inpainting: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny::write(&folder(dir.path(), "tiny"), inpainting).unwrap();
    dir
}

fn dab(seed: u64) -> SdDab {
    SdDab { strength: 1.0, seed, steps: 3 }
}

#[test]
fn a_prompt_paints_under_the_mask_only_and_follows_its_seed() {
    for inpainting in [true, false] {
        let dir = models(inpainting);
        let sd = load(dir.path(), "tiny", &Device::Cpu).unwrap();
        assert_eq!(sd.inpainting(), inpainting);
        let canvas = striped(80, 60);
        let path = [pb::PathPoint { x: 20.0, y: 20.0 }, pb::PathPoint { x: 50.0, y: 30.0 }];
        let mask = SoftMask::from_path(&path, 6.0, 80, 60);
        let paint = |prompt: &str, seed| {
            sd.paint(&canvas, &mask, prompt, &dab(seed), &mut |_, _| true).unwrap().unwrap()
        };
        let p = paint("a red barn", 1);
        assert_eq!(
            (p.x as i64, p.y as i64, p.width as usize, p.height as usize),
            (mask.x, mask.y, mask.width, mask.height)
        );
        assert_eq!(p, paint("a red barn", 1), "same inputs, same pixels");
        assert_ne!(p, paint("a red barn", 2), "another seed");
        assert_ne!(p, paint("blue sky", 1), "another prompt");
        let after = pasted_inside(&canvas, &p, &mask);
        assert_ne!(after, canvas, "the dab changed something");
    }
}

#[test]
fn two_text_encoders_sit_side_by_side_and_a_missing_second_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_with(&folder(dir.path(), "xl"), true, true).unwrap();
    let sd = load(dir.path(), "xl", &Device::Cpu).unwrap();
    assert_eq!(sd.text.len(), 2);
    assert_eq!(sd.text_embeddings("a red barn").unwrap().dims(), [1, 77, 64]);
    // The second encoder pads with "!", the first with <|endoftext|>.
    assert_ne!(sd.text[0].pad_id, sd.text[1].pad_id);
    let canvas = striped(40, 40);
    let mask = SoftMask::from_path(&[pb::PathPoint { x: 20.0, y: 20.0 }], 6.0, 40, 40);
    let p = sd.paint(&canvas, &mask, "snow", &dab(1), &mut |_, _| true).unwrap().unwrap();
    assert_eq!(p, sd.paint(&canvas, &mask, "snow", &dab(1), &mut |_, _| true).unwrap().unwrap());
    std::fs::remove_file(folder(dir.path(), "xl").join(model::CLIP2)).unwrap();
    let e = load(dir.path(), "xl", &Device::Cpu).err().unwrap();
    assert!(e.contains("clip2.safetensors"), "{e}");
}

#[test]
fn progress_counts_the_steps_and_can_cancel_and_strength_zero_keeps_the_pixels() {
    let dir = models(true);
    let sd = load(dir.path(), "tiny", &Device::Cpu).unwrap();
    let canvas = striped(32, 32);
    let mask = SoftMask::from_path(&[pb::PathPoint { x: 16.0, y: 16.0 }], 5.0, 32, 32);
    let mut seen = Vec::new();
    sd.paint(&canvas, &mask, "snow", &dab(1), &mut |i, n| {
        seen.push((i, n));
        true
    })
    .unwrap()
    .unwrap();
    assert_eq!(seen, [(0, 3), (1, 3), (2, 3)]);
    assert!(sd.paint(&canvas, &mask, "snow", &dab(1), &mut |i, _| i < 1).unwrap().is_none());
    // A lighter touch starts part of the way down (SDEdit): fewer steps, still a change.
    let mut seen = Vec::new();
    let half = SdDab { strength: 0.5, seed: 1, steps: 4 };
    let p = sd
        .paint(&canvas, &mask, "snow", &half, &mut |i, n| {
            seen.push((i, n));
            true
        })
        .unwrap()
        .unwrap();
    assert_eq!(seen, [(0, 2), (1, 2)]);
    let mut after = canvas.clone();
    patch::paste(&mut after, &p);
    assert_ne!(after, canvas);
    // A prompt longer than the encoder reads is cut, not refused.
    let long = ["a red barn"; 40].join(" ");
    assert_eq!(sd.text_embeddings(&long).unwrap().dims(), [1, 77, 32]);
    let still = sd
        .paint(&canvas, &mask, "snow", &SdDab { strength: 0.0, ..dab(1) }, &mut |_, _| true)
        .unwrap()
        .unwrap();
    let mut after = canvas.clone();
    patch::paste(&mut after, &still);
    // Unchanged but for the patch's 8-bit rounding.
    for y in 0..32 {
        for x in 0..32 {
            let (a, b) = (after.get(x, y), canvas.get(x, y));
            assert!((0..4).all(|k| (a[k] - b[k]).abs() <= 0.5 / 255.0 + 1e-6), "{x},{y}: {a:?} vs {b:?}");
        }
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = models(true);
    std::fs::remove_file(folder(dir.path(), "tiny").join(model::VAE)).unwrap();
    let e = load(dir.path(), "tiny", &Device::Cpu).err().unwrap();
    assert!(e.contains("is missing") && e.contains("vae.safetensors"), "{e}");
    assert!(summary(&folder(dir.path(), "tiny")).contains("unusable: missing vae.safetensors"));
    let e = load(dir.path(), "other", &Device::Cpu).err().unwrap();
    assert!(e.contains("no Stable Diffusion model \"other\"") && e.contains("found: tiny"), "{e}");
}

/// Rewrites one tensor of a saved file with another shape.
fn reshape_tensor(file: &std::path::Path, name: &str, shape: &[usize]) {
    let mut tensors = candle_core::safetensors::load(file, &Device::Cpu).unwrap();
    tensors.insert(name.to_owned(), Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap());
    candle_core::safetensors::save(&tensors, file).unwrap();
}

#[test]
fn a_tensor_of_the_wrong_shape_or_name_is_named() {
    let dir = models(true);
    let tiny = folder(dir.path(), "tiny");
    let clip = tiny.join(model::CLIP);
    reshape_tensor(&clip, "text_model.embeddings.token_embedding.weight", &[50, 32]);
    let e = load(dir.path(), "tiny", &Device::Cpu).err().unwrap();
    assert!(
        e.contains("clip.safetensors")
            && e.contains("text_model.embeddings.token_embedding.weight")
            && e.contains("[50, 32]"),
        "{e}"
    );

    let dir = models(true);
    let tiny = folder(dir.path(), "tiny");
    reshape_tensor(&tiny.join(model::UNET), "conv_in.weight", &[32, 5, 3, 3]);
    let e = load(dir.path(), "tiny", &Device::Cpu).err().unwrap();
    assert!(e.contains("unet.safetensors") && e.contains("conv_in.weight has shape [32, 5, 3, 3]"), "{e}");

    // The VAE of another model (wider) in place of this one's.
    let dir = models(true);
    let tiny = folder(dir.path(), "tiny");
    reshape_tensor(&tiny.join(model::VAE), "decoder.conv_out.weight", &[3, 32, 3, 3]);
    let e = load(dir.path(), "tiny", &Device::Cpu).err().unwrap();
    assert!(e.contains("vae.safetensors") && e.contains("decoder.conv_out.weight"), "{e}");
}

#[test]
fn a_broken_tokenizer_or_config_is_named() {
    let dir = models(true);
    let tiny = folder(dir.path(), "tiny");
    std::fs::write(tiny.join(model::TOKENIZER), "{}").unwrap();
    let e = load(dir.path(), "tiny", &Device::Cpu).err().unwrap();
    assert!(e.contains("tokenizer.json"), "{e}");
    std::fs::write(tiny.join(model::CONFIG), r#"{"variant": "sd1.5", "steps": 0}"#).unwrap();
    let e = load(dir.path(), "tiny", &Device::Cpu).err().unwrap();
    assert!(e.contains("config.json") && e.contains("steps must be in [1, 1000]"), "{e}");
    assert!(summary(&tiny).contains("unusable"));
}

#[test]
fn folders_are_found_and_summarised() {
    let dir = models(true);
    let found = found(dir.path());
    assert_eq!(found, [folder(dir.path(), "tiny")]);
    assert_eq!(summary(&found[0]), "tiny (custom, 32 px)");
    assert!(super::found(&dir.path().join("nothing")).is_empty());
}
