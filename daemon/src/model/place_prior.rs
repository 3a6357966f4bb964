//! The place prior: where the next op starts, as attention from the op's hidden
//! state over the cells of its state map (the canvas as it stands at `state`²,
//! and in copy mode what the reference still holds beyond it; see
//! [`crate::model::inputs::state`]).
//!
//! The trunk sees the pictures in a few coarse patches, so on its own it places
//! a stroke only roughly — as often on a stroke already written as on one still
//! to write. Here each cell is described by its 3 × 3 neighbourhood of the state
//! map and by its position, and the hidden state asks for the cell it wants. The
//! distribution over cells is added, as log-probabilities, to the x head's
//! logits (the column's share) and to the y head's (the row's, given the column
//! of the x chosen), so the heads keep their fine bins and the prior says which
//! cell. The query starts at zero: a model grown with it places as before.
//!
//! The *shape prior* is the same attention anchored at the cell where a stroke
//! starts (each cell also embeds its offset from there), asked by the heads' input
//! at the first step: which cell that step reaches, a third of the way along the
//! stroke. Without it a stroke started at the right place still came out short or
//! went the wrong way: the glimpse sees a quarter of the canvas at most.
//!
//! A cell's 3 × 3 neighbourhood is 24 px of a 128² canvas: enough to see a stroke's end,
//! not what lies around it — whether ink still to paint lies above it, whether the stroke
//! crosses another. So each cell also reads *context*: the same neighbourhood on the map
//! pooled 2 × 2, 4 × 4, … (one linear per coarser scale, shared by the cells under one
//! coarse cell), added to its features before their non-linearity. Those linears start at
//! zero: a model grown with them places as before.
//!
//! Every op here has a backward pass (a convolution, a matmul, log-sum-exp from
//! basic ops).

use candle_core::{D, Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder, linear};

use crate::model::gelu::gelu;
use crate::model::plain;
use crate::tokenizer::{Field, delta_share};

mod cells;
mod scores;
pub use cells::Cells;

pub struct PlacePrior {
    /// A cell's 3 × 3 neighbourhood of the state map → its features.
    cells: Linear,
    /// Per coarser scale (the map pooled 2 × 2, then 4 × 4, …): the 3 × 3 neighbourhood of
    /// the coarse cell a cell lies in → what is added to its features.
    context: Vec<Linear>,
    cell_pos: Tensor,
    key: Linear,
    query: Linear,
    /// Anchored priors only (the shape prior, below): an embedding of each cell's offset
    /// from the anchor cell, `[(2 side − 1)², width]`, added to the cell's features.
    offsets: Option<Tensor>,
    /// Cells per side of the state map.
    side: usize,
    width: usize,
}

impl PlacePrior {
    /// A prior over `side`² cells, keys and queries `width` wide, read from hidden states `d`
    /// wide, its cells reading `context` coarser scales around them.
    pub fn new(vb: VarBuilder, d: usize, side: usize, width: usize, context: usize) -> Result<PlacePrior> {
        Self::build(vb, d, side, width, context, false)
    }

    /// A prior anchored at a cell, whose cells also know their offset from it: the shape
    /// prior (where a stroke goes from its start; see [`step_bias_values`]).
    pub fn anchored(
        vb: VarBuilder,
        d: usize,
        side: usize,
        width: usize,
        context: usize,
    ) -> Result<PlacePrior> {
        Self::build(vb, d, side, width, context, true)
    }

    fn build(
        vb: VarBuilder,
        d: usize,
        side: usize,
        width: usize,
        context: usize,
        anchored: bool,
    ) -> Result<PlacePrior> {
        if side % (1 << context) != 0 {
            candle_core::bail!("a {side}² map cannot be pooled 2 × 2 {context} times");
        }
        let offsets = match anchored {
            true => Some(vb.get_with_hints(
                ((2 * side - 1).pow(2), width),
                "offsets",
                candle_nn::Init::Randn { mean: 0.0, stdev: 0.02 },
            )?),
            false => None,
        };
        let channels = crate::model::inputs::state_len(side) / (side * side);
        // Zeros at first: a model grown with context places as it did without.
        let zeros = |name: String| -> Result<Linear> {
            let vb = vb.pp(name);
            let weight = vb.get_with_hints((width, 9 * channels), "weight", candle_nn::Init::Const(0.0))?;
            let bias = vb.get_with_hints(width, "bias", candle_nn::Init::Const(0.0))?;
            Ok(Linear::new(weight, Some(bias)))
        };
        Ok(PlacePrior {
            cells: linear(9 * channels, width, vb.pp("cells"))?,
            context: (1..=context).map(|s| zeros(format!("context.{s}"))).collect::<Result<_>>()?,
            cell_pos: vb.get_with_hints(
                (side * side, width),
                "cell_pos",
                candle_nn::Init::Randn { mean: 0.0, stdev: 0.02 },
            )?,
            key: linear(width, width, vb.pp("key"))?,
            query: candle_nn::Linear::new(
                vb.pp("query").get_with_hints((width, d), "weight", candle_nn::Init::Const(0.0))?,
                None,
            ),
            offsets,
            side,
            width,
        })
    }

