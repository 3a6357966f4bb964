//! A `MagicBrush` op painted: its mask from the path and radius, its guidance
//! resolved (a style by name from the styles folder; the built-in model reads no
//! text, so a prompt is reported and the dab painted unguided), and its result.

use std::path::Path;

use super::brush::{Brush, DEFAULT_STEPS, Dab, NOISE_SCALE};
use super::mask::SoftMask;
use super::style::{self, STYLE_FEATURES};
use crate::engine::Canvas;
use crate::ops::pb::{self, magic_brush::Guidance};

/// What the built-in brush says about a prompt it cannot read.
pub const PROMPT_IGNORED: &str =
    "the built-in magic brush reads no text: the prompt is ignored and the dab painted from its surroundings";

/// The style vector for an op's guidance, and a note when guidance was not followed.
pub fn guidance(m: &pb::MagicBrush, styles_dir: Option<&Path>) -> ([f32; STYLE_FEATURES], Option<String>) {
    match &m.guidance {
        Some(Guidance::Prompt(p)) if !p.is_empty() => (style::NONE, Some(PROMPT_IGNORED.to_owned())),
        Some(Guidance::Style(name)) if !name.is_empty() => match styles_dir {
            Some(dir) => match style::load(dir, name) {
                Ok(f) => (f, None),
                Err(e) => (style::NONE, Some(format!("{e}; painted without a style"))),
            },
            None => (style::NONE, Some(format!("style {name:?}: no styles folder; painted without a style"))),
        },
        _ => (style::NONE, None),
    }
}

