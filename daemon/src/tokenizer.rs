//! The op tokenizer: one sequence position per op.
//!
//! An op becomes an [`OpToken`]: a fixed tuple of small categorical fields
//! (kind, start point, colour, size, opacity, hardness, the stroke's shape as
//! three steps between four samples — its own points when it has at most four,
//! else arc-length samples — pressure at each, fill
//! tolerance). The model embeds the fields of a position together and decodes
//! them field by field with small heads, so a sequence is as long as the
//! history, not ten times longer — generation and training cost one step per op.
//!
//! Decoding is grammar-constrained by construction: every field value in its
//! range decodes to a valid op, and [`OpToken::used`] says which fields a kind
//! reads (the rest are zero).
//!
//! Quantization bounds (W × H canvas, S = max(W, H)), each tested:
//! - colour channels: 32 levels, error ≤ 1/62;
//! - size: 48 log-spaced bins over [0.5, 2048] px, relative error ≤ 9.3 %;
//! - opacity: 16 levels, error ≤ 1/30; hardness: 11 levels, error ≤ 1/20;
//! - start point (and fill seed): 256 bins per axis, error ≤ W/512 (H/512), after
//!   clamping to the canvas;
//! - each step: signed square-root scale, 65 bins, error ≤ S·(|d/S|^½/32 + 1/4096),
//!   measured from the decoded previous point so errors do not accumulate;
//! - pressure: 8 levels, error ≤ 1/14; fill tolerance: 8 levels, error ≤ 1/14.
//!
//! Not modelled (decoded to their defaults): blend mode, flow, spacing, smudge
//! rate, tilt and timing (16 ms per step). Longer strokes keep their four
//! arc-length samples; undo/redo is resolved before tokenizing, and raster
//! patches and magic-brush dabs are not tokenized yet.

use crate::ops::limits::MAX_BRUSH_SIZE;
use crate::ops::{pb, pb::op::Kind};

/// The fields of a token, in decoding order: the place comes right after the
/// kind, so that what is decoded after it (colour, size, shape) can look at
/// the canvas there (the model's glimpse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Kind,
    X,
    Y,
    Red,
    Green,
    Blue,
    Size,
    Opacity,
    Hardness,
    Dx1,
    Dy1,
    Dx2,
    Dy2,
    Dx3,
    Dy3,
    P0,
    P1,
    P2,
    P3,
    Tolerance,
}

pub const FIELDS: usize = 20;

/// Index of the last field of the place: the glimpse joins after it.
pub const PLACE_END: usize = Field::Y as usize;

/// Every field, in decoding order.
pub const ALL_FIELDS: [Field; FIELDS] = [
    Field::Kind,
    Field::X,
    Field::Y,
    Field::Red,
    Field::Green,
    Field::Blue,
    Field::Size,
    Field::Opacity,
    Field::Hardness,
    Field::Dx1,
    Field::Dy1,
    Field::Dx2,
    Field::Dy2,
    Field::Dx3,
    Field::Dy3,
    Field::P0,
    Field::P1,
    Field::P2,
    Field::P3,
    Field::Tolerance,
];

const COLOR_LEVELS: u16 = 32;
const SIZE_BINS: u16 = 48;
const MIN_SIZE: f32 = 0.5;
const OPACITY_LEVELS: u16 = 16;
const HARDNESS_LEVELS: u16 = 11;
const POS_BINS: u16 = 256;
const DELTA_BINS: u16 = 65;
const PRESSURE_LEVELS: u16 = 8;
const TOLERANCE_LEVELS: u16 = 8;

/// A step's value `q` as a share of the canvas's longer side (signed square-root scale).
pub fn delta_share(q: u16) -> f32 {
    let half = f32::from(DELTA_BINS / 2);
    let t = (f32::from(q) - half) / half;
    t * t.abs()
}

/// The op kinds a token can be. 0 is the start-of-history position.
pub mod kind {
    pub const START: u16 = 0;
    pub const BRUSH: u16 = 1;
    pub const AIRBRUSH: u16 = 2;
    pub const PENCIL: u16 = 3;
    pub const ERASER: u16 = 4;
    pub const SMUDGE: u16 = 5;
    pub const FILL: u16 = 6;
    pub const COUNT: u16 = 7;
}

