//! Search's working canvas: candidates are judged on a copy of the canvas at most
//! [`WORKING_SIDE`] pixels on its longer side, with ops scaled to it, so that a trial
//! on a 2048² canvas costs what it costs on a 512² one. Each op painted is painted on
//! the copy as well; the copy is made afresh from the canvas whenever the target is
//! (every few ops), so what painting small gets wrong does not pile up. On a canvas
//! no bigger than the working side the copy is the canvas itself, pixel for pixel.

use super::analysis::Picture;
use super::refine::{Effect, ErrorMap, Judge, with_colour};
use super::rng::Rng;
use crate::engine::{Canvas, Engine};
use crate::ops::{pb, pb::op::Kind};

/// The longer side of the working canvas, in pixels.
pub const WORKING_SIDE: usize = 512;

/// Side of the error map's cells, in working pixels: where moved proposals may land.
const CELL: usize = 4;
/// The least change to a channel of a pixel that counts as seen: two levels of 8 bits (one
/// level is below what an eye tells apart on a flat passage, and is the rounding of 8-bit
/// editors).
pub const VISIBLE: f32 = 2.0 / 255.0;

pub struct Working {
    /// Working pixels per canvas pixel (1: full size).
    scale: f32,
    engine: Engine,
    judge: Judge,
}

/// The working size of a `w × h` canvas at most `side` on its longer side, and its scale.
fn size(w: usize, h: usize, side: usize) -> (usize, usize, f32) {
    let longest = w.max(h);
    if longest <= side {
        return (w, h, 1.0);
    }
    let scale = side as f32 / longest as f32;
    let at = |n: usize| ((n as f32 * scale).round() as usize).max(1);
    (at(w), at(h), scale)
}

impl Working {
    /// Judging `canvas` against `target` (both at the canvas size) at the working size.
    pub fn new(canvas: &Canvas, target: &Canvas) -> Working {
        Working::at_most(canvas, target, WORKING_SIDE)
    }

    /// Judging at full size, whatever the canvas's size (ops that carry their own pixels,
    /// such as magic-brush dabs, cannot be scaled).
    pub fn full_size(canvas: &Canvas, target: &Canvas) -> Working {
        Working::at_most(canvas, target, usize::MAX)
    }

    fn at_most(canvas: &Canvas, target: &Canvas, side: usize) -> Working {
        let (w, h, scale) = size(canvas.width(), canvas.height(), side);
        let target = Picture::of(&target.shrunk(w, h));
        Working { scale, engine: Engine::from_canvas(canvas.shrunk(w, h)), judge: Judge::new(target) }
    }

    /// Judging `canvas` against a target made from the working copy itself (`imagine`
    /// gets the copy and the working pixels per canvas pixel).
    pub fn imagining(
        canvas: &Canvas,
        imagine: impl FnOnce(&Canvas, f32) -> Option<Picture>,
    ) -> Option<Working> {
        let (w, h, scale) = size(canvas.width(), canvas.height(), WORKING_SIDE);
        let copy = canvas.shrunk(w, h);
        let target = imagine(&copy, scale)?;
        Some(Working { scale, engine: Engine::from_canvas(copy), judge: Judge::new(target) })
    }

    /// The working copy made afresh from `canvas`, judged against the same target: what
    /// painting small got wrong does not pile up (a no-op at full size).
    pub fn refresh(&mut self, canvas: &Canvas) {
        if self.scale < 1.0 {
            let (w, h) = (self.engine.canvas().width(), self.engine.canvas().height());
            self.engine = Engine::from_canvas(canvas.shrunk(w, h));
        }
    }

    /// The target at the working size.
    pub fn target(&self) -> &Picture {
        self.judge.reference()
    }

    /// Working pixels per canvas pixel.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// `op` as painted on the working canvas.
    fn small(&self, op: &pb::Op) -> pb::Op {
        if self.scale == 1.0 {
            return op.clone();
        }
        let s = self.scale;
        let mut op = op.clone();
        match &mut op.kind {
            Some(Kind::Stroke(stroke)) => {
                for p in &mut stroke.points {
                    p.x *= s;
                    p.y *= s;
                }
                if let Some(b) = stroke.brush.as_mut() {
                    b.size = (b.size * s).max(0.5);
                }
            }
            Some(Kind::Fill(f)) => {
                f.x *= s;
                f.y *= s;
            }
            _ => {}
        }
        op
    }

    /// How much `op` would change the error to the target (negative: closer).
    pub fn gain(&mut self, op: &pb::Op) -> f64 {
        let small = self.small(op);
        // Errors summed over fewer pixels: per canvas pixel, as at full size.
        self.judge.gain(&mut self.engine, &small) / f64::from(self.scale * self.scale)
    }

    /// What `op` would do to the working canvas ([`Effect`]), per canvas pixel as
    /// [`Working::gain`].
    pub fn effect(&mut self, op: &pb::Op) -> Effect {
        let small = self.small(op);
        let e = self.judge.effect(&mut self.engine, &small);
        let per = f64::from(self.scale * self.scale);
        Effect { gain: e.gain / per, harm: e.harm / per, ..e }
    }

    /// `op` in the colour that brings what it covers closest to the target (least
    /// squares); `None` for ops without colour.
    pub fn recoloured(&mut self, op: &pb::Op) -> Option<pb::Op> {
        let small = self.small(op);
        self.judge.colour(&mut self.engine, &small).map(|rgb| with_colour(op, rgb))
    }

