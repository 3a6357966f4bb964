//! The state input's projection while sampling, kept up to date as the canvas changes.
//!
//! On a 32² view the state input is 6,144 values and its projection a 6,144 × d matrix:
//! read whole at every op it was a third of what an op cost. Between two ops a stroke
//! changes a few cells of the view, so the projection moves by those values' rows alone:
//! `W (s' − ½) = W (s − ½) + Σ_changed W_j (s'_j − s_j)`. The weight is transposed once per
//! run (a run's weights do not change while it samples), one contiguous row per value.

use crate::model::plain;

/// Updates between two sums over every value: bounds the rounding the updates gather.
const RESUM_EVERY: usize = 64;

pub struct ProjectedState {
    /// The projection's weight transposed: row `j` (d wide) is what value `j` adds.
    rows: Vec<f32>,
    /// The state input the projection is of.
    state: Vec<f32>,
    /// `W (state − ½)`.
    value: Vec<f32>,
    updates: usize,
}

impl ProjectedState {
    /// The projection of `state` through `weight` (`[d, state.len()]`, row-major as a linear
    /// layer stores it).
    pub fn new(weight: &[f32], state: &[f32]) -> ProjectedState {
        let d = weight.len() / state.len();
        assert_eq!(d * state.len(), weight.len(), "a weight of whole rows of the state");
        let mut p = ProjectedState {
            rows: plain::transpose(weight, d, state.len()),
            state: state.to_vec(),
            value: vec![0.0; d],
            updates: 0,
        };
        p.resum();
        p
    }

    fn resum(&mut self) {
        let d = self.value.len();
        self.value.fill(0.0);
        for (s, row) in self.state.iter().zip(self.rows.chunks_exact(d)) {
            plain::add_scaled(&mut self.value, s - 0.5, row);
        }
        self.updates = 0;
    }

    /// The projection of `state`, moved from the last one by the values that changed (summed
    /// afresh when most did, as after a fill, and every [`RESUM_EVERY`] updates).
    pub fn update(&mut self, state: &[f32]) -> &[f32] {
        assert_eq!(state.len(), self.state.len(), "a state input of the same size");
        let d = self.value.len();
        let changed = state.iter().zip(&self.state).filter(|(a, b)| a != b).count();
        self.updates += 1;
        if changed * 4 > state.len() || self.updates >= RESUM_EVERY {
            self.state.copy_from_slice(state);
            self.resum();
        } else {
            for (j, (new, old)) in state.iter().zip(self.state.iter_mut()).enumerate() {
                if new != old {
                    plain::add_scaled(&mut self.value, new - *old, &self.rows[j * d..(j + 1) * d]);
                    *old = *new;
                }
            }
        }
        &self.value
    }

    pub fn value(&self) -> &[f32] {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projected_by_definition(weight: &[f32], state: &[f32]) -> Vec<f32> {
        let shifted: Vec<f32> = state.iter().map(|s| s - 0.5).collect();
        plain::linear(&shifted, weight, None)
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn a_projection_kept_up_to_date_is_the_projection_of_the_state_as_it_stands() {
        let (d, n) = (12, 96);
        // Numbers in [0, 1) that look random enough, without a generator from elsewhere.
        let mut seed = 7u32;
        let mut unit = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32
        };
        let weight: Vec<f32> = (0..d * n).map(|_| unit() - 0.5).collect();
        let mut state: Vec<f32> = (0..n).map(|_| unit()).collect();
        let mut p = ProjectedState::new(&weight, &state);
        assert!(close(p.value(), &projected_by_definition(&weight, &state)));
        // Many small changes (a stroke's few cells), then one that changes everything (a fill).
        for step in 0..200 {
            let changes = if step == 150 { n } else { 3 };
            for _ in 0..changes {
                let j = (unit() * n as f32) as usize % n;
                state[j] = unit();
            }
            let kept = p.update(&state).to_vec();
            assert!(close(&kept, &projected_by_definition(&weight, &state)), "step {step}");
        }
        // Nothing changed, nothing moves.
        let before = p.value().to_vec();
        assert_eq!(p.update(&state), &before[..]);
    }
}
