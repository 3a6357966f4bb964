"""An op as the GIMP calls that paint it: the context to set (brush, size, hardness, spacing,
opacity, paint mode, colour) and the PDB painting call with its flat list of coordinates.

No GIMP here: a plan is plain data, tested outside GIMP (tests/python/test_gimp_plugin.py), and
painting.py carries it out. Each tool maps to its GIMP procedure: brush → gimp-paintbrush,
airbrush → gimp-airbrush, pencil → gimp-pencil, eraser → gimp-eraser, smudge → gimp-smudge; a
fill → a bucket fill (contiguous) or a fill of the colour's selection (not contiguous); raster
patches and the magic brush's recorded pixels → a floating layer anchored into the drawable.

The PDB takes no per-point pressure, and dynamics are off: the daemon's engine scales a dab's
size and opacity by the pen's pressure, so a stroke whose pressure varies is painted as runs of
near-equal pressure (PRESSURE_STEP apart), each at its size and opacity. The daemon's flow (how
far each dab moves a pixel towards the stroke's level) has no PDB setting either: it becomes
the opacity that the dabs overlapping a pixel build up to.
"""

import itertools
import math

from .client import paint

# The generated round brush, its hardness set per stroke (GIMP regenerates a generated brush's
# mask at the hardness the context asks for).
ROUND_BRUSH = "2. Hardness 100"

# Proto defaults for absent optional fields (proto/apprentice/v1/ops.proto).
DEFAULT_HARDNESS = 0.5
DEFAULT_SPACING = 0.1
DEFAULT_SMUDGE_RATE = 0.5

PRESSURE_STEP = 0.1
PENCIL_NARROWER = 1.5  # pixels

# GIMP's paint modes for the daemon's blend modes: the legacy (perceptual) ones, which mix in sRGB
# as the daemon's engine (and Krita's 8-bit images) do; GIMP's default modes mix in linear light.
PAINT_MODES = {
    "BLEND_MODE_UNSPECIFIED": "NORMAL_LEGACY",
    "BLEND_MODE_NORMAL": "NORMAL_LEGACY",
    "BLEND_MODE_MULTIPLY": "MULTIPLY_LEGACY",
    "BLEND_MODE_SCREEN": "SCREEN_LEGACY",
    "BLEND_MODE_DARKEN": "DARKEN_ONLY_LEGACY",
    "BLEND_MODE_LIGHTEN": "LIGHTEN_ONLY_LEGACY",
    "BLEND_MODE_OVERLAY": "OVERLAY_LEGACY",
    "BLEND_MODE_ADD": "ADDITION_LEGACY",
}

# The daemon's soft dab is opaque out to hardness × radius, then falls off with a smoothstep;
# GIMP's generated brush falls off as a curve of (distance / radius) ^ (0.4 / (1 − hardness)).
# (daemon hardness, GIMP hardness, size factor): the closest GIMP profile to the daemon's, fitted
# over the radius; between rows, linear.
HARDNESS = (
    (0.0, 0.56, 1.10),
    (0.1, 0.63, 1.07),
    (0.25, 0.73, 1.03),
    (0.5, 0.85, 1.0),
    (0.75, 0.93, 1.01),
    (1.0, 1.0, 1.0),
)

PROCEDURES = {
    "TOOL_UNSPECIFIED": "paintbrush",
    "TOOL_BRUSH": "paintbrush",
    "TOOL_AIRBRUSH": "airbrush",
    "TOOL_PENCIL": "pencil",
    "TOOL_ERASER": "eraser",
    "TOOL_SMUDGE": "smudge",
}


class NotPainted(Exception):
    """An op the plug-in cannot paint; the painter is told, and the run goes on without it."""