    /// Row of [`Self::offsets`] for cell `c` seen from `anchor`.
    fn offset_row(&self, anchor: usize, c: usize) -> usize {
        let g = self.side;
        (c / g + g - 1 - anchor / g) * (2 * g - 1) + (c % g + g - 1 - anchor % g)
    }

    /// Whether it is anchored: then `forward` and `values` need the anchor cells.
    fn check_anchors(&self, given: bool) -> Result<()> {
        match (self.offsets.is_some(), given) {
            (true, false) => candle_core::bail!("an anchored prior needs its anchor cells"),
            (false, true) => candle_core::bail!("this prior is not anchored"),
            _ => Ok(()),
        }
    }

    /// The weights the cells are summed with, in one vector: per scale (the map itself, then
    /// each coarser one) its linear's weight `[k, 9 c]` and bias, then the cells' positions.
    /// Read by sampling's [`Cells`] and by training's kernel, whose gradient comes back
    /// through it to each weight.
    fn packed(&self) -> Result<Tensor> {
        let mut parts = Vec::new();
        for l in std::iter::once(&self.cells).chain(&self.context) {
            let Some(bias) = l.bias() else { candle_core::bail!("the prior's linears have biases") };
            parts.extend([l.weight().flatten_all()?, bias.clone()]);
        }
        parts.push(self.cell_pos.flatten_all()?);
        Tensor::cat(&parts, 0)
    }

    /// Log-probabilities of the next op's cell, `[N, side, side]` (row, column), for hidden
    /// states `[N, d]` and the state inputs at their positions `[N, state_len]` (and, when
    /// anchored, each row's anchor cell, `row · side + column`).
    pub fn forward(&self, hidden: &Tensor, states: &Tensor, anchors: Option<&[usize]>) -> Result<Tensor> {
        self.check_anchors(anchors.is_some())?;
        let (n, g, k) = (hidden.dim(0)?, self.side, self.width);
        // q · (K g + b) = (Kᵀ q) · g + q · b: the keys of every cell are never formed (on a
        // finer view they cost more than the rest of the prior).
        let query = self.query.forward(hidden)?;
        let asked = query.matmul(self.key.weight())?;
        let mut logits = match anchors {
            None if scores::runs_on(states) => scores::scores(self, &asked, &states.reshape((n, ()))?)?,
            _ => self.scores_by_tensor_ops(&asked, states, anchors)?,
        };
        if let Some(b) = self.key.bias() {
            logits = logits.broadcast_add(&query.matmul(&b.unsqueeze(1)?)?)?;
        }
        let logits = (logits / (k as f64).sqrt())?;
        candle_nn::ops::log_softmax(&logits, D::Minus1)?.reshape((n, g, g))
    }

