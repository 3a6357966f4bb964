//! What a painter continuing without a reference paints towards: an imagined
//! picture made from the canvas as it stands.
//!
//! The built-in imagination is the canvas *softened to the scale of its own
//! brushwork*: a Gaussian blur whose width is a quarter of the recent strokes'
//! median diameter. Mid-way through a painting the brushwork is still noisy —
//! strokes overshoot their regions and leave ridges that later, finer layers
//! even out — so the softened canvas is closer to where the painting is going
//! than the canvas itself (`apprentice eval`'s continuation rows measure it),
//! and painting towards it with real strokes refines and unifies the picture
//! in its own colours. It imagines no new content; the diffusion brush is the
//! imagination that will.
//!
//! Not all of the canvas's detail is noise, though: some of it is already the
//! finished picture's (more of it the further the painting is). The imagined
//! picture keeps [`DETAIL_KEPT`] of the canvas's own detail — the canvas minus
//! its softened self — on top of the softened canvas. Aimed at the softened
//! canvas alone, search counts every bit of detail it paints over as progress,
//! and on a picture 80 % done that erased more than it refined.

use super::analysis::Picture;
use crate::engine::Canvas;
use crate::ops::pb;

/// Strokes looked at for the scale of the brushwork.
pub const RECENT_STROKES: usize = 32;
/// The blur's standard deviation as a share of the brushwork's diameter.
const SOFTEN_SHARE: f32 = 0.25;
/// The share of the canvas's own detail (the canvas minus its softened self)
/// the imagined picture keeps. Chosen by continuing teacher processes of
/// pictures kept apart from both training and `apprentice eval`'s held-out
/// ones (scenes of other seeds, crops of training photographs): 0 (the
/// softened canvas alone), 0.2, 0.25, 0.3 and 0.5 were tried; 0.2–0.3 were
/// best at every cut, in error ratio and in colour.
pub const DETAIL_KEPT: f32 = 0.25;
/// Up to this standard deviation (px) the blur is an exact Gaussian.
const EXACT_SIGMA: f32 = 6.0;

/// The median diameter of the last [`RECENT_STROKES`] strokes among `ops`
/// (undo/redo already resolved), or `None` when there are none.
pub fn brushwork(ops: &[&pb::Op]) -> Option<f32> {
    let mut sizes: Vec<f32> = ops
        .iter()
        .rev()
        .filter_map(|op| match &op.kind {
            Some(pb::op::Kind::Stroke(s)) => Some(crate::ops::Brush::of(s).size),
            _ => None,
        })
        .take(RECENT_STROKES)
        .collect();
    if sizes.is_empty() {
        return None;
    }
    sizes.sort_by(f32::total_cmp);
    Some(sizes[sizes.len() / 2])
}

/// Colour-laying ops looked at for the painter's palette.
pub const PALETTE_OPS: usize = 64;
/// Most distinct colours a palette has; a history with more paints from a picture.
pub const PALETTE_MAX: usize = 8;
/// Fewest colour-laying ops that show a palette.
const PALETTE_EVIDENCE: usize = 8;
/// Colours closer than this on every channel are one palette colour.
const SAME_COLOUR: f32 = 0.02;

/// The colours of the last [`PALETTE_OPS`] ops among `ops` that lay a colour down (brush,
/// airbrush and pencil strokes, fills), when they keep to a palette: at least
/// [`PALETTE_EVIDENCE`] such ops in at most [`PALETTE_MAX`] distinct colours. A painter who
/// works from a palette (three paints, two inks) is continued in it; a history whose
/// colours come from a picture (the teacher's, a photograph's) has more and gets `None`.
pub fn palette(ops: &[&pb::Op]) -> Option<Vec<[f32; 3]>> {
    let colours: Vec<[f32; 3]> = ops
        .iter()
        .rev()
        .filter_map(|op| super::analysis::laid_colour(op).map(|(c, _, _)| c))
        .take(PALETTE_OPS)
        .collect();
    if colours.len() < PALETTE_EVIDENCE {
        return None;
    }
    let mut palette: Vec<[f32; 3]> = Vec::new();
    for c in colours {
        if !palette.iter().any(|p| (0..3).all(|k| (p[k] - c[k]).abs() <= SAME_COLOUR)) {
            palette.push(c);
            if palette.len() > PALETTE_MAX {
                return None;
            }
        }
    }
    Some(palette)
}

