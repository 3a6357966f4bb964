//! Next-stroke accuracy on held-out characters: shown the first k strokes of a
//! character (the canvas with them painted, their ops as the history, and the
//! whole character as the reference), does a painter write the right stroke
//! next?
//!
//! The painter's next op (brush strokes only) counts as right when it is closer
//! to the true next stroke than to any other stroke still to be written. The
//! distance between two strokes is the mean distance, in pixels, between
//! corresponding points of the two polylines, each resampled to 16 points
//! evenly spaced along its length, in the better of the two directions: it asks
//! which stroke, not which way round, and it is symmetric. Positions with one
//! stroke left are skipped, since any answer would be right there.
//!
//! The baseline is the rule "the remaining stroke that starts highest, then
//! leftmost". Starts rarely tie exactly, so starts within 1/32 of the canvas
//! below the highest one count as equally high, and the leftmost of those wins.

use crate::canvas_view::render;
use crate::engine::Engine;
use crate::ops::pb;
use crate::painters::{Painter, Request};
use crate::tokenizer::arc_samples;
use crate::training::hanzi::{self, Character};

/// Points per stroke when comparing two strokes.
const SAMPLES: usize = 16;
/// Starts within this share of the canvas side of the highest count as level.
const SAME_ROW: f32 = 1.0 / 32.0;

/// A stroke's path, in canvas pixels.
pub type Polyline = Vec<(f32, f32)>;

/// The path of a stroke op (`None` for other ops).
pub fn polyline(op: &pb::Op) -> Option<Polyline> {
    match &op.kind {
        Some(pb::op::Kind::Stroke(s)) if !s.points.is_empty() => {
            Some(s.points.iter().map(|p| (p.x, p.y)).collect())
        }
        _ => None,
    }
}

fn samples(line: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let with_pressure: Vec<(f32, f32, f32)> = line.iter().map(|&(x, y)| (x, y, 1.0)).collect();
    arc_samples(&with_pressure, SAMPLES).into_iter().map(|(x, y, _)| (x, y)).collect()
}

/// The distance between two strokes (see the module notes), in pixels.
pub fn distance(a: &[(f32, f32)], b: &[(f32, f32)]) -> f32 {
    let (a, b) = (samples(a), samples(b));
    let mean = |b: &mut dyn Iterator<Item = &(f32, f32)>| {
        a.iter().zip(b).map(|(p, q)| (p.0 - q.0).hypot(p.1 - q.1)).sum::<f32>() / SAMPLES as f32
    };
    mean(&mut b.iter()).min(mean(&mut b.iter().rev()))
}

/// Whether `stroke` is strictly closer to `remaining[0]` (the true next stroke)
/// than to every other remaining stroke.
pub fn nearest_is_first(stroke: &[(f32, f32)], remaining: &[Polyline]) -> bool {
    let Some((truth, others)) = remaining.split_first() else { return false };
    let d = distance(stroke, truth);
    others.iter().all(|o| distance(stroke, o) > d)
}

/// The rule's choice among the remaining strokes (an index into `remaining`):
/// the one that starts highest, then leftmost, on a `side`-pixel canvas.
pub fn rule_pick(remaining: &[Polyline], side: f32) -> usize {
    let top = remaining.iter().map(|l| l[0].1).fold(f32::INFINITY, f32::min);
    remaining
        .iter()
        .enumerate()
        .filter(|(_, l)| l[0].1 <= top + SAME_ROW * side)
        .min_by(|a, b| a.1[0].0.total_cmp(&b.1[0].0))
        .map_or(0, |(i, _)| i)
}

/// Counts over every position evaluated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accuracy {
    pub characters: usize,
    /// (character, k) pairs with at least two strokes left.
    pub positions: usize,
    /// Positions where the painter's stroke was nearest the true next stroke.
    pub painter: usize,
    /// Positions where the rule picked the true next stroke.
    pub rule: usize,
    /// Positions where the painter's stroke was nearer a stroke already written than every
    /// stroke still to write: it wrote over what was done.
    pub over_written: usize,
    /// Per position, the distance from the painter's stroke to the nearest stroke still to
    /// write (pixels; how precisely it copies, whichever stroke it chose).
    pub misses: Vec<f32>,
    /// Expected right answers of a random pick among the remaining strokes.
    pub chance: f64,
}

