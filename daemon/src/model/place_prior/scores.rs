//! The prior's scores of every cell for a batch of rows, as one CPU kernel with a backward
//! pass of its own: how training computes [`PlacePrior::forward`].
//!
//! From tensor ops a batch's cells are `[N, g², k]` tensors: for 8 windows of 64 ops on a
//! 32² view, 134 MB each, some fifteen of them forward and back (the neighbourhoods, each
//! scale's features gathered and added, the GELU, their gradients), and that was four fifths
//! of a training step. Here each row's cells are summed in plain numbers as sampling sums
//! them ([`Sums`]), one row at a time on each thread, and never stored: the backward pass
//! sums them again. The state inputs are data: they get no gradient.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::PlacePrior;
use super::cells::{Sums, Weights, gelu_in_place, neighbourhood};
use crate::model::cpu::values;
use crate::model::plain;

/// Whether [`scores`] runs for state inputs like `states`: f32 on the CPU.
pub(super) fn runs_on(states: &Tensor) -> bool {
    states.device().is_cpu() && states.dtype() == DType::F32
}

/// `gelu(features of cell c for row n) · asked[n]` for every row and cell, `[N, g²]`, for
/// `asked` `[N, k]` and the state inputs `[N, state_len]` (an unanchored prior).
pub(super) fn scores(prior: &PlacePrior, asked: &Tensor, states: &Tensor) -> Result<Tensor> {
    let (g, k) = (prior.side, prior.width);
    let op = Scores { g, k, c: states.dim(1)? / (g * g), scales: 1 + prior.context.len() };
    asked.contiguous()?.apply_op3(&prior.packed()?, &states.contiguous()?, op)
}

struct Scores {
    g: usize,
    k: usize,
    c: usize,
    scales: usize,
}

impl Scores {
    fn weights(&self, packed: &[f32]) -> Weights {
        Weights::unpack(packed, self.g, self.k, self.c, self.scales)
    }
}

impl CustomOp3 for Scores {
    fn name(&self) -> &'static str {
        "place-prior-scores"
    }

    fn cpu_fwd(
        &self,
        a_s: &CpuStorage,
        a_l: &Layout,
        p_s: &CpuStorage,
        p_l: &Layout,
        s_s: &CpuStorage,
        s_l: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let asked = values(a_s, a_l, "place prior: asked")?;
        let w = self.weights(values(p_s, p_l, "place prior: weights")?);
        let states = values(s_s, s_l, "place prior: states")?;
        let (area, k) = (self.g * self.g, self.k);
        let n = asked.len() / k;
        let mut out = vec![0.0f32; n * area];
        out.par_chunks_mut(area)
            .zip(asked.par_chunks(k))
            .zip(states.par_chunks(states.len() / n.max(1)))
            .for_each_init(
                || (Sums::default(), vec![0.0f32; k]),
                |(sums, row), ((out, asked), state)| {
                    sums.set(&w, state);
                    for (cell, score) in out.iter_mut().enumerate() {
                        sums.features(&w, cell, row);
                        gelu_in_place(row);
                        *score = plain::dot(asked, row);
                    }
                },
            );
        Ok((CpuStorage::F32(out), Shape::from((n, area))))
    }

    fn bwd(
        &self,
        asked: &Tensor,
        packed: &Tensor,
        states: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (area, k) = (self.g * self.g, self.k);
        let grad = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let a = asked.flatten_all()?.to_vec1::<f32>()?;
        let w = plain::read(packed, |p| self.weights(p))?;
        let n = a.len() / k;
        let mut d_asked = vec![0.0f32; a.len()];
        let grads = plain::read(states, |states| {
            d_asked
                .par_chunks_mut(k)
                .zip(grad.par_chunks(area))
                .zip(a.par_chunks(k))
                .zip(states.par_chunks(states.len() / n.max(1)))
                .with_min_len(8)
                .fold(
                    || Work::new(&w),
                    |mut work, (((d_asked, grad), asked), state)| {
                        work.row(&w, state, asked, grad, d_asked);
                        work
                    },
                )
                .map(|work| work.grads)
                .reduce(|| Grads::zeros(&w), Grads::add)
        })?;
        let d_packed = Tensor::from_vec(grads.pack(&w), packed.shape(), packed.device())?;
        let d_asked = Tensor::from_vec(d_asked, asked.shape(), asked.device())?;
        Ok((Some(d_asked), Some(d_packed), None))
    }
}