    /// Each cell's features through the GELU, dotted with `asked` (`[N, k]`): `[N, side²]`.
    /// From candle's ops: any device, and the anchored prior. Training on the CPU runs
    /// [`scores::scores`] instead, the same numbers without the `[N, side², k]` tensors.
    fn scores_by_tensor_ops(
        &self,
        asked: &Tensor,
        states: &Tensor,
        anchors: Option<&[usize]>,
    ) -> Result<Tensor> {
        let (n, g, k) = (asked.dim(0)?, self.side, self.width);
        let maps = (states.reshape((n, (), g, g))? - 0.5)?;
        let c = maps.dim(1)?;
        let cells = self.cells.forward(&neighbourhoods(&maps)?)?;
        let mut features = cells.broadcast_add(&self.cell_pos)?;
        for (s, context) in self.context.iter().enumerate() {
            let (f, gs) = (1 << (s + 1), g >> (s + 1));
            let pooled = maps.reshape((n, c, gs, f, gs, f))?.mean(5)?.mean(3)?;
            let coarse = context.forward(&neighbourhoods(&pooled)?)?;
            // Each coarse cell's features added to the cells under it: gathered rather than
            // broadcast, whose backward pass costs more here.
            let under: Vec<u32> = (0..g * g).map(|cell| coarse_cell(cell, g, f) as u32).collect();
            features =
                (features + coarse.index_select(&Tensor::from_vec(under, g * g, asked.device())?, 1)?)?;
        }
        if let (Some(offsets), Some(anchors)) = (&self.offsets, anchors) {
            let rows: Vec<u32> =
                anchors.iter().flat_map(|&a| (0..g * g).map(move |c| self.offset_row(a, c) as u32)).collect();
            let rows = Tensor::from_vec(rows, n * g * g, asked.device())?;
            features = (features + offsets.index_select(&rows, 0)?.reshape((n, g * g, k))?)?;
        }
        gelu(&features)?.matmul(&asked.unsqueeze(2)?)?.squeeze(2)
    }
}

/// The 3 × 3 neighbourhood of every cell of `maps` `[N, C, G, G]` (zeros past the edges),
/// `[N, G², 9 C]`, neighbour `s = 3 dy + dx` first: 9 shifted copies, a convolution by narrow
/// and cat, whose backward pass is as fast as its forward (candle's conv2d is slow there).
fn neighbourhoods(maps: &Tensor) -> Result<Tensor> {
    let (n, c, g, _) = maps.dims4()?;
    let padded = maps.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let mut shifted = Vec::with_capacity(9);
    for dy in 0..3 {
        for dx in 0..3 {
            shifted.push(padded.narrow(2, dy, g)?.narrow(3, dx, g)?);
        }
    }
    Tensor::cat(&shifted, 1)?.reshape((n, 9 * c, g * g))?.transpose(1, 2)?.contiguous()
}

/// The cell of a `g`² map pooled `f` × `f` that cell `cell` (`row · g + column`) lies in.
fn coarse_cell(cell: usize, g: usize, f: usize) -> usize {
    (cell / g / f) * (g / f) + cell % g / f
}

impl PlacePrior {
    /// [`Self::forward`] for one hidden state `[d]` and its state input, in plain numbers
    /// (CPU weights; see [`crate::model::plain`]): `side`² log-probabilities, row by row.
    pub fn values(&self, hidden: &[f32], state: &[f32], anchor: Option<usize>) -> Result<Vec<f32>> {
        Cells::new(self, state, anchor)?.values(self, hidden)
    }
}

/// The cell (along one axis) of each of a place field's bins, on a `side`-cell map.
fn cell_of_bins(side: usize, device: &Device) -> Result<Tensor> {
    let cells: Vec<u32> = (0..Field::X.vocab()).map(|b| cell_of_bin(b, side) as u32).collect();
    let n = cells.len();
    Tensor::from_vec(cells, n, device)
}

/// What the prior adds to the x head's logits: each bin gets its column's log-probability.
/// `joint`: `[N, side, side]` from [`PlacePrior::forward`] → `[N, bins]`.
pub fn x_bias(joint: &Tensor) -> Result<Tensor> {
    let side = joint.dim(1)?;
    let columns = joint.log_sum_exp(1)?;
    columns.index_select(&cell_of_bins(side, joint.device())?, 1)
}

/// What the prior adds to the y head's logits once x is chosen (`x_bins`: `[N]`, u32): each
/// bin gets its row's log-probability within x's column → `[N, bins]`.
pub fn y_bias(joint: &Tensor, x_bins: &Tensor) -> Result<Tensor> {
    let (n, side) = (joint.dim(0)?, joint.dim(1)?);
    let column = cell_of_bins(side, joint.device())?.index_select(x_bins, 0)?;
    let rows =
        joint.gather(&column.reshape((n, 1, 1))?.repeat((1, side, 1))?.contiguous()?, 2)?.squeeze(2)?;
    let given = rows.broadcast_sub(&rows.log_sum_exp(1)?.unsqueeze(1)?)?;
    given.index_select(&cell_of_bins(side, joint.device())?, 1)
}

