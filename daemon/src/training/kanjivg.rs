//! Stroke order from a second source: the KanjiVG character files (the PyPI
//! package `kanjivg`), read into the same [`Character`] as hanzi-writer-data.
//!
//! A KanjiVG file (`kanji/05341.svg`, named by the code point in hex) holds one
//! SVG `<path>` per stroke, in writing order (ids `kvg:05341-s1`, `-s2`, …), each
//! the line down the middle of the stroke as Bézier curves in a 109-unit box
//! whose y axis points down. A path is flattened to a polyline and mapped onto
//! hanzi-writer's 1024-unit, y-up glyph box, so everything downstream (the
//! brush, augmenting, the held-out split by code point) is shared. Files of
//! variant forms (`05341-Kaisho.svg`) are skipped: one writing per character.
//!
//! Another hand's shapes (KanjiVG is drawn from handwriting, hanzi-writer from
//! a font) and, for some characters, the Japanese order: data that teaches
//! order in general rather than one font's medians.

use super::hanzi::{BASELINE, Character, GLYPH_BOX};

/// Side of KanjiVG's view box.
const BOX: f32 = 109.0;
/// Points per Bézier segment when flattening.
const CURVE_POINTS: usize = 8;

/// The character a file stands for: a name like `05341.svg` (no variant suffix).
pub fn character_of(path: &std::path::Path) -> Option<char> {
    if path.extension()? != "svg" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    if stem.is_empty() || stem.len() > 6 || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    char::from_u32(u32::from_str_radix(stem, 16).ok()?)
}

/// Parses a KanjiVG file's text. Errors name the stroke (`stroke 2 (kvg:05341-s2): …`).
pub fn parse(ch: char, text: &str) -> Result<Character, String> {
    let mut medians = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("<path") {
        let tail = &rest[at..];
        let end = tail.find('>').ok_or("a <path element is not closed")?;
        let element = &tail[..end];
        rest = &tail[end..];
        let id = attribute(element, "id").unwrap_or_default();
        let at = format!("stroke {} ({id})", medians.len() + 1);
        let d = attribute(element, "d").ok_or_else(|| format!("{at}: no d attribute"))?;
        let line = flatten(d).map_err(|e| format!("{at}: {e}"))?;
        if line.iter().flatten().any(|v| !v.is_finite() || v.abs() > 4.0 * BOX) {
            return Err(format!("{at}: coordinates far outside the {BOX}-unit box"));
        }
        let unit = GLYPH_BOX / BOX;
        medians.push(line.into_iter().map(|[x, y]| [x * unit, BASELINE - y * unit]).collect());
    }
    if medians.is_empty() {
        return Err("no <path> elements: a character needs at least one stroke".into());
    }
    Ok(Character { ch, medians })
}

/// The value of `name="…"` in an element's text.
fn attribute<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = element.find(&key)? + key.len();
    let len = element[start..].find('"')?;
    Some(&element[start..start + len])
}

/// The numbers of path data: separators are optional before a sign or a second decimal point.
fn numbers(text: &str) -> Result<Vec<f32>, String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b',' || b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if b[i] == b'-' || b[i] == b'+' {
            i += 1;
        }
        let mut dot = false;
        while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'.' && !dot)) {
            dot |= b[i] == b'.';
            i += 1;
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
                i += 1;
            }
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        let word = &text[start..i];
        // Nothing numeric here: name the character met (whole, whatever its width).
        let bad = if word.is_empty() { text[start..].chars().next().map(String::from) } else { None };
        out.push(word.parse().map_err(|_| format!("{:?} is not a number", bad.as_deref().unwrap_or(word)))?);
    }
    Ok(out)
}