impl Accuracy {
    fn share(&self, n: f64) -> f64 {
        if self.positions == 0 { f64::NAN } else { n / self.positions as f64 }
    }

    pub fn painter_rate(&self) -> f64 {
        self.share(self.painter as f64)
    }

    pub fn rule_rate(&self) -> f64 {
        self.share(self.rule as f64)
    }

    pub fn chance_rate(&self) -> f64 {
        self.share(self.chance)
    }

    pub fn over_written_rate(&self) -> f64 {
        self.share(self.over_written as f64)
    }

    /// The median of [`Accuracy::misses`] (NaN with none).
    pub fn median_miss(&self) -> f32 {
        let mut m = self.misses.clone();
        m.sort_by(f32::total_cmp);
        m.get(m.len() / 2).copied().unwrap_or(f32::NAN)
    }
}

/// Up to `n` held-out characters of the package in `dir`, evenly spaced in
/// code-point order (so that they span its range, not only its radicals).
pub fn held_out_characters(dir: &std::path::Path, n: usize) -> Result<Vec<Character>, String> {
    let held: Vec<_> = hanzi::list(dir)?.into_iter().filter(|(c, _)| hanzi::held_out(*c)).collect();
    if held.is_empty() {
        return Err(format!("{}: none of its characters is in the held-out split", dir.display()));
    }
    let n = n.min(held.len());
    (0..n).map(|i| hanzi::read(&held[i * held.len() / n].1)).collect()
}