/// The weights' gradients as [`Weights`] holds them (each scale's weight transposed).
struct Grads {
    weights: Vec<Vec<f32>>,
    bias: Vec<Vec<f32>>,
    pos: Vec<f32>,
}

impl Grads {
    fn zeros(w: &Weights) -> Grads {
        Grads {
            weights: w.scales.iter().map(|s| vec![0.0; s.weights.len()]).collect(),
            bias: w.scales.iter().map(|s| vec![0.0; s.bias.len()]).collect(),
            pos: vec![0.0; w.pos.len()],
        }
    }

    fn add(mut self, other: Grads) -> Grads {
        let pairs = self.weights.iter_mut().zip(&other.weights).chain(self.bias.iter_mut().zip(&other.bias));
        for (a, b) in pairs.chain(std::iter::once((&mut self.pos, &other.pos))) {
            plain::add_scaled(a, 1.0, b);
        }
        self
    }

    /// In [`PlacePrior::packed`]'s layout.
    fn pack(&self, w: &Weights) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.pos.len() * 2);
        for (weights, bias) in self.weights.iter().zip(&self.bias) {
            out.extend(plain::transpose(weights, 9 * w.c, w.k));
            out.extend_from_slice(bias);
        }
        out.extend_from_slice(&self.pos);
        out
    }
}

/// One thread's sums, gradients and room to work in.
struct Work {
    sums: Sums,
    grads: Grads,
    /// Each cell's features, then their gradient, `[g², k]`; a coarser scale's rows'.
    cells: Vec<f32>,
    coarse: Vec<f32>,
    taps: Vec<(f32, usize)>,
}

impl Work {
    fn new(w: &Weights) -> Work {
        Work {
            sums: Sums::default(),
            grads: Grads::zeros(w),
            cells: vec![0.0; w.pos.len()],
            coarse: Vec::new(),
            taps: Vec::new(),
        }
    }

    /// One row's gradients: `asked`'s into `d_asked`, the weights' added to [`Self::grads`],
    /// from the gradient of its scores `grad` (`g²`).
    fn row(&mut self, w: &Weights, state: &[f32], asked: &[f32], grad: &[f32], d_asked: &mut [f32]) {
        let (g, k) = (w.g, w.k);
        self.sums.set(w, state);
        for (cell, (features, &go)) in self.cells.chunks_exact_mut(k).zip(grad).enumerate() {
            self.sums.features(w, cell, features);
            backward_gelu_dot(features, asked, go, d_asked);
            plain::add_scaled(&mut self.grads.pos[cell * k..(cell + 1) * k], 1.0, features);
        }
        // Each scale's rows feed every cell under them: their gradient is the sum of those
        // cells', and through the neighbourhood it reaches the scale's weight and bias.
        for (s, scale) in w.scales.iter().enumerate() {
            let (f, gs) = (scale.f, g / scale.f);
            let rows = if f == 1 {
                &self.cells
            } else {
                self.coarse.clear();
                self.coarse.resize(gs * gs * k, 0.0);
                for (cell, features) in self.cells.chunks_exact(k).enumerate() {
                    let under = super::coarse_cell(cell, g, f);
                    plain::add_scaled(&mut self.coarse[under * k..(under + 1) * k], 1.0, features);
                }
                &self.coarse
            };
            let (weights, bias) = (&mut self.grads.weights[s], &mut self.grads.bias[s]);
            neighbourhood_gradients(weights, bias, self.sums.map(s), gs, rows, &mut self.taps);
        }
    }
}

