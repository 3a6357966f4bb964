//! The prior's cells in plain numbers, for sampling op by op (see [`crate::model::plain`] for
//! why plain numbers): each cell's features, through the GELU, ready for the hidden state
//! to ask of them.
//!
//! A cell's features depend on the state map alone; the hidden state only asks. On a 32²
//! view summing every cell's neighbourhoods was most of what an op cost, yet between two
//! ops a stroke changes a few cells: [`Cells::update`] sums again only the cells whose
//! neighbourhood, at any scale, holds a changed one — the same sums as made afresh.

use candle_core::Result;

use super::{PlacePrior, coarse_cell};
use crate::model::plain;

/// The prior's weights in plain numbers, unpacked from [`PlacePrior::packed`].
pub(super) struct Weights {
    /// Cells per side, width of a cell's features, planes of the state map.
    pub g: usize,
    pub k: usize,
    pub c: usize,
    /// The map itself (`f` 1), then each coarser scale (context).
    pub scales: Vec<ScaleWeights>,
    /// Each cell's position embedding, `[g², k]`.
    pub pos: Vec<f32>,
}

/// One scale's linear: the map itself (`f` 1) or pooled `f` × `f`.
pub(super) struct ScaleWeights {
    pub f: usize,
    /// The weight transposed, one row (k wide) per neighbourhood value: `[9 c, k]`.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Weights {
    /// From `packed` ([`PlacePrior::packed`]'s values) of a prior over `g`² cells `k` wide,
    /// reading `c` planes at `scales` scales (the map itself and its context).
    pub fn unpack(packed: &[f32], g: usize, k: usize, c: usize, scales: usize) -> Weights {
        let mut at = 0;
        let mut take = |len: usize| {
            at += len;
            &packed[at - len..at]
        };
        let scales = (0..scales)
            .map(|s| ScaleWeights {
                f: 1 << s,
                weights: plain::transpose(take(9 * c * k), k, 9 * c),
                bias: take(k).to_vec(),
            })
            .collect();
        let pos = take(g * g * k).to_vec();
        assert_eq!(at, packed.len(), "packed weights of a {g}² prior {k} wide");
        Weights { g, k, c, scales, pos }
    }
}

/// What one state map sums to at every scale: the map (centred), pooled at each coarser
/// scale, and each scale's cells as their bias plus their neighbourhood through the weights.
#[derive(Default)]
pub(super) struct Sums {
    map: Vec<f32>,
    /// Per scale: the map pooled (empty at `f` 1: the map itself), and the cells' rows,
    /// `[(g / f)², k]`.
    pooled: Vec<Vec<f32>>,
    rows: Vec<Vec<f32>>,
}

impl Sums {
    /// The sums of the state input `state` (the map plus a half), every cell at every scale.
    pub fn new(w: &Weights, state: &[f32]) -> Sums {
        let mut sums = Sums::default();
        sums.set(w, state);
        sums
    }

    /// Sums `state` again, every cell, reusing the memory.
    pub fn set(&mut self, w: &Weights, state: &[f32]) {
        let (g, k, c) = (w.g, w.k, w.c);
        self.map.clear();
        self.map.extend(state.iter().map(|v| v - 0.5));
        self.pooled.resize_with(w.scales.len(), Vec::new);
        self.rows.resize_with(w.scales.len(), Vec::new);
        for (s, scale) in w.scales.iter().enumerate() {
            let gs = g / scale.f;
            let all: Vec<usize> = (0..gs * gs).collect();
            if scale.f > 1 {
                self.pooled[s].resize(c * gs * gs, 0.0);
                pool(&mut self.pooled[s], &self.map, g, scale.f, &all);
            }
            self.rows[s].resize(gs * gs * k, 0.0);
            let map = if scale.f > 1 { &self.pooled[s] } else { &self.map };
            neighbourhood_rows(&mut self.rows[s], map, gs, &scale.weights, &scale.bias, &all);
        }
    }

    /// The map at scale `s`, `c` planes of `(g / f)`².
    pub fn map(&self, s: usize) -> &[f32] {
        if s == 0 { &self.map } else { &self.pooled[s] }
    }

    /// Cell `cell`'s features before the GELU, into `row`: its position plus its rows at
    /// every scale.
    pub fn features(&self, w: &Weights, cell: usize, row: &mut [f32]) {
        let k = w.k;
        row.copy_from_slice(&w.pos[cell * k..(cell + 1) * k]);
        for (scale, rows) in w.scales.iter().zip(&self.rows) {
            let under = coarse_cell(cell, w.g, scale.f);
            plain::add_scaled(row, 1.0, &rows[under * k..(under + 1) * k]);
        }
    }
}

pub struct Cells {
    weights: Weights,
    sums: Sums,
    /// Each cell's features after the GELU, `[g², k]`.
    activated: Vec<f32>,
}