/// The cell (along one axis) of place bin `b` on a `side`-cell map, as [`cell_of_bins`].
pub fn cell_of_bin(b: u16, side: usize) -> usize {
    (2 * usize::from(b) + 1) * side / (2 * usize::from(Field::X.vocab()))
}

/// The cell, `row · side + column`, of the place bins `(x, y)`: where the shape prior is
/// anchored.
pub fn anchor(x: u16, y: u16, side: usize) -> usize {
    cell_of_bin(y, side) * side + cell_of_bin(x, side)
}

fn log_sum_exp(v: impl Iterator<Item = f32>) -> f32 {
    plain::log_sum_exp(&v.collect::<Vec<f32>>())
}

/// A joint's log-probabilities per cell along one axis: the columns' when `column` is
/// `None`, else the rows' within that column.
fn per_cell(joint: &[f32], side: usize, column: Option<usize>) -> Vec<f32> {
    match column {
        None => (0..side).map(|c| log_sum_exp((0..side).map(|r| joint[r * side + c]))).collect(),
        Some(c) => {
            let total = log_sum_exp((0..side).map(|r| joint[r * side + c]));
            (0..side).map(|r| joint[r * side + c] - total).collect()
        }
    }
}

/// What the prior adds to one op's place logits while sampling, from its joint as plain
/// numbers (`side`² log-probabilities, row by row): [`x_bias`] when `x_bin` is `None`, else
/// [`y_bias`] given it. The same numbers as the tensor versions (a test checks), at a few
/// microseconds instead of the dozens of tensor calls that cost more than the rest of an op.
pub fn bias_values(joint: &[f32], side: usize, x_bin: Option<u16>) -> Vec<f32> {
    let per_cell = per_cell(joint, side, x_bin.map(|x| cell_of_bin(x, side)));
    (0..Field::X.vocab()).map(|b| per_cell[cell_of_bin(b, side)]).collect()
}

// The shape prior: the same attention, anchored at the cell where a stroke starts, says
// which cell its first step reaches (a third of the way along it, as strokes are
// tokenized). Its log-probabilities are added to the first step's logits: each step value
// gets the log-probability of the cell it reaches. (Not split among the values that reach
// the same cell: then a prior that has learned nothing, every cell alike, adds the same to
// every value, and a model grown with it paints as before.) Training canvases are square;
// on others `aspect` (the longer side over this axis's extent) scales the steps as the
// tokenizer does.

/// The cell (along one axis) that each first-step value reaches from place bin `from`.
pub fn step_cells(from: u16, side: usize, aspect: f32) -> Vec<usize> {
    let bins = f32::from(Field::X.vocab());
    (0..Field::Dx1.vocab())
        .map(|q| {
            let share = (f32::from(from) + 0.5) / bins + delta_share(q) * aspect;
            ((share * side as f32).floor().max(0.0) as usize).min(side - 1)
        })
        .collect()
}

/// What the shape prior adds to the first step's logits while sampling, from its joint as
/// plain numbers: to dx from the start's x bin `from` (`column` `None`), or to dy from the
/// start's y bin given the column that dx reached.
pub fn step_bias_values(
    joint: &[f32],
    side: usize,
    from: u16,
    aspect: f32,
    column: Option<usize>,
) -> Vec<f32> {
    let per_cell = per_cell(joint, side, column);
    step_cells(from, side, aspect).into_iter().map(|c| per_cell[c]).collect()
}