    /// `op` in the target's colour where it starts ([`Judge::picked`]); `None` for ops
    /// without colour.
    pub fn picked(&self, op: &pb::Op) -> Option<pb::Op> {
        self.judge.picked(&self.small(op)).map(|rgb| with_colour(op, rgb))
    }

    /// Paints `op` on the working canvas (it was painted on the canvas).
    pub fn paint(&mut self, op: &pb::Op) {
        let small = self.small(op);
        self.engine.apply(&small);
    }

    /// Where the working canvas is still wrong, to draw places from.
    pub fn errors(&self) -> Places {
        Places { map: ErrorMap::of(&self.engine, self.judge.reference(), CELL), scale: self.scale }
    }
}

/// Places on the canvas drawn in proportion to how wrong the working canvas is there.
pub struct Places {
    map: ErrorMap,
    scale: f32,
}

impl Places {
    /// A place in canvas pixels; `None` when the canvas is right everywhere.
    pub fn sample(&self, rng: &mut Rng) -> Option<(f32, f32)> {
        self.map.sample(rng).map(|(x, y)| (x / self.scale, y / self.scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Rgba;

    fn stroke(x: f32, y: f32, size: f32) -> pb::Op {
        pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState {
                    size,
                    color: Some(pb::Color { r: 0.9, g: 0.1, b: 0.1, a: None }),
                    ..Default::default()
                }),
                points: vec![
                    pb::Point { x, y, ..Default::default() },
                    pb::Point { x: x + 200.0, y: y + 40.0, ..Default::default() },
                ],
            })),
        }
    }

    #[test]
    fn a_small_canvas_is_judged_at_full_size_a_big_one_at_the_working_size() {
        let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
        let small = Canvas::new(300, 200, white);
        assert_eq!(Working::new(&small, &small).scale(), 1.0);
        let big = Canvas::new(2048, 1024, white);
        let w = Working::new(&big, &big);
        assert_eq!((w.scale(), w.target().width, w.target().height), (0.25, 512, 256));
        assert_eq!(Working::full_size(&big, &big).scale(), 1.0);
    }

    #[test]
    fn judged_small_or_at_full_size_the_same_strokes_win_and_the_colours_agree() {
        // A target with a red band: strokes along it gain, strokes elsewhere do not.
        let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
        let canvas = Canvas::new(1024, 768, white);
        let mut target = Engine::from_canvas(canvas.clone());
        target.apply(&stroke(300.0, 300.0, 60.0));
        let target = target.into_canvas();
        let candidates = [stroke(300.0, 300.0, 60.0), stroke(310.0, 290.0, 40.0), stroke(100.0, 600.0, 60.0)];
        let mut full = Working::full_size(&canvas, &target);
        let mut small = Working::new(&canvas, &target);
        assert_eq!(small.scale(), 0.5);
        let gains = |w: &mut Working| candidates.iter().map(|op| w.gain(op)).collect::<Vec<_>>();
        let (g_full, g_small) = (gains(&mut full), gains(&mut small));
        for (f, s) in g_full.iter().zip(&g_small) {
            assert!((f - s).abs() <= 0.1 * f.abs().max(1.0), "full {g_full:?} small {g_small:?}");
        }
        assert!(g_small[0] < g_small[1] && g_small[1] < 0.0 && g_small[2] > 0.0, "{g_small:?}");
        // The colour picked where a stroke on the band starts is the band's, at either size.
        let grey = with_colour(&candidates[1], [0.5; 3]);
        let colour = |w: &mut Working| match w.picked(&grey).unwrap().kind {
            Some(Kind::Stroke(s)) => s.brush.unwrap().color.unwrap(),
            _ => unreachable!(),
        };
        let (a, b) = (colour(&mut full), colour(&mut small));
        assert!((a.r - b.r).abs() < 0.03 && (a.g - b.g).abs() < 0.03, "{a:?} {b:?}");
        // Places are drawn in canvas pixels, where the canvas is wrong: on the band.
        let mut rng = Rng::new(3);
        let places = small.errors();
        for _ in 0..20 {
            let (x, y) = places.sample(&mut rng).unwrap();
            assert!((240.0..560.0).contains(&x) && (240.0..390.0).contains(&y), "{x} {y}");
        }
    }

    #[test]
    fn a_refreshed_copy_is_the_canvas_made_small_again_judged_against_the_same_target() {
        let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
        let canvas = Canvas::new(1024, 768, white);
        let mut target = Engine::from_canvas(canvas.clone());
        target.apply(&stroke(300.0, 300.0, 60.0));
        let target = target.into_canvas();
        let mut small = Working::new(&canvas, &target);
        let before = small.gain(&stroke(300.0, 300.0, 60.0));
        // The band painted on the canvas: once refreshed, painting it again gains nothing
        // (within what a stroke painted small differs from one painted big and shrunk).
        let mut painted = Engine::from_canvas(canvas.clone());
        painted.apply(&stroke(300.0, 300.0, 60.0));
        small.refresh(painted.canvas());
        assert_eq!(small.engine.canvas().pixels(), painted.canvas().shrunk(512, 384).pixels());
        assert_eq!(small.target().rgb, Picture::of(&target.shrunk(512, 384)).rgb);
        let after = small.gain(&stroke(300.0, 300.0, 60.0));
        assert!(before < 0.0 && after.abs() < 0.05 * before.abs(), "{before} {after}");
    }
}
