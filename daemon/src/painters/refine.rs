//! Engine-guided refinement of candidate ops, for copy mode.
//!
//! A [`Judge`] tries an op on the real canvas and puts back only the pixels
//! the op can reach, so a trial costs the op's footprint, not a canvas copy.
//! It also finds the colour that brings an op's footprint closest to the
//! reference: painting is linear in the paint colour (every tool that carries
//! one blends source-over), so two trials — in white and in black — give each
//! pixel's coverage and the best colour follows by least squares.
//! [`ErrorMap`] says where the canvas is still most wrong, and [`moved`] takes
//! an op there.

use super::analysis::{Picture, over_white};
use super::rng::Rng;
use crate::engine::{Engine, Px};
use crate::ops::{pb, pb::op::Kind};

/// A half-open pixel rectangle `x0..x1 × y0..y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

/// The bounding box of a stroke's points: `(lo_x, lo_y, hi_x, hi_y)`; `None` without points.
fn bounds(points: &[pb::Point]) -> Option<(f32, f32, f32, f32)> {
    let first = points.first()?;
    Some(points.iter().fold((first.x, first.y, first.x, first.y), |(lx, ly, hx, hy), p| {
        (lx.min(p.x), ly.min(p.y), hx.max(p.x), hy.max(p.y))
    }))
}

/// The pixels `op` can change on a `w × h` canvas (`None`: nothing).
pub fn reach(op: &pb::Op, w: usize, h: usize) -> Option<Rect> {
    let whole = Rect { x0: 0, y0: 0, x1: w, y1: h };
    match &op.kind {
        Some(Kind::Stroke(s)) => {
            // A dab reaches half its diameter (at most the size, pressure ≤ 1)
            // plus half a pixel of anti-aliasing; one more pixel for rounding.
            let size = s.brush.as_ref().map_or(1.0, |b| b.size).max(1.0);
            let pad = size / 2.0 + 1.5;
            let (lo_x, lo_y, hi_x, hi_y) = bounds(&s.points)?;
            let clip = |v: f32, n: usize| (v.max(0.0) as usize).min(n);
            let r = Rect {
                x0: clip((lo_x - pad).floor(), w),
                y0: clip((lo_y - pad).floor(), h),
                x1: clip((hi_x + pad).ceil(), w),
                y1: clip((hi_y + pad).ceil(), h),
            };
            (r.x0 < r.x1 && r.y0 < r.y1).then_some(r)
        }
        Some(Kind::Fill(_)) => Some(whole),
        Some(Kind::RasterPatch(_) | Kind::MagicBrush(_)) => Some(whole),
        _ => None,
    }
}

/// What an op would do: its [`Judge::gain`], the part of it where pixels move away from the
/// reference (`harm`, at least 0: the gain is the harm less the help), and the largest change
/// to a channel of any pixel as a painter sees it (over white, 0..1; 0 for an op that changes
/// nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Effect {
    pub gain: f64,
    pub harm: f64,
    pub largest: f32,
}

/// Tries ops against a reference on the canvas they would be painted on.
pub struct Judge {
    reference: Picture,
    backup: Vec<Px>,
}

impl Judge {
    pub fn new(reference: Picture) -> Judge {
        Judge { reference, backup: Vec::new() }
    }

    pub fn reference(&self) -> &Picture {
        &self.reference
    }

    /// How much `op` would change the summed squared error to the reference
    /// (negative: it brings the canvas closer). The canvas is left as it was.
    pub fn gain(&mut self, engine: &mut Engine, op: &pb::Op) -> f64 {
        let (w, h) = (engine.canvas().width(), engine.canvas().height());
        let Some(r) = reach(op, w, h) else { return 0.0 };
        let before = error(&self.reference, engine, r);
        let after = trial(&mut self.backup, engine, op, r, |e, _| error(&self.reference, e, r));
        after - before
    }