def plan(op):
    """The steps that paint `op`: a list of (name, arguments) — "context", a painting procedure
    ("paintbrush", "airbrush", "pencil", "eraser", "smudge"), "fill" or "patch"."""
    k = paint.kind(op)
    if k == "stroke":
        return stroke(op["stroke"])
    if k == "fill":
        return [fill(op["fill"])]
    if k == "raster_patch":
        return [patch(op["raster_patch"])]
    if k == "magic_brush":
        result = paint.patch_of(op)
        if result is None:
            raise NotPainted("a magic-brush dab came without its pixels; the plug-in has no brush of its own")
        return [patch(result)]
    # Undo and redo: GIMP gives plug-ins no way to take back a step inside the run's own group.
    raise NotPainted(f"{k} is not painted by the GIMP plug-in (the daemon's painters do not make them)")


def coverage(x, hardness):
    """The daemon's soft dab at `x` radii from its centre: opaque to `hardness`, then a smoothstep."""
    if x <= hardness:
        return 1.0
    t = max(0.0, (1.0 - x) / max(1e-6, 1.0 - hardness))
    return t * t * (3.0 - 2.0 * t)


def built_up(flow, spacing, hardness):
    """The level the daemon's dabs build a stroke's centre line up to: each dab moves a pixel
    towards its own coverage there by `flow`, and dabs pass `spacing` diameters apart (averaged
    over where the pixel falls between two dabs)."""
    flow = min(1.0, max(0.0, float(flow)))
    if flow >= 1.0:
        return 1.0
    step = 2.0 * max(0.02, float(spacing))  # in radii
    levels = []
    for phase in (0.0, 0.25, 0.5, 0.75):
        m, d = 0.0, -1.0 + phase * step
        while d < 1.0:
            m += max(coverage(abs(d), hardness) - m, 0.0) * flow
            d += step
        levels.append(m)
    return sum(levels) / len(levels)


def gimp_hardness(hardness):
    """(GIMP hardness, size factor) for the daemon's `hardness`."""
    h = min(1.0, max(0.0, float(hardness)))
    for (h0, g0, s0), (h1, g1, s1) in itertools.pairwise(HARDNESS):
        if h <= h1:
            t = (h - h0) / (h1 - h0)
            return g0 + (g1 - g0) * t, s0 + (s1 - s0) * t
    return HARDNESS[-1][1:]


def context(brush, pressure=1.0, tool="TOOL_BRUSH"):
    """The GIMP context for a stroke of `brush` (a proto BrushState) at `pressure`."""
    spacing = float(brush.get("spacing", DEFAULT_SPACING))
    opacity = float(brush.get("opacity", 1.0))
    if tool in ("TOOL_BRUSH", "TOOL_UNSPECIFIED", "TOOL_ERASER"):
        hardness = min(1.0, max(0.0, float(brush.get("hardness", DEFAULT_HARDNESS))))
        opacity *= built_up(brush.get("flow", 1.0), spacing, hardness) * pressure
    size = float(brush.get("size", 10.0)) * pressure
    if tool == "TOOL_PENCIL":
        # GIMP's pencil paints every pixel its brush touches; the daemon's, those whose centre
        # is within the radius: about a pixel and a half narrower.
        hardness, size = 1.0, size - PENCIL_NARROWER
    else:
        hardness, factor = gimp_hardness(brush.get("hardness", DEFAULT_HARDNESS))
        size *= factor
    return {
        "brush": ROUND_BRUSH,
        "size": max(1.0, size),
        "hardness": hardness,
        "spacing": spacing,
        "opacity": 100.0 * min(1.0, max(0.0, opacity)),
        "mode": PAINT_MODES.get(brush.get("blend", "BLEND_MODE_NORMAL"), "NORMAL_LEGACY"),
        "foreground": paint.color8(brush.get("color", {})),
    }


