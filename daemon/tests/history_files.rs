//! History files: both formats round-trip exactly, and a bad file is refused
//! with an error that names the line (or record) and the field.

use apprentice::ops::history::{self, HistoryFormat};
use apprentice::ops::{HistoryError, pb, pb::op::Kind};
use proptest::prelude::*;

fn unit() -> impl Strategy<Value = f32> {
    0.0f32..=1.0
}

fn coord() -> impl Strategy<Value = f32> {
    -1000.0f32..5000.0
}

fn color() -> impl Strategy<Value = pb::Color> {
    (unit(), unit(), unit(), proptest::option::of(unit())).prop_map(|(r, g, b, a)| pb::Color { r, g, b, a })
}

fn point() -> impl Strategy<Value = pb::Point> {
    (coord(), coord(), proptest::option::of(unit()), proptest::option::of((-90.0f32..=90.0, -90.0f32..=90.0)))
        .prop_map(|(x, y, pressure, tilt)| pb::Point {
            x,
            y,
            pressure,
            time_ms: 0,
            tilt: tilt.map(|(x, y)| pb::Tilt { x, y }),
        })
}

fn stroke() -> impl Strategy<Value = pb::Op> {
    let brush =
        (
            0.01f32..2048.0,
            proptest::option::of(unit()),
            proptest::option::of(0.01f32..=1.0),
            proptest::option::of(unit()),
            proptest::option::of(0.02f32..=10.0),
            proptest::option::of(color()),
            0..8i32,
            proptest::option::of(unit()),
        )
            .prop_map(|(size, opacity, flow, hardness, spacing, color, blend, smudge_rate)| {
                pb::BrushState { size, opacity, flow, hardness, spacing, color, blend, smudge_rate }
            });
    (1..6i32, brush, proptest::collection::vec(point(), 1..20), proptest::collection::vec(0..1000u32, 20))
        .prop_map(|(tool, brush, mut points, dts)| {
            let mut t = 0;
            for (p, dt) in points.iter_mut().zip(dts) {
                t += dt;
                p.time_ms = t;
            }
            pb::Op { kind: Some(Kind::Stroke(pb::Stroke { tool, brush: Some(brush), points })) }
        })
}

fn op() -> impl Strategy<Value = pb::Op> {
    let fill = (0.0f32..99.0, 0.0f32..49.0, proptest::option::of(color()), unit(), any::<bool>()).prop_map(
        |(x, y, color, tolerance, contiguous)| pb::Op {
            kind: Some(Kind::Fill(pb::Fill { x, y, color, tolerance, contiguous })),
        },
    );
    let magic = (
        proptest::collection::vec((coord(), coord()).prop_map(|(x, y)| pb::PathPoint { x, y }), 1..10),
        0.1f32..1024.0,
        prop_oneof![
            Just(None),
            ".{0,40}".prop_map(|s| Some(pb::magic_brush::Guidance::Prompt(s))),
            "[a-z-]{1,12}".prop_map(|s| Some(pb::magic_brush::Guidance::Style(s))),
        ],
        unit(),
        any::<u64>(),
        // Recorded pixels, or none.
        proptest::option::of((-50..150i32, -50..150i32, 1..6u32, 1..6u32)),
        unit(),
    )
        .prop_map(|(path, radius, guidance, strength, seed, result, texture)| pb::Op {
            kind: Some(Kind::MagicBrush(pb::MagicBrush {
                path,
                radius,
                guidance,
                strength,
                seed,
                texture,
                result: result.map(|(x, y, width, height)| pb::RasterPatch {
                    x,
                    y,
                    width,
                    height,
                    rgba: (0..width * height * 4).map(|i| (i * 37 % 256) as u8).collect(),
                    mode: pb::PatchMode::Over as i32,
                }),
            })),
        });
    let patch = (-50..150i32, -50..150i32, 1..6u32, 1..6u32, 0..3i32, any::<u64>()).prop_map(
        |(x, y, width, height, mode, seed)| {
            let rgba = (0..width * height * 4).map(|i| (seed.rotate_left(i % 64) & 0xff) as u8).collect();
            pb::Op { kind: Some(Kind::RasterPatch(pb::RasterPatch { x, y, width, height, rgba, mode })) }
        },
    );
    let undo = proptest::option::of(1..100u32)
        .prop_map(|count| pb::Op { kind: Some(Kind::Undo(pb::Undo { count })) });
    let redo = proptest::option::of(1..100u32)
        .prop_map(|count| pb::Op { kind: Some(Kind::Redo(pb::Redo { count })) });
    prop_oneof![4 => stroke(), 1 => fill, 1 => magic, 1 => patch, 1 => undo, 1 => redo]
}

fn a_history() -> impl Strategy<Value = pb::History> {
    (proptest::option::of(color()), ".{0,20}", proptest::collection::vec(op(), 0..12)).prop_map(
        |(background, title, ops)| pb::History {
            header: Some(pb::Header { width: 100, height: 50, background, title }),
            ops,
        },
    )
}

