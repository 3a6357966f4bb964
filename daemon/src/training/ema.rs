//! An exponential moving average of a model's weights, the usual companion of
//! diffusion training: each step's gradient is taken at one random noise level
//! of a few examples, so the trained weights wander around a good point, and
//! their average sits nearer it. The average is what gets evaluated and saved.

use candle_core::{Result, Tensor, Var};
use candle_nn::VarMap;

pub struct Ema {
    decay: f64,
    /// Each parameter with its average.
    pairs: Vec<(Var, Tensor)>,
}

impl Ema {
    /// Starts the average at the weights as they are now (fresh or loaded).
    pub fn new(varmap: &VarMap, decay: f64) -> Result<Ema> {
        let pairs = varmap
            .all_vars()
            .into_iter()
            .map(|v| {
                let copy = v.as_tensor().detach().copy()?;
                Ok((v, copy))
            })
            .collect::<Result<_>>()?;
        Ok(Ema { decay, pairs })
    }

    /// Moves the average towards the weights after an optimizer step. The weights are read
    /// detached: arithmetic on a variable records its history for backprop, and each step's
    /// average would hold on to all the averages before it.
    pub fn update(&mut self) -> Result<()> {
        for (var, avg) in &mut self.pairs {
            *avg = ((&*avg * self.decay)? + (var.as_tensor().detach() * (1.0 - self.decay))?)?;
        }
        Ok(())
    }

    /// Runs `f` with the averaged weights in the model, then puts the trained ones back.
    pub fn with_average<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        let trained =
            self.pairs.iter().map(|(v, _)| v.as_tensor().detach().copy()).collect::<Result<Vec<_>>>()?;
        for (var, avg) in &self.pairs {
            var.set(avg)?;
        }
        let out = f();
        for ((var, _), t) in self.pairs.iter().zip(&trained) {
            var.set(t)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn value(v: &Var) -> Vec<f32> {
        v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn the_average_trails_the_weights_and_is_swapped_in_only_while_asked() {
        let varmap = VarMap::new();
        let w = varmap.get(2, "w", candle_nn::Init::Const(0.0), DType::F32, &Device::Cpu).unwrap();
        let var = varmap.all_vars().remove(0);
        let mut ema = Ema::new(&varmap, 0.75).unwrap();
        var.set(&Tensor::new(&[4f32, 8.0], &Device::Cpu).unwrap()).unwrap();
        ema.update().unwrap();
        // A quarter of the way from 0 towards the new weights.
        let seen = ema.with_average(|| w.flatten_all().unwrap().to_vec1::<f32>().unwrap()).unwrap();
        assert_eq!(seen, [1.0, 2.0]);
        assert_eq!(value(&var), [4.0, 8.0], "the trained weights come back");
        ema.update().unwrap();
        let seen = ema.with_average(|| value(&var)).unwrap();
        assert_eq!(seen, [1.75, 3.5]);
        assert!(ema.pairs.iter().all(|(_, avg)| !avg.track_op()), "the average keeps no history");
    }
}
