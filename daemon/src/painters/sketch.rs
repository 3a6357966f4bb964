//! The sketch painter: simple, non-learned rules that stand in for the stroke
//! transformer until it lands (issue 4). It is what `Continue` serves today.
//!
//! - Copy mode (a reference is given): among a few random spots it picks the
//!   one where the canvas differs most from the reference, and lays a stroke
//!   there in the reference's colour along the reference's isophote (the
//!   direction of least change), with brushes shrinking from a sixth of the
//!   canvas to a few pixels as the run goes on — coarse to fine.
//! - Continue mode: it repeats the painter's recent strokes with variations —
//!   shifted, bent and recoloured in proportion to the temperature; on a
//!   history with no strokes it sketches along the canvas's own isophotes.

use super::rng::Rng;
use super::{OpStream, Painter, Request};
use crate::engine::{Canvas, Engine};
use crate::ops::limits::MAX_BRUSH_SIZE;
use crate::ops::{pb, pb::op::Kind, timeline};

pub struct Sketch;

impl Painter for Sketch {
    fn name(&self) -> &'static str {
        "sketch"
    }

    fn start(&self, request: Request) -> Box<dyn OpStream> {
        let recent: Vec<pb::Stroke> = timeline::effective(&request.history.ops)
            .into_iter()
            .rev()
            .filter_map(|op| match &op.kind {
                Some(Kind::Stroke(s)) if request.allows(s.tool()) => Some(s.clone()),
                _ => None,
            })
            .take(16)
            .collect();
        let tool =
            [pb::Tool::Brush, pb::Tool::Pencil, pb::Tool::Airbrush, pb::Tool::Smudge, pb::Tool::Eraser]
                .into_iter()
                .find(|t| request.allows(*t))
                .unwrap_or(pb::Tool::Brush);
        Box::new(SketchRun {
            rng: Rng::new(request.seed),
            temperature: request.temperature.clamp(0.0, 4.0),
            engine: Engine::from_canvas(request.canvas),
            reference: request.reference,
            recent,
            tool,
            step: 0,
        })
    }
}

struct SketchRun {
    rng: Rng,
    temperature: f32,
    engine: Engine,
    reference: Option<Canvas>,
    recent: Vec<pb::Stroke>,
    /// The tool for new strokes (the first allowed of brush, pencil, airbrush, …).
    tool: pb::Tool,
    step: u32,
}

impl OpStream for SketchRun {
    fn next_op(&mut self) -> pb::Op {
        let stroke = if self.reference.is_some() || self.recent.is_empty() {
            self.isophote_stroke()
        } else {
            self.varied_stroke()
        };
        let op = pb::Op { kind: Some(Kind::Stroke(stroke)) };
        self.engine.apply(&op);
        self.step += 1;
        op
    }
}

fn pt(x: f32, y: f32, pressure: f32, time_ms: u32) -> pb::Point {
    pb::Point { x, y, pressure: Some(pressure.clamp(0.05, 1.0)), time_ms, tilt: None }
}

fn color(c: [f32; 3]) -> pb::Color {
    pb::Color { r: c[0].clamp(0.0, 1.0), g: c[1].clamp(0.0, 1.0), b: c[2].clamp(0.0, 1.0), a: None }
}

impl SketchRun {
    /// The picture being matched: the reference, or the canvas itself.
    fn target(&self) -> &Canvas {
        self.reference.as_ref().unwrap_or(self.engine.canvas())
    }