    /// What `op` would do to the canvas, as [`Effect`] says. The canvas is left as it was.
    pub fn effect(&mut self, engine: &mut Engine, op: &pb::Op) -> Effect {
        let w = engine.canvas().width();
        let Some(r) = reach(op, w, engine.canvas().height()) else { return Effect::default() };
        let reference = &self.reference;
        trial(&mut self.backup, engine, op, r, |e, old| {
            let (n, mut effect) = (r.x1 - r.x0, Effect::default());
            for (i, y) in (r.y0..r.y1).enumerate() {
                let row = &e.canvas().pixels()[y * w + r.x0..y * w + r.x1];
                let refs = y * reference.width + r.x0;
                for (j, (&new, &was)) in row.iter().zip(&old[i * n..(i + 1) * n]).enumerate() {
                    let change =
                        pixel_error(reference, new, refs + j) - pixel_error(reference, was, refs + j);
                    effect.gain += f64::from(change);
                    effect.harm += f64::from(change.max(0.0));
                    let (a, b) = (over_white(new), over_white(was));
                    effect.largest = (0..3).map(|k| (a[k] - b[k]).abs()).fold(effect.largest, f32::max);
                }
            }
            effect
        })
    }

    /// `op` in the colour that brings the pixels it covers closest to the
    /// reference (least squares over its coverage); `None` for ops that carry
    /// no colour or cover nothing.
    pub fn recoloured(&mut self, engine: &mut Engine, op: &pb::Op) -> Option<pb::Op> {
        self.colour(engine, op).map(|rgb| with_colour(op, rgb))
    }

    /// The reference's colour where `op` starts (a stroke's first point, a fill's
    /// seed): the colour a painter picks up where they begin, taken from the
    /// picture as it is there — not a mixture of all the stroke crosses, which
    /// may be a colour found nowhere in it. `None` for ops that carry no colour.
    pub fn picked(&self, op: &pb::Op) -> Option<[f32; 3]> {
        if !carries_colour(op) {
            return None;
        }
        let (x, y) = super::analysis::start(op)?;
        let at = |v: f32, n: usize| (v.max(0.0) as usize).min(n - 1);
        let rgb = self.reference.at(at(x, self.reference.width), at(y, self.reference.height));
        // A picture composited over white or blurred runs a hair past 0..1 in float; an op's
        // colour must not (the daemon refuses it when the editor sends it back).
        Some(rgb.map(|v| v.clamp(0.0, 1.0)))
    }

    /// The colour [`Judge::recoloured`] would give `op`.
    pub fn colour(&mut self, engine: &mut Engine, op: &pb::Op) -> Option<[f32; 3]> {
        if !carries_colour(op) {
            return None;
        }
        let (w, h) = (engine.canvas().width(), engine.canvas().height());
        let r = reach(op, w, h)?;
        let looks = |e: &Engine| -> Vec<[f32; 3]> {
            let c = e.canvas();
            (r.y0..r.y1)
                .flat_map(|y| c.pixels()[y * w + r.x0..y * w + r.x1].iter().map(|&p| over_white(p)))
                .collect()
        };
        let white = trial(&mut self.backup, engine, &with_colour(op, [1.0; 3]), r, |e, _| looks(e));
        let black = trial(&mut self.backup, engine, &with_colour(op, [0.0; 3]), r, |e, _| looks(e));
        let n = r.x1 - r.x0;
        let (mut num, mut den) = ([0.0f64; 3], [0.0f64; 3]);
        for (i, (wp, bp)) in white.iter().zip(&black).enumerate() {
            let at = (r.y0 + i / n) * self.reference.width + r.x0 + i % n;
            for k in 0..3 {
                // Painted = black + coverage × colour.
                let coverage = f64::from(wp[k] - bp[k]);
                num[k] += coverage * f64::from(self.reference.rgb[k][at] - bp[k]);
                den[k] += coverage * coverage;
            }
        }
        if den.iter().any(|&d| d < 1e-6) {
            return None;
        }
        Some([0, 1, 2].map(|k| (num[k] / den[k]).clamp(0.0, 1.0) as f32))
    }
}

/// Squared error (RGB over white) of pixel `p` against the reference at index `i`.
fn pixel_error(reference: &Picture, p: Px, i: usize) -> f32 {
    let f = over_white(p);
    (0..3).map(|k| (f[k] - reference.rgb[k][i]).powi(2)).sum()
}

