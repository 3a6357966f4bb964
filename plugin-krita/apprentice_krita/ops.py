"""Operations as the daemon's proto defines them (dicts keyed by proto field names), built from
what Krita shows the plug-in, and the plain geometry needed to paint them back. No Qt, no Krita:
tested outside the editor (tests/python/test_krita_plugin.py).
"""

import math

from .client import paint

# Krita's blending-mode ids (View.currentBlendingMode) and the proto's BlendMode names.
BLEND_MODES = {
    "normal": "BLEND_MODE_NORMAL",
    "multiply": "BLEND_MODE_MULTIPLY",
    "screen": "BLEND_MODE_SCREEN",
    "darken": "BLEND_MODE_DARKEN",
    "lighten": "BLEND_MODE_LIGHTEN",
    "overlay": "BLEND_MODE_OVERLAY",
    "add": "BLEND_MODE_ADD",
}
KRITA_BLEND = {proto: krita for krita, proto in BLEND_MODES.items()}

# What a recorded stroke was, from the brush preset's name (Krita's bundled presets name their
# kind) — the eraser toggle wins over the preset.
_PRESET_WORDS = (
    ("TOOL_AIRBRUSH", ("airbrush",)),
    ("TOOL_PENCIL", ("pencil", "pixel art")),
    ("TOOL_SMUDGE", ("blender", "smudge", "smear")),
    ("TOOL_ERASER", ("eraser",)),
)

# The preset each tool is painted with when an op comes back (bundled with Krita 5 and 6). They
# were chosen for the closest match to the daemon's engine; README.md has the measured fidelity.
TOOL_PRESETS = {
    "TOOL_BRUSH": "b) Basic-5 Size Opacity",
    "TOOL_AIRBRUSH": "b) Airbrush Soft",
    "TOOL_PENCIL": "u) Pixel Art",
    "TOOL_ERASER": "b) Basic-5 Size Opacity",  # painted with the eraser toggle on
    "TOOL_SMUDGE": "k) Blender Basic",
}


# Edge hardness of bundled presets whose dabs are plain round tips, measured against Krita 5.2.9's
# pixels (tests/python/test_krita_e2e.py); other presets leave the engine's default.
PRESET_HARDNESS = (("b) basic-", 0.9), ("b) airbrush soft", 0.0))


def hardness_for(preset_name):
    name = (preset_name or "").lower()
    return next((h for prefix, h in PRESET_HARDNESS if name.startswith(prefix)), None)


def tool_for(preset_name, eraser_mode):
    """The proto Tool of a stroke painted with `preset_name` (eraser toggle on or off)."""
    if eraser_mode:
        return "TOOL_ERASER"
    name = (preset_name or "").lower()
    for tool, words in _PRESET_WORDS:
        if any(w in name for w in words):
            return tool
    return "TOOL_BRUSH"


def brush_state(size, opacity, flow, rgb8, blend="normal", hardness=None):
    """The proto BrushState of Krita's current brush settings."""
    state = {
        "size": float(size),
        "opacity": float(opacity),
        "flow": float(flow),
        "color": paint.color(rgb8),
        "blend": BLEND_MODES.get(blend, "BLEND_MODE_NORMAL"),
    }
    if hardness is not None:
        state["hardness"] = float(hardness)
    return state


class StrokeRecorder:
    """Pointer samples of one stroke, in image pixels, turned into a proto Stroke op.

    Times are milliseconds since the pen went down; samples closer than `min_distance` pixels to
    the previous one are dropped unless the pressure changed (a tablet sends hundreds a second).
    """

    def __init__(self, tool, brush, min_distance=0.5):
        self.tool = tool
        self.brush = brush
        self.min_distance = min_distance
        self.points = []
        self._t0 = None

    def add(self, x, y, pressure, t_ms, tilt=None):
        if self._t0 is None:
            self._t0 = t_ms
        point = {"x": float(x), "y": float(y), "pressure": max(0.0, min(1.0, float(pressure)))}
        point["time_ms"] = max(0, round(t_ms - self._t0))
        if tilt and (tilt[0] or tilt[1]):
            point["tilt"] = {"x": float(tilt[0]), "y": float(tilt[1])}
        if self.points:
            last = self.points[-1]
            near = math.hypot(point["x"] - last["x"], point["y"] - last["y"]) < self.min_distance
            if near and abs(point["pressure"] - last["pressure"]) < 0.01:
                return
        self.points.append(point)

    def op(self):
        """The stroke as an op, or None when the pen never went down."""
        if not self.points:
            return None
        return {"stroke": {"tool": self.tool, "brush": self.brush, "points": list(self.points)}}


def fill_op(x, y, rgb8, tolerance, contiguous=True):
    """A bucket fill at image pixel (x, y); tolerance is per channel, 0..1."""
    return {
        "fill": {
            "x": float(x),
            "y": float(y),
            "color": paint.color(rgb8),
            "tolerance": float(tolerance),
            "contiguous": contiguous,
        }
    }


def undo_op(count=1):
    return {"undo": {"count": int(count)}} if count != 1 else {"undo": {}}


def redo_op(count=1):
    return {"redo": {"count": int(count)}} if count != 1 else {"redo": {}}


def bgra_to_rgba(data):
    """Krita's 8-bit BGRA pixel bytes as RGBA (what the daemon's snapshots take)."""
    out = bytearray(data)
    out[0::4], out[2::4] = data[2::4], data[0::4]
    return bytes(out)


def rgba_to_bgra(data):
    return bgra_to_rgba(data)  # the same swap