/// The colour of `palette` nearest to `c` (Euclidean RGB).
pub fn nearest(palette: &[[f32; 3]], c: [f32; 3]) -> [f32; 3] {
    let d = |p: &[f32; 3]| (0..3).map(|k| (p[k] - c[k]).powi(2)).sum::<f32>();
    *palette.iter().min_by(|a, b| d(a).total_cmp(&d(b))).unwrap_or(&c)
}

/// The canvas softened to the scale of brushwork `diameter` pixels wide (at
/// least 1 px of blur, at most 1/32 of the canvas's longer side), keeping
/// [`DETAIL_KEPT`] of what the softening took away. Past
/// [`EXACT_SIGMA`] three box blurs stand for the Gaussian: their cost does not
/// grow with its width, so a big canvas with big brushes is softened as fast
/// as a small one (the boxes come in whole pixels, too coarse for fine brushwork).
pub fn soften(canvas: &Canvas, diameter: f32) -> Picture {
    soften_until(canvas, diameter, &|| false).expect("never stopped")
}

/// [`soften`], looking at `stop` between passes over the canvas (a big canvas takes
/// seconds): `None` once it says stop.
pub fn soften_until(canvas: &Canvas, diameter: f32, stop: &dyn Fn() -> bool) -> Option<Picture> {
    let longest = canvas.width().max(canvas.height()) as f32;
    let sigma = (SOFTEN_SHARE * diameter).clamp(1.0, (longest / 32.0).max(1.0));
    let canvas = Picture::of(canvas);
    let mut soft = if sigma <= EXACT_SIGMA {
        canvas.blurred(sigma)
    } else {
        // Three boxes of width b have the variance of a Gaussian of σ² = 3 (b² − 1) / 12.
        let radius = (((4.0 * sigma * sigma + 1.0).sqrt() - 1.0) / 2.0).round().max(1.0) as usize;
        let (w, h) = (canvas.width, canvas.height);
        let mut soft = canvas.clone();
        for plane in soft.rgb.iter_mut() {
            for _ in 0..3 {
                if stop() {
                    return None;
                }
                box_blur(plane, w, h, radius);
            }
        }
        soft
    };
    for (soft, sharp) in soft.rgb.iter_mut().zip(&canvas.rgb) {
        for (s, &c) in soft.iter_mut().zip(sharp) {
            *s += DETAIL_KEPT * (c - *s);
        }
    }
    Some(soft)
}

