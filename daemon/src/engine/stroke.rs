//! Strokes: dabs placed along the path at the brush spacing, then laid down by tool.
//!
//! - brush, pencil, eraser: dabs build up coverage in a stroke mask — each dab
//!   moves a pixel towards its own level (coverage × pressure) by `flow`, never
//!   beyond it — and the stroke is laid down once at its opacity. Overlapping
//!   dabs of one stroke therefore do not darken past the opacity (Krita's wash
//!   mode, GIMP's non-incremental mode).
//! - airbrush: each dab goes straight onto the canvas at `flow`, and dabs keep
//!   coming while the pen rests (every [`AIRBRUSH_INTERVAL_MS`]), so paint builds up.
//! - smudge: each dab drags the pixels under the previous dab forward.
//!
//! Pressure scales both the dab diameter and its opacity (Krita's default
//! "Basic-5 Size Opacity" dynamics).

use super::blend;
use super::canvas::{Canvas, Rows};
use super::dab::{Dab, for_each_row_in};
use super::kernels;
use super::mask::{MaskRows, StrokeMask};
use super::smudge;
use crate::ops::brush::{Brush, pressure};
use crate::ops::pb::{self, Tool};

/// Airbrush rate: one dab every 20 ms while the pen is down (50 per second, Krita's default).
pub const AIRBRUSH_INTERVAL_MS: f32 = 20.0;
/// Dabs are never closer than this many pixels, whatever the spacing.
pub const MIN_SPACING_PX: f32 = 0.5;
/// Most dabs in one stroke. A longer path spreads its dabs further apart, so
/// that no valid stroke can stall the engine.
pub const MAX_DABS_PER_STROKE: f64 = 4_000_000.0;
/// Most pixels one stroke's dabs may cover together (counting overlaps): the work of a
/// stroke is its dab count times the dab's area, so a huge brush gets fewer dabs. About a
/// second of a core; a 2048 px brush across a 16k canvas needs a sixteenth of it.
pub const MAX_STROKE_AREA: f64 = 4.0e9;

/// Where a dab lands and with what pen state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DabPos {
    pub x: f32,
    pub y: f32,
    pub pressure: f32,
}

/// Distance between dab centres for a dab of `diameter` pixels.
fn spacing_px(brush: &Brush, diameter: f32) -> f32 {
    (brush.spacing * diameter).max(MIN_SPACING_PX)
}

/// Calls `emit` for every dab along the stroke: one at the first point, then
/// one each time the pen has travelled the spacing (for the airbrush, also
/// each time [`AIRBRUSH_INTERVAL_MS`] has passed).
pub fn place_dabs(points: &[pb::Point], brush: &Brush, mut emit: impl FnMut(DabPos)) {
    let Some(first) = points.first() else { return };
    emit(DabPos { x: first.x, y: first.y, pressure: pressure(first) });

    // Budget: a pathological path gets proportionally wider spacing and a longer interval.
    let length: f64 = points.windows(2).map(|w| f64::from((w[1].x - w[0].x).hypot(w[1].y - w[0].y))).sum();
    let min_pressure = points.iter().map(pressure).fold(1.0f32, f32::min);
    let tightest = f64::from(spacing_px(brush, brush.size * min_pressure));
    let dab_area = f64::from(brush.size).powi(2).max(1.0);
    let max_dabs = MAX_DABS_PER_STROKE.min(MAX_STROKE_AREA / dab_area).max(1.0);
    let dist_scale = (length / tightest / max_dabs).max(1.0) as f32;
    let airbrush = brush.tool == Tool::Airbrush;
    let duration = f64::from(points.last().map_or(0, |p| p.time_ms) - first.time_ms);
    let interval =
        AIRBRUSH_INTERVAL_MS * (duration / f64::from(AIRBRUSH_INTERVAL_MS) / max_dabs).max(1.0) as f32;

    let (mut since_dist, mut since_time) = (0.0f32, 0.0f32);
    for w in points.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (pa, pb) = (pressure(a), pressure(b));
        let len = (b.x - a.x).hypot(b.y - a.y);
        let dt = (b.time_ms - a.time_ms) as f32;
        let mut s = 0.0f32;
        loop {
            let pr = pa + (pb - pa) * s;
            let step_d = if len > 0.0 {
                (spacing_px(brush, brush.size * pr) * dist_scale - since_dist) / len
            } else {
                f32::INFINITY
            };
            let step_t = if airbrush && dt > 0.0 { (interval - since_time) / dt } else { f32::INFINITY };
            let step = step_d.min(step_t).max(0.0);
            if s + step > 1.0 {
                since_dist += len * (1.0 - s);
                since_time += dt * (1.0 - s);
                break;
            }
            s += step;
            since_dist = 0.0;
            since_time = 0.0;
            emit(DabPos { x: a.x + (b.x - a.x) * s, y: a.y + (b.y - a.y) * s, pressure: pa + (pb - pa) * s });
        }
    }
}