impl Field {
    /// How many values the field takes.
    pub fn vocab(self) -> u16 {
        match self {
            Field::Kind => kind::COUNT,
            Field::Red | Field::Green | Field::Blue => COLOR_LEVELS,
            Field::Size => SIZE_BINS,
            Field::Opacity => OPACITY_LEVELS,
            Field::Hardness => HARDNESS_LEVELS,
            Field::X | Field::Y => POS_BINS,
            Field::Dx1 | Field::Dy1 | Field::Dx2 | Field::Dy2 | Field::Dx3 | Field::Dy3 => DELTA_BINS,
            Field::P0 | Field::P1 | Field::P2 | Field::P3 => PRESSURE_LEVELS,
            Field::Tolerance => TOLERANCE_LEVELS,
        }
    }
}

/// One op as field values, indexed by `Field as usize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpToken(pub [u16; FIELDS]);

/// Everything but the fill tolerance, which comes last.
const STROKE_FIELDS: &[Field] = ALL_FIELDS.split_last().expect("fields").1;
const ERASER_FIELDS: &[Field] = &[
    Field::Kind,
    Field::X,
    Field::Y,
    Field::Size,
    Field::Opacity,
    Field::Hardness,
    Field::Dx1,
    Field::Dy1,
    Field::Dx2,
    Field::Dy2,
    Field::Dx3,
    Field::Dy3,
    Field::P0,
    Field::P1,
    Field::P2,
    Field::P3,
];
const FILL_FIELDS: &[Field] =
    &[Field::Kind, Field::X, Field::Y, Field::Red, Field::Green, Field::Blue, Field::Tolerance];

impl OpToken {
    pub fn get(&self, f: Field) -> u16 {
        self.0[f as usize]
    }

    pub fn set(&mut self, f: Field, v: u16) {
        self.0[f as usize] = v.min(f.vocab() - 1);
    }

    /// The fields an op of `kind` reads; the others stay 0. (The grammar: a
    /// decoder samples `Kind` first, then only these.)
    pub fn used(kind: u16) -> &'static [Field] {
        match kind {
            kind::FILL => FILL_FIELDS,
            // The eraser and the smudge tool have no colour.
            kind::ERASER | kind::SMUDGE => ERASER_FIELDS,
            kind::START => &[Field::Kind],
            _ => STROKE_FIELDS,
        }
    }

    /// The same token with every unused field zeroed.
    pub fn canonical(&self) -> OpToken {
        let k = self.get(Field::Kind).min(kind::COUNT - 1);
        let mut out = OpToken::default();
        for &f in OpToken::used(k) {
            out.set(f, self.get(f));
        }
        out
    }
}

fn level(v: f32, levels: u16) -> u16 {
    (v.clamp(0.0, 1.0) * f32::from(levels - 1)).round() as u16
}

fn unlevel(q: u16, levels: u16) -> f32 {
    f32::from(q) / f32::from(levels - 1)
}

fn size_bin(size: f32) -> u16 {
    let t = (size.clamp(MIN_SIZE, MAX_BRUSH_SIZE) / MIN_SIZE).ln() / (MAX_BRUSH_SIZE / MIN_SIZE).ln();
    (t * f32::from(SIZE_BINS - 1)).round() as u16
}

fn size_of(q: u16) -> f32 {
    MIN_SIZE * (MAX_BRUSH_SIZE / MIN_SIZE).powf(f32::from(q) / f32::from(SIZE_BINS - 1))
}

/// How many points of a stroke a token keeps: its start and three steps.
pub const CONTROL_POINTS: usize = 4;

/// A point along the polyline at arc length `s`.
fn along(points: &[(f32, f32, f32)], lengths: &[f32], s: f32) -> (f32, f32, f32) {
    let i = lengths.partition_point(|&l| l < s).clamp(1, points.len() - 1);
    let (a, b) = (points[i - 1], points[i]);
    let span = lengths[i] - lengths[i - 1];
    let t = if span > 0.0 { ((s - lengths[i - 1]) / span).clamp(0.0, 1.0) } else { 0.0 };
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, a.2 + (b.2 - a.2) * t)
}