/// A box blur of `radius` in place, rows then columns (edges clamped), by running sums.
fn box_blur(plane: &mut [f32], w: usize, h: usize, radius: usize) {
    let mut line = Vec::new();
    let mut pass = |len: usize, count: usize, at: &dyn Fn(usize, usize) -> usize, plane: &mut [f32]| {
        for k in 0..count {
            line.clear();
            line.extend((0..len).map(|i| plane[at(k, i)]));
            let get = |i: isize| line[i.clamp(0, len as isize - 1) as usize];
            let r = radius as isize;
            let mut sum: f32 = (-r..=r).map(get).sum();
            let n = (2 * radius + 1) as f32;
            for i in 0..len as isize {
                plane[at(k, i as usize)] = sum / n;
                sum += get(i + r + 1) - get(i - r);
            }
        }
    };
    pass(w, h, &|y, x| y * w + x, plane);
    pass(h, w, &|x, y| y * w + x, plane);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Rgba;

    fn stroke(size: f32) -> pb::Op {
        pb::Op {
            kind: Some(pb::op::Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState { size, ..Default::default() }),
                points: vec![pb::Point { x: 1.0, y: 1.0, ..Default::default() }],
            })),
        }
    }

    fn coloured(rgb: [f32; 3]) -> pb::Op {
        let mut op = stroke(6.0);
        if let Some(pb::op::Kind::Stroke(s)) = &mut op.kind {
            s.brush.as_mut().unwrap().color = Some(pb::Color { r: rgb[0], g: rgb[1], b: rgb[2], a: None });
        }
        op
    }

    #[test]
    fn a_history_in_a_few_colours_has_a_palette_and_one_from_a_picture_has_none() {
        let paints = [[0.8, 0.25, 0.15], [0.15, 0.35, 0.65], [0.9, 0.75, 0.25]];
        let ops: Vec<pb::Op> = (0..30).map(|i| coloured(paints[i % 3])).collect();
        let refs: Vec<&pb::Op> = ops.iter().collect();
        let mut found = palette(&refs).unwrap();
        found.sort_by(|a, b| a[0].total_cmp(&b[0]));
        assert_eq!(found, vec![paints[1], paints[0], paints[2]]);
        assert_eq!(nearest(&found, [0.7, 0.3, 0.2]), paints[0]);
        // Too few ops to tell, and a picture's many colours (a teacher's history).
        assert_eq!(palette(&refs[..5]), None);
        use super::super::Painter as _;
        let scene = crate::training::scenes::scene(64, 64, 5);
        let picture = super::super::teacher::Teacher.start(super::super::Request {
            history: pb::History { header: None, ops: Vec::new() },
            canvas: Canvas::new(64, 64, Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 }),
            reference: Some(scene),
            temperature: 1.0,
            seed: 1,
            allowed_tools: Vec::new(),
            canvas_at: None,
            stop: None,
            imagination: None,
        });
        let mut picture = picture;
        let taught: Vec<pb::Op> = (0..80).map(|_| picture.next_op()).collect();
        assert_eq!(palette(&taught.iter().collect::<Vec<_>>()), None);
    }

    #[test]
    fn softening_stops_when_asked() {
        let canvas = Canvas::new(256, 256, crate::ops::Rgba { r: 1.0, g: 0.5, b: 0.0, a: 1.0 });
        assert!(soften_until(&canvas, 200.0, &|| true).is_none());
        let done = soften_until(&canvas, 200.0, &|| false).unwrap();
        assert_eq!(done.rgb, soften(&canvas, 200.0).rgb);
    }

    #[test]
    fn the_brushwork_is_the_median_of_the_recent_strokes() {
        let mut ops: Vec<pb::Op> = (0..40).map(|_| stroke(64.0)).collect();
        ops.extend([stroke(8.0), stroke(10.0), stroke(12.0)]);
        let refs: Vec<&pb::Op> = ops.iter().collect();
        // The last 32: 29 of 64 px, and 8, 10, 12.
        assert_eq!(brushwork(&refs), Some(64.0));
        let refs: Vec<&pb::Op> = ops[40..].iter().collect();
        assert_eq!(brushwork(&refs), Some(10.0));
        assert_eq!(brushwork(&[]), None);
    }

    #[test]
    fn softening_is_close_to_a_gaussian_blur_of_the_same_width_keeping_some_detail() {
        let canvas = crate::training::scenes::scene(480, 400, 7);
        for diameter in [6.0, 40.0, 100.0] {
            let soft = soften(&canvas, diameter);
            let sigma = (SOFTEN_SHARE * diameter).clamp(1.0, 15.0);
            let sharp = Picture::of(&canvas);
            let mut exact = sharp.blurred(sigma);
            for k in 0..3 {
                for (e, &c) in exact.rgb[k].iter_mut().zip(&sharp.rgb[k]) {
                    *e += DETAIL_KEPT * (c - *e);
                }
            }
            let worst = (0..3)
                .flat_map(|k| soft.rgb[k].iter().zip(&exact.rgb[k]).map(|(a, b)| (a - b).abs()))
                .fold(0.0f32, f32::max);
            let mean = (0..3)
                .flat_map(|k| soft.rgb[k].iter().zip(&exact.rgb[k]).map(|(a, b)| (a - b).abs()))
                .sum::<f32>()
                / (3 * 480 * 400) as f32;
            assert!(mean < 0.01 && worst < 0.15, "diameter {diameter}: mean {mean}, worst {worst}");
        }
    }

    #[test]
    fn softening_evens_out_a_ridge_and_keeps_a_flat_canvas() {
        let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
        let mut canvas = Canvas::new(64, 64, white);
        let flat = soften(&canvas, 16.0);
        assert!(flat.rgb[0].iter().all(|&v| (v - 1.0).abs() < 1e-5));
        for y in 0..64 {
            canvas.pixels_mut()[y * 64 + 32] = [0.0, 0.0, 0.0, 1.0];
        }
        let soft = soften(&canvas, 16.0);
        // A one-pixel black line spreads over its neighbours (sigma 2 px: at most 1/32 of
        // the canvas); a quarter of it stays where it was.
        let blur_there = 1.0 - 1.0 / (2.0 * (2.0 * std::f32::consts::PI).sqrt());
        let expected = (1.0 - DETAIL_KEPT) * blur_there;
        assert!((soft.at(32, 10)[0] - expected).abs() < 0.01, "{:?}", soft.at(32, 10));
        assert!(soft.at(34, 10)[0] < 1.0 && soft.at(34, 10)[0] > soft.at(32, 10)[0]);
    }
}