def runs(points, step=2.0):
    """The stroke's path as runs of near-equal pressure: [(pressure, [x0, y0, x1, y1, ...])].

    Where pressure changes along a segment, the segment is cut every `step` pixels (pressure
    interpolated linearly, as the daemon's engine does) so that each piece lands in its level;
    neighbouring runs share their joining point, so the path stays unbroken.
    """
    pts = [(float(p.get("x", 0.0)), float(p.get("y", 0.0)), float(p.get("pressure", 1.0))) for p in points]
    if not pts:
        return []

    def level(p):
        return max(PRESSURE_STEP / 2, round(min(1.0, max(0.0, p)) / PRESSURE_STEP) * PRESSURE_STEP)

    samples = [pts[0]]
    for (x0, y0, p0), (x1, y1, p1) in itertools.pairwise(pts):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step)) if level(p0) != level(p1) else 1
        samples += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, p0 + (p1 - p0) * i / n) for i in range(1, n + 1)]
    out = []
    current, coords = level(samples[0][2]), [samples[0][0], samples[0][1]]
    for (x0, y0, _), (x1, y1, p1) in itertools.pairwise(samples):
        if level(p1) != current and len(coords) >= 4:
            out.append((current, coords))
            current, coords = level(p1), [x0, y0]
        coords += [x1, y1]
    out.append((current, coords))
    return out


def stroke(s):
    tool = s.get("tool", "TOOL_BRUSH")
    brush = s.get("brush", {})
    procedure = PROCEDURES.get(tool, "paintbrush")
    steps = []
    for pressure, coords in runs(s.get("points", [])):
        if len(coords) == 2:  # one point is one dab: a path of no length paints it
            coords = coords + coords
        steps.append(("context", context(brush, pressure, tool)))
        arguments = {"strokes": coords}
        if procedure == "smudge":
            rate = float(brush.get("smudge_rate", DEFAULT_SMUDGE_RATE))
            arguments["pressure"] = 100.0 * min(1.0, max(0.0, rate * pressure))
        elif procedure == "airbrush":
            # The airbrush's own rate: its dabs build up over each other, as the daemon's do.
            arguments["pressure"] = 100.0 * min(1.0, max(0.0, float(brush.get("flow", 1.0)) * pressure))
        steps.append((procedure, arguments))
    return steps


def fill(f):
    return (
        "fill",
        {
            "x": float(f.get("x", 0.0)),
            "y": float(f.get("y", 0.0)),
            "threshold": min(1.0, max(0.0, float(f.get("tolerance", 0.0)))),
            "contiguous": bool(f.get("contiguous", False)),
            "foreground": paint.color8(f.get("color", {})),
        },
    )


def patch(p):
    width, height = int(p.get("width", 0)), int(p.get("height", 0))
    rgba = bytes(p.get("rgba", b""))
    if len(rgba) != width * height * 4:
        raise NotPainted(f"a {width}x{height} patch with {len(rgba)} bytes of pixels (needs {width * height * 4})")
    return (
        "patch",
        {
            "x": int(p.get("x", 0)),
            "y": int(p.get("y", 0)),
            "width": width,
            "height": height,
            "rgba": rgba,
            "replace": p.get("mode") == "PATCH_MODE_REPLACE",
        },
    )


def crop(x, y, width, height, rgba, canvas_width, canvas_height):
    """A patch cut to the canvas: (x, y, w, h, rgba), or None when none of it is on the canvas."""
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas_width, x + width), min(canvas_height, y + height)
    if x1 <= x0 or y1 <= y0:
        return None
    if (x0, y0, x1, y1) == (x, y, x + width, y + height):
        return x, y, width, height, rgba
    rows = [rgba[((r - y) * width + (x0 - x)) * 4 : ((r - y) * width + (x1 - x)) * 4] for r in range(y0, y1)]
    return x0, y0, x1 - x0, y1 - y0, b"".join(rows)


def path_points(coords):
    """A magic-brush path (proto PathPoints) from one stroke of a GIMP path, a flat
    [x0, y0, x1, y1, ...] list as `Gimp.Path.stroke_interpolate` gives it; points closer than
    half a pixel to the one before are dropped."""
    out = []
    for i in range(0, len(coords) - 1, 2):
        point = {"x": float(coords[i]), "y": float(coords[i + 1])}
        if not out or math.hypot(point["x"] - out[-1]["x"], point["y"] - out[-1]["y"]) >= 0.5:
            out.append(point)
    return out