    /// Mean straight RGB of the target in a small square around (x, y).
    fn target_rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let t = self.target();
        let mut sum = [0.0; 3];
        let mut n = 0.0;
        for yy in y.saturating_sub(1)..(y + 2).min(t.height()) {
            for xx in x.saturating_sub(1)..(x + 2).min(t.width()) {
                let c = t.color_at(xx, yy);
                sum = [sum[0] + c.r, sum[1] + c.g, sum[2] + c.b];
                n += 1.0;
            }
        }
        sum.map(|v| v / n)
    }

    fn luma(&self, x: usize, y: usize) -> f32 {
        let c = self.target().color_at(x, y);
        0.3 * c.r + 0.59 * c.g + 0.11 * c.b
    }

    /// Unit vector along the isophote at (x, y): perpendicular to the luma gradient.
    fn isophote(&mut self, x: usize, y: usize) -> (f32, f32) {
        let (w, h) = (self.target().width(), self.target().height());
        let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let gx = self.luma(x1, y) - self.luma(x0, y);
        let gy = self.luma(x, y1) - self.luma(x, y0);
        let norm = gx.hypot(gy);
        if norm < 1e-4 {
            let a = self.rng.range(0.0, std::f32::consts::TAU);
            (a.cos(), a.sin())
        } else {
            (-gy / norm, gx / norm)
        }
    }

    /// How far the canvas is from the target around (x, y).
    fn error_at(&self, x: usize, y: usize) -> f32 {
        let Some(r) = &self.reference else { return 0.0 };
        let (a, b) = (self.engine.canvas().get(x, y), r.get(x, y));
        (0..4).map(|k| (a[k] - b[k]).abs()).sum()
    }

    fn isophote_stroke(&mut self) -> pb::Stroke {
        let (w, h) = (self.engine.canvas().width(), self.engine.canvas().height());
        // Coarse to fine: a sixth of the canvas down to 3 px, halving every 60 strokes.
        let largest = (w.max(h) as f32 / 6.0).clamp(2.0, MAX_BRUSH_SIZE);
        let size = (largest * 0.5f32.powf(self.step as f32 / 60.0)).max(3.0);
        let candidates = if self.reference.is_some() { 24 } else { 1 };
        let (mut x, mut y) = (0, 0);
        let mut best = -1.0;
        for _ in 0..candidates {
            let (cx, cy) = (self.rng.index(w), self.rng.index(h));
            let e = self.error_at(cx, cy);
            if e > best {
                (best, x, y) = (e, cx, cy);
            }
        }
        let jitter = 0.03 * self.temperature;
        let rgb = self.target_rgb(x, y).map(|v| v + jitter * self.rng.normal());
        let length = size * self.rng.range(1.5, 4.0);
        let (mut px, mut py) = (x as f32 + 0.5, y as f32 + 0.5);
        let mut points = vec![pt(px, py, 0.8, 0)];
        for i in 1..5u32 {
            let (dx, dy) =
                self.isophote((px.max(0.0) as usize).min(w - 1), (py.max(0.0) as usize).min(h - 1));
            // Keep heading the same way as the previous segment.
            let sign = if i > 1 {
                let prev = &points[points.len() - 2];
                if (px - prev.x) * dx + (py - prev.y) * dy < 0.0 { -1.0 } else { 1.0 }
            } else {
                1.0
            };
            px += sign * dx * length / 4.0;
            py += sign * dy * length / 4.0;
            points.push(pt(px, py, 0.8 + 0.2 * (i as f32 / 4.0), i * 16));
        }
        pb::Stroke {
            tool: self.tool as i32,
            brush: Some(pb::BrushState {
                size,
                hardness: Some(0.4),
                opacity: Some(0.9),
                color: Some(color(rgb)),
                ..Default::default()
            }),
            points,
        }
    }

    fn varied_stroke(&mut self) -> pb::Stroke {
        let mut s = self.recent[self.rng.index(self.recent.len())].clone();
        let (w, h) = (self.engine.canvas().width() as f32, self.engine.canvas().height() as f32);
        let brush = s.brush.get_or_insert_with(Default::default);
        let t = self.temperature;
        let shift = (brush.size * 1.5 + 4.0) * (0.5 + t);
        let (dx, dy) = (shift * self.rng.normal(), shift * self.rng.normal());
        brush.size = (brush.size * (1.0 + 0.2 * t * self.rng.normal())).clamp(0.5, MAX_BRUSH_SIZE);
        if let Some(c) = brush.color.as_mut() {
            let j = 0.06 * t;
            *c = color([
                c.r + j * self.rng.normal(),
                c.g + j * self.rng.normal(),
                c.b + j * self.rng.normal(),
            ]);
        }
        let bend = 0.1 * t;
        for p in &mut s.points {
            p.x = (p.x + dx + bend * shift * self.rng.normal()).clamp(-w, 2.0 * w);
            p.y = (p.y + dy + bend * shift * self.rng.normal()).clamp(-h, 2.0 * h);
        }
        if !self.recent.iter().any(|r| r.tool == s.tool) || s.tool == pb::Tool::Unspecified as i32 {
            s.tool = self.tool as i32;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Rgba, validate};

    fn request(reference: Option<Canvas>, ops: Vec<pb::Op>, allowed: Vec<pb::Tool>) -> Request {
        let header = pb::Header { width: 64, height: 48, ..Default::default() };
        Request {
            canvas: Canvas::new(64, 48, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }),
            history: pb::History { header: Some(header), ops },
            reference,
            temperature: 1.0,
            seed: 7,
            allowed_tools: allowed,
            canvas_at: None,
            stop: None,
            imagination: None,
        }
    }

    fn run(req: Request, n: usize) -> Vec<pb::Op> {
        let header = req.history.header.clone().unwrap_or_default();
        let mut s = Sketch.start(req);
        let ops: Vec<pb::Op> = (0..n).map(|_| s.next_op()).collect();
        for op in &ops {
            validate::op(op, &header).expect("every op the painter makes is valid");
        }
        ops
    }

    #[test]
    fn the_same_seed_paints_the_same_ops() {
        assert_eq!(run(request(None, vec![], vec![]), 20), run(request(None, vec![], vec![]), 20));
    }

    #[test]
    fn copy_mode_brings_the_canvas_closer_to_the_reference() {
        let mut reference = Canvas::new(64, 48, Rgba { r: 0.1, g: 0.3, b: 0.8, a: 1.0 });
        for y in 0..24 {
            reference.row_mut(y, 0, 64).fill([0.9, 0.6, 0.1, 1.0]);
        }
        let req = request(Some(reference.clone()), vec![], vec![]);
        let start = req.canvas.clone();
        let mut engine = Engine::from_canvas(start.clone());
        for op in run(req, 100) {
            engine.apply(&op);
        }
        let mse = |c: &Canvas| super::super::analysis::mse(c, &reference);
        assert!(mse(engine.canvas()) < 0.3 * mse(&start), "{} vs {}", mse(engine.canvas()), mse(&start));
    }

    #[test]
    fn only_allowed_tools_are_used() {
        let ops = run(request(None, vec![], vec![pb::Tool::Pencil]), 10);
        assert!(ops.iter().all(|o| matches!(&o.kind, Some(Kind::Stroke(s)) if s.tool() == pb::Tool::Pencil)));
    }
}