/// Summed squared error of the canvas within `r`.
fn error(reference: &Picture, engine: &Engine, r: Rect) -> f64 {
    let c = engine.canvas();
    let mut sum = 0.0f64;
    for y in r.y0..r.y1 {
        let row = &c.pixels()[y * c.width() + r.x0..y * c.width() + r.x1];
        let refs = y * reference.width + r.x0;
        sum +=
            f64::from(row.iter().enumerate().map(|(i, &p)| pixel_error(reference, p, refs + i)).sum::<f32>());
    }
    sum
}

/// Paints `op`, lets `look` see the canvas (and the pixels of `r` as they were, row by row),
/// then puts the pixels in `r` back (`backup` is scratch space).
fn trial<T>(
    backup: &mut Vec<Px>,
    engine: &mut Engine,
    op: &pb::Op,
    r: Rect,
    look: impl FnOnce(&Engine, &[Px]) -> T,
) -> T {
    let w = engine.canvas().width();
    backup.clear();
    for y in r.y0..r.y1 {
        backup.extend_from_slice(&engine.canvas().pixels()[y * w + r.x0..y * w + r.x1]);
    }
    engine.apply(op);
    let seen = look(engine, backup);
    let n = r.x1 - r.x0;
    for (i, y) in (r.y0..r.y1).enumerate() {
        engine.canvas_mut().row_mut(y, r.x0, r.x1).copy_from_slice(&backup[i * n..(i + 1) * n]);
    }
    seen
}

fn carries_colour(op: &pb::Op) -> bool {
    match &op.kind {
        Some(Kind::Fill(_)) => true,
        Some(Kind::Stroke(s)) => {
            !matches!(s.tool(), pb::Tool::Eraser | pb::Tool::Smudge)
                && s.brush
                    .as_ref()
                    .is_some_and(|b| matches!(b.blend(), pb::BlendMode::Unspecified | pb::BlendMode::Normal))
        }
        _ => false,
    }
}

/// `op` in the colour `rgb`, its alpha kept.
pub fn with_colour(op: &pb::Op, rgb: [f32; 3]) -> pb::Op {
    let mut op = op.clone();
    let slot = match &mut op.kind {
        Some(Kind::Fill(f)) => &mut f.color,
        Some(Kind::Stroke(s)) => match s.brush.as_mut() {
            Some(b) => &mut b.color,
            None => return op,
        },
        _ => return op,
    };
    let a = slot.as_ref().and_then(|c| c.a);
    *slot = Some(pb::Color { r: rgb[0], g: rgb[1], b: rgb[2], a });
    op
}

/// `op` moved so that its centre (a stroke's bounding-box centre, a fill's
/// seed) lands on `(x, y)`, on a `w × h` canvas.
pub fn moved(op: &pb::Op, x: f32, y: f32, w: usize, h: usize) -> pb::Op {
    let mut op = op.clone();
    match &mut op.kind {
        Some(Kind::Stroke(s)) => {
            let Some((lo_x, lo_y, hi_x, hi_y)) = bounds(&s.points) else { return op };
            let (dx, dy) = (x - (lo_x + hi_x) / 2.0, y - (lo_y + hi_y) / 2.0);
            for p in &mut s.points {
                p.x += dx;
                p.y += dy;
            }
        }
        Some(Kind::Fill(f)) => {
            f.x = x.clamp(0.0, w as f32 - 0.5);
            f.y = y.clamp(0.0, h as f32 - 0.5);
        }
        _ => {}
    }
    op
}

/// Where the canvas is wrong: squared error summed over square cells, to
/// draw places from in proportion to how wrong they are.
pub struct ErrorMap {
    cell: usize,
    columns: usize,
    /// Running totals of the cells' weights, for drawing one.
    cumulative: Vec<f64>,
}

impl ErrorMap {
    pub fn of(engine: &Engine, reference: &Picture, cell: usize) -> ErrorMap {
        let c = engine.canvas();
        let (w, h) = (c.width(), c.height());
        let (columns, rows) = (w.div_ceil(cell), h.div_ceil(cell));
        let mut cells = vec![0.0f64; columns * rows];
        for (i, &p) in c.pixels().iter().enumerate() {
            cells[(i / w / cell) * columns + (i % w) / cell] += f64::from(pixel_error(reference, p, i));
        }
        // Squared again: the worst places get most of the attention.
        let mut total = 0.0;
        let cumulative = cells
            .iter()
            .map(|e| {
                total += e * e;
                total
            })
            .collect();
        ErrorMap { cell, columns, cumulative }
    }