/// Runs `painter` and the rule over every position of `characters`, written on
/// `side × side` canvases as `apprentice data` writes them. Each position's
/// seed is the character's code point and k, so a run is reproducible.
pub fn evaluate(painter: &dyn Painter, characters: &[Character], side: u32, temperature: f32) -> Accuracy {
    let mut acc = Accuracy { characters: characters.len(), ..Accuracy::default() };
    for c in characters {
        let full = hanzi::history(c, side);
        let header = full.header.clone().unwrap_or_default();
        let lines: Vec<Polyline> = full.ops.iter().filter_map(polyline).collect();
        let reference = render(&full);
        let mut engine = Engine::new(&header);
        for k in 0..lines.len().saturating_sub(1) {
            let remaining = &lines[k..];
            let request = Request {
                history: pb::History { header: Some(header.clone()), ops: full.ops[..k].to_vec() },
                canvas: engine.canvas().clone(),
                reference: Some(reference.clone()),
                temperature,
                seed: (u64::from(u32::from(c.ch)) << 8) | k as u64,
                allowed_tools: vec![pb::Tool::Brush],
                canvas_at: None,
                stop: None,
                imagination: None,
            };
            let op = painter.start(request).next_op();
            if let Some(p) = polyline(&op) {
                acc.painter += usize::from(nearest_is_first(&p, remaining));
                let nearest =
                    |lines: &[Polyline]| lines.iter().map(|l| distance(&p, l)).fold(f32::INFINITY, f32::min);
                let miss = nearest(remaining);
                acc.over_written += usize::from(nearest(&lines[..k]) < miss);
                acc.misses.push(miss);
            }
            acc.rule += usize::from(rule_pick(remaining, side as f32) == 0);
            acc.chance += 1.0 / remaining.len() as f64;
            acc.positions += 1;
            engine.apply(&full.ops[k]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::painters::OpStream;

    /// 三, hand-written in the package's format: three horizontal strokes, top
    /// to bottom (glyph y points up, so the top stroke has the largest y).
    const THREE: &str =
        r#"{"medians": [[[250, 700], [750, 700]], [[300, 450], [700, 450]], [[150, 150], [850, 150]]]}"#;
    /// 十: the horizontal stroke first, though the vertical one starts higher.
    const TEN: &str = r#"{"medians": [[[110, 440], [930, 470]], [[460, 810], [505, -30]]]}"#;

    fn lines(ch: char, text: &str) -> Vec<Polyline> {
        hanzi::history(&hanzi::parse(ch, text).unwrap(), 128).ops.iter().filter_map(polyline).collect()
    }

    #[test]
    fn the_distance_is_symmetric_ignores_direction_and_grows_with_offset() {
        let a = vec![(0.0, 0.0), (10.0, 0.0)];
        let b = vec![(0.0, 3.0), (4.0, 3.0), (10.0, 3.0)];
        assert!((distance(&a, &b) - 3.0).abs() < 1e-5);
        assert_eq!(distance(&a, &b), distance(&b, &a));
        let reversed: Polyline = a.iter().rev().copied().collect();
        assert!(distance(&a, &reversed) < 1e-5, "the same stroke written the other way round");
        assert!(distance(&a, &[(0.0, 9.0), (10.0, 9.0)]) > distance(&a, &b));
    }

    #[test]
    fn the_rule_picks_the_highest_start_then_the_leftmost() {
        let three = lines('三', THREE);
        assert_eq!(rule_pick(&three, 128.0), 0, "三: the top stroke");
        assert_eq!(rule_pick(&three[1..], 128.0), 0, "then the middle one");
        // 十 is written horizontal first; the rule takes the vertical, which starts higher.
        assert_eq!(rule_pick(&lines('十', TEN), 128.0), 1);
        // Starts at nearly the same height: the leftmost wins.
        let level = vec![vec![(90.0, 20.0), (100.0, 60.0)], vec![(30.0, 22.0), (40.0, 60.0)]];
        assert_eq!(rule_pick(&level, 128.0), 1);
    }

    /// A painter that always draws the same stroke, whatever it is shown.
    struct Always(Polyline);

    impl Painter for Always {
        fn name(&self) -> &'static str {
            "always"
        }

        fn start(&self, _: Request) -> Box<dyn OpStream> {
            struct Run(pb::Op);
            impl OpStream for Run {
                fn next_op(&mut self) -> pb::Op {
                    self.0.clone()
                }
            }
            let points = self.0.iter().map(|&(x, y)| pb::Point { x, y, ..Default::default() }).collect();
            let stroke = pb::Stroke { tool: pb::Tool::Brush as i32, points, ..Default::default() };
            Box::new(Run(pb::Op { kind: Some(pb::op::Kind::Stroke(stroke)) }))
        }
    }

    #[test]
    fn a_position_counts_when_the_painters_stroke_is_nearest_the_true_next_one() {
        let chars = [hanzi::parse('三', THREE).unwrap(), hanzi::parse('十', TEN).unwrap()];
        // Positions: 三 after 0 and 1 strokes, 十 after 0 (the last stroke of each is not asked).
        let top_line = Always(vec![(20.0, 10.0), (108.0, 10.0)]);
        let acc = evaluate(&top_line, &chars, 128, 0.0);
        assert_eq!((acc.characters, acc.positions), (2, 3));
        // A line across the top is nearest 三's top stroke, then (once that is
        // written) its middle one; for 十 it is nearer the horizontal than the vertical.
        assert_eq!(acc.painter, 3);
        // The rule is right on 三 twice and wrong on 十.
        assert_eq!(acc.rule, 2);
        // Once 三's top stroke is written, the line across the top lies on it, not on a stroke
        // still to write; it misses the nearest one to write by the strokes' distance.
        assert_eq!(acc.over_written, 1);
        assert_eq!(acc.misses.len(), 3);
        assert!((acc.chance - (1.0 / 3.0 + 1.0 / 2.0 + 1.0 / 2.0)).abs() < 1e-9);
        assert!((acc.rule_rate() - 2.0 / 3.0).abs() < 1e-9);

        let bottom_line = Always(vec![(20.0, 120.0), (108.0, 120.0)]);
        assert_eq!(evaluate(&bottom_line, &chars[..1], 128, 0.0).painter, 0, "always 三's last stroke");
    }
}
