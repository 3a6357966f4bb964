//! The prior's cells in plain numbers, for sampling op by op (see [`crate::model::plain`] for
//! why plain numbers): each cell's features, through the GELU, ready for the hidden state
//! to ask of them.
//!
//! A cell's features depend on the state map alone; the hidden state only asks. On a 32²
//! view summing every cell's neighbourhoods was most of what an op cost, yet between two
//! ops a stroke changes a few cells: [`Cells::update`] sums again only the cells whose
//! neighbourhood, at any scale, holds a changed one — the same sums as made afresh.

use candle_core::Result;
use candle_nn::Linear;

use super::{PlacePrior, coarse_cell};
use crate::model::plain;

/// One scale of the cells' features: the map itself (`f` 1), or pooled `f` × `f` (context).
struct Scale {
    f: usize,
    /// The linear's weight transposed, one row (k wide) per neighbourhood value: `[9 c, k]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// The map pooled at this scale (empty at `f` 1: the map itself).
    pooled: Vec<f32>,
    /// Each of this scale's cells: its bias plus its neighbourhood through the weights.
    rows: Vec<f32>,
}

pub struct Cells {
    /// Cells per side, width of a cell's features.
    g: usize,
    k: usize,
    /// The state map (the state input less a half): `c` planes of `g`².
    map: Vec<f32>,
    pos: Vec<f32>,
    scales: Vec<Scale>,
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
        let scale = |l: &Linear, f: usize| -> Result<Scale> {
            let gs = g / f;
            Ok(Scale {
                f,
                weights: plain::read(l.weight(), |w| plain::transpose(w, k, 9 * c))?,
                bias: match l.bias() {
                    Some(b) => plain::read(b, <[f32]>::to_vec)?,
                    None => vec![0.0; k],
                },
                pooled: Vec::new(),
                rows: vec![0.0; gs * gs * k],
            })
        };
        let mut scales = vec![scale(&prior.cells, 1)?];
        for (s, context) in prior.context.iter().enumerate() {
            scales.push(scale(context, 1 << (s + 1))?);
        }
        let mut cells = Cells {
            g,
            k,
            map: state.iter().map(|v| v - 0.5).collect(),
            pos: plain::read(&prior.cell_pos, <[f32]>::to_vec)?,
            scales,
            activated: vec![0.0; area * k],
        };
        for scale in &mut cells.scales {
            let gs = g / scale.f;
            let all: Vec<usize> = (0..gs * gs).collect();
            if scale.f > 1 {
                scale.pooled = vec![0.0; c * gs * gs];
                pool(&mut scale.pooled, &cells.map, g, scale.f, &all);
            }
            let map = if scale.f > 1 { &scale.pooled } else { &cells.map };
            neighbourhood_rows(&mut scale.rows, map, gs, &scale.weights, &scale.bias, &all);
        }
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
        let (g, k) = (self.g, self.k);
        for &cell in which {
            let row = &mut self.activated[cell * k..(cell + 1) * k];
            row.copy_from_slice(&self.pos[cell * k..(cell + 1) * k]);
            for scale in &self.scales {
                let under = coarse_cell(cell, g, scale.f);
                plain::add_scaled(row, 1.0, &scale.rows[under * k..(under + 1) * k]);
            }
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
        let g = self.g;
        let area = g * g;
        assert_eq!(state.len(), self.map.len(), "a state input of the same size");
        let mut flags = vec![false; area];
        for (i, (s, m)) in state.iter().zip(&mut self.map).enumerate() {
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
        for scale in &mut self.scales {
            let (f, gs) = (scale.f, g / scale.f);
            // The cells of this scale holding a changed one, then every cell whose
            // neighbourhood holds one of those.
            let mut coarse: Vec<usize> = changed.iter().map(|&i| coarse_cell(i, g, f)).collect();
            coarse.sort_unstable();
            coarse.dedup();
            if f > 1 {
                pool(&mut scale.pooled, &self.map, g, f, &coarse);
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
            let map = if f > 1 { &scale.pooled } else { &self.map };
            neighbourhood_rows(&mut scale.rows, map, gs, &scale.weights, &scale.bias, &dirty);
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
        let k = self.k;
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
    let (area, k) = (g * g, bias.len());
    let c = map.len() / area;
    // A cell's neighbourhood, gathered once: (value, row of `weights`). Without a reference,
    // half the channels are all zeros (nothing to paint) and are left out.
    let mut taps: Vec<(f32, usize)> = Vec::with_capacity(9 * c);
    for &cell in cells {
        let row = &mut out[cell * k..(cell + 1) * k];
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

/// The GELU of each value of `row`, compiled for the wider vector units too.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
fn gelu_in_place(row: &mut [f32]) {
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
