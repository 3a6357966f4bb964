//! Real human stroke order: the characters of the npm package
//! `hanzi-writer-data` (derived from Make Me a Hanzi) as painting histories.
//!
//! The package has one file per character, named by it (`十.json`), holding
//! `strokes` (SVG outlines, in writing order) and `medians`: per stroke, the
//! polyline down its middle as `[x, y]` pairs in a 1024-unit box whose y axis
//! points up (the glyph is drawn with `translate(0, 900) scale(1, -1)`). Only
//! the medians are used: a character becomes one brush stroke per median, in
//! the order people write them, dark ink on a white canvas. Each median is
//! resampled to the tokenizer's four control points, so what the data shows is
//! exactly what the model can say, and the finished character is the
//! reference of copy-mode batches, as for every history.
//!
//! One character in ten (by a hash of its code point, so the split never
//! depends on which files are present) is held out: `apprentice data` never
//! writes it, and `apprentice eval` tests next-stroke order on it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ops::pb;
use crate::painters::rng::Rng;
use crate::tokenizer::{CONTROL_POINTS, arc_samples};

/// Side of the glyph box, in glyph units.
pub const GLYPH_BOX: f32 = 1024.0;
/// The glyph's baseline transform: y on the canvas is `BASELINE - y`.
pub const BASELINE: f32 = 900.0;
/// Coordinates further than this outside the box are taken for corrupt data.
const MAX_COORD: f64 = 4.0 * GLYPH_BOX as f64;
/// Brush diameter as a share of the canvas side: about the width of the
/// outlines' strokes in the glyph box (60–80 units of 1024).
const BRUSH_SHARE: f32 = 0.07;
/// Near-black ink (exactly a level of the tokenizer's colour grid: 3 of 31).
const INK: f32 = 3.0 / 31.0;
/// One character in this many is held out.
const HELD_OUT_ONE_IN: u64 = 10;

/// One character: its stroke medians in writing order, in glyph units (y up).
#[derive(Clone, Debug, PartialEq)]
pub struct Character {
    pub ch: char,
    pub medians: Vec<Vec<[f32; 2]>>,
}

/// Whether `ch` belongs to the held-out split (never written as training data).
pub fn held_out(ch: char) -> bool {
    Rng::new(u64::from(u32::from(ch))).next_u64() % HELD_OUT_ONE_IN == 0
}

fn point(value: &Value, at: &str) -> Result<[f32; 2], String> {
    let pair = value.as_array().filter(|a| a.len() == 2);
    let coords: Option<Vec<f64>> = pair.map(|a| a.iter().filter_map(Value::as_f64).collect());
    match coords {
        Some(c) if c.len() == 2 && c.iter().all(|v| v.abs() <= MAX_COORD) => Ok([c[0] as f32, c[1] as f32]),
        Some(c) if c.len() == 2 => {
            Err(format!("{at}: coordinates must lie within ±{MAX_COORD} of the 1024-unit box, got {c:?}"))
        }
        _ => Err(format!("{at}: expected a pair of numbers [x, y], got {value}")),
    }
}

/// Parses a character file's text. Errors name the field (`medians[2][0]: …`).
pub fn parse(ch: char, text: &str) -> Result<Character, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let medians = json
        .get("medians")
        .ok_or("medians: missing (expected one polyline per stroke)")?
        .as_array()
        .ok_or("medians: expected an array of polylines")?;
    if medians.is_empty() {
        return Err("medians: a character needs at least one stroke".into());
    }
    // The outlines are not used, but a count that disagrees means a damaged file.
    if let Some(strokes) = json.get("strokes") {
        let n = strokes.as_array().ok_or("strokes: expected an array of outlines")?.len();
        if n != medians.len() {
            return Err(format!("strokes: {n} outlines for {} medians", medians.len()));
        }
    }
    let medians = medians
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let points = m.as_array().ok_or_else(|| format!("medians[{i}]: expected an array of points"))?;
            if points.is_empty() {
                return Err(format!("medians[{i}]: a stroke needs at least one point"));
            }
            points.iter().enumerate().map(|(j, p)| point(p, &format!("medians[{i}][{j}]"))).collect()
        })
        .collect::<Result<_, String>>()?;
    Ok(Character { ch, medians })
}

