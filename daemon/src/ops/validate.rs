//! Checks every field of a record against the contract and the [`limits`].
//! An error names the field by its path (`op.stroke.points[3].pressure`) and
//! says what was wrong, so that a painter or a plugin author can fix it.

use std::fmt;

use super::limits::*;
use super::pb::{self, op::Kind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the offending field, e.g. `op.stroke.brush.size`.
    pub field: String,
    pub message: String,
    /// The value is well-formed but over a size limit (a server answers
    /// `RESOURCE_EXHAUSTED` rather than `INVALID_ARGUMENT`).
    pub limit: bool,
}

impl FieldError {
    /// The same error for an op inside a batch: `at("ops[3]")` turns
    /// `op.fill.x` into `ops[3].fill.x`.
    pub fn at(mut self, path: &str) -> FieldError {
        let rest = self.field.strip_prefix("op").unwrap_or(&self.field);
        self.field = format!("{path}{rest}");
        self
    }

    /// Prefixes the field with its parent: `under("history")` turns
    /// `header.width` into `history.header.width`.
    pub fn under(mut self, parent: &str) -> FieldError {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

type Result<T = ()> = std::result::Result<T, FieldError>;

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into(), limit: false }
}

/// Over a size limit.
fn too_big(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { limit: true, ..err(field, message) }
}

/// `lo <= v <= hi` and finite.
fn in_range(field: &str, v: f32, lo: f32, hi: f32) -> Result {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(err(field, format!("must be a number in [{lo}, {hi}], got {v}")))
    }
}

/// `lo < v <= hi` and finite.
fn in_range_open_low(field: &str, v: f32, lo: f32, hi: f32) -> Result {
    if v.is_finite() && v > lo && v <= hi {
        Ok(())
    } else {
        Err(err(field, format!("must be a number in ({lo}, {hi}], got {v}")))
    }
}

fn opt_range(field: &str, v: Option<f32>, lo: f32, hi: f32) -> Result {
    v.map_or(Ok(()), |v| in_range(field, v, lo, hi))
}

fn coord(field: &str, v: f32) -> Result {
    in_range(field, v, -MAX_COORD, MAX_COORD)
}

fn enum_value<E: TryFrom<i32>>(field: &str, v: i32) -> Result<E> {
    E::try_from(v).map_err(|_| err(field, format!("unknown enum value {v}")))
}

pub fn color(field: &str, c: &pb::Color) -> Result {
    in_range(&format!("{field}.r"), c.r, 0.0, 1.0)?;
    in_range(&format!("{field}.g"), c.g, 0.0, 1.0)?;
    in_range(&format!("{field}.b"), c.b, 0.0, 1.0)?;
    opt_range(&format!("{field}.a"), c.a, 0.0, 1.0)
}

pub fn header(h: &pb::Header) -> Result {
    for (name, side) in [("header.width", h.width), ("header.height", h.height)] {
        if side == 0 {
            return Err(err(name, format!("must be in [1, {MAX_SIDE}] pixels, got {side}")));
        }
        if side > MAX_SIDE {
            return Err(too_big(name, format!("must be in [1, {MAX_SIDE}] pixels, got {side}")));
        }
    }
    let pixels = u64::from(h.width) * u64::from(h.height);
    if pixels > MAX_CANVAS_PIXELS {
        return Err(too_big(
            "header",
            format!(
                "canvas of {}x{} is {pixels} pixels, more than the limit of {MAX_CANVAS_PIXELS}",
                h.width, h.height
            ),
        ));
    }
    if let Some(bg) = &h.background {
        color("header.background", bg)?;
    }
    Ok(())
}

/// Validates one op for a canvas described by `header`.
pub fn op(o: &pb::Op, header: &pb::Header) -> Result {
    match &o.kind {
        None => Err(err(
            "op",
            "no operation set (expected stroke, fill, magic_brush, raster_patch, undo or redo)",
        )),
        Some(Kind::Stroke(s)) => stroke(s),
        Some(Kind::Fill(f)) => fill(f, header),
        Some(Kind::MagicBrush(m)) => magic_brush(m),
        Some(Kind::RasterPatch(p)) => raster_patch(p, "op.raster_patch"),
        Some(Kind::Undo(u)) => step_count("op.undo.count", u.count),
        Some(Kind::Redo(r)) => step_count("op.redo.count", r.count),
    }
}

