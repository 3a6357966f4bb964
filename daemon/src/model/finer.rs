//! A model's canvas view made twice as fine (`state` 16 → 32), its weights carried over so
//! that it starts out painting exactly as before.
//!
//! - The view enters the trunk through a linear map; a cell of the coarse view is the mean of
//!   the four fine cells it covers, so each coarse weight, split in four, gives the same sum.
//! - A prior's cell read its 3 × 3 neighbourhood; on the fine view, that neighbourhood is the
//!   one of the view pooled 2 × 2, its first context scale. So the cells' linear becomes
//!   context 1, context s becomes s + 1, and the fine cells' own linear starts at zeros; each
//!   fine cell takes its coarse cell's position. Every fine cell under a coarse one then has
//!   its features: the four share the coarse cell's probability evenly, which shifts every
//!   place bin's log-probability by the same amount, and sampling is unchanged.
//!
//! The shape prior's offsets (where a cell lies from the stroke's start) do not carry over
//! exactly and are refused; a model without one grows it on the fine view.

use std::collections::HashMap;

use candle_core::{Result, Shape, Tensor};

/// Planes of the state input: the canvas and what the reference holds beyond it, RGB each.
const PLANES: usize = crate::model::inputs::state_len(1);

/// Whether parameter `name` is one a finer view grows: the priors' cells' own neighbourhood
/// on the fine view, which starts at zeros and so has everything still to learn.
pub fn grown(name: &str) -> bool {
    ["place_prior.cells.", "shape_prior.cells."].iter().any(|p| name.starts_with(p))
}

/// Whether `tensors` (a model's weights) see the canvas half as finely as a model of
/// `target`'s shapes: then [`carry`] grows the [`grown`] parameters.
pub fn makes_finer(tensors: &HashMap<String, Tensor>, target: &HashMap<String, Shape>) -> bool {
    matches!(
        (tensors.get("state_proj.weight"), target.get("state_proj.weight")),
        (Some(old), Some(new)) if old.shape() != new
    )
}