impl Cells {
    /// The cells of `prior` for the state input `state` (and, when the prior is anchored,
    /// with their offsets from the cell `anchor`).
    pub fn new(prior: &PlacePrior, state: &[f32], anchor: Option<usize>) -> Result<Cells> {
        prior.check_anchors(anchor.is_some())?;
        let (g, k) = (prior.side, prior.width);
        let area = g * g;
        let c = state.len() / area;
        if c * area != state.len() {
            candle_core::bail!("a state input of {} values is not whole maps of {g}²", state.len())
        }
        let weights =
            plain::read(&prior.packed()?, |p| Weights::unpack(p, g, k, c, 1 + prior.context.len()))?;
        let sums = Sums::new(&weights, state);
        let mut cells = Cells { weights, sums, activated: vec![0.0; area * k] };
        // Anchored: each cell's offset from the anchor, added before the GELU.
        let offsets = match (&prior.offsets, anchor) {
            (Some(offsets), Some(anchor)) => Some(plain::read(offsets, |o| {
                (0..area)
                    .flat_map(|cell| {
                        let r = prior.offset_row(anchor, cell);
                        o[r * k..(r + 1) * k].iter().copied()
                    })
                    .collect::<Vec<f32>>()
            })?),
            _ => None,
        };
        cells.activate(&(0..area).collect::<Vec<_>>(), offsets.as_deref());
        Ok(cells)
    }

    /// Sums the features of the cells `which` from their scales' rows (plus `offsets`, one
    /// row per cell) and puts them through the GELU.
    fn activate(&mut self, which: &[usize], offsets: Option<&[f32]>) {
        let k = self.weights.k;
        for &cell in which {
            let row = &mut self.activated[cell * k..(cell + 1) * k];
            self.sums.features(&self.weights, cell, row);
            if let Some(o) = offsets {
                plain::add_scaled(row, 1.0, &o[cell * k..(cell + 1) * k]);
            }
            gelu_in_place(row);
        }
    }

    /// Brings unanchored cells to the state input `state`: at each scale the rows of the
    /// cells whose neighbourhood holds a changed cell are summed again, then the features
    /// of the cells under those.
    pub fn update(&mut self, state: &[f32]) {
        let w = &self.weights;
        let sums = &mut self.sums;
        let g = w.g;
        let area = g * g;
        assert_eq!(state.len(), sums.map.len(), "a state input of the same size");
        let mut flags = vec![false; area];
        for (i, (s, m)) in state.iter().zip(&mut sums.map).enumerate() {
            if s - 0.5 != *m {
                *m = s - 0.5;
                flags[i % area] = true;
            }
        }
        let changed: Vec<usize> = (0..area).filter(|&i| flags[i]).collect();
        if changed.is_empty() {
            return;
        }
        let mut resum = vec![false; area];
        for (s, scale) in w.scales.iter().enumerate() {
            let (f, gs) = (scale.f, g / scale.f);
            // The cells of this scale holding a changed one, then every cell whose
            // neighbourhood holds one of those.
            let mut coarse: Vec<usize> = changed.iter().map(|&i| coarse_cell(i, g, f)).collect();
            coarse.sort_unstable();
            coarse.dedup();
            if f > 1 {
                pool(&mut sums.pooled[s], &sums.map, g, f, &coarse);
            }
            let mut dirty = vec![false; gs * gs];
            for &cell in &coarse {
                let (cy, cx) = (cell / gs, cell % gs);
                for y in cy.saturating_sub(1)..(cy + 2).min(gs) {
                    for x in cx.saturating_sub(1)..(cx + 2).min(gs) {
                        dirty[y * gs + x] = true;
                    }
                }
            }
            let dirty: Vec<usize> = (0..gs * gs).filter(|&i| dirty[i]).collect();
            let map = if f > 1 { &sums.pooled[s] } else { &sums.map };
            neighbourhood_rows(&mut sums.rows[s], map, gs, &scale.weights, &scale.bias, &dirty);
            for &d in &dirty {
                let (y0, x0) = (d / gs * f, d % gs * f);
                for y in y0..y0 + f {
                    resum[y * g + x0..y * g + x0 + f].fill(true);
                }
            }
        }
        let which: Vec<usize> = (0..area).filter(|&i| resum[i]).collect();
        self.activate(&which, None);
    }

    /// Log-probabilities of the next op's cell, row by row, for the hidden state `hidden`.
    /// The keys are never formed: `q · (K g + b) = (Kᵀ q) · g + q · b`.
    pub fn values(&self, prior: &PlacePrior, hidden: &[f32]) -> Result<Vec<f32>> {
        let k = self.weights.k;
        let query = plain::read(prior.query.weight(), |w| plain::linear(hidden, w, None))?;
        let key_weight = plain::read(prior.key.weight(), |w| plain::transpose(w, k, k))?;
        let asked = plain::linear(&query, &key_weight, None);
        let offset = match prior.key.bias() {
            Some(b) => plain::read(b, |b| plain::dot(&query, b))?,
            None => 0.0,
        };
        let scale = 1.0 / (k as f32).sqrt();
        let mut logits: Vec<f32> =
            self.activated.chunks_exact(k).map(|row| (plain::dot(&asked, row) + offset) * scale).collect();
        plain::log_softmax(&mut logits);
        Ok(logits)
    }
}

