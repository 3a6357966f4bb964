//! A painter's style as statistics of their ops, and how far apart two styles are.
//!
//! A style is a set of distributions over the ops of one or more histories (undo and redo
//! resolved): which tools, what brush sizes, how long and how curved the strokes, how opaque,
//! how hard pressed, which colours (in Oklab, a perceptual colour space) — and the order of
//! work: how the brush size changes over a session (a painter who blocks in then details has a
//! falling size). The distance between two styles is, per distribution, the total variation
//! distance (half the summed absolute difference of the shares: 0 the same, 1 disjoint), and for
//! the order of work the difference of the slopes; the total is their mean.

use crate::ops::{Brush, pb};

/// Histogram bins: brush size and stroke length in powers of two (1 px … 2048 px), turning
/// per 100 px (after a first bin for strokes too short to turn), opacity and pressure in
/// tenths, colours on a 4×4×4 Oklab grid.
const LOG2_BINS: usize = 12;
const TURN_BINS: usize = 8;
const TENTHS: usize = 10;
const PALETTE: usize = 4;

/// Tools, fills and magic-brush dabs: the shares of each.
const KINDS: usize = 7;

#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    /// Brush, airbrush, pencil, eraser, smudge strokes; fills; magic-brush dabs.
    pub kinds: Vec<f64>,
    pub sizes: Vec<f64>,
    pub lengths: Vec<f64>,
    /// Turning (radians) per 100 px of stroke; the first bin holds strokes under 4 px.
    pub turning: Vec<f64>,
    pub opacity: Vec<f64>,
    /// Mean pressure of each stroke.
    pub pressure: Vec<f64>,
    /// Colours of strokes and fills (not the eraser's or the smudge's).
    pub palette: Vec<f64>,
    /// Change of log2 brush size from the first op to the last (least squares over the
    /// history's own time, 0..1): negative for coarse to fine.
    pub coarse_to_fine: f64,
    pub ops: usize,
}

fn bin(v: f64, lo: f64, hi: f64, n: usize) -> usize {
    (((v - lo) / (hi - lo) * n as f64).floor().max(0.0) as usize).min(n - 1)
}

fn normalized(mut h: Vec<f64>) -> Vec<f64> {
    let total: f64 = h.iter().sum();
    if total > 0.0 {
        h.iter_mut().for_each(|v| *v /= total);
    }
    h
}

/// sRGB (0..1) to Oklab (L, a, b).
pub fn oklab(c: [f32; 3]) -> [f64; 3] {
    let lin = |v: f32| {
        let v = f64::from(v.clamp(0.0, 1.0));
        if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
    };
    let (r, g, b) = (lin(c[0]), lin(c[1]), lin(c[2]));
    let l = (0.412_221_470_8 * r + 0.536_332_536_3 * g + 0.051_445_992_9 * b).cbrt();
    let m = (0.211_903_498_2 * r + 0.680_699_545_1 * g + 0.107_396_956_6 * b).cbrt();
    let s = (0.088_302_461_9 * r + 0.281_718_837_6 * g + 0.629_978_700_5 * b).cbrt();
    [
        0.210_454_255_3 * l + 0.793_617_785 * m - 0.004_072_046_8 * s,
        1.977_998_495_1 * l - 2.428_592_205 * m + 0.450_593_709_9 * s,
        0.025_904_037_1 * l + 0.782_771_766_2 * m - 0.808_675_766 * s,
    ]
}

fn palette_bin(c: [f32; 3]) -> usize {
    let [l, a, b] = oklab(c);
    let (i, j, k) = (bin(l, 0.0, 1.0, PALETTE), bin(a, -0.3, 0.3, PALETTE), bin(b, -0.3, 0.3, PALETTE));
    (i * PALETTE + j) * PALETTE + k
}

/// Length (px) and total turning (radians) of a polyline.
fn geometry(points: &[pb::Point]) -> (f64, f64) {
    let mut length = 0.0;
    let mut turning = 0.0;
    let mut last_angle: Option<f64> = None;
    for w in points.windows(2) {
        let (dx, dy) = (f64::from(w[1].x - w[0].x), f64::from(w[1].y - w[0].y));
        let d = dx.hypot(dy);
        if d < 1e-6 {
            continue;
        }
        length += d;
        let angle = dy.atan2(dx);
        if let Some(a) = last_angle {
            let mut t = (angle - a).abs() % std::f64::consts::TAU;
            if t > std::f64::consts::PI {
                t = std::f64::consts::TAU - t;
            }
            turning += t;
        }
        last_angle = Some(angle);
    }
    (length, turning)
}

