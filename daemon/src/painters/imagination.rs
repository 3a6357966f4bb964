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

use super::analysis::Picture;
use crate::engine::Canvas;
use crate::ops::pb;

/// Strokes looked at for the scale of the brushwork.
pub const RECENT_STROKES: usize = 32;
/// The blur's standard deviation as a share of the brushwork's diameter.
const SOFTEN_SHARE: f32 = 0.25;

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

/// The canvas softened to the scale of brushwork `diameter` pixels wide (at
/// least 1 px of blur, at most 1/32 of the canvas's longer side).
pub fn soften(canvas: &Canvas, diameter: f32) -> Picture {
    let longest = canvas.width().max(canvas.height()) as f32;
    let sigma = (SOFTEN_SHARE * diameter).clamp(1.0, (longest / 32.0).max(1.0));
    Picture::of(canvas).blurred(sigma)
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
    fn softening_evens_out_a_ridge_and_keeps_a_flat_canvas() {
        let white = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };
        let mut canvas = Canvas::new(64, 64, white);
        let flat = soften(&canvas, 16.0);
        assert!(flat.rgb[0].iter().all(|&v| (v - 1.0).abs() < 1e-5));
        for y in 0..64 {
            canvas.pixels_mut()[y * 64 + 32] = [0.0, 0.0, 0.0, 1.0];
        }
        let soft = soften(&canvas, 16.0);
        // A one-pixel black line spreads over its neighbours (sigma 4 px).
        assert!(soft.at(32, 10)[0] > 0.8 && soft.at(34, 10)[0] < 1.0);
    }
}