/// The patch a validated op's dab lays on `canvas` (`None`: the mask misses the canvas,
/// or `progress` cancelled), with the note about its guidance, if any.
pub fn result(
    brush: &Brush,
    canvas: &Canvas,
    m: &pb::MagicBrush,
    style: [f32; STYLE_FEATURES],
    steps: usize,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> candle_core::Result<Option<pb::RasterPatch>> {
    let mask = SoftMask::from_path(&m.path, m.radius, canvas.width(), canvas.height());
    if mask.is_empty() {
        return Ok(None);
    }
    let dab = Dab {
        style,
        strength: m.strength,
        seed: m.seed,
        steps,
        texture: m.texture,
        noise_scale: NOISE_SCALE,
    };
    brush.paint(canvas, &mask, &dab, progress)
}

/// The pixels the built-in brush gives an op that has none recorded (`None`: it misses the
/// canvas), at the default steps, styles from the default data folder; what it could not
/// follow is logged.
pub fn unrecorded_result(canvas: &Canvas, m: &pb::MagicBrush) -> Result<Option<pb::RasterPatch>, String> {
    let styles = crate::config::Paths::resolve(None, None).ok().map(|p| style::styles_dir(&p.data_dir));
    let (style, note) = guidance(m, styles.as_deref());
    if let Some(note) = note {
        tracing::warn!("magic brush: {note}");
    }
    let brush = super::builtin::brush();
    result(&brush, canvas, m, style, DEFAULT_STEPS, &mut |_, _| true).map_err(|e| format!("magic brush: {e}"))
}

/// Paints an op that has no recorded pixels with the built-in brush ([`unrecorded_result`]).
pub fn paint_unrecorded(canvas: &mut Canvas, m: &pb::MagicBrush) -> Result<(), String> {
    if let Some(p) = unrecorded_result(canvas, m)? {
        crate::engine::patch::paste(canvas, &p);
    }
    Ok(())
}

/// The history with the pixels of every magic-brush op in effect that has none recorded
/// filled in, as replay paints them, so that it replays the same anywhere; and how many
/// were filled. Ops taken back by undo are left as they are.
pub fn record(history: &pb::History) -> Result<(pb::History, usize), String> {
    let mut out = history.clone();
    let mut engine = crate::engine::Engine::new(&history.header.clone().unwrap_or_default());
    let mut recorded = 0;
    for i in crate::ops::timeline::effective_indices(&history.ops) {
        if let Some(pb::op::Kind::MagicBrush(m)) = &mut out.ops[i].kind
            && m.result.is_none()
        {
            m.result = unrecorded_result(engine.canvas(), m)?;
            recorded += usize::from(m.result.is_some());
        }
        engine.apply(&out.ops[i]);
    }
    Ok((out, recorded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(guidance: Option<Guidance>) -> pb::MagicBrush {
        pb::MagicBrush {
            path: vec![pb::PathPoint { x: 5.0, y: 5.0 }],
            radius: 3.0,
            guidance,
            strength: 1.0,
            seed: 1,
            result: None,
            texture: 0.0,
        }
    }

    #[test]
    fn a_prompt_is_reported_not_silently_dropped() {
        let (s, note) = guidance(&op(Some(Guidance::Prompt("a red barn".into()))), None);
        assert_eq!(s, style::NONE);
        assert!(note.unwrap().contains("reads no text"));
        assert_eq!(guidance(&op(None), None).1, None);
    }

    #[test]
    fn an_unrecorded_op_is_painted_by_the_built_in_brush_the_same_way_twice() {
        let mut canvas = crate::training::scenes::scene(96, 96, 4);
        let before = canvas.clone();
        let m = pb::MagicBrush { path: vec![pb::PathPoint { x: 40.0, y: 50.0 }], radius: 10.0, ..op(None) };
        paint_unrecorded(&mut canvas, &m).unwrap();
        let mut again = before.clone();
        paint_unrecorded(&mut again, &m).unwrap();
        assert_eq!(canvas, again);
        for y in 0..96 {
            for x in 0..96 {
                if (x as f32 + 0.5 - 40.0).hypot(y as f32 + 0.5 - 50.0) > 10.0 {
                    assert_eq!(canvas.get(x, y), before.get(x, y), "{x},{y} lies outside the dab");
                }
            }
        }
    }

    #[test]
    fn recording_fills_in_the_pixels_replay_would_paint() {
        let header = pb::Header { width: 64, height: 48, ..Default::default() };
        let magic = |x: f32| pb::Op {
            kind: Some(pb::op::Kind::MagicBrush(pb::MagicBrush {
                path: vec![pb::PathPoint { x, y: 20.0 }],
                radius: 6.0,
                ..op(None)
            })),
        };
        let undo = pb::Op { kind: Some(pb::op::Kind::Undo(pb::Undo { count: None })) };
        let fill = pb::Op {
            kind: Some(pb::op::Kind::Fill(pb::Fill {
                x: 1.0,
                y: 1.0,
                color: Some(pb::Color { r: 0.2, g: 0.5, b: 0.9, a: None }),
                ..Default::default()
            })),
        };
        let h = pb::History { header: Some(header), ops: vec![fill, magic(20.0), magic(40.0), undo] };
        let (recorded, n) = record(&h).unwrap();
        assert_eq!(n, 1, "the undone dab is not recorded");
        let result = |i: usize| match &recorded.ops[i].kind {
            Some(pb::op::Kind::MagicBrush(m)) => m.result.is_some(),
            _ => unreachable!(),
        };
        assert!(result(1) && !result(2));
        crate::ops::validate::history(&recorded).unwrap();
        assert_eq!(crate::engine::render(&recorded).0.canvas(), crate::engine::render(&h).0.canvas());
    }

    #[test]
    fn recorded_pixels_are_validated_under_the_result_field() {
        let header = pb::Header { width: 10, height: 10, ..Default::default() };
        let patch = pb::RasterPatch { x: 0, y: 0, width: 2, height: 2, rgba: vec![0; 15], mode: 1 };
        let bad = pb::Op {
            kind: Some(pb::op::Kind::MagicBrush(pb::MagicBrush { result: Some(patch), ..op(None) })),
        };
        let e = crate::ops::validate::op(&bad, &header).unwrap_err();
        assert_eq!(e.field, "op.magic_brush.result.rgba");
    }

    #[test]
    fn a_missing_style_is_reported_and_a_present_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let (_, note) = guidance(&op(Some(Guidance::Style("ink".into()))), Some(dir.path()));
        assert!(note.unwrap().contains("no style \"ink\""));
        image::RgbaImage::from_pixel(2, 2, image::Rgba([0, 0, 255, 255]))
            .save(dir.path().join("ink.png"))
            .unwrap();
        let (s, note) = guidance(&op(Some(Guidance::Style("ink".into()))), Some(dir.path()));
        assert_eq!((s[2], note), (1.0, None));
    }
}
