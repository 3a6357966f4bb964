"""Writes examples/still-life.jsonl: a small landscape painted with every tool.

Deterministic (seeded), standard library only. Regenerate the binary twin with
`apprentice convert examples/still-life.jsonl examples/still-life.binpb`.
"""

import base64
import json
import math
import random
from pathlib import Path

W, H = 320, 240
rng = random.Random(1998)


def color(r, g, b, a=None):
    c = {"r": r, "g": g, "b": b}
    if a is not None:
        c["a"] = a
    return c


def stroke(tool, size, points, col=None, **brush):
    b = {"size": size, **brush}
    if col is not None:
        b["color"] = col
    pts = [{"x": round(x, 2), "y": round(y, 2), "pressure": round(p, 3), "timeMs": t} for x, y, p, t in points]
    return {"op": {"stroke": {"tool": tool, "brush": b, "points": pts}}}


def curve(x0, y0, x1, y1, bend, n=12, p0=0.6, p1=0.9, ms=12):
    """A gently bent path with a pressure ramp, as a hand would draw it."""
    nx, ny = -(y1 - y0), x1 - x0
    norm = math.hypot(nx, ny) or 1.0
    out = []
    for i in range(n):
        t = i / (n - 1)
        s = math.sin(math.pi * t) * bend
        x = x0 + (x1 - x0) * t + nx / norm * s
        y = y0 + (y1 - y0) * t + ny / norm * s
        p = p0 + (p1 - p0) * math.sin(math.pi * t)
        out.append((x, y, p, i * ms))
    return out


records = [{"header": {"width": W, "height": H, "background": color(1, 1, 1), "title": "still life"}}]
ops = records.append

# Block in: sky by fill, ground by broad soft strokes.
ops({"op": {"fill": {"x": 5, "y": 5, "color": color(0.62, 0.78, 0.93), "tolerance": 0.05, "contiguous": True}}})
for i in range(10):
    y = 170 + i * 7
    ops(
        stroke(
            "TOOL_BRUSH",
            28,
            curve(-10, y, W + 10, y + rng.uniform(-6, 6), rng.uniform(-8, 8)),
            color(0.32 + rng.uniform(-0.04, 0.04), 0.52, 0.28),
            hardness=0.3,
            opacity=0.9,
        )
    )
# Hills.
for k in range(4):
    x = 40 + k * 80
    ops(
        stroke(
            "TOOL_BRUSH",
            40,
            curve(x - 60, 180, x + 60, 180, -45 - 10 * k),
            color(0.36, 0.5 + 0.05 * k, 0.34),
            hardness=0.2,
            opacity=0.8,
            flow=0.6,
        )
    )
# Sun glow: the airbrush resting builds up paint.
ops(
    stroke(
        "TOOL_AIRBRUSH",
        60,
        [(250, 55, 1.0, 0), (250, 55, 1.0, 400), (252, 56, 1.0, 800)],
        color(1.0, 0.86, 0.45),
        hardness=0.0,
        flow=0.08,
    )
)
# A house: a filled wall and a roof in multiply.
ops(
    stroke(
        "TOOL_BRUSH",
        6,
        [(90, 150, 1, 0), (140, 150, 1, 40), (140, 190, 1, 80), (90, 190, 1, 120), (90, 150, 1, 160)],
        color(0.35, 0.2, 0.12),
        hardness=1.0,
        spacing=0.05,
    )
)
ops({"op": {"fill": {"x": 115, "y": 170, "color": color(0.93, 0.84, 0.66), "tolerance": 0.2, "contiguous": True}}})
ops(
    stroke(
        "TOOL_BRUSH",
        10,
        [(84, 150, 1, 0), (115, 125, 1, 60), (146, 150, 1, 120)],
        color(0.75, 0.3, 0.25),
        hardness=0.8,
        blend="BLEND_MODE_MULTIPLY",
    )
)
# A tree outlined with the pencil, foliage dabbed, trunk smudged into the grass.
ops(stroke("TOOL_PENCIL", 3, curve(215, 200, 217, 140, 2, p0=1, p1=1), color(0.25, 0.16, 0.1)))
for _ in range(14):
    cx, cy = 216 + rng.uniform(-22, 22), 125 + rng.uniform(-20, 18)
    ops(
        stroke(
            "TOOL_BRUSH",
            rng.uniform(10, 18),
            curve(cx, cy, cx + rng.uniform(-8, 8), cy + rng.uniform(-6, 6), 3, n=5),
            color(0.18, 0.4 + rng.uniform(0, 0.15), 0.2),
            hardness=0.6,
            opacity=0.85,
        )
    )
ops(stroke("TOOL_SMUDGE", 14, curve(216, 196, 236, 214, 4, p0=1, p1=1), smudge_rate=0.7))
# A mistake and its undo, then a redo of something else.
ops(stroke("TOOL_BRUSH", 30, curve(20, 40, 300, 60, 10), color(0, 0, 0)))
ops({"op": {"undo": {}}})
# Clouds: white brush, then thinned with the eraser where the sky shows through.
for cx, cy in [(70, 50), (120, 40), (170, 60)]:
    ops(stroke("TOOL_BRUSH", 26, curve(cx - 25, cy, cx + 25, cy, -6), color(1, 1, 1), hardness=0.1, opacity=0.8))
ops(stroke("TOOL_ERASER", 12, curve(60, 62, 180, 58, 3), hardness=0.3, opacity=0.35))
# A pasted 8x8 patch (an editor action with no op of its own), and a magic-brush dab.
patch = bytes(v for i in range(64) for v in ((200, 40, 40, 255) if (i // 8 + i % 8) % 2 else (250, 250, 250, 255)))
ops(
    {
        "op": {
            "rasterPatch": {
                "x": 20,
                "y": 200,
                "width": 8,
                "height": 8,
                "rgba": base64.b64encode(patch).decode(),
                "mode": "PATCH_MODE_OVER",
            }
        }
    }
)
ops(
    {
        "op": {
            "magicBrush": {
                "path": [{"x": 30, "y": 120}, {"x": 60, "y": 110}],
                "radius": 12,
                "prompt": "wild flowers",
                "strength": 0.7,
                "seed": "7",
            }
        }
    }
)
# Detail: grass blades with light pressure.
for _ in range(40):
    x, y = rng.uniform(0, W), rng.uniform(200, 235)
    ops(
        stroke(
            "TOOL_BRUSH",
            2.5,
            curve(x, y, x + rng.uniform(-3, 3), y - rng.uniform(6, 12), 1, n=4, p0=0.9, p1=0.4),
            color(0.2, 0.38, 0.16),
            hardness=0.9,
        )
    )

path = Path(__file__).with_name("still-life.jsonl")
path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
print(f"wrote {path} ({len(records) - 1} ops)")