fn step_count(field: &str, count: Option<u32>) -> Result {
    match count {
        Some(c) if c == 0 || c > MAX_UNDO_COUNT => {
            Err(err(field, format!("must be in [1, {MAX_UNDO_COUNT}], got {c}")))
        }
        _ => Ok(()),
    }
}

fn point_count(field: &str, n: usize) -> Result {
    let message = || format!("must hold 1 to {MAX_POINTS} points, got {n}");
    match n {
        0 => Err(err(field, message())),
        n if n > MAX_POINTS => Err(too_big(field, message())),
        _ => Ok(()),
    }
}

fn stroke(s: &pb::Stroke) -> Result {
    let tool: pb::Tool = enum_value("op.stroke.tool", s.tool)?;
    if tool == pb::Tool::Unspecified {
        return Err(err(
            "op.stroke.tool",
            "must be set (TOOL_BRUSH, TOOL_AIRBRUSH, TOOL_PENCIL, TOOL_ERASER or TOOL_SMUDGE)",
        ));
    }
    let b = s.brush.as_ref().ok_or_else(|| err("op.stroke.brush", "must be set (at least its size)"))?;
    in_range_open_low("op.stroke.brush.size", b.size, 0.0, MAX_BRUSH_SIZE)?;
    opt_range("op.stroke.brush.opacity", b.opacity, 0.0, 1.0)?;
    if let Some(flow) = b.flow {
        in_range_open_low("op.stroke.brush.flow", flow, 0.0, 1.0)?;
    }
    opt_range("op.stroke.brush.hardness", b.hardness, 0.0, 1.0)?;
    opt_range("op.stroke.brush.spacing", b.spacing, 0.02, 10.0)?;
    opt_range("op.stroke.brush.smudge_rate", b.smudge_rate, 0.0, 1.0)?;
    if let Some(c) = &b.color {
        color("op.stroke.brush.color", c)?;
    }
    enum_value::<pb::BlendMode>("op.stroke.brush.blend", b.blend)?;

    point_count("op.stroke.points", s.points.len())?;
    let mut last_time = 0;
    for (i, p) in s.points.iter().enumerate() {
        let f = |name: &str| format!("op.stroke.points[{i}].{name}");
        coord(&f("x"), p.x)?;
        coord(&f("y"), p.y)?;
        opt_range(&f("pressure"), p.pressure, 0.0, 1.0)?;
        if let Some(t) = &p.tilt {
            in_range(&f("tilt.x"), t.x, -90.0, 90.0)?;
            in_range(&f("tilt.y"), t.y, -90.0, 90.0)?;
        }
        if p.time_ms < last_time {
            return Err(err(
                f("time_ms"),
                format!("must not decrease along the stroke ({} after {last_time})", p.time_ms),
            ));
        }
        last_time = p.time_ms;
    }
    Ok(())
}

fn fill(f: &pb::Fill, header: &pb::Header) -> Result {
    in_range("op.fill.x", f.x, 0.0, header.width as f32)?;
    in_range("op.fill.y", f.y, 0.0, header.height as f32)?;
    // The upper bound is exclusive: the seed must name a pixel.
    if f.x >= header.width as f32 || f.y >= header.height as f32 {
        return Err(err(
            "op.fill",
            format!("seed ({}, {}) lies outside the {}x{} canvas", f.x, f.y, header.width, header.height),
        ));
    }
    if let Some(c) = &f.color {
        color("op.fill.color", c)?;
    }
    in_range("op.fill.tolerance", f.tolerance, 0.0, 1.0)
}