/// Sets the row of `out` (`g`² rows `k` wide) of each cell in `cells` to `bias` plus the
/// cell's neighbourhood of `map` (`c` planes of `g`² values, centred) through `weights`
/// (`9 c` rows `k` wide). Compiled for the wider vector units too: summed for every cell,
/// this was most of what an op cost on a 32² view.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
fn neighbourhood_rows(
    out: &mut [f32],
    map: &[f32],
    g: usize,
    weights: &[f32],
    bias: &[f32],
    cells: &[usize],
) {
    const LANES: usize = 16;
    let k = bias.len();
    let mut taps = Vec::new();
    for &cell in cells {
        let row = &mut out[cell * k..(cell + 1) * k];
        neighbourhood(&mut taps, map, g, cell, k);
        // The row in blocks a vector register holds, each summed over every tap before it
        // is stored; what is left past the last whole block, tap by tap.
        let whole = k - k % LANES;
        for start in (0..whole).step_by(LANES) {
            let block = |s: &[f32]| -> [f32; LANES] { s[start..start + LANES].try_into().expect("a block") };
            let mut acc = block(bias);
            for &(v, w) in &taps {
                let weights = block(&weights[w..]);
                for j in 0..LANES {
                    acc[j] += v * weights[j];
                }
            }
            row[start..start + LANES].copy_from_slice(&acc);
        }
        row[whole..].copy_from_slice(&bias[whole..]);
        for &(v, w) in &taps {
            plain::add_scaled(&mut row[whole..], v, &weights[w + whole..w + k]);
        }
    }
}

/// Cell `cell`'s 3 × 3 neighbourhood of `map` (`c` planes of `g`², centred) into `taps`, as
/// (value, where its row of a scale's transposed weight starts, rows `k` wide), neighbour
/// `s = 3 dy + dx` first. Without a reference half the planes are all zeros (nothing to
/// paint): zeros are left out.
#[inline]
pub(super) fn neighbourhood(taps: &mut Vec<(f32, usize)>, map: &[f32], g: usize, cell: usize, k: usize) {
    let area = g * g;
    let c = map.len() / area;
    let (cy, cx) = (cell / g, cell % g);
    taps.clear();
    for s in 0..9 {
        let (y, x) = ((cy + s / 3).wrapping_sub(1), (cx + s % 3).wrapping_sub(1));
        if y >= g || x >= g {
            continue;
        }
        for ch in 0..c {
            let v = map[ch * area + y * g + x];
            if v != 0.0 {
                taps.push((v, (s * c + ch) * k));
            }
        }
    }
}

/// The GELU of each value of `row`, compiled for the wider vector units too.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
pub(super) fn gelu_in_place(row: &mut [f32]) {
    row.iter_mut().for_each(|v| *v = crate::model::gelu::value(*v));
}

/// Sets the cells `coarse` of `pooled` (`c` planes of `(g / f)`²) to the averages of their
/// `f` × `f` blocks of `map` (`c` planes of `g`²).
fn pool(pooled: &mut [f32], map: &[f32], g: usize, f: usize, coarse: &[usize]) {
    let (gs, area) = (g / f, g * g);
    let c = map.len() / area;
    let share = 1.0 / (f * f) as f32;
    for ch in 0..c {
        let plane = &map[ch * area..(ch + 1) * area];
        for &cell in coarse {
            let (y0, x0) = (cell / gs * f, cell % gs * f);
            let sum: f32 = (y0..y0 + f).map(|y| plane[y * g + x0..y * g + x0 + f].iter().sum::<f32>()).sum();
            pooled[ch * gs * gs + cell] = sum * share;
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};
    use candle_nn::VarBuilder;

    use super::*;

    #[test]
    fn cells_kept_up_to_date_are_the_cells_made_afresh() {
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
        // 16² cells three scales deep, 20 wide (a whole vector block and a tail).
        let prior = PlacePrior::new(vb, 8, 16, 20, 2).unwrap();
        for (name, var) in varmap.data().lock().unwrap().iter() {
            var.set(&Tensor::randn(0f32, 1f32, var.shape(), &Device::Cpu).unwrap()).expect(name);
        }
        let len = crate::model::inputs::state_len(16);
        let mut state: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 0.5 + 0.5).collect();
        let mut kept = Cells::new(&prior, &state, None).unwrap();
        let hidden: Vec<f32> = (0..8).map(|i| (i as f32 * 0.9).cos()).collect();
        // A dab in a corner, a stroke across the middle, then a fill that changes every cell.
        let changes: [&dyn Fn(usize) -> bool; 3] =
            [&|i| i % 256 == 0, &|i| (i % 256) / 16 == 7 && i % 16 > 3, &|_| true];
        for (step, change) in changes.iter().enumerate() {
            for (i, v) in state.iter_mut().enumerate() {
                if change(i) {
                    *v = 1.0 - *v * 0.5;
                }
            }
            kept.update(&state);
            let afresh = Cells::new(&prior, &state, None).unwrap();
            assert_eq!(kept.activated, afresh.activated, "change {step}");
            assert_eq!(kept.values(&prior, &hidden).unwrap(), afresh.values(&prior, &hidden).unwrap());
        }
    }
}