/// The character a file stands for: hanzi-writer-data's `十.json` (the name
/// without `.json`, one character long) or KanjiVG's `05341.svg`.
fn character_of(path: &Path) -> Option<char> {
    if is_kanjivg(path) {
        return super::kanjivg::character_of(path);
    }
    if path.extension()? != "json" {
        return None;
    }
    let mut chars = path.file_stem()?.to_str()?.chars();
    let ch = chars.next()?;
    chars.next().is_none().then_some(ch)
}

/// Reads one character file; errors name the file.
pub fn read(path: &Path) -> Result<Character, String> {
    let ch = character_of(path).ok_or_else(|| {
        format!("{}: not a character file (expected a name like 十.json or 05341.svg)", path.display())
    })?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let parsed = if is_kanjivg(path) { super::kanjivg::parse(ch, &text) } else { parse(ch, &text) };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether a character file is KanjiVG's (else hanzi-writer-data's).
pub fn is_kanjivg(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "svg")
}

/// The character files in an unpacked package, by code point: hanzi-writer-data
/// (`DIR` or `DIR/package`, as `npm pack` unpacks) or KanjiVG (`DIR` or
/// `DIR/kanji`, as its wheel unpacks).
pub fn list(dir: &Path) -> Result<Vec<(char, PathBuf)>, String> {
    let root = ["package", "kanji"].iter().map(|n| dir.join(n)).find(|d| d.is_dir());
    let root = root.unwrap_or_else(|| dir.to_path_buf());
    let mut files: Vec<(char, PathBuf)> = super::files_in(&root, |p| character_of(p).is_some())?
        .into_iter()
        .filter_map(|p| character_of(&p).map(|c| (c, p)))
        .collect();
    if files.is_empty() {
        return Err(format!(
            "{}: no character files (十.json, … of hanzi-writer-data or 05341.svg, … of KanjiVG); fetch them with daemon/scripts/fetch-data.sh",
            root.display()
        ));
    }
    files.sort();
    Ok(files)
}

/// A character as another hand might write it: the same strokes in the same
/// order, scaled, squeezed or widened, slanted, turned a little and moved on
/// the page, each stroke shifted and each point jittered; in a dark ink and a
/// brush width drawn from `rng`. Order, not one font's shapes, is what stays.
pub fn augment(c: &Character, rng: &mut Rng) -> (Character, Ink) {
    let between = |rng: &mut Rng, a: f32, b: f32| a + (b - a) * rng.unit();
    let (cx, cy) = (GLYPH_BOX / 2.0, BASELINE - GLYPH_BOX / 2.0);
    let scale = between(rng, 0.65, 1.05);
    let width = between(rng, 0.8, 1.2);
    let slant = between(rng, -0.25, 0.25);
    let turn = between(rng, -0.08f32, 0.08);
    let room = (1.05 - scale) * GLYPH_BOX / 2.0;
    let (dx, dy) = (between(rng, -room, room), between(rng, -room, room));
    let (sin, cos) = turn.sin_cos();
    let medians = c
        .medians
        .iter()
        .map(|m| {
            let (sx, sy) = (between(rng, -12.0, 12.0), between(rng, -12.0, 12.0));
            m.iter()
                .map(|&[x, y]| {
                    let (x, y) =
                        (x - cx + sx + between(rng, -8.0, 8.0), y - cy + sy + between(rng, -8.0, 8.0));
                    let (x, y) = ((x + slant * y) * width * scale, y * scale);
                    [cx + dx + x * cos - y * sin, cy + dy + x * sin + y * cos]
                })
                .collect()
        })
        .collect();
    let level = |rng: &mut Rng| (rng.index(6) as f32) / 31.0;
    let ink = Ink { color: [level(rng), level(rng), level(rng)], brush_share: between(rng, 0.045, 0.09) };
    (Character { ch: c.ch, medians }, ink)
}

