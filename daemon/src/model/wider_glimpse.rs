//! A model's glimpse given more views (`glimpse_views` 2 → 3: the whole canvas's side around
//! the place, beside the two closer ones), its weights carried over so that it starts out
//! painting exactly as before.
//!
//! The glimpse enters the heads through one linear map over `[canvas views | reference views |
//! flag]`, each picture's views in [`crate::model::inputs::GLIMPSE_SCALES`] order, so a picture
//! with more views starts with the values it had. The map's columns for the added views
//! start at zeros: what the model reads from the glimpse is unchanged until they learn.

use std::collections::HashMap;

use candle_core::{Result, Shape, Tensor};

const WEIGHT: &str = "glimpse_in.weight";

/// `tensors` of a model whose glimpse has fewer views than `target`'s (the shapes of the model
/// being made, by name), carried over to it; unchanged when the glimpses are the same.
pub fn carry(
    mut tensors: HashMap<String, Tensor>,
    target: &HashMap<String, Shape>,
) -> Result<HashMap<String, Tensor>> {
    let (Some(old), Some(new)) = (tensors.get(WEIGHT), target.get(WEIGHT)) else {
        return Ok(tensors);
    };
    let ((d, old_len), &[new_d, new_len]) = (old.dims2()?, new.dims()) else {
        candle_core::bail!("{WEIGHT}: expected a matrix in the model being made");
    };
    if old_len == new_len {
        return Ok(tensors);
    }
    // Each picture's block, without the flag at the end.
    let (was, is) = ((old_len - 1) / 2, (new_len.saturating_sub(1)) / 2);
    if new_d != d || is < was || 2 * is + 1 != new_len || 2 * was + 1 != old_len {
        candle_core::bail!(
            "its glimpse has {old_len} values and the model's {new_len}: only views added after the ones it has grow from it"
        );
    }
    let zeros = Tensor::zeros((d, is - was), old.dtype(), old.device())?;
    let parts =
        [old.narrow(1, 0, was)?, zeros.clone(), old.narrow(1, was, was)?, zeros, old.narrow(1, 2 * was, 1)?];
    let grown = Tensor::cat(&parts, 1)?;
    tensors.insert(WEIGHT.into(), grown);
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;
    use crate::model::inputs::glimpse;
    use crate::model::stroke_transformer::{Config, StrokeTransformer};

    fn model(cfg: &Config) -> (VarMap, StrokeTransformer) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let m = StrokeTransformer::new(vb, cfg).unwrap();
        (varmap, m)
    }

    fn shapes(varmap: &VarMap) -> HashMap<String, Shape> {
        varmap.data().lock().unwrap().iter().map(|(n, v)| (n.clone(), v.shape().clone())).collect()
    }

    #[test]
    fn a_glimpse_with_a_wider_view_reads_as_before_until_it_learns() {
        let two = Config { glimpse_views: 2, ..Config::tiny() };
        let three = Config { glimpse_views: 3, ..two.clone() };
        let (old_vars, old) = model(&two);
        let (new_vars, new) = model(&three);
        let tensors = old_vars
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().copy().unwrap()))
            .collect();
        let carried = carry(tensors, &shapes(&new_vars)).unwrap();
        for (name, var) in new_vars.data().lock().unwrap().iter() {
            var.set(&carried[name]).unwrap();
        }
        // Each model's glimpse of the same place on the same canvas and reference.
        let canvas = crate::training::scenes::scene(96, 64, 3);
        let reference = crate::training::scenes::scene(96, 64, 4);
        let look = |views: usize| {
            let mut g = glimpse(&canvas, 30.0, 20.0, two.glimpse, views);
            g.extend(glimpse(&reference, 30.0, 20.0, two.glimpse, views));
            g.push(1.0);
            g
        };
        let (a, b) = (look(2), look(3));
        assert_eq!((a.len(), b.len()), (two.glimpse_len(), three.glimpse_len()));
        let mut cond_a = vec![0.0; two.d_model];
        let mut cond_b = cond_a.clone();
        old.add_glimpse_condition(&a, &mut cond_a).unwrap();
        new.add_glimpse_condition(&b, &mut cond_b).unwrap();
        assert!(cond_a.iter().any(|v| v.abs() > 1e-3), "the glimpse says something");
        let gap = cond_a.iter().zip(&cond_b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(gap < 1e-5, "{gap}");
        // And the wider view is there to learn from: its columns are the only zeros.
        let w = carried[WEIGHT].abs().unwrap().sum(0).unwrap().to_vec1::<f32>().unwrap();
        let zero: Vec<bool> = w.iter().map(|&v| v == 0.0).collect();
        let per = crate::model::inputs::glimpse_len(two.glimpse, 1);
        let expect: Vec<bool> = (0..w.len()).map(|i| (2 * per..3 * per).contains(&(i % (3 * per)))).collect();
        assert_eq!(zero[..6 * per], expect[..6 * per]);
        assert!(!zero[6 * per], "the reference flag's column is carried");
    }

    #[test]
    fn a_glimpse_with_fewer_views_does_not_grow_from_one_with_more() {
        let (three_vars, _) = model(&Config::tiny());
        let (two_vars, _) = model(&Config { glimpse_views: 2, ..Config::tiny() });
        let tensors = three_vars
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().copy().unwrap()))
            .collect();
        let err = carry(tensors, &shapes(&two_vars)).unwrap_err().to_string();
        assert!(err.contains("only views added after the ones it has"), "{err}");
    }
}