/// Adds to a scale's weight (transposed) and bias the gradients that its rows `d_rows`
/// (`g`² rows, `k` wide, for the map `map`) pass on. Compiled for the wider vector units too.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
fn neighbourhood_gradients(
    d_weights: &mut [f32],
    d_bias: &mut [f32],
    map: &[f32],
    g: usize,
    d_rows: &[f32],
    taps: &mut Vec<(f32, usize)>,
) {
    let k = d_bias.len();
    for (cell, d_row) in d_rows.chunks_exact(k).enumerate() {
        plain::add_scaled(d_bias, 1.0, d_row);
        neighbourhood(taps, map, g, cell, k);
        for &(v, at) in taps.iter() {
            plain::add_scaled(&mut d_weights[at..at + k], v, d_row);
        }
    }
}

/// For one cell's features `x` whose score is `gelu(x) · asked` and gets gradient `go`:
/// adds `go · gelu(x)` to `d_asked` and leaves in `x` its own gradient,
/// `go · asked ⊙ gelu'(x)`. Compiled for the wider vector units too.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
fn backward_gelu_dot(x: &mut [f32], asked: &[f32], go: f32, d_asked: &mut [f32]) {
    for ((x, a), d) in x.iter_mut().zip(asked).zip(d_asked.iter_mut()) {
        let (value, slope) = crate::model::gelu::value_and_slope(*x);
        *d += go * value;
        *x = go * a * slope;
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;

    /// The cells' scores, and the gradients of a weighted sum of them for every weight they
    /// are summed with and for what the hidden states ask: by the kernel and by candle's ops.
    #[test]
    fn the_kernel_gives_the_tensor_ops_values_and_gradients() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        // 8² cells three scales deep, 20 wide (a whole vector block and a tail).
        let prior = PlacePrior::new(vb, 12, 8, 20, 2).unwrap();
        for (name, var) in varmap.data().lock().unwrap().iter() {
            var.set(&Tensor::randn(0f32, 0.5, var.shape(), &dev).unwrap()).expect(name);
        }
        let len = crate::model::inputs::state_len(8);
        // Three rows in copy mode, two without a reference (its planes all a half: zeros).
        let mut states: Vec<f32> = (0..5 * len).map(|i| (i as f32 * 0.37).sin() * 0.5 + 0.5).collect();
        for row in 3..5 {
            states[row * len + len / 2..(row + 1) * len].fill(0.5);
        }
        let states = Tensor::from_vec(states, (5, len), &dev).unwrap();
        let asked = Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 20), &dev).unwrap()).unwrap();
        let weights = Tensor::randn(0f32, 1.0, (5, 64), &dev).unwrap();
        let run = |kernel: bool| {
            let scores = match kernel {
                true => scores(&prior, asked.as_tensor(), &states).unwrap(),
                false => prior.scores_by_tensor_ops(asked.as_tensor(), &states, None).unwrap(),
            };
            let grads = (&scores * &weights).unwrap().sum_all().unwrap().backward().unwrap();
            let mut out = vec![("scores".to_string(), scores)];
            out.push(("asked".into(), grads.get(asked.as_tensor()).expect("asked's gradient").clone()));
            for (name, var) in varmap.data().lock().unwrap().iter() {
                if let Some(grad) = grads.get(var.as_tensor()) {
                    out.push((name.clone(), grad.clone()));
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        };
        let (kernel, by_ops) = (run(true), run(false));
        let names = |o: &[(String, Tensor)]| o.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&kernel),
            [
                "asked",
                "cell_pos",
                "cells.bias",
                "cells.weight",
                "context.1.bias",
                "context.1.weight",
                "context.2.bias",
                "context.2.weight",
                "scores"
            ],
            "every weight the cells are summed with"
        );
        assert_eq!(names(&kernel), names(&by_ops));
        for ((name, k), (_, e)) in kernel.iter().zip(&by_ops) {
            let scale = e.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
            let diff = (k - e).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
            let diff = diff.to_scalar::<f32>().unwrap();
            assert!(scale > 0.0, "{name}: a gradient that is not all zeros");
            assert!(diff <= 1e-4 * scale.max(1.0), "{name} differs by {diff} (largest {scale})");
        }
    }
}