/// The style of `ops` (undo and redo already resolved).
pub fn of(ops: &[&pb::Op]) -> Style {
    let mut kinds = vec![0.0; KINDS];
    let (mut sizes, mut lengths) = (vec![0.0; LOG2_BINS], vec![0.0; LOG2_BINS]);
    let mut turning = vec![0.0; 1 + TURN_BINS];
    let (mut opacity, mut pressure) = (vec![0.0; TENTHS], vec![0.0; TENTHS]);
    let mut palette = vec![0.0; PALETTE * PALETTE * PALETTE];
    let mut timeline: Vec<(f64, f64)> = Vec::new(); // (time 0..1, log2 size)
    let n = ops.len().max(1) as f64;
    for (i, op) in ops.iter().enumerate() {
        match &op.kind {
            Some(pb::op::Kind::Stroke(s)) => {
                let brush = Brush::of(s);
                let tool = (s.tool - 1).clamp(0, 4) as usize;
                kinds[tool] += 1.0;
                let size = f64::from(brush.size.max(1.0));
                sizes[bin(size.log2(), 0.0, LOG2_BINS as f64, LOG2_BINS)] += 1.0;
                timeline.push((i as f64 / n, size.log2()));
                let (length, turns) = geometry(&s.points);
                lengths[bin(length.max(1.0).log2(), 0.0, LOG2_BINS as f64, LOG2_BINS)] += 1.0;
                // Every stroke counts: one painter's dabs too short to turn against another's
                // would otherwise be an empty histogram against a full one, half apart whatever
                // their share.
                let turn_bin = match length >= 4.0 {
                    true => 1 + bin(turns / length * 100.0, 0.0, 4.0 * std::f64::consts::PI, TURN_BINS),
                    false => 0,
                };
                turning[turn_bin] += 1.0;
                opacity[bin(f64::from(brush.opacity), 0.0, 1.0, TENTHS)] += 1.0;
                let mean_pressure =
                    s.points.iter().map(|p| f64::from(p.pressure.unwrap_or(1.0))).sum::<f64>()
                        / s.points.len().max(1) as f64;
                pressure[bin(mean_pressure, 0.0, 1.0, TENTHS)] += 1.0;
                if !matches!(brush.tool, pb::Tool::Eraser | pb::Tool::Smudge) {
                    palette[palette_bin([brush.color.r, brush.color.g, brush.color.b])] += 1.0;
                }
            }
            Some(pb::op::Kind::Fill(f)) => {
                kinds[5] += 1.0;
                let c = f.color.unwrap_or_default();
                palette[palette_bin([c.r, c.g, c.b])] += 1.0;
            }
            Some(pb::op::Kind::MagicBrush(_)) => kinds[6] += 1.0,
            _ => {}
        }
    }
    Style {
        kinds: normalized(kinds),
        sizes: normalized(sizes),
        lengths: normalized(lengths),
        turning: normalized(turning),
        opacity: normalized(opacity),
        pressure: normalized(pressure),
        palette: normalized(palette),
        coarse_to_fine: slope(&timeline),
        ops: ops.len(),
    }
}

/// The least-squares slope of y over x (0 with fewer than two distinct x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let (sxy, sxx) = points
        .iter()
        .fold((0.0, 0.0), |(sxy, sxx), (x, y)| (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx)));
    if sxx <= 1e-12 { 0.0 } else { sxy / sxx }
}

/// How far apart two styles are, part by part (each 0..1) and in all.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distance {
    pub kinds: f64,
    pub sizes: f64,
    pub lengths: f64,
    pub turning: f64,
    pub opacity: f64,
    pub pressure: f64,
    pub palette: f64,
    /// The coarse-to-fine slopes' difference, in octaves of brush size over the history, over
    /// 4 (and at most 1).
    pub order: f64,
    /// The mean of the parts.
    pub total: f64,
}

fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / 2.0
}