/// [`step_bias_values`] for training: `joint` `[N, side, side]`, `from` each row's start bin
/// along the axis, `columns` (for dy) the column each row's dx reached → `[N, step values]`.
pub fn step_bias(joint: &Tensor, from: &[u16], columns: Option<&[usize]>) -> Result<Tensor> {
    let (n, side, dev) = (joint.dim(0)?, joint.dim(1)?, joint.device());
    let per_cell = match columns {
        None => joint.log_sum_exp(1)?,
        Some(columns) => {
            let columns: Vec<u32> = columns.iter().map(|&c| c as u32).collect();
            let index = Tensor::from_vec(columns, (n, 1, 1), dev)?.repeat((1, side, 1))?;
            let rows = joint.gather(&index.contiguous()?, 2)?.squeeze(2)?;
            rows.broadcast_sub(&rows.log_sum_exp(1)?.unsqueeze(1)?)?
        }
    };
    let index: Vec<u32> = from.iter().flat_map(|&f| step_cells(f, side, 1.0)).map(|c| c as u32).collect();
    per_cell.gather(&Tensor::from_vec(index, (n, usize::from(Field::Dx1.vocab())), dev)?, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A joint with all its mass on one cell (row 1, column 2 of 4), the rest nearly none.
    fn one_cell() -> Tensor {
        let mut v = vec![-30.0f32; 16];
        v[4 + 2] = 0.0;
        Tensor::from_vec(v, (1, 4, 4), &Device::Cpu).unwrap()
    }

    #[test]
    fn the_bins_of_the_chosen_cell_get_its_probability() {
        let x = x_bias(&one_cell()).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        // Column 2 of 4 holds bins 128..192 of 256.
        assert!(x[128..192].iter().all(|&l| l.abs() < 1e-4), "{:?}", &x[120..136]);
        assert!(x[..128].iter().chain(&x[192..]).all(|&l| l < -20.0));
        let x_bin = Tensor::new(&[150u32], &Device::Cpu).unwrap();
        let y = y_bias(&one_cell(), &x_bin).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        assert!(y[64..128].iter().all(|&l| l.abs() < 1e-4), "row 1 given column 2");
        assert!(y[..64].iter().chain(&y[128..]).all(|&l| l < -20.0));
    }

    #[test]
    fn sampling_adds_the_same_numbers_as_training() {
        let joint =
            candle_nn::ops::log_softmax(&Tensor::randn(0f32, 2f32, (1, 16), &Device::Cpu).unwrap(), 1)
                .unwrap()
                .reshape((1, 4, 4))
                .unwrap();
        let values = joint.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let close = |a: Vec<f32>, b: Tensor| {
            let b = b.squeeze(0).unwrap().to_vec1::<f32>().unwrap();
            a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5)
        };
        assert!(close(bias_values(&values, 4, None), x_bias(&joint).unwrap()));
        for x in [0u16, 63, 64, 200, 255] {
            let x_bin = Tensor::new(&[u32::from(x)], &Device::Cpu).unwrap();
            assert!(close(bias_values(&values, 4, Some(x)), y_bias(&joint, &x_bin).unwrap()), "x bin {x}");
        }
    }

    #[test]
    fn a_prior_that_has_learned_nothing_adds_the_same_to_every_bin() {
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
        let prior = PlacePrior::new(vb, 8, 4, 6, 1).unwrap();
        let hidden = Tensor::randn(0f32, 1f32, (3, 8), &Device::Cpu).unwrap();
        let states = Tensor::rand(0f32, 1f32, (3, crate::model::inputs::state_len(4)), &Device::Cpu).unwrap();
        let joint = prior.forward(&hidden, &states, None).unwrap();
        let x = x_bias(&joint).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(x.iter().all(|&l| (l - x[0]).abs() < 1e-5), "uniform: the heads alone decide");
    }
}

#[cfg(test)]
mod context_tests {
    use super::*;

    fn set(varmap: &candle_nn::VarMap, name: &str, value: Tensor) {
        varmap.data().lock().unwrap()[name].set(&value).unwrap();
    }

    /// The joint over 8² cells for one random hidden state and `state`, with and without context.
    fn joints(varmap: &candle_nn::VarMap, state: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let vb = VarBuilder::from_varmap(varmap, candle_core::DType::F32, &Device::Cpu);
        let with = PlacePrior::new(vb.clone(), 8, 8, 6, 2).unwrap();
        let without = PlacePrior::new(vb, 8, 8, 6, 0).unwrap();
        let hidden: Vec<f32> = (0..8).map(|i| (i as f32 * 0.7).sin()).collect();
        (with.values(&hidden, state, None).unwrap(), without.values(&hidden, state, None).unwrap())
    }