    /// A point drawn in proportion to its cell's weight; `None` when the canvas is right everywhere.
    pub fn sample(&self, rng: &mut Rng) -> Option<(f32, f32)> {
        let total = *self.cumulative.last()?;
        if total <= 0.0 {
            return None;
        }
        let target = f64::from(rng.unit()) * total;
        let i = self.cumulative.partition_point(|&c| c <= target).min(self.cumulative.len() - 1);
        let (cx, cy) = ((i % self.columns) * self.cell, (i / self.columns) * self.cell);
        Some((cx as f32 + rng.unit() * self.cell as f32, cy as f32 + rng.unit() * self.cell as f32))
    }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::mse;
    use super::*;
    use crate::engine::Canvas;
    use crate::ops::Rgba;
    use crate::tokenizer::{ALL_FIELDS, OpToken, Tokenizer, kind};
    use crate::training::scenes::scene;

    const W: usize = 72;
    const H: usize = 56;

    /// Random ops of every kind the models emit, many of them at or past the edges.
    fn random_ops(n: usize, seed: u64) -> Vec<pb::Op> {
        let tokenizer =
            Tokenizer::new(&pb::Header { width: W as u32, height: H as u32, ..Default::default() });
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|i| {
                let mut t = OpToken::default();
                for f in ALL_FIELDS {
                    t.set(f, rng.index(usize::from(f.vocab())) as u16);
                }
                // Every kind in turn (START decodes as a brush dab).
                t.set(crate::tokenizer::Field::Kind, 1 + (i as u16 % (kind::COUNT - 1)));
                tokenizer.decode(&t)
            })
            .collect()
    }

    /// A canvas with some of everything: a picture, a hole erased to transparency.
    fn canvas() -> Engine {
        let mut engine = Engine::from_canvas(scene(W, H, 3));
        for y in 10..20 {
            for p in engine.canvas_mut().row_mut(y, 5, 30) {
                *p = [p[0] * 0.3, p[1] * 0.3, p[2] * 0.3, 0.3];
            }
        }
        engine
    }

    #[test]
    fn a_trial_measures_exactly_what_the_op_would_change_and_puts_the_canvas_back() {
        let reference = scene(W, H, 11);
        let mut judge = Judge::new(Picture::of(&reference));
        let mut engine = canvas();
        let n = (3 * W * H) as f64;
        for op in random_ops(300, 1) {
            let before = engine.canvas().clone();
            let gain = judge.gain(&mut engine, &op);
            assert_eq!(engine.canvas(), &before, "the canvas is put back after {op:?}");
            let mut painted = Engine::from_canvas(before.clone());
            painted.apply(&op);
            // The whole-canvas error agrees: the op touched nothing outside its reach.
            let expected = (mse(painted.canvas(), &reference) - mse(&before, &reference)) * n;
            assert!(
                (gain - expected).abs() < 1e-3 * (1.0 + expected.abs()),
                "{gain} vs {expected} for {op:?}"
            );
            // Its effect says the same, and what it spoils and how much it shows.
            let effect = judge.effect(&mut engine, &op);
            assert_eq!(engine.canvas(), &before);
            assert!((effect.gain - gain).abs() < 1e-3 * (1.0 + gain.abs()), "{effect:?} vs {gain}");
            assert!(effect.harm >= 0.0 && effect.harm >= effect.gain - 1e-6, "{effect:?}");
            let largest = Picture::of(&before)
                .rgb
                .iter()
                .zip(&Picture::of(painted.canvas()).rgb)
                .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
                .fold(0.0f32, f32::max);
            assert!((effect.largest - largest).abs() < 1e-5, "{} vs {largest}", effect.largest);
            // Keep the canvas changing, so later ops meet what earlier ones left.
            engine.apply(&op);
        }
    }

    #[test]
    fn the_best_colour_is_never_worse_than_the_proposed_one() {
        let reference = scene(W, H, 12);
        let mut judge = Judge::new(Picture::of(&reference));
        let mut engine = canvas();
        let mut recoloured_count = 0;
        for op in random_ops(200, 2) {
            if let Some(better) = judge.recoloured(&mut engine, &op) {
                recoloured_count += 1;
                let (g0, g1) = (judge.gain(&mut engine, &op), judge.gain(&mut engine, &better));
                assert!(g1 <= g0 + 1e-3, "{g1} > {g0} for {op:?}");
                validate_op(&better);
            }
        }
        assert!(recoloured_count > 100, "brushes, airbrushes, pencils and fills get a colour");
    }

    fn validate_op(op: &pb::Op) {
        let header = pb::Header { width: W as u32, height: H as u32, ..Default::default() };
        crate::ops::validate::op(op, &header).unwrap();
    }

    #[test]
    fn the_colour_chosen_is_the_least_squares_best_under_the_stroke() {
        let reference = Canvas::new(W, H, Rgba { r: 0.2, g: 0.6, b: 0.9, a: 1.0 });
        let mut judge = Judge::new(Picture::of(&reference));
        let mut engine = Engine::from_canvas(Canvas::new(W, H, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }));
        let dot = |x, y| pb::Point { x, y, pressure: Some(1.0), time_ms: 0, tilt: None };
        let stroke = pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState {
                    size: 9.0,
                    color: Some(pb::Color { r: 0.9, g: 0.1, b: 0.1, a: None }),
                    ..Default::default()
                }),
                points: vec![dot(10.0, 10.0), dot(40.0, 30.0)],
            })),
        };
        let best = judge.recoloured(&mut engine, &stroke).unwrap();
        let Some(Kind::Stroke(s)) = &best.kind else { panic!() };
        let c = s.brush.as_ref().unwrap().color.unwrap();
        // Darker than the reference where the soft rim only half covers the white: least squares.
        assert!(c.r < 0.2 && c.g < 0.6 && c.b < 0.9 && c.g > 0.5, "{c:?}");
        let g = judge.gain(&mut engine, &best);
        assert!(g < judge.gain(&mut engine, &with_colour(&stroke, [0.2, 0.6, 0.9])));
        for k in 0..3 {
            for d in [-0.02, 0.02] {
                let mut nudged = [c.r, c.g, c.b];
                nudged[k] += d;
                assert!(g <= judge.gain(&mut engine, &with_colour(&stroke, nudged)) + 1e-6, "{k} {d}");
            }
        }
        // Smudge and eraser strokes have no colour to choose.
        let mut smudge = stroke.clone();
        let Some(Kind::Stroke(s)) = &mut smudge.kind else { panic!() };
        s.tool = pb::Tool::Smudge as i32;
        assert!(judge.recoloured(&mut engine, &smudge).is_none());
    }

    #[test]
    fn a_colour_is_picked_where_the_op_starts_not_mixed_from_all_it_crosses() {
        // Red on the left half, blue on the right: a stroke from left to right is red.
        let mut reference = Canvas::new(W, H, Rgba { r: 0.1, g: 0.2, b: 0.9, a: 1.0 });
        for y in 0..H {
            reference.row_mut(y, 0, W / 2).fill([0.9, 0.1, 0.1, 1.0]);
        }
        let judge = Judge::new(Picture::of(&reference));
        let dot = |x, y| pb::Point { x, y, pressure: Some(1.0), time_ms: 0, tilt: None };
        let stroke = |from: f32, to: f32| pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState { size: 6.0, ..Default::default() }),
                points: vec![dot(from, 20.0), dot(to, 20.0)],
            })),
        };
        assert_eq!(judge.picked(&stroke(5.0, (W - 5) as f32)), Some([0.9, 0.1, 0.1]));
        assert_eq!(judge.picked(&stroke((W - 5) as f32, 5.0)), Some([0.1, 0.2, 0.9]));
        // Off the canvas: the nearest edge pixel's colour.
        assert_eq!(judge.picked(&stroke(-30.0, 5.0)), Some([0.9, 0.1, 0.1]));
        // A white a hair past 1 in float (what compositing over white can give) is picked as 1.
        let mut bright = Picture::of(&reference);
        bright.rgb.iter_mut().for_each(|plane| plane.fill(1.000_000_2));
        bright.rgb[2].fill(-1e-7);
        assert_eq!(Judge::new(bright).picked(&stroke(5.0, 9.0)), Some([1.0, 1.0, 0.0]));
        let Some(Kind::Stroke(s)) = stroke(5.0, 9.0).kind else { unreachable!() };
        let eraser = pb::Op { kind: Some(Kind::Stroke(pb::Stroke { tool: pb::Tool::Eraser as i32, ..s })) };
        assert_eq!(judge.picked(&eraser), None, "an eraser lays no colour down");
    }

    #[test]
    fn an_effect_tells_what_an_op_mends_from_what_it_spoils() {
        // The reference is red on the left half and blue on the right; the canvas red
        // on the left half and white on the right.
        let two = |right: Rgba| {
            let mut c = Canvas::new(W, H, right);
            for y in 0..H {
                c.row_mut(y, 0, W / 2).fill([0.9, 0.1, 0.1, 1.0]);
            }
            c
        };
        let mut judge = Judge::new(Picture::of(&two(Rgba { r: 0.1, g: 0.2, b: 0.9, a: 1.0 })));
        let mut engine = Engine::from_canvas(two(Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }));
        let dot = |x, y| pb::Point { x, y, pressure: Some(1.0), time_ms: 0, tilt: None };
        let stroke = |from: f32, to: f32, rgb: [f32; 3]| pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState {
                    size: 6.0,
                    color: Some(pb::Color { r: rgb[0], g: rgb[1], b: rgb[2], a: None }),
                    ..Default::default()
                }),
                points: vec![dot(from, 20.0), dot(to, 20.0)],
            })),
        };
        let (red, blue, half) = ([0.9, 0.1, 0.1], [0.1, 0.2, 0.9], (W / 2) as f32);
        // Red over the red half: nothing changes, nothing is mended or spoilt.
        let same = judge.effect(&mut engine, &stroke(5.0, half - 8.0, red));
        assert!(same.largest < 1e-6 && same.harm < 1e-9 && same.gain.abs() < 1e-9, "{same:?}");
        // Blue on the white half mends only.
        let mends = judge.effect(&mut engine, &stroke(half + 8.0, (W - 5) as f32, blue));
        assert!(mends.gain < 0.0 && mends.harm < 1e-9 && mends.largest > 0.5, "{mends:?}");
        // Blue across both halves mends the right and spoils the left: the gain is their sum.
        let both = judge.effect(&mut engine, &stroke(5.0, (W - 5) as f32, blue));
        assert!(both.harm > 0.5 * (both.harm - both.gain) && both.gain > mends.gain, "{both:?} vs {mends:?}");
    }

    #[test]
    fn moved_ops_are_centred_on_the_place_given() {
        for op in random_ops(40, 3) {
            let there = moved(&op, 20.0, 30.0, W, H);
            match there.kind {
                Some(Kind::Stroke(s)) => {
                    let xs = s.points.iter().map(|p| p.x);
                    let ys = s.points.iter().map(|p| p.y);
                    let (lo, hi) = (xs.clone().fold(f32::MAX, f32::min), xs.fold(f32::MIN, f32::max));
                    assert!(((lo + hi) / 2.0 - 20.0).abs() < 1e-3);
                    let (lo, hi) = (ys.clone().fold(f32::MAX, f32::min), ys.fold(f32::MIN, f32::max));
                    assert!(((lo + hi) / 2.0 - 30.0).abs() < 1e-3);
                }
                Some(Kind::Fill(f)) => assert_eq!((f.x, f.y), (20.0, 30.0)),
                _ => panic!("the models emit strokes and fills"),
            }
            validate_op(&moved(&op, 1e4, -1e4, W, H));
        }
    }

    #[test]
    fn the_error_map_draws_only_where_the_canvas_is_wrong() {
        let reference = scene(W, H, 4);
        let mut engine = Engine::from_canvas(reference.clone());
        let map = ErrorMap::of(&engine, &Picture::of(&reference), 4);
        assert!(map.sample(&mut Rng::new(1)).is_none(), "nothing to draw on a finished copy");
        // Spoil one patch.
        for y in 40..48 {
            engine.canvas_mut().row_mut(y, 8, 16).fill([0.0, 0.0, 0.0, 1.0]);
        }
        let map = ErrorMap::of(&engine, &Picture::of(&reference), 4);
        let mut rng = Rng::new(2);
        for _ in 0..200 {
            let (x, y) = map.sample(&mut rng).unwrap();
            assert!((8.0..16.0).contains(&x) && (40.0..48.0).contains(&y), "({x}, {y})");
        }
    }
}