/// A path's data as a polyline: moves, lines and cubic curves (`M L H V C S`, either case);
/// curves sampled at [`CURVE_POINTS`] points each. Anything else is refused by name.
fn flatten(d: &str) -> Result<Vec<[f32; 2]>, String> {
    let mut line: Vec<[f32; 2]> = Vec::new();
    let (mut pen, mut control) = ([0.0f32, 0.0], None::<[f32; 2]>);
    // (`e` is a number's exponent, never a command.)
    let is_command = |c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E';
    let mut commands = d.char_indices().filter(|&(_, c)| is_command(c)).peekable();
    if d.trim_start().chars().next().is_some_and(|c| !is_command(c)) {
        return Err("path data must start with a command (M)".into());
    }
    while let Some((at, command)) = commands.next() {
        let end = commands.peek().map_or(d.len(), |&(e, _)| e);
        let args = numbers(&d[at + 1..end])?;
        let (relative, upper) = (command.is_ascii_lowercase(), command.to_ascii_uppercase());
        let arity = match upper {
            'M' | 'L' => 2,
            'H' | 'V' => 1,
            'C' => 6,
            'S' => 4,
            'Z' => 0,
            _ => return Err(format!("path command {command:?} is not supported (M, L, H, V, C, S, Z)")),
        };
        if arity == 0 {
            // Z closes the line: the pen goes back to where it started.
            if let Some(&first) = line.first() {
                line.push(first);
                (pen, control) = (first, None);
            }
            continue;
        }
        if args.is_empty() || args.len() % arity != 0 {
            return Err(format!("{command}: {} numbers, expected a multiple of {arity}", args.len()));
        }
        for a in args.chunks(arity) {
            let base = if relative { pen } else { [0.0, 0.0] };
            let p = |i: usize| [base[0] + a[i], base[1] + a[i + 1]];
            match upper {
                'M' | 'L' => {
                    pen = p(0);
                    // A move starts the line (only one per stroke is expected; later ones join).
                    line.push(pen);
                    control = None;
                }
                'H' => {
                    pen = [if relative { pen[0] + a[0] } else { a[0] }, pen[1]];
                    line.push(pen);
                    control = None;
                }
                'V' => {
                    pen = [pen[0], if relative { pen[1] + a[0] } else { a[0] }];
                    line.push(pen);
                    control = None;
                }
                _ => {
                    let (c1, c2, to) = if upper == 'C' {
                        (p(0), p(2), p(4))
                    } else {
                        // S: the first control point mirrors the last curve's second one.
                        let c1 = control.map_or(pen, |c| [2.0 * pen[0] - c[0], 2.0 * pen[1] - c[1]]);
                        (c1, p(0), p(2))
                    };
                    if line.is_empty() {
                        line.push(pen);
                    }
                    for s in 1..=CURVE_POINTS {
                        let t = s as f32 / CURVE_POINTS as f32;
                        let u = 1.0 - t;
                        let w = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
                        line.push([0, 1].map(|i| w[0] * pen[i] + w[1] * c1[i] + w[2] * c2[i] + w[3] * to[i]));
                    }
                    control = Some(c2);
                    pen = to;
                }
            }
        }
    }
    if line.is_empty() {
        return Err("empty path data".into());
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::hanzi;

    /// 十 as KanjiVG has it (its two stroke paths; the header and numbers trimmed).
    const TEN: &str = r#"<svg><g id="kvg:StrokePaths_05341"><g id="kvg:05341" kvg:element="十">
	<path id="kvg:05341-s1" kvg:type="㇐" d="M11.88,50.98c3.18,0.89,6.62,0.61,9.87,0.35c19.92-1.58,45.23-4.76,63.38-5.82c3.85-0.23,7.23-0.07,11,0.56"/>
	<path id="kvg:05341-s2" kvg:type="㇑" d="M52.22,11.63c1.4,1.4,2.2,3.96,2.2,6.26c0,1.13-0.03,51.22-0.19,73.41c-0.03,3.96-0.06,6.83-0.08,8.08"/>
</g></g></svg>"#;

    #[test]
    fn a_kanjivg_file_gives_its_strokes_in_order_on_the_shared_glyph_box() {
        let ten = parse('十', TEN).unwrap();
        assert_eq!(ten.medians.len(), 2);
        let unit = GLYPH_BOX / BOX;
        // Each path starts at its move and ends where its last curve does (relative steps summed).
        let [x0, y0] = ten.medians[0][0];
        assert!((x0 - 11.88 * unit).abs() < 1e-3 && (y0 - (BASELINE - 50.98 * unit)).abs() < 1e-3);
        let [x1, y1] = *ten.medians[0].last().unwrap();
        let end = [11.88 + 9.87 + 63.38 + 11.0, 50.98 + 0.35 - 5.82 + 0.56];
        assert!((x1 - end[0] * unit).abs() < 1e-2 && (y1 - (BASELINE - end[1] * unit)).abs() < 1e-2);
        assert_eq!(ten.medians[0].len(), 1 + 3 * CURVE_POINTS, "three curves, flattened");
        // The vertical stroke runs down the page: y falls in the y-up glyph box.
        let v = &ten.medians[1];
        assert!(v[0][1] > v.last().unwrap()[1] + 700.0, "{v:?}");
        // And it writes like hanzi-writer's 十: the same canvas within a few pixels.
        let h = hanzi::history(&ten, 128);
        crate::ops::validate::history(&h).unwrap();
        assert_eq!(h.ops.len(), 2);
    }

    #[test]
    fn path_data_without_separators_reads_as_the_svg_grammar_says() {
        assert_eq!(numbers("1.13-0.03,51.22-0.19").unwrap(), [1.13, -0.03, 51.22, -0.19]);
        assert_eq!(numbers("0.5.5 1e1").unwrap(), [0.5, 0.5, 10.0]);
        // S mirrors the previous curve's control point; H, V and L draw straight lines.
        let line = flatten("M0,0 C0,10 10,10 10,0 S20,-10 20,0 H30 V5 l-5,0").unwrap();
        let n = 1 + 2 * CURVE_POINTS;
        assert_eq!(line[n - 1], [20.0, 0.0]);
        assert_eq!(&line[n..], [[30.0, 0.0], [30.0, 5.0], [25.0, 5.0]]);
        // The mirrored control point bends the second curve the other way: it dips below 0.
        assert!(line[CURVE_POINTS + 1..n].iter().any(|p| p[1] < -1.0) && line[1][1] > 1.0);
        // Z returns the pen to the start, so a relative step after it is from there.
        assert_eq!(flatten("M1,1 L5,1 Z l0,3").unwrap(), [[1.0, 1.0], [5.0, 1.0], [1.0, 1.0], [1.0, 4.0]]);
    }

    #[test]
    fn bad_files_are_refused_naming_the_stroke() {
        let err = |text: &str| parse('十', text).unwrap_err();
        assert_eq!(err("<svg></svg>"), "no <path> elements: a character needs at least one stroke");
        assert_eq!(err(r#"<path id="s1" d="M1,2"/><path id="s2"/>"#), "stroke 2 (s2): no d attribute");
        assert_eq!(
            err(r#"<path id="s1" d="M1,2 A1,1 0 0 1 3,3"/>"#),
            "stroke 1 (s1): path command 'A' is not supported (M, L, H, V, C, S, Z)"
        );
        assert_eq!(
            err(r#"<path id="s1" d="M1,2 c1,2,3"/>"#),
            "stroke 1 (s1): c: 3 numbers, expected a multiple of 6"
        );
        assert_eq!(err(r#"<path id="s1" d="M1,#"/>"#), "stroke 1 (s1): \"#\" is not a number");
        assert_eq!(err(r#"<path id="s1" d="M1,é"/>"#), "stroke 1 (s1): \"é\" is not a number");
        assert_eq!(err(r#"<path id="s1" d="M1,-"/>"#), "stroke 1 (s1): \"-\" is not a number");
        assert!(err(r#"<path id="s1" d="M1,2 L1e9,0"/>"#).contains("far outside"));
        assert!(err(r#"<path id="s1" d="1,2"/>"#).contains("must start with a command"));
    }

    #[test]
    fn files_are_named_by_code_point_and_variants_are_skipped() {
        use std::path::Path;
        assert_eq!(character_of(Path::new("kanji/05341.svg")), Some('十'));
        assert_eq!(character_of(Path::new("kanji/05341-Kaisho.svg")), None);
        assert_eq!(character_of(Path::new("kanji/05341.json")), None);
        assert_eq!(character_of(Path::new("kanji/zz.svg")), None);
    }
}
