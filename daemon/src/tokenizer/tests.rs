use proptest::prelude::*;

use super::*;
use crate::ops::{Rgba, validate};

fn header(w: u32, h: u32) -> pb::Header {
    pb::Header { width: w, height: h, ..Default::default() }
}

fn any_token() -> impl Strategy<Value = OpToken> {
    let fields: Vec<_> = ALL_FIELDS.iter().map(|f| 0..f.vocab()).collect();
    (1..kind::COUNT, fields).prop_map(|(k, values)| {
        let mut t = OpToken::default();
        for (f, v) in ALL_FIELDS.iter().zip(values) {
            t.set(*f, v);
        }
        t.set(Field::Kind, k);
        t.canonical()
    })
}

fn stroke_op(
    tool: pb::Tool,
    size: f32,
    opacity: f32,
    hardness: f32,
    color: [f32; 3],
    points: Vec<pb::Point>,
) -> pb::Op {
    pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: tool as i32,
            brush: Some(pb::BrushState {
                size,
                opacity: Some(opacity),
                hardness: Some(hardness),
                color: Some(pb::Color { r: color[0], g: color[1], b: color[2], a: None }),
                ..Default::default()
            }),
            points,
        })),
    }
}

fn four_point_stroke() -> impl Strategy<Value = (pb::Op, (u32, u32))> {
    let canvas = (16u32..2048, 16u32..2048);
    canvas.prop_flat_map(|(w, h)| {
        let pt = (0.0f32..w as f32, 0.0f32..h as f32, 0.0f32..=1.0);
        (
            Just((w, h)),
            prop_oneof![Just(pb::Tool::Brush), Just(pb::Tool::Airbrush), Just(pb::Tool::Pencil)],
            0.5f32..2048.0,
            0.0f32..=1.0,
            0.0f32..=1.0,
            [0.0f32..=1.0, 0.0f32..=1.0, 0.0f32..=1.0],
            pt,
        )
            .prop_map(|(wh, tool, size, opacity, hardness, color, (x, y, p))| {
                // A straight stroke: its arc-length samples are its own points.
                let points = (0..4)
                    .map(|i| pb::Point {
                        x: x + i as f32 * 3.0,
                        y,
                        pressure: Some(p),
                        time_ms: i * 16,
                        tilt: None,
                    })
                    .collect();
                (stroke_op(tool, size, opacity, hardness, color, points), wh)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_token_decodes_to_a_valid_op_that_encodes_back_to_it(t in any_token(), w in 1u32..4096, h in 1u32..4096) {
        let tk = Tokenizer::new(&header(w, h));
        let op = tk.decode(&t);
        prop_assert!(validate::op(&op, &header(w, h)).is_ok(), "{:?}", validate::op(&op, &header(w, h)));
        prop_assert_eq!(tk.encode(&op), Some(t));
    }

    #[test]
    fn quantization_stays_within_the_stated_bounds((op, (w, h)) in four_point_stroke()) {
        let tk = Tokenizer::new(&header(w, h));
        let back = tk.decode(&tk.encode(&op).unwrap());
        let (Some(Kind::Stroke(a)), Some(Kind::Stroke(b))) = (&op.kind, &back.kind) else { unreachable!() };
        let (ba, bb) = (crate::ops::Brush::of(a), crate::ops::Brush::of(b));
        let close = |x: f32, y: f32, bound: f32| (x - y).abs() <= bound + 1e-5;
        prop_assert_eq!(ba.tool, bb.tool);
        prop_assert!(close(ba.color.r, bb.color.r, 1.0 / 62.0) && close(ba.color.b, bb.color.b, 1.0 / 62.0));
        prop_assert!((bb.size / ba.size - 1.0).abs() <= 0.094, "size {} -> {}", ba.size, bb.size);
        prop_assert!(close(ba.opacity, bb.opacity, 1.0 / 30.0) && close(ba.hardness, bb.hardness, 1.0 / 20.0));
        let s = w.max(h) as f32;
        prop_assert!(close(a.points[0].x, b.points[0].x, w as f32 / 512.0));
        prop_assert!(close(a.points[0].y, b.points[0].y, h as f32 / 512.0));
        for i in 1..4 {
            // Bound for the step from the decoded previous point (whose own error is ≤ W/512).
            let d = (a.points[i].x - b.points[i - 1].x).abs();
            let bound = s * ((d / s).sqrt() / 32.0 + 1.0 / 4096.0) + 1e-3 * s;
            prop_assert!(close(a.points[i].x, b.points[i].x, bound), "point {}: {} -> {} (bound {})", i, a.points[i].x, b.points[i].x, bound);
            prop_assert!(close(crate::ops::brush::pressure(&a.points[i]), crate::ops::brush::pressure(&b.points[i]), 1.0 / 14.0));
        }
    }
}

#[test]
fn fills_keep_their_seed_colour_and_tolerance() {
    let tk = Tokenizer::new(&header(300, 200));
    let fill = pb::Op {
        kind: Some(Kind::Fill(pb::Fill {
            x: 123.4,
            y: 56.7,
            color: Some(pb::Color { r: 0.2, g: 0.6, b: 0.9, a: None }),
            tolerance: 0.3,
            contiguous: true,
        })),
    };
    let t = tk.encode(&fill).unwrap();
    assert_eq!(t.get(Field::Kind), kind::FILL);
    assert_eq!(t.get(Field::Size), 0, "fields a fill does not use stay zero");
    let Some(Kind::Fill(back)) = tk.decode(&t).kind else { panic!() };
    assert!((back.x - 123.4).abs() <= 300.0 / 512.0 && (back.y - 56.7).abs() <= 200.0 / 512.0);
    assert!((back.tolerance - 0.3).abs() <= 1.0 / 14.0);
    let c = Rgba::from_pb(back.color.as_ref(), Rgba::BLACK);
    assert!((c.g - 0.6).abs() <= 1.0 / 62.0);
}

#[test]
fn long_strokes_keep_four_arc_length_samples_and_undo_is_not_tokenized() {
    let tk = Tokenizer::new(&header(400, 400));
    let points: Vec<pb::Point> =
        (0..=90).map(|i| pb::Point { x: 10.0 + i as f32 * 3.0, y: 200.0, ..Default::default() }).collect();
    let op = stroke_op(pb::Tool::Brush, 8.0, 1.0, 0.5, [0.0; 3], points);
    let Some(Kind::Stroke(s)) = tk.decode(&tk.encode(&op).unwrap()).kind else { panic!() };
    let xs: Vec<f32> = s.points.iter().map(|p| p.x).collect();
    for (got, want) in xs.iter().zip([10.0, 100.0, 190.0, 280.0]) {
        assert!((got - want).abs() < 6.0, "{xs:?}");
    }
    assert_eq!(tk.encode(&pb::Op { kind: Some(Kind::Undo(pb::Undo { count: None })) }), None);
}

#[test]
fn a_short_stroke_decodes_straight_its_padding_points_staying_put() {
    // A dab of two points, as a painter's quick detail stroke: its end is rounded once, and
    // the points that pad it to four repeat that end instead of hooking back towards it.
    let tk = Tokenizer::new(&header(256, 192));
    for (x1, y1) in [(7.3, 3.1), (4.6, -2.2), (9.9, 0.4)] {
        let points = vec![
            pb::Point { x: 100.0, y: 80.0, ..Default::default() },
            pb::Point { x: 100.0 + x1, y: 80.0 + y1, ..Default::default() },
        ];
        let op = stroke_op(pb::Tool::Brush, 3.0, 1.0, 0.9, [0.5; 3], points);
        let Some(Kind::Stroke(s)) = tk.decode(&tk.encode(&op).unwrap()).kind else { panic!() };
        let at = |i: usize| (s.points[i].x, s.points[i].y);
        assert!(at(1) != at(0) && at(2) == at(1) && at(3) == at(1), "{:?}", s.points);
        assert!((at(1).0 - 100.0 - x1).abs() < 1.0 && (at(1).1 - 80.0 - y1).abs() < 1.0, "{:?}", s.points);
    }
}

#[test]
fn colourless_tools_carry_no_colour() {
    let tk = Tokenizer::new(&header(64, 64));
    let op = stroke_op(
        pb::Tool::Eraser,
        8.0,
        1.0,
        0.5,
        [0.9, 0.1, 0.1],
        vec![pb::Point { x: 5.0, y: 5.0, ..Default::default() }],
    );
    let t = tk.encode(&op).unwrap();
    assert_eq!((t.get(Field::Red), t.get(Field::Kind)), (0, kind::ERASER));
}