/// The ink and brush a character is written with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ink {
    /// RGB in [0, 1].
    pub color: [f32; 3],
    /// Brush diameter as a share of the canvas side.
    pub brush_share: f32,
}

impl Default for Ink {
    fn default() -> Ink {
        Ink { color: [INK; 3], brush_share: BRUSH_SHARE }
    }
}

/// The brush stroke of one median on a `side × side` canvas.
fn stroke(median: &[[f32; 2]], side: u32, ink: Ink) -> pb::Op {
    let scale = side as f32 / GLYPH_BOX;
    let on_canvas: Vec<(f32, f32, f32)> =
        median.iter().map(|&[x, y]| (x * scale, (BASELINE - y) * scale, 1.0)).collect();
    let points = arc_samples(&on_canvas, CONTROL_POINTS)
        .into_iter()
        .enumerate()
        .map(|(i, (x, y, _))| pb::Point { x, y, pressure: None, time_ms: 16 * i as u32, tilt: None })
        .collect();
    pb::Op {
        kind: Some(pb::op::Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: ink.brush_share * side as f32,
                color: Some(pb::Color { r: ink.color[0], g: ink.color[1], b: ink.color[2], a: None }),
                hardness: Some(0.8),
                ..Default::default()
            }),
            points,
        })),
    }
}

/// The character written stroke by stroke in dark ink on a white `side × side` canvas.
pub fn history(c: &Character, side: u32) -> pb::History {
    history_in(c, side, Ink::default())
}