    #[test]
    fn context_grown_from_zeros_places_as_before_and_once_learned_sees_past_the_neighbourhood() {
        let varmap = candle_nn::VarMap::new();
        let state_len = crate::model::inputs::state_len(8);
        // Made once to create the weights (query at zeros, context at zeros), then given a query.
        joints(&varmap, &vec![0.5; state_len]);
        set(&varmap, "query.weight", Tensor::randn(0f32, 1f32, (6, 8), &Device::Cpu).unwrap());
        // Ink in the corner cell (0, 0) of the canvas map, two cells from cell (2, 2).
        let mut inked = vec![1.0; state_len];
        inked[0] = 0.0;
        let blank = vec![1.0; state_len];
        let (with, without) = joints(&varmap, &inked);
        assert!(with.iter().zip(&without).all(|(a, b)| (a - b).abs() < 1e-6), "zeros: as before");
        // Without context, (2, 2) cannot tell the inked corner from blank paper: against
        // (2, 7), which cannot either, nothing moves.
        let far = |j: &[f32]| j[2 * 8 + 2] - j[2 * 8 + 7];
        assert!((far(&joints(&varmap, &inked).1) - far(&joints(&varmap, &blank).1)).abs() < 1e-5);
        // Learned context: on the map pooled 2 × 2 the corner lies in the neighbourhood of
        // (2, 2)'s coarse cell, not of (2, 7)'s, so the corner's ink now reaches (2, 2).
        for s in 1..=2 {
            let w = Tensor::randn(0f32, 1f32, (6, 9 * 6), &Device::Cpu).unwrap();
            set(&varmap, &format!("context.{s}.weight"), w);
        }
        let moved = (far(&joints(&varmap, &inked).0) - far(&joints(&varmap, &blank).0)).abs();
        assert!(moved > 1e-3, "{moved}");
    }

    #[test]
    fn sampling_adds_the_same_context_as_training() {
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
        let prior = PlacePrior::new(vb, 8, 8, 6, 2).unwrap();
        for name in ["query.weight", "context.1.weight", "context.2.weight", "context.2.bias"] {
            let shape = varmap.data().lock().unwrap()[name].shape().clone();
            set(&varmap, name, Tensor::randn(0f32, 1f32, shape, &Device::Cpu).unwrap());
        }
        let hidden = Tensor::randn(0f32, 1f32, (2, 8), &Device::Cpu).unwrap();
        let states = Tensor::rand(0f32, 1f32, (2, crate::model::inputs::state_len(8)), &Device::Cpu).unwrap();
        let joint = prior.forward(&hidden, &states, None).unwrap();
        for row in 0..2 {
            let values = |t: &Tensor| t.get(row).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let got = prior.values(&values(&hidden), &values(&states), None).unwrap();
            let gap = got.iter().zip(values(&joint)).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(gap < 1e-4, "row {row}: {gap}");
        }
    }

    #[test]
    fn a_map_that_does_not_pool_evenly_is_refused() {
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
        let err = PlacePrior::new(vb, 8, 6, 6, 2).err().unwrap().to_string();
        assert!(err.contains("cannot be pooled"), "{err}");
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use crate::ops::pb;
    use crate::tokenizer::{OpToken, Tokenizer, kind};

    #[test]
    fn a_first_step_value_reaches_the_cell_its_decoded_point_lies_in() {
        // On a square canvas and a wide one, along each axis, for starts across it and every
        // step value: the stroke's second point, as the tokenizer decodes it, lies in the cell
        // `step_cells` says (clamped to the map, as points past the edge are).
        for (w, h) in [(128u32, 128u32), (300, 120)] {
            let tokenizer = Tokenizer::new(&pb::Header { width: w, height: h, ..Default::default() });
            let (aspect_x, aspect_y) = tokenizer.aspects();
            for (place, step, aspect, extent) in
                [(Field::X, Field::Dx1, aspect_x, w), (Field::Y, Field::Dy1, aspect_y, h)]
            {
                for from in [0u16, 37, 128, 201, 255] {
                    let cells = step_cells(from, 16, aspect);
                    for q in 0..step.vocab() {
                        let mut t = OpToken::default();
                        t.set(Field::Kind, kind::BRUSH);
                        t.set(place, from);
                        t.set(step, q);
                        let Some(pb::op::Kind::Stroke(s)) = tokenizer.decode(&t).kind else { panic!() };
                        let p = &s.points[1];
                        let v = if place == Field::X { p.x } else { p.y } / extent as f32;
                        let cell = ((v * 16.0).floor().max(0.0) as usize).min(15);
                        let on_an_edge = usize::from((v * 16.0).fract().abs() < 1e-3);
                        assert!(
                            cell.abs_diff(cells[usize::from(q)]) <= on_an_edge,
                            "{w}×{h}, {place:?} {from}, step {q}: point at {v} is in cell {cell}, not {}",
                            cells[usize::from(q)]
                        );
                    }
                }
            }
        }
    }
}