fn round_trip(h: &pb::History, format: HistoryFormat) -> pb::History {
    let mut bytes = Vec::new();
    history::write(h, &mut bytes, format).unwrap();
    history::read(bytes.as_slice(), Some(format)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_lines_round_trip_exactly(h in a_history()) {
        prop_assert_eq!(round_trip(&h, HistoryFormat::JsonLines), h);
    }

    #[test]
    fn binary_round_trips_exactly(h in a_history()) {
        prop_assert_eq!(round_trip(&h, HistoryFormat::Binary), h);
    }

    #[test]
    fn the_format_is_recognised_from_the_content(h in a_history()) {
        for format in [HistoryFormat::JsonLines, HistoryFormat::Binary] {
            let mut bytes = Vec::new();
            history::write(&h, &mut bytes, format).unwrap();
            prop_assert_eq!(&history::read(bytes.as_slice(), None).unwrap(), &h);
        }
    }
}

/// The error message for a JSON Lines text.
fn json_error(text: &str) -> String {
    history::read(text.as_bytes(), Some(HistoryFormat::JsonLines)).unwrap_err().to_string()
}

const HEADER: &str = r#"{"header":{"width":64,"height":64}}"#;

#[test]
fn an_invalid_value_names_its_line_and_field() {
    let text = format!(
        "{HEADER}\n{}\n{}\n",
        r#"{"op":{"stroke":{"tool":"TOOL_BRUSH","brush":{"size":4},"points":[{"x":1,"y":1}]}}}"#,
        r#"{"op":{"stroke":{"tool":"TOOL_BRUSH","brush":{"size":4},"points":[{"x":1,"y":1},{"x":2,"y":2,"pressure":1.5}]}}}"#
    );
    assert_eq!(
        json_error(&text),
        "line 3: op.stroke.points[1].pressure: must be a number in [0, 1], got 1.5"
    );
}

#[test]
fn malformed_records_are_refused_with_their_line() {
    let cases = [
        (format!("{HEADER}\n{{\"op\":{{\"stroke\":"), "line 2: invalid record"),
        (format!("{HEADER}\n{{\"op\":{{\"strok\":{{}}}}}}"), "line 2: invalid record: unknown field `strok`"),
        (
            format!("{HEADER}\n{{\"op\":{{\"fill\":{{\"x\":\"NaN\"}}}}}}"),
            "line 2: op.fill.x: must be a number",
        ),
        (format!("{HEADER}\n{{}}"), "line 2: record: empty"),
        (format!("{HEADER}\n{{\"op\":{{}}}}"), "line 2: op: no operation set"),
        (format!("{HEADER}\n\n{HEADER}"), "line 3: header: a second header"),
        (r#"{"op":{"undo":{}}}"#.to_string(), "line 1: header: the first record must be the header"),
        (r#"{"header":{"width":0,"height":5}}"#.to_string(), "line 1: header.width: must be in [1, 16384]"),
        (
            format!(
                "{HEADER}\n{}",
                r#"{"op":{"stroke":{"tool":"TOOL_HAMMER","brush":{"size":1},"points":[{}]}}}"#
            ),
            "line 2: invalid record: unknown variant `TOOL_HAMMER`",
        ),
        ("\n\n".to_string(), "empty history: expected a header record"),
    ];
    for (text, expected) in cases {
        let got = json_error(&text);
        assert!(got.starts_with(expected), "for {text:?}\n  got      {got}\n  expected {expected}…");
    }
}

#[test]
fn binary_damage_is_refused_with_its_record() {
    let h = pb::History {
        header: Some(pb::Header { width: 8, height: 8, ..Default::default() }),
        ops: vec![pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(3) })) }; 3],
    };
    let mut bytes = Vec::new();
    history::write(&h, &mut bytes, HistoryFormat::Binary).unwrap();

    let truncated = &bytes[..bytes.len() - 1];
    let e = history::read(truncated, Some(HistoryFormat::Binary)).unwrap_err();
    assert!(e.to_string().starts_with("record 4: truncated"), "{e}");

    let mut garbage = bytes.clone();
    garbage.extend_from_slice(&[3, 0xff, 0xff, 0xff]);
    let e = history::read(garbage.as_slice(), Some(HistoryFormat::Binary)).unwrap_err();
    assert!(e.to_string().starts_with("record 5: invalid record"), "{e}");

    let mut huge = bytes;
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let e = history::read(huge.as_slice(), Some(HistoryFormat::Binary)).unwrap_err();
    assert!(e.to_string().contains("exceeds the limit"), "{e}");
}

#[test]
fn a_binary_file_read_as_json_says_so() {
    let e =
        history::read(&[0x0a, 0x04, 0x08, 0xff, 0xfe, 0x01][..], Some(HistoryFormat::JsonLines)).unwrap_err();
    assert!(matches!(e, HistoryError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("binary history"), "{e}");
}

#[test]
fn the_shipped_examples_are_valid_and_their_twins_agree() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let json = history::read_path(&dir.join("still-life.jsonl")).unwrap();
    let binary = history::read_path(&dir.join("still-life.binpb")).unwrap();
    assert_eq!(json, binary);
    history::read_path(&dir.join("hello.jsonl")).unwrap();
}
