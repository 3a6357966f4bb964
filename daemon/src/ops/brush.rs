//! Brush state with every default resolved, so the engine never sees an `Option`.

use super::pb;

/// A straight-alpha sRGB colour, components in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rgba {
    pub r: f32,
    pub g: f32,
    pub b: f32,
    pub a: f32,
}

impl Rgba {
    pub const BLACK: Rgba = Rgba { r: 0.0, g: 0.0, b: 0.0, a: 1.0 };
    pub const TRANSPARENT: Rgba = Rgba { r: 0.0, g: 0.0, b: 0.0, a: 0.0 };

    /// The colour an absent `Color` field means: `default`.
    pub fn from_pb(c: Option<&pb::Color>, default: Rgba) -> Rgba {
        match c {
            None => default,
            Some(c) => Rgba { r: c.r, g: c.g, b: c.b, a: c.a.unwrap_or(1.0) },
        }
    }
}

/// Defaults for absent `BrushState` fields (documented in `ops.proto`).
pub const DEFAULT_OPACITY: f32 = 1.0;
pub const DEFAULT_FLOW: f32 = 1.0;
pub const DEFAULT_HARDNESS: f32 = 0.5;
pub const DEFAULT_SPACING: f32 = 0.1;
pub const DEFAULT_SMUDGE_RATE: f32 = 0.5;
/// Pressure of a point without one: a mouse.
pub const DEFAULT_PRESSURE: f32 = 1.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Brush {
    pub tool: pb::Tool,
    pub size: f32,
    pub opacity: f32,
    pub flow: f32,
    pub hardness: f32,
    pub spacing: f32,
    pub color: Rgba,
    pub blend: pb::BlendMode,
    pub smudge_rate: f32,
}

impl Brush {
    /// Resolves a stroke's brush. The stroke must have been validated.
    pub fn of(stroke: &pb::Stroke) -> Brush {
        let b = stroke.brush.unwrap_or_default();
        Brush {
            tool: stroke.tool(),
            size: b.size,
            opacity: b.opacity.unwrap_or(DEFAULT_OPACITY),
            flow: b.flow.unwrap_or(DEFAULT_FLOW),
            hardness: b.hardness.unwrap_or(DEFAULT_HARDNESS),
            spacing: b.spacing.unwrap_or(DEFAULT_SPACING),
            color: Rgba::from_pb(b.color.as_ref(), Rgba::BLACK),
            blend: b.blend(),
            smudge_rate: b.smudge_rate.unwrap_or(DEFAULT_SMUDGE_RATE),
        }
    }
}

/// A point's pressure, with the mouse default.
pub fn pressure(p: &pb::Point) -> f32 {
    p.pressure.unwrap_or(DEFAULT_PRESSURE)
}
