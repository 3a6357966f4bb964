//! Stroke order as the reward: episodes that write a character stroke by stroke, each
//! position exactly as the next-stroke test shows it ([`crate::eval::next_stroke`]): the
//! strokes before it as the history and on the canvas, the whole character as the
//! reference, brush strokes only. At each position the policy draws a group of candidate
//! strokes; one earns 1 when it lies nearer the true next stroke than every other stroke
//! still to write, else 0. Then the true stroke is written, not a candidate, so that the
//! next position is the test's too.
//!
//! Why: imitation learns the next stroke as one target among an op's fields, and the
//! shipped model fits its own training characters no better than held-out ones (63 %
//! against 63 % at the defaults): it is not memorising, it is not choosing. The reward asks
//! for the choice as the test scores it — which stroke, not its exact bins.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Episode, Start, policy_run};
use crate::engine::Engine;
use crate::eval::next_stroke::{self, Polyline, nearest_is_first, polyline};
use crate::model::stroke_transformer::StrokeTransformer;
use crate::ops::pb;
use crate::painters::rng::Rng;
use crate::painters::transformer::{DEFAULT_TEMPERATURE, Transformer};
use crate::tokenizer::{ALL_FIELDS, FIELDS, Field};
use crate::training::hanzi::{self, Character, Ink};

/// Canvas side the characters are written on: the next-stroke test's (`eval --hanzi-size`).
pub const SIDE: u32 = 128;

/// What a stroke's reward depends on: where it starts and its steps (see [`polyline`]).
const CREDITED: [bool; FIELDS] = {
    let mut credited = [false; FIELDS];
    let mut i = 0;
    while i < FIELDS {
        credited[i] = matches!(
            ALL_FIELDS[i],
            Field::X | Field::Y | Field::Dx1 | Field::Dy1 | Field::Dx2 | Field::Dy2 | Field::Dx3 | Field::Dy3
        );
        i += 1;
    }
    credited
};

/// One training character in this many is kept out of training, for the run's own figure,
/// with an augmented copy of each (the held-out split proper stays for `apprentice eval`).
const VALIDATION_ONE_IN: usize = 50;

/// The training split of a characters package: what episodes are drawn from, grouped by
/// stroke count (a batch's episodes must be as long as each other), and the few kept aside.
pub struct Characters {
    train: Vec<Character>,
    by_strokes: BTreeMap<usize, Vec<usize>>,
    /// The characters kept out, then an augmented copy of each.
    pub validation: Vec<Character>,
}

impl Characters {
    /// The characters of the packages in `dirs` (hanzi-writer-data or KanjiVG, as `--hanzi`
    /// takes them) outside the held-out split, with at least two strokes.
    pub fn load(dirs: &[PathBuf]) -> Result<Characters, String> {
        let mut all = Vec::new();
        for dir in dirs {
            for (ch, path) in hanzi::list(dir)? {
                if hanzi::held_out(ch) {
                    continue;
                }
                let c = hanzi::read(&path)?;
                if c.medians.len() >= 2 {
                    all.push(c);
                }
            }
        }
        let names = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
        let (mut train, mut validation) = (Vec::new(), Vec::new());
        for (i, c) in all.into_iter().enumerate() {
            if i % VALIDATION_ONE_IN == 0 { validation.push(c) } else { train.push(c) }
        }
        // And an augmented copy of each, as `eval --augmented` tests them (the same seed).
        let mut rng = Rng::new(7);
        let copies: Vec<Character> = validation.iter().map(|c| hanzi::augment(c, &mut rng).0).collect();
        validation.extend(copies);
        if train.is_empty() || validation.is_empty() {
            return Err(format!(
                "{names}: need at least 2 training characters with 2 strokes or more, found {}",
                train.len() + validation.len()
            ));
        }
        let mut by_strokes: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, c) in train.iter().enumerate() {
            by_strokes.entry(c.medians.len()).or_default().push(i);
        }
        Ok(Characters { train, by_strokes, validation })
    }

    /// `n` characters with as many strokes as each other: the first drawn uniformly, the
    /// rest among those of its stroke count; each, with probability `augment_rate`, an
    /// augmented copy in its own ink (as `data --augment` writes them).
    pub fn draw(&self, n: usize, augment_rate: f32, rng: &mut Rng) -> Vec<(Character, Ink)> {
        let first = rng.index(self.train.len());
        let same = &self.by_strokes[&self.train[first].medians.len()];
        (0..n)
            .map(|i| {
                let c = &self.train[if i == 0 { first } else { same[rng.index(same.len())] }];
                match rng.unit() < augment_rate {
                    true => hanzi::augment(c, rng),
                    false => (c.clone(), Ink::default()),
                }
            })
            .collect()
    }
}

/// Writes `character` stroke by stroke, drawing `group` candidates at every position with
/// at least two strokes left (the test's positions) and rewarding each.
pub fn rollout(
    model: &Arc<StrokeTransformer>,
    character: &Character,
    ink: Ink,
    group: usize,
    seed: u64,
) -> candle_core::Result<Episode> {
    let full = hanzi::history_in(character, SIDE, ink);
    let lines: Vec<Polyline> = full.ops.iter().filter_map(polyline).collect();
    let header = full.header.clone().unwrap_or_default();
    let blank = Engine::new(&header).canvas().clone();
    let start = Start { header, canvas: blank, reference: crate::canvas_view::render(&full) };
    let len = lines.len().saturating_sub(1);
    let (mut run, mut episode) = policy_run(model, &start, vec![pb::Tool::Brush], seed, len, CREDITED);
    for (k, truth) in full.ops.iter().take(len).enumerate() {
        episode.states.push(run.state().map(<[f32]>::to_vec).unwrap_or_default());
        let (mut tokens, mut glimpses, mut rewards) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..group {
            let (token, glimpse) = run.sample_token_and_glimpse()?;
            let right = polyline(&run.decode(&token)).is_some_and(|p| nearest_is_first(&p, &lines[k..]));
            rewards.push(f32::from(u8::from(right)));
            tokens.push(token);
            glimpses.push(glimpse);
        }
        let Some(token) = run.encode(truth) else {
            candle_core::bail!("{:?}: stroke {} cannot be written as a token", character.ch, k + 1)
        };
        run.commit(&token, truth);
        episode.painted.push(token);
        episode.ops.push(tokens);
        episode.glimpses.push(glimpses);
        episode.rewards.push(rewards);
    }
    Ok(episode)
}

/// Next-stroke accuracy of `model` on `characters` at the painters' default temperature:
/// the run's own figure.
pub fn accuracy(model: &Arc<StrokeTransformer>, characters: &[Character]) -> f32 {
    let painter = Transformer::new(model.clone());
    next_stroke::evaluate(&painter, characters, SIDE, DEFAULT_TEMPERATURE).painter_rate() as f32
}
