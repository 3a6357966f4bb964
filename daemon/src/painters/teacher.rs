//! The teacher: turns a picture into a painting history the way a painter
//! works, coarse to fine (Hertzmann 1998, "Painterly rendering with curved
//! brush strokes of multiple sizes").
//!
//! It blocks in the mean colour with a bucket fill, then paints layers with
//! brushes of decreasing size. For each layer it blurs the reference in
//! proportion to the brush, looks over a grid as coarse as the brush, and
//! where the canvas is too far from the blurred reference it starts a stroke
//! at the worst pixel; the stroke follows the isophotes (perpendicular to the
//! luminance gradient), bending smoothly, and ends when the canvas there is
//! already closer to the reference than the stroke colour would be. Each
//! layer's strokes go down in random order, one op at a time. Once the finest
//! layer is done it keeps refining at the finest size with a lower threshold.

use super::analysis::{Picture, blur, distance, gradient};
use super::rng::Rng;
use super::{OpStream, Painter, Request};
use crate::engine::Engine;
use crate::ops::{pb, pb::op::Kind};

pub struct Teacher;

/// Mean colour difference (0..√3) above which a grid cell gets a stroke.
const THRESHOLD: f32 = 0.08;
/// Blur of the reference for a layer, as a fraction of the brush radius.
const BLUR_FACTOR: f32 = 0.5;
/// 1: strokes turn with the isophotes at once; smaller: smoother curves.
const CURVATURE: f32 = 0.7;
const MIN_STROKE_STEPS: usize = 3;
const MAX_STROKE_STEPS: usize = 14;

impl Painter for Teacher {
    fn name(&self) -> &'static str {
        "teacher"
    }

    fn requires_reference(&self) -> bool {
        true
    }

    fn start(&self, request: Request) -> Box<dyn OpStream> {
        let tool = [pb::Tool::Brush, pb::Tool::Pencil, pb::Tool::Airbrush, pb::Tool::Smudge]
            .into_iter()
            .find(|t| request.allows(*t))
            .unwrap_or(pb::Tool::Brush);
        let canvas = request.canvas;
        let reference = Picture::of(request.reference.as_ref().unwrap_or(&canvas));
        let largest = (reference.width.max(reference.height) as f32 / 8.0).max(2.0);
        let mut radii = vec![largest];
        while *radii.last().expect("not empty") / 2.0 >= 1.0 {
            radii.push(radii.last().expect("not empty") / 2.0);
        }
        // A history that has painted nothing yet starts with the block-in fill.
        let fresh = request.history.ops.is_empty();
        Box::new(TeacherRun {
            rng: Rng::new(request.seed),
            engine: Engine::from_canvas(canvas),
            reference,
            radii,
            layer: 0,
            threshold: THRESHOLD,
            queue: Vec::new(),
            tool,
            fill_first: fresh,
        })
    }
}

struct TeacherRun {
    rng: Rng,
    engine: Engine,
    reference: Picture,
    /// Brush radii, largest first.
    radii: Vec<f32>,
    layer: usize,
    threshold: f32,
    /// The current layer's strokes still to paint (popped from the back).
    queue: Vec<pb::Op>,
    tool: pb::Tool,
    fill_first: bool,
}

impl OpStream for TeacherRun {
    fn next_op(&mut self) -> pb::Op {
        let op = if std::mem::take(&mut self.fill_first) { self.block_in() } else { self.next_stroke() };
        self.engine.apply(&op);
        op
    }
}

fn color(c: [f32; 3]) -> Option<pb::Color> {
    Some(pb::Color { r: c[0].clamp(0.0, 1.0), g: c[1].clamp(0.0, 1.0), b: c[2].clamp(0.0, 1.0), a: None })
}

impl TeacherRun {
    /// A bucket fill of the whole (blank) canvas with the reference's mean colour.
    fn block_in(&self) -> pb::Op {
        let n = (self.reference.width * self.reference.height) as f32;
        let mean = self.reference.rgb.clone().map(|p| p.iter().sum::<f32>() / n);
        pb::Op {
            kind: Some(Kind::Fill(pb::Fill {
                x: 0.5,
                y: 0.5,
                color: color(mean),
                tolerance: 1.0,
                contiguous: true,
            })),
        }
    }

    fn next_stroke(&mut self) -> pb::Op {
        for _ in 0..8 {
            if let Some(op) = self.queue.pop() {
                return op;
            }
            self.plan_layer();
        }
        // Nothing left worth painting even at a low threshold: a tiny touch-up dab.
        let (x, y) = (self.rng.index(self.reference.width), self.rng.index(self.reference.height));
        self.stroke(vec![(x as f32 + 0.5, y as f32 + 0.5)], 1.0, self.reference.at(x, y))
    }

    /// Plans the strokes of the next layer (the finest one again, stricter, once all are done).
    fn plan_layer(&mut self) {
        let radius = self.radii[self.layer.min(self.radii.len() - 1)];
        if self.layer >= self.radii.len() {
            self.threshold *= 0.7;
        }
        self.layer += 1;
        let (w, h) = (self.reference.width, self.reference.height);
        let target = self.reference.blurred(BLUR_FACTOR * radius);
        let luma = blur(&target.luma(), w, h, 1.0);
        let canvas = Picture::of(self.engine.canvas());
        let diff: Vec<f32> = (0..w * h)
            .map(|i| distance([0, 1, 2].map(|k| canvas.rgb[k][i]), [0, 1, 2].map(|k| target.rgb[k][i])))
            .collect();

        let grid = (radius.round() as usize).max(1);
        let mut strokes = Vec::new();
        for gy in (0..h).step_by(grid) {
            for gx in (0..w).step_by(grid) {
                let (x1, y1) = ((gx + grid).min(w), (gy + grid).min(h));
                let mut sum = 0.0;
                let mut worst = (gx, gy, -1.0);
                for y in gy..y1 {
                    for x in gx..x1 {
                        let d = diff[y * w + x];
                        sum += d;
                        if d > worst.2 {
                            worst = (x, y, d);
                        }
                    }
                }
                if sum / ((x1 - gx) * (y1 - gy)) as f32 > self.threshold {
                    let path = self.trace(worst.0, worst.1, radius, &target, &canvas, &luma);
                    strokes.push(self.stroke(path, radius, target.at(worst.0, worst.1)));
                }
            }
        }
        // Painted in random order, so that no grid pattern shows.
        self.rng.shuffle(&mut strokes);
        self.queue = strokes;
    }