/// `n` (≥ 2) samples of a non-empty polyline of (x, y, pressure), evenly spaced
/// by arc length from its first point to its last (all the first point when it
/// has no length).
pub fn arc_samples(points: &[(f32, f32, f32)], n: usize) -> Vec<(f32, f32, f32)> {
    let mut lengths = vec![0.0f32];
    for w in points.windows(2) {
        let l = lengths.last().copied().unwrap_or(0.0) + (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
        lengths.push(l);
    }
    let total = *lengths.last().expect("at least one point");
    if total == 0.0 {
        return vec![points[0]; n];
    }
    (0..n).map(|i| along(points, &lengths, i as f32 / (n - 1) as f32 * total)).collect()
}

/// The stroke's shape as four (x, y, pressure) samples: its own points when it
/// has at most four (the last repeated), else samples at 0, ⅓, ⅔ and all of
/// its arc length. (Decoded strokes have four points, so they encode exactly.)
fn resample(points: &[pb::Point]) -> [(f32, f32, f32); CONTROL_POINTS] {
    let pts: Vec<(f32, f32, f32)> =
        points.iter().map(|p| (p.x, p.y, crate::ops::brush::pressure(p))).collect();
    if pts.len() <= CONTROL_POINTS {
        return std::array::from_fn(|i| pts[i.min(pts.len() - 1)]);
    }
    let samples = arc_samples(&pts, CONTROL_POINTS);
    std::array::from_fn(|i| samples[i])
}

/// The tokenizer for one canvas size.
#[derive(Clone, Copy, Debug)]
pub struct Tokenizer {
    width: f32,
    height: f32,
}

impl Tokenizer {
    pub fn new(header: &pb::Header) -> Tokenizer {
        Tokenizer { width: header.width as f32, height: header.height as f32 }
    }

    fn scale(&self) -> f32 {
        self.width.max(self.height)
    }

    fn pos_bin(v: f32, extent: f32) -> u16 {
        ((v / extent * f32::from(POS_BINS)).floor().max(0.0) as u16).min(POS_BINS - 1)
    }

    fn pos_of(q: u16, extent: f32) -> f32 {
        (f32::from(q) + 0.5) * extent / f32::from(POS_BINS)
    }

    fn delta_bin(&self, d: f32) -> u16 {
        let half = DELTA_BINS / 2;
        let t = (d.abs() / self.scale()).sqrt().min(1.0).copysign(d);
        ((t * f32::from(half)).round() as i32 + i32::from(half)) as u16
    }

    fn delta_of(&self, q: u16) -> f32 {
        delta_share(q) * self.scale()
    }

    /// The canvas's longer side over its width and over its height: what a step's share
    /// of the longer side is in shares of each axis.
    pub fn aspects(&self) -> (f32, f32) {
        (self.scale() / self.width, self.scale() / self.height)
    }

    /// Where a token's op starts (a stroke's first point, a fill's seed), in canvas pixels.
    pub fn place(&self, token: &OpToken) -> (f32, f32) {
        (
            Tokenizer::pos_of(token.get(Field::X), self.width),
            Tokenizer::pos_of(token.get(Field::Y), self.height),
        )
    }

    /// The token of a validated op, or `None` for ops not tokenized (undo,
    /// redo, raster patches, magic brush).
    pub fn encode(&self, op: &pb::Op) -> Option<OpToken> {
        let mut t = OpToken::default();
        match &op.kind {
            Some(Kind::Fill(f)) => {
                let c = crate::ops::Rgba::from_pb(f.color.as_ref(), crate::ops::Rgba::BLACK);
                t.set(Field::Kind, kind::FILL);
                t.set(Field::Red, level(c.r, COLOR_LEVELS));
                t.set(Field::Green, level(c.g, COLOR_LEVELS));
                t.set(Field::Blue, level(c.b, COLOR_LEVELS));
                t.set(Field::X, Tokenizer::pos_bin(f.x, self.width));
                t.set(Field::Y, Tokenizer::pos_bin(f.y, self.height));
                t.set(Field::Tolerance, level(f.tolerance, TOLERANCE_LEVELS));
            }
            Some(Kind::Stroke(s)) => {
                let b = crate::ops::Brush::of(s);
                let k = match b.tool {
                    pb::Tool::Brush | pb::Tool::Unspecified => kind::BRUSH,
                    pb::Tool::Airbrush => kind::AIRBRUSH,
                    pb::Tool::Pencil => kind::PENCIL,
                    pb::Tool::Eraser => kind::ERASER,
                    pb::Tool::Smudge => kind::SMUDGE,
                };
                t.set(Field::Kind, k);
                t.set(Field::Red, level(b.color.r, COLOR_LEVELS));
                t.set(Field::Green, level(b.color.g, COLOR_LEVELS));
                t.set(Field::Blue, level(b.color.b, COLOR_LEVELS));
                t.set(Field::Size, size_bin(b.size));
                t.set(Field::Opacity, level(b.opacity, OPACITY_LEVELS));
                t.set(Field::Hardness, level(b.hardness, HARDNESS_LEVELS));
                let samples = resample(&s.points);
                t.set(Field::X, Tokenizer::pos_bin(samples[0].0, self.width));
                t.set(Field::Y, Tokenizer::pos_bin(samples[0].1, self.height));
                // Each step is taken from where the decoder will be, so errors do not add up.
                let (mut x, mut y) = (
                    Tokenizer::pos_of(t.get(Field::X), self.width),
                    Tokenizer::pos_of(t.get(Field::Y), self.height),
                );
                let steps = [(Field::Dx1, Field::Dy1), (Field::Dx2, Field::Dy2), (Field::Dx3, Field::Dy3)];
                for (i, (fx, fy)) in steps.into_iter().enumerate() {
                    // A point repeating the one before (a short stroke's padding) stays put:
                    // carrying the last step's rounding into it would draw a hook never drawn.
                    let (a, b) = (samples[i], samples[i + 1]);
                    let (dx, dy) = if (a.0, a.1) == (b.0, b.1) { (0.0, 0.0) } else { (b.0 - x, b.1 - y) };
                    let (qx, qy) = (self.delta_bin(dx), self.delta_bin(dy));
                    t.set(fx, qx);
                    t.set(fy, qy);
                    x += self.delta_of(qx);
                    y += self.delta_of(qy);
                }
                for (f, s) in [Field::P0, Field::P1, Field::P2, Field::P3].into_iter().zip(samples) {
                    t.set(f, level(s.2, PRESSURE_LEVELS));
                }
            }
            _ => return None,
        }
        Some(t.canonical())
    }

    /// The op a token stands for; valid for the canvas whatever the field values.
    pub fn decode(&self, token: &OpToken) -> pb::Op {
        let t = token.canonical();
        let color = |t: &OpToken| {
            Some(pb::Color {
                r: unlevel(t.get(Field::Red), COLOR_LEVELS),
                g: unlevel(t.get(Field::Green), COLOR_LEVELS),
                b: unlevel(t.get(Field::Blue), COLOR_LEVELS),
                a: None,
            })
        };
        let x0 = Tokenizer::pos_of(t.get(Field::X), self.width);
        let y0 = Tokenizer::pos_of(t.get(Field::Y), self.height);
        let k = t.get(Field::Kind);
        if k == kind::FILL {
            return pb::Op {
                kind: Some(Kind::Fill(pb::Fill {
                    x: x0,
                    y: y0,
                    color: color(&t),
                    tolerance: unlevel(t.get(Field::Tolerance), TOLERANCE_LEVELS),
                    contiguous: true,
                })),
            };
        }
        let tool = match k {
            kind::AIRBRUSH => pb::Tool::Airbrush,
            kind::PENCIL => pb::Tool::Pencil,
            kind::ERASER => pb::Tool::Eraser,
            kind::SMUDGE => pb::Tool::Smudge,
            // START never reaches here from a sampler; as a stroke it reads as a brush dab.
            _ => pb::Tool::Brush,
        };
        let (mut x, mut y) = (x0, y0);
        let pressures =
            [Field::P0, Field::P1, Field::P2, Field::P3].map(|f| unlevel(t.get(f), PRESSURE_LEVELS));
        let mut points = vec![pb::Point { x, y, pressure: Some(pressures[0]), time_ms: 0, tilt: None }];
        let steps = [(Field::Dx1, Field::Dy1), (Field::Dx2, Field::Dy2), (Field::Dx3, Field::Dy3)];
        for (i, (fx, fy)) in steps.into_iter().enumerate() {
            x += self.delta_of(t.get(fx));
            y += self.delta_of(t.get(fy));
            points.push(pb::Point {
                x,
                y,
                pressure: Some(pressures[i + 1]),
                time_ms: 16 * (i as u32 + 1),
                tilt: None,
            });
        }
        let has_colour = !matches!(tool, pb::Tool::Eraser | pb::Tool::Smudge);
        pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: tool as i32,
                brush: Some(pb::BrushState {
                    size: size_of(t.get(Field::Size)),
                    opacity: Some(unlevel(t.get(Field::Opacity), OPACITY_LEVELS)),
                    hardness: Some(unlevel(t.get(Field::Hardness), HARDNESS_LEVELS)),
                    color: if has_colour { color(&t) } else { None },
                    ..Default::default()
                }),
                points,
            })),
        }
    }
}

#[cfg(test)]
mod tests;