/// A magic-brush dab's request: path, radius, strength, texture, guidance (not its recorded result).
pub fn magic_brush_request(m: &pb::MagicBrush) -> Result {
    point_count("op.magic_brush.path", m.path.len())?;
    for (i, p) in m.path.iter().enumerate() {
        coord(&format!("op.magic_brush.path[{i}].x"), p.x)?;
        coord(&format!("op.magic_brush.path[{i}].y"), p.y)?;
    }
    in_range_open_low("op.magic_brush.radius", m.radius, 0.0, MAX_MAGIC_RADIUS)?;
    in_range("op.magic_brush.strength", m.strength, 0.0, 1.0)?;
    in_range("op.magic_brush.texture", m.texture, 0.0, 1.0)?;
    use pb::magic_brush::Guidance;
    let (name, text) = match &m.guidance {
        Some(Guidance::Prompt(p)) => ("op.magic_brush.prompt", p),
        Some(Guidance::Style(s)) => ("op.magic_brush.style", s),
        None => return Ok(()),
    };
    if text.len() > MAX_PROMPT_BYTES {
        return Err(too_big(name, format!("is {} bytes, more than {MAX_PROMPT_BYTES}", text.len())));
    }
    Ok(())
}

fn magic_brush(m: &pb::MagicBrush) -> Result {
    magic_brush_request(m)?;
    match &m.result {
        Some(p) => raster_patch(p, "op.magic_brush.result"),
        None => Ok(()),
    }
}

fn raster_patch(p: &pb::RasterPatch, field: &str) -> Result {
    if p.width == 0 || p.height == 0 {
        return Err(err(field, format!("size {}x{} is empty", p.width, p.height)));
    }
    let pixels = u64::from(p.width) * u64::from(p.height);
    if pixels > MAX_PATCH_PIXELS {
        return Err(too_big(
            field,
            format!("{}x{} is {pixels} pixels, more than the limit of {MAX_PATCH_PIXELS}", p.width, p.height),
        ));
    }
    for (name, v) in [("x", p.x), ("y", p.y)] {
        if v.unsigned_abs() > MAX_COORD as u32 {
            return Err(err(format!("{field}.{name}"), format!("must be within ±{MAX_COORD}, got {v}")));
        }
    }
    let expected = pixels * 4;
    if p.rgba.len() as u64 != expected {
        return Err(err(
            format!("{field}.rgba"),
            format!("holds {} bytes; {}x{} RGBA8 needs {expected}", p.rgba.len(), p.width, p.height),
        ));
    }
    enum_value::<pb::PatchMode>(&format!("{field}.mode"), p.mode)?;
    Ok(())
}