/// Whether a stroke of `tool` paints each row from what its own dabs lay there alone, so
/// that the canvas can be painted band by band ([`paint_rows`]); a smudge reads pixels
/// across rows and cannot.
pub fn paints_by_rows(tool: Tool) -> bool {
    tool != Tool::Smudge
}

/// Paints a validated stroke.
pub fn paint(canvas: &mut Canvas, mask: &mut StrokeMask, stroke: &pb::Stroke) {
    let brush = Brush::of(stroke);
    if paints_by_rows(brush.tool) {
        return paint_rows(&mut canvas.rows_mut(), &mut mask.rows_mut(), stroke);
    }
    let dab_at = |p: &DabPos| Dab::new(p.x, p.y, brush.size * p.pressure, brush.hardness, false);
    let mut prev: Option<DabPos> = None;
    let mut scratch = Vec::new();
    debug_assert_eq!(brush.tool, Tool::Smudge);
    place_dabs(&stroke.points, &brush, |p| {
        if let Some(q) = prev {
            let mut dab = dab_at(&p);
            dab.peak *= brush.smudge_rate * brush.opacity * p.pressure;
            smudge::drag(canvas, &dab, q.x - p.x, q.y - p.y, &mut scratch);
        }
        prev = Some(p);
    });
}

/// Paints the part of a validated stroke (any tool but the smudge, [`paints_by_rows`])
/// that falls on `rows`, each pixel exactly as painting the whole canvas would; `mask`
/// holds the same rows.
pub fn paint_rows(rows: &mut Rows, mask: &mut MaskRows, stroke: &pb::Stroke) {
    let brush = Brush::of(stroke);
    let (w, band) = (rows.width(), rows.range());
    let aliased = brush.tool == Tool::Pencil;
    let dab_at = |p: &DabPos| Dab::new(p.x, p.y, brush.size * p.pressure, brush.hardness, aliased);
    let c = brush.color;
    let rgb = [c.r, c.g, c.b];

    match brush.tool {
        Tool::Brush | Tool::Pencil | Tool::Eraser => {
            let flow = brush.flow;
            place_dabs(&stroke.points, &brush, |p| {
                let mut dab = dab_at(&p);
                dab.peak *= p.pressure;
                for_each_row_in(&dab, w, band.clone(), |y, x0, cov| {
                    kernels::build_up(mask.row_mut(y, x0, x0 + cov.len()), cov, flow);
                });
            });
            let scale = if brush.tool == Tool::Eraser { brush.opacity } else { brush.opacity * c.a };
            let mut alpha = Vec::new();
            for (y, x0, values) in mask.dirty_rows() {
                alpha.clear();
                alpha.extend(values.iter().map(|v| v * scale));
                let row = rows.row_mut(y, x0, x0 + values.len());
                if brush.tool == Tool::Eraser {
                    blend::erase(row, &alpha);
                } else {
                    blend::composite(row, &alpha, rgb, brush.blend);
                }
            }
            mask.clear();
        }
        Tool::Airbrush => {
            let scale = brush.flow * brush.opacity * c.a;
            place_dabs(&stroke.points, &brush, |p| {
                let mut dab = dab_at(&p);
                dab.peak *= scale * p.pressure;
                for_each_row_in(&dab, w, band.clone(), |y, x0, cov| {
                    blend::composite(rows.row_mut(y, x0, x0 + cov.len()), cov, rgb, brush.blend);
                });
            });
        }
        Tool::Smudge | Tool::Unspecified => {}
    }
}

#[cfg(test)]
mod work_bound_tests {
    use super::*;

    fn zigzag(n: usize, size: f32) -> pb::Stroke {
        // Back and forth across a 16k canvas: a long path in a small request.
        let points = (0..n)
            .map(|i| pb::Point { x: if i % 2 == 0 { 0.0 } else { 16_000.0 }, y: 100.0, ..Default::default() })
            .collect();
        pb::Stroke {
            tool: Tool::Brush as i32,
            brush: Some(pb::BrushState { size, ..Default::default() }),
            points,
        }
    }

    fn dab_count(stroke: &pb::Stroke) -> f64 {
        let mut n = 0.0;
        place_dabs(&stroke.points, &Brush::of(stroke), |_| n += 1.0);
        n
    }

    #[test]
    fn a_huge_brush_on_a_huge_path_is_bounded_by_the_area_it_stamps() {
        let stroke = zigzag(100_000, 2048.0);
        let dabs = dab_count(&stroke);
        assert!(dabs * 2048.0 * 2048.0 <= MAX_STROKE_AREA * 1.01, "{dabs} dabs of 2048 px");
        assert!(dabs > 100.0, "still painted along the path: {dabs}");
    }

    #[test]
    fn ordinary_strokes_keep_their_spacing() {
        // 40 px brush, 10 % spacing: a dab every 4 px along 16,000 px.
        let dabs = dab_count(&zigzag(2, 40.0));
        assert!((dabs - 4001.0).abs() <= 1.0, "{dabs}");
    }
}