    /// A curved path from (x0, y0) along the isophotes of `target`.
    fn trace(
        &self,
        x0: usize,
        y0: usize,
        r: f32,
        target: &Picture,
        canvas: &Picture,
        luma: &[f32],
    ) -> Vec<(f32, f32)> {
        let (w, h) = (target.width, target.height);
        let stroke_color = target.at(x0, y0);
        let (mut x, mut y) = (x0 as f32 + 0.5, y0 as f32 + 0.5);
        let mut path = vec![(x, y)];
        let (mut last_dx, mut last_dy) = (0.0f32, 0.0f32);
        for i in 1..=MAX_STROKE_STEPS {
            let (px, py) = ((x.max(0.0) as usize).min(w - 1), (y.max(0.0) as usize).min(h - 1));
            let here = target.at(px, py);
            if i > MIN_STROKE_STEPS && distance(here, canvas.at(px, py)) < distance(here, stroke_color) {
                break;
            }
            let (gx, gy) = gradient(luma, w, h, px, py);
            let g = gx.hypot(gy);
            if g < 1e-4 {
                break;
            }
            let (mut dx, mut dy) = (-gy / g, gx / g);
            if last_dx * dx + last_dy * dy < 0.0 {
                (dx, dy) = (-dx, -dy);
            }
            (dx, dy) =
                (CURVATURE * dx + (1.0 - CURVATURE) * last_dx, CURVATURE * dy + (1.0 - CURVATURE) * last_dy);
            let n = dx.hypot(dy).max(1e-6);
            (dx, dy) = (dx / n, dy / n);
            (x, y) = (x + r * dx, y + r * dy);
            if x < 0.0 || y < 0.0 || x >= w as f32 || y >= h as f32 {
                break;
            }
            (last_dx, last_dy) = (dx, dy);
            path.push((x, y));
        }
        path
    }

    fn stroke(&self, path: Vec<(f32, f32)>, radius: f32, rgb: [f32; 3]) -> pb::Op {
        // Softer for the broad layers, crisper for the details.
        let hardness = if radius >= 8.0 {
            0.3
        } else if radius >= 3.0 {
            0.5
        } else {
            0.8
        };
        let points = path
            .into_iter()
            .enumerate()
            .map(|(i, (x, y))| pb::Point { x, y, pressure: None, time_ms: i as u32 * 12, tilt: None })
            .collect();
        pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: self.tool as i32,
                brush: Some(pb::BrushState {
                    size: 2.0 * radius,
                    hardness: Some(hardness),
                    color: color(rgb),
                    ..Default::default()
                }),
                points,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::mse;
    use super::*;
    use crate::engine::Canvas;
    use crate::ops::{Rgba, validate};

    fn scene() -> Canvas {
        // A sky, a ground and a sun: broad areas and an edge or two.
        let mut c = Canvas::new(96, 64, Rgba { r: 0.55, g: 0.75, b: 0.95, a: 1.0 });
        for y in 40..64 {
            c.row_mut(y, 0, 96).fill([0.3, 0.55, 0.25, 1.0]);
        }
        for y in 8..22 {
            for x in 60..74 {
                if (x as f32 - 67.0).hypot(y as f32 - 15.0) < 7.0 {
                    c.row_mut(y, x, x + 1)[0] = [1.0, 0.85, 0.3, 1.0];
                }
            }
        }
        c
    }

    #[test]
    fn the_teacher_copies_a_picture_coarse_to_fine_with_valid_ops() {
        let reference = scene();
        let blank = Canvas::new(96, 64, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 });
        let header = pb::Header { width: 96, height: 64, ..Default::default() };
        let request = Request {
            history: pb::History { header: Some(header.clone()), ops: vec![] },
            canvas: blank.clone(),
            reference: Some(reference.clone()),
            temperature: 1.0,
            seed: 1,
            allowed_tools: vec![],
            canvas_at: None,
            stop: None,
            imagination: None,
        };
        let mut run = Teacher.start(request);
        let ops: Vec<pb::Op> = (0..150).map(|_| run.next_op()).collect();
        assert!(matches!(ops[0].kind, Some(Kind::Fill(_))), "it blocks in with a fill");
        let sizes: Vec<f32> = ops[1..]
            .iter()
            .map(|o| match &o.kind {
                Some(Kind::Stroke(s)) => s.brush.as_ref().unwrap().size,
                _ => panic!("strokes after the fill"),
            })
            .collect();
        assert!(sizes.windows(2).all(|w| w[1] <= w[0]), "brushes only get smaller: {sizes:?}");
        let mut engine = Engine::from_canvas(blank.clone());
        for (i, op) in ops.iter().enumerate() {
            validate::op(op, &header).unwrap();
            engine.apply(op);
            if i == 0 {
                assert!(mse(engine.canvas(), &reference) < mse(&blank, &reference));
            }
        }
        let after = mse(engine.canvas(), &reference);
        assert!(after < 0.1 * mse(&blank, &reference), "{after} vs {}", mse(&blank, &reference));
    }
}