/// A whole history: the header, then every op (errors name `header…` or `ops[i]…`).
pub fn history(h: &pb::History) -> Result {
    let head = h.header.as_ref().ok_or_else(|| err("header", "must be set"))?;
    header(head)?;
    for (i, o) in h.ops.iter().enumerate() {
        op(o, head).map_err(|e| e.at(&format!("ops[{i}]")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas() -> pb::Header {
        pb::Header { width: 100, height: 80, ..Default::default() }
    }

    fn dot(x: f32, y: f32) -> pb::Point {
        pb::Point { x, y, ..Default::default() }
    }

    fn brush_stroke(points: Vec<pb::Point>) -> pb::Op {
        pb::Op {
            kind: Some(Kind::Stroke(pb::Stroke {
                tool: pb::Tool::Brush as i32,
                brush: Some(pb::BrushState { size: 10.0, ..Default::default() }),
                points,
            })),
        }
    }

    fn field_of(o: &pb::Op) -> String {
        op(o, &canvas()).unwrap_err().field
    }

    #[test]
    fn a_minimal_stroke_is_valid() {
        op(&brush_stroke(vec![dot(1.0, 2.0)]), &canvas()).unwrap();
    }

    #[test]
    fn errors_name_the_offending_field() {
        let mut o = brush_stroke(vec![dot(1.0, 2.0), dot(f32::NAN, 3.0)]);
        assert_eq!(field_of(&o), "op.stroke.points[1].x");

        o = brush_stroke(vec![pb::Point { pressure: Some(1.5), ..dot(0.0, 0.0) }]);
        assert_eq!(field_of(&o), "op.stroke.points[0].pressure");

        o = brush_stroke(vec![]);
        assert_eq!(field_of(&o), "op.stroke.points");

        if let Some(Kind::Stroke(s)) = &mut o.kind {
            s.points.push(dot(0.0, 0.0));
            s.brush.as_mut().unwrap().size = 0.0;
        }
        assert_eq!(field_of(&o), "op.stroke.brush.size");

        assert_eq!(field_of(&pb::Op { kind: None }), "op");
    }

    #[test]
    fn time_must_not_run_backwards() {
        let o = brush_stroke(vec![
            pb::Point { time_ms: 10, ..dot(0.0, 0.0) },
            pb::Point { time_ms: 5, ..dot(1.0, 0.0) },
        ]);
        let e = op(&o, &canvas()).unwrap_err();
        assert_eq!(e.field, "op.stroke.points[1].time_ms");
        assert!(e.message.contains("5 after 10"), "{e}");
    }

    #[test]
    fn unknown_tool_and_unset_tool_are_refused() {
        for tool in [0, 42] {
            let mut o = brush_stroke(vec![dot(0.0, 0.0)]);
            if let Some(Kind::Stroke(s)) = &mut o.kind {
                s.tool = tool;
            }
            assert_eq!(field_of(&o), "op.stroke.tool");
        }
    }

    #[test]
    fn fill_seed_must_be_on_the_canvas() {
        let fill = |x, y| pb::Op { kind: Some(Kind::Fill(pb::Fill { x, y, ..Default::default() })) };
        op(&fill(99.5, 79.5), &canvas()).unwrap();
        assert_eq!(field_of(&fill(100.0, 10.0)), "op.fill");
        assert_eq!(field_of(&fill(-1.0, 10.0)), "op.fill.x");
    }

    #[test]
    fn raster_patch_bytes_must_match_its_size() {
        let patch = |n| pb::Op {
            kind: Some(Kind::RasterPatch(pb::RasterPatch {
                width: 2,
                height: 3,
                rgba: vec![0; n],
                ..Default::default()
            })),
        };
        op(&patch(24), &canvas()).unwrap();
        let e = op(&patch(23), &canvas()).unwrap_err();
        assert_eq!(e.field, "op.raster_patch.rgba");
        assert!(e.message.contains("needs 24"), "{e}");
    }

    #[test]
    fn errors_can_be_placed_in_a_batch_or_history() {
        let e = op(&brush_stroke(vec![]), &canvas()).unwrap_err().at("ops[3]");
        assert_eq!(e.field, "ops[3].stroke.points");
        let h = pb::History {
            header: Some(canvas()),
            ops: vec![brush_stroke(vec![dot(0.0, 0.0)]), brush_stroke(vec![])],
        };
        assert_eq!(history(&h).unwrap_err().field, "ops[1].stroke.points");
        assert_eq!(history(&h).unwrap_err().under("history").field, "history.ops[1].stroke.points");
    }

    #[test]
    fn size_limits_are_marked_as_such() {
        let many = brush_stroke(vec![dot(0.0, 0.0); MAX_POINTS + 1]);
        assert!(op(&many, &canvas()).unwrap_err().limit);
        assert!(!op(&brush_stroke(vec![]), &canvas()).unwrap_err().limit);
    }

    #[test]
    fn canvas_limits_are_enforced() {
        header(&pb::Header { width: 16_384, height: 4096, ..Default::default() }).unwrap();
        let e = header(&pb::Header { width: 0, height: 10, ..Default::default() }).unwrap_err();
        assert_eq!(e.field, "header.width");
        let e = header(&pb::Header { width: 16_384, height: 16_384, ..Default::default() }).unwrap_err();
        assert_eq!(e.field, "header");
    }

    #[test]
    fn zero_undo_count_is_refused_but_absent_means_one() {
        let undo = |count| pb::Op { kind: Some(Kind::Undo(pb::Undo { count })) };
        op(&undo(None), &canvas()).unwrap();
        assert_eq!(field_of(&undo(Some(0))), "op.undo.count");
    }
}