pub fn distance(a: &Style, b: &Style) -> Distance {
    let parts = [
        total_variation(&a.kinds, &b.kinds),
        total_variation(&a.sizes, &b.sizes),
        total_variation(&a.lengths, &b.lengths),
        total_variation(&a.turning, &b.turning),
        total_variation(&a.opacity, &b.opacity),
        total_variation(&a.pressure, &b.pressure),
        total_variation(&a.palette, &b.palette),
        ((a.coarse_to_fine - b.coarse_to_fine).abs() / 4.0).min(1.0),
    ];
    Distance {
        kinds: parts[0],
        sizes: parts[1],
        lengths: parts[2],
        turning: parts[3],
        opacity: parts[4],
        pressure: parts[5],
        palette: parts[6],
        order: parts[7],
        total: parts.iter().sum::<f64>() / parts.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stroke(tool: pb::Tool, size: f32, rgb: [f32; 3], points: &[(f32, f32)]) -> pb::Op {
        pb::Op {
            kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                tool: tool as i32,
                brush: Some(pb::BrushState {
                    size,
                    color: Some(pb::Color { r: rgb[0], g: rgb[1], b: rgb[2], a: None }),
                    ..Default::default()
                }),
                points: points.iter().map(|&(x, y)| pb::Point { x, y, ..Default::default() }).collect(),
            })),
        }
    }

    /// A painter who blocks in with big warm strokes, then details with small straight ones.
    fn blocker(seed: f32) -> Vec<pb::Op> {
        (0..40)
            .map(|i| {
                let t = i as f32 / 40.0;
                let size = 64.0 * (1.0 - t) + 4.0 * t;
                let y = 10.0 + (i as f32 * 7.0 + seed) % 200.0;
                stroke(pb::Tool::Brush, size, [0.8, 0.4 + 0.1 * t, 0.2], &[(10.0, y), (200.0, y + 5.0)])
            })
            .collect()
    }

    /// A painter of small, curly, cool pencil marks, the same size all along.
    fn scribbler(seed: f32) -> Vec<pb::Op> {
        (0..40)
            .map(|i| {
                let (x, y) = (20.0 + (i as f32 * 13.0 + seed) % 150.0, 30.0 + (i as f32 * 5.0) % 100.0);
                let curl: Vec<(f32, f32)> =
                    (0..8).map(|k| (x + 6.0 * (k as f32).cos(), y + 6.0 * (k as f32).sin())).collect();
                stroke(pb::Tool::Pencil, 3.0, [0.1, 0.3, 0.7], &curl)
            })
            .collect()
    }

    fn style(ops: &[pb::Op]) -> Style {
        of(&ops.iter().collect::<Vec<_>>())
    }

    #[test]
    fn a_painter_is_closer_to_their_own_other_sessions_than_to_another_painter() {
        let (a1, a2, b) = (style(&blocker(0.0)), style(&blocker(37.0)), style(&scribbler(0.0)));
        let same = distance(&a1, &a2);
        let other = distance(&a1, &b);
        assert!(same.total < 0.1, "{same:?}");
        assert!(other.total > 0.4, "{other:?}");
        assert_eq!(distance(&a1, &a1).total, 0.0);
        assert!(other.kinds > 0.99 && other.palette > 0.99, "pencil vs brush, blue vs orange: {other:?}");
    }

    #[test]
    fn the_order_of_work_shows_as_a_falling_brush_size() {
        let a = style(&blocker(0.0));
        assert!(a.coarse_to_fine < -3.0, "64 px down to 4 px: {} octaves", a.coarse_to_fine);
        assert!(style(&scribbler(0.0)).coarse_to_fine.abs() < 1e-9);
        assert!(distance(&a, &style(&scribbler(0.0))).order > 0.75);
    }

    #[test]
    fn curly_strokes_turn_more_than_straight_ones() {
        let straight = style(&blocker(0.0));
        let curly = style(&scribbler(0.0));
        let mean = |h: &[f64]| h.iter().enumerate().map(|(i, v)| i as f64 * v).sum::<f64>();
        assert!(mean(&curly.turning) > mean(&straight.turning) + 2.0);
    }

    #[test]
    fn oklab_puts_white_at_the_top_and_black_at_the_bottom() {
        let [l, a, b] = oklab([1.0, 1.0, 1.0]);
        assert!((l - 1.0).abs() < 1e-3 && a.abs() < 1e-3 && b.abs() < 1e-3);
        assert!(oklab([0.0, 0.0, 0.0])[0].abs() < 1e-9);
    }
}