/// The character written stroke by stroke in `ink` on a white `side × side` canvas.
pub fn history_in(c: &Character, side: u32, ink: Ink) -> pb::History {
    let header = pb::Header {
        width: side,
        height: side,
        background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
        title: format!("hanzi {}", c.ch),
    };
    pb::History { header: Some(header), ops: c.medians.iter().map(|m| stroke(m, side, ink)).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::validate;
    use crate::tokenizer::Tokenizer;

    /// 十 as the package has it, shortened: a horizontal stroke, then a vertical one.
    const TEN: &str = r#"{"strokes": ["M 0 0 Z", "M 0 0 Z"],
        "medians": [[[109, 442], [373, 456], [932, 476]], [[456, 811], [512, 593], [507, -33]]]}"#;

    #[test]
    fn a_character_file_gives_one_brush_stroke_per_median_in_writing_order() {
        let ten = parse('十', TEN).unwrap();
        assert_eq!(ten.medians.len(), 2);
        let h = history(&ten, 128);
        validate::history(&h).unwrap();
        assert_eq!(h.header.as_ref().unwrap().title, "hanzi 十");
        let strokes: Vec<&pb::Stroke> = h
            .ops
            .iter()
            .map(|op| match &op.kind {
                Some(pb::op::Kind::Stroke(s)) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(strokes.iter().all(|s| s.tool() == pb::Tool::Brush && s.points.len() == CONTROL_POINTS));
        // The glyph box maps onto the canvas with y flipped about the baseline:
        // the vertical stroke starts near the top (811 up → 89 down) and runs down.
        let vertical = &strokes[1].points;
        assert!((vertical[0].x - 456.0 / 8.0).abs() < 1e-4 && (vertical[0].y - 89.0 / 8.0).abs() < 1e-4);
        assert!((vertical[3].y - 933.0 / 8.0).abs() < 1e-4, "{vertical:?}");
        // The horizontal one is read left to right.
        assert!(strokes[0].points[0].x < strokes[0].points[3].x);
    }

    #[test]
    fn the_strokes_survive_the_tokenizer_within_its_bounds() {
        let h = history(&parse('十', TEN).unwrap(), 128);
        let tk = Tokenizer::new(h.header.as_ref().unwrap());
        for op in &h.ops {
            let back = tk.decode(&tk.encode(op).unwrap());
            let (Some(pb::op::Kind::Stroke(a)), Some(pb::op::Kind::Stroke(b))) = (&op.kind, &back.kind)
            else {
                panic!("strokes stay strokes")
            };
            assert_eq!(
                b.brush.as_ref().unwrap().color,
                a.brush.as_ref().unwrap().color,
                "ink is on the grid"
            );
            for (p, q) in a.points.iter().zip(&b.points) {
                // Start within 128/512 px; each step within 128·(√(d/128)/32 + 1/4096) ≤ 2.9 px.
                assert!((p.x - q.x).abs() < 3.0 && (p.y - q.y).abs() < 3.0, "{p:?} vs {q:?}");
            }
        }
    }

    #[test]
    fn an_augmented_character_keeps_its_strokes_and_their_order_on_the_page() {
        let ten = parse('十', TEN).unwrap();
        let mut rng = Rng::new(9);
        let mut moved = 0;
        for _ in 0..50 {
            let (a, ink) = augment(&ten, &mut rng);
            assert_eq!(a.medians.len(), 2);
            assert_eq!(a.medians[1].len(), 3, "the same points, moved");
            if a.medians[0][0] != ten.medians[0][0] {
                moved += 1;
            }
            // Still the horizontal stroke first (its ends further apart in x than in y)...
            let [x0, y0] = a.medians[0][0];
            let [x1, y1] = a.medians[0][2];
            assert!((x1 - x0).abs() > (y1 - y0).abs(), "{a:?}");
            // ...written in a dark ink, and still on the canvas.
            assert!(ink.color.iter().all(|&c| c <= 5.0 / 31.0));
            let h = history_in(&a, 128, ink);
            validate::history(&h).unwrap();
            for op in &h.ops {
                let Some(pb::op::Kind::Stroke(s)) = &op.kind else { unreachable!() };
                assert!(
                    s.points.iter().all(|p| (-8.0..136.0).contains(&p.x) && (-8.0..136.0).contains(&p.y))
                );
            }
        }
        assert_eq!(moved, 50, "every copy differs");
    }

    #[test]
    fn bad_files_are_refused_naming_the_field() {
        let err = |text: &str| parse('十', text).unwrap_err();
        assert!(err("{").starts_with("not valid JSON"));
        assert!(err(r#"{"strokes": []}"#).starts_with("medians: missing"));
        assert_eq!(err(r#"{"medians": []}"#), "medians: a character needs at least one stroke");
        assert_eq!(err(r#"{"medians": [[]]}"#), "medians[0]: a stroke needs at least one point");
        assert_eq!(
            err(r#"{"medians": [[[1, 2]], [[3, 4], [5, "x"]]]}"#),
            r#"medians[1][1]: expected a pair of numbers [x, y], got [5,"x"]"#
        );
        assert!(err(r#"{"medians": [[[1, 1e9]]]}"#).starts_with("medians[0][0]: coordinates must lie"));
        assert_eq!(
            err(r#"{"strokes": ["M"], "medians": [[[1, 2]], [[3, 4]]]}"#),
            "strokes: 1 outlines for 2 medians"
        );
    }

    #[test]
    fn files_are_found_by_character_in_the_package_folder() {
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("package");
        std::fs::create_dir(&package).unwrap();
        for name in ["十.json", "一.json", "package.json", "README.md"] {
            std::fs::write(package.join(name), TEN).unwrap();
        }
        // Either the unpacked tarball or its `package` folder will do.
        for root in [dir.path(), package.as_path()] {
            let found: Vec<char> = list(root).unwrap().into_iter().map(|(c, _)| c).collect();
            assert_eq!(found, ['一', '十']);
        }
        assert_eq!(read(&package.join("十.json")).unwrap().ch, '十');
        let bad = package.join("二.json");
        std::fs::write(&bad, r#"{"medians": 3}"#).unwrap();
        assert_eq!(
            read(&bad).unwrap_err(),
            format!("{}: medians: expected an array of polylines", bad.display())
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(list(empty.path()).unwrap_err().contains("no character files"));
    }

    #[test]
    fn one_character_in_about_ten_is_held_out() {
        // (Decided by the code point alone, so the same whatever other files are present.)
        let all: Vec<char> = ('\u{4E00}'..='\u{9FFF}').collect();
        let held = all.iter().filter(|&&c| held_out(c)).count() as f64 / all.len() as f64;
        assert!((held - 0.1).abs() < 0.01, "{held}");
    }
}