/// `tensors` of a model whose view is half as fine as `target`'s (the shapes of the model being
/// made, by name), carried over to it; unchanged when the views are the same side.
pub fn carry(
    mut tensors: HashMap<String, Tensor>,
    target: &HashMap<String, Shape>,
) -> Result<HashMap<String, Tensor>> {
    if !makes_finer(&tensors, target) {
        return Ok(tensors);
    }
    let (old, new) = (&tensors["state_proj.weight"], &target["state_proj.weight"]);
    let (d, len) = old.dims2()?;
    let side = ((len / PLANES) as f64).sqrt() as usize;
    if new.dims() != [d, 4 * len] {
        candle_core::bail!(
            "its canvas view is {side}² ({len} values) and the model's has {} values: only a view twice as fine grows from it",
            new.dims().get(1).copied().unwrap_or(0)
        );
    }
    let split = old.reshape((d, PLANES, side, 1, side, 1))?.repeat((1, 1, 1, 2, 1, 2))?;
    tensors.insert("state_proj.weight".into(), (split.reshape((d, 4 * len))? * 0.25)?);
    for prior in ["place_prior", "shape_prior"] {
        let name = |part: &str| format!("{prior}.{part}");
        if !tensors.contains_key(&name("cells.weight")) {
            continue;
        }
        if tensors.contains_key(&name("offsets")) {
            candle_core::bail!("{prior}: a shape prior's offsets cannot be carried to a finer view");
        }
        let pos = &tensors[&name("cell_pos")];
        let width = pos.dim(1)?;
        let fine = pos.reshape((side, 1, side, 1, width))?.repeat((1, 2, 1, 2, 1))?;
        tensors.insert(name("cell_pos"), fine.reshape((4 * side * side, width))?);
        let scales =
            (1..).take_while(|s| tensors.contains_key(&name(&format!("context.{s}.weight")))).count();
        if !target.contains_key(&name(&format!("context.{}.weight", scales + 1))) {
            candle_core::bail!(
                "{prior}: its cells read {scales} context scales; on a view twice as fine the model needs {}",
                scales + 1
            );
        }
        for s in (0..=scales).rev() {
            let from = if s == 0 { "cells".to_string() } else { format!("context.{s}") };
            for part in ["weight", "bias"] {
                if let Some(t) = tensors.remove(&name(&format!("{from}.{part}"))) {
                    tensors.insert(name(&format!("context.{}.{part}", s + 1)), t);
                }
            }
        }
        for part in ["weight", "bias"] {
            let moved = &tensors[&name(&format!("context.1.{part}"))];
            tensors.insert(name(&format!("cells.{part}")), moved.zeros_like()?);
        }
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;
    use crate::model::stroke_transformer::{Config, StrokeTransformer};

    fn model(cfg: &Config) -> (VarMap, StrokeTransformer) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let m = StrokeTransformer::new(vb, cfg).unwrap();
        (varmap, m)
    }

    fn tensors(varmap: &VarMap) -> HashMap<String, Tensor> {
        varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().copy().unwrap()))
            .collect()
    }

    #[test]
    fn a_view_twice_as_fine_places_and_sees_as_before() {
        let coarse = Config { shape: 0, state: 4, context: 1, ..Config::tiny() };
        let fine = Config { state: 8, context: 2, ..coarse.clone() };
        let (old_vars, old) = model(&coarse);
        // Trained-looking weights where they start at zeros.
        for name in ["place_prior.query.weight", "state_proj.weight", "place_prior.context.1.weight"] {
            let var = &old_vars.data().lock().unwrap()[name];
            var.set(&Tensor::randn(0f32, 1f32, var.shape(), &Device::Cpu).unwrap()).unwrap();
        }
        let (new_vars, new) = model(&fine);
        let shapes: HashMap<String, Shape> =
            new_vars.data().lock().unwrap().iter().map(|(n, v)| (n.clone(), v.shape().clone())).collect();
        let carried = carry(tensors(&old_vars), &shapes).unwrap();
        for (name, var) in new_vars.data().lock().unwrap().iter() {
            var.set(&carried[name]).unwrap();
        }
        // A canvas with paint on it, seen by each model at its own side.
        let canvas = crate::training::scenes::scene(64, 64, 3);
        let reference = crate::training::scenes::scene(64, 64, 4);
        let state = |side: usize| {
            let small = |c| crate::model::inputs::state_picture(c, side);
            crate::model::inputs::state(&small(&canvas), Some(&small(&reference)))
        };
        let hidden: Vec<f32> = (0..coarse.d_model).map(|i| (i as f32 * 0.37).sin()).collect();
        let (a, b) = (
            old.place_prior_values(&hidden, Some(&state(4))).unwrap().unwrap(),
            new.place_prior_values(&hidden, Some(&state(8))).unwrap().unwrap(),
        );
        for x in [None, Some(0u16), Some(100), Some(255)] {
            let (pa, pb) = (
                crate::model::place_prior::bias_values(&a, 4, x),
                crate::model::place_prior::bias_values(&b, 8, x),
            );
            // The same distribution over bins: the fine one shifted by one constant.
            let shift = pb[0] - pa[0];
            let gap = pa.iter().zip(&pb).map(|(a, b)| (b - a - shift).abs()).fold(0.0f32, f32::max);
            assert!(gap < 1e-4, "x {x:?}: {gap}");
        }
        // The trunk reads the same sum from the fine view.
        let project = |vars: &VarMap, s: &[f32]| {
            let w = &vars.data().lock().unwrap()["state_proj.weight"];
            let s = Tensor::from_slice(s, (s.len(), 1), &Device::Cpu).unwrap();
            let centred = (s - 0.5).unwrap();
            w.as_tensor().matmul(&centred).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        let (pa, pb) = (project(&old_vars, &state(4)), project(&new_vars, &state(8)));
        let gap = pa.iter().zip(&pb).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(gap < 1e-3, "{gap}");
    }

    #[test]
    fn only_a_view_twice_as_fine_and_no_shape_prior_are_carried() {
        let coarse = Config { shape: 0, state: 4, context: 1, ..Config::tiny() };
        let shapes = |cfg: &Config| -> HashMap<String, Shape> {
            let (vars, _) = model(cfg);
            vars.data().lock().unwrap().iter().map(|(n, v)| (n.clone(), v.shape().clone())).collect()
        };
        let (vars, _) = model(&coarse);
        let same = carry(tensors(&vars), &shapes(&coarse)).unwrap();
        assert_eq!(same["state_proj.weight"].dims(), tensors(&vars)["state_proj.weight"].dims());
        let err = carry(tensors(&vars), &shapes(&Config { state: 16, context: 1, ..coarse.clone() }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("twice as fine"), "{err}");
        let err = carry(tensors(&vars), &shapes(&Config { state: 8, context: 1, ..coarse.clone() }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs 2"), "{err}");
        let (with_shape, _) = model(&Config { state: 4, context: 1, ..Config::tiny() });
        let err = carry(tensors(&with_shape), &shapes(&Config { state: 8, context: 2, ..Config::tiny() }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("offsets"), "{err}");
    }
}
