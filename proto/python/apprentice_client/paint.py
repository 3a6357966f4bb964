"""Ops as the daemon's engine paints them, for editor plug-ins: colours, the geometry of strokes
and fills, and the magic brush's dab over a region and the cut of its pixels to a selection.
Standard library only, no editor: every plug-in paints with these, and they are tested outside
any editor (tests/python/test_krita_plugin.py, test_gimp_plugin.py).
"""

import math


def color(rgb8, alpha=1.0):
    """A proto Color from 8-bit sRGB channels."""
    r, g, b = rgb8
    return {"r": r / 255.0, "g": g / 255.0, "b": b / 255.0, "a": float(alpha)}


def color8(c):
    """8-bit sRGB channels (r, g, b) of a proto Color (absent channels are 0, as in proto3)."""
    return tuple(max(0, min(255, round(float(c.get(k, 0.0)) * 255.0))) for k in ("r", "g", "b"))


def kind(op):
    """The op's kind: "stroke", "fill", "magic_brush", "raster_patch", "undo" or "redo"."""
    for key in ("stroke", "fill", "magic_brush", "raster_patch", "undo", "redo"):
        if key in op:
            return key
    raise ValueError(f"not an op: {sorted(op)}")


def densify(points, step):
    """The stroke's path as (x, y, pressure) samples at most `step` pixels apart.

    Ops from the model carry a few control points; the daemon's engine joins them with straight
    segments and interpolates pressure linearly, so the samples fed to Krita's brush do the same.
    """
    if not points:
        return []
    step = max(0.5, float(step))

    def pen(p):
        return float(p.get("x", 0.0)), float(p.get("y", 0.0)), float(p.get("pressure", 1.0))

    out = [pen(points[0])]
    for a, b in zip(points, points[1:]):
        (x0, y0, p0), (x1, y1, p1) = pen(a), pen(b)
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        out.extend((x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, p0 + (p1 - p0) * i / n) for i in range(1, n + 1))
    return out


def fill_mask(bgra, width, height, x, y, tolerance, contiguous=True):
    """The pixels a fill at (x, y) covers, as one byte per pixel (255 in, 0 out).

    Matches the daemon's engine: a pixel belongs when every channel is within `tolerance` (0..1)
    of the seed pixel's; contiguous fills grow from the seed through 4-connected neighbours.
    `bgra` is 8-bit pixels, four channels in any order (Krita's BGRA, GIMP's RGBA).
    """
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"fill at ({x}, {y}) is outside the {width}x{height} image")
    tol = float(tolerance) * 255.0 + 1e-3
    seed = bgra[(y * width + x) * 4 : (y * width + x) * 4 + 4]
    # One "within tolerance" table per channel, applied to every pixel at C speed with translate.
    similar = None
    for c in range(4):
        table = bytes(1 if abs(v - seed[c]) <= tol else 0 for v in range(256))
        channel = int.from_bytes(bytes(bgra[c::4]).translate(table), "little")
        similar = channel if similar is None else similar & channel
    similar = similar.to_bytes(width * height, "little")
    if not contiguous:
        return similar.replace(b"\x01", b"\xff")
    mask = bytearray(width * height)
    stack = [(x, y)]
    while stack:
        sx, sy = stack.pop()
        row = sy * width
        if mask[row + sx] or not similar[row + sx]:
            continue
        lo = sx
        while lo > 0 and similar[row + lo - 1]:
            lo -= 1
        hi = similar.find(b"\x00", row + sx, row + width)
        hi = width if hi < 0 else hi - row
        mask[row + lo : row + hi] = b"\xff" * (hi - lo)
        for ny in (sy - 1, sy + 1):
            if 0 <= ny < height:
                nrow = ny * width
                nx = lo
                while nx < hi:
                    if similar[nrow + nx] and not mask[nrow + nx]:
                        stack.append((nx, ny))
                        # Skip the rest of this run: one seed per run is enough.
                        end = similar.find(b"\x00", nrow + nx, nrow + hi)
                        nx = hi if end < 0 else end - nrow
                    nx += 1
    return bytes(mask)


# ---- the magic brush ----

# The daemon's soft mask is full within this share of the radius and fades to zero at the rim
# (daemon/src/diffusion/mask.rs); a path whose rows are closer than twice that covers fully.
MAGIC_FEATHER = 0.25
MAGIC_RADIUS = (4.0, 32.0)  # the least and most radius cover_path uses


def magic_inner(radius):
    """How far from the path the daemon's soft mask stays full."""
    return max(0.0, min(radius * (1.0 - MAGIC_FEATHER), radius - 1.0))


def cover_path(x, y, width, height):
    """(path, radius): a magic-brush path whose soft mask is full over every pixel of the
    rectangle — rows back and forth across it, no further apart than the mask is full.

    The RPC takes a path and a radius, not a mask picture; the selection's own shape is applied
    to the result afterwards (clip_patch), so only the rectangle has to be covered.
    """
    radius = max(MAGIC_RADIUS[0], min(MAGIC_RADIUS[1], min(width, height) / 4.0))
    spacing = 1.9 * magic_inner(radius)  # under twice the full reach: a margin for rounding
    left, right = x + 0.5, x + width - 0.5
    top, bottom = y + 0.5, y + height - 0.5
    rows = max(1, math.ceil((bottom - top) / spacing)) + 1 if bottom > top else 1
    path = []
    for i in range(rows):
        row_y = top + (bottom - top) * i / max(1, rows - 1)
        ends = (left, right) if i % 2 == 0 else (right, left)
        path.extend({"x": float(px), "y": float(row_y)} for px in ends)
    return path, radius


def disc_path(cx, cy, brush_size):
    """(path, radius): one brush-sized dab at (cx, cy) (at least MAGIC_RADIUS[0] wide)."""
    return [{"x": float(cx), "y": float(cy)}], max(MAGIC_RADIUS[0], float(brush_size) / 2.0)


def magic_dab(path, radius, prompt="", style="", strength=1.0, seed=0, texture=1.0):
    """A proto MagicBrush (without its result): a prompt or a style guides it, not both.
    `texture`: how much of the picture's own texture the built-in brush clones into its
    smooth fill, [0, 1] (the editors ask for all of it; the wire's default, 0, is none)."""
    prompt, style = (prompt or "").strip(), (style or "").strip()
    if prompt and style:
        raise ValueError("a prompt or a style, not both: the daemon takes one guide per dab")
    dab = {
        "path": list(path),
        "radius": float(radius),
        "strength": float(strength),
        "seed": int(seed),
        "texture": float(texture),
    }
    if prompt:
        dab["prompt"] = prompt
    elif style:
        dab["style"] = style
    return dab


def clip_patch(patch, mask, mx, my, mw, mh):
    """A RasterPatch cut to the mask's rectangle, its alpha times the mask (one byte per pixel,
    255 = all of it): the magic brush's pixels inside a selection only, and nothing outside."""
    px, py = int(patch.get("x", 0)), int(patch.get("y", 0))
    pw, ph = int(patch.get("width", 0)), int(patch.get("height", 0))
    x0, y0 = max(px, mx), max(py, my)
    x1, y1 = min(px + pw, mx + mw), min(py + ph, my + mh)
    if x1 <= x0 or y1 <= y0:
        return None
    rgba, w = patch.get("rgba", b""), x1 - x0
    out = bytearray()
    for row in range(y0, y1):
        start = ((row - py) * pw + (x0 - px)) * 4
        out += rgba[start : start + w * 4]
    scale = _alpha_scale()
    for j, row in enumerate(range(y0, y1)):
        m_row = mask[(row - my) * mw + (x0 - mx) : (row - my) * mw + (x1 - mx)]
        base = j * w * 4
        for i, m in enumerate(m_row):
            if m != 255:
                k = base + i * 4 + 3
                out[k] = scale[m][out[k]]
    return dict(patch, x=x0, y=y0, width=w, height=y1 - y0, rgba=bytes(out))


_SCALE = []


def _alpha_scale():
    """scale[m][a] = a * m / 255, rounded: made once, on the first clip."""
    if not _SCALE:
        _SCALE.extend(bytes((a * m + 127) // 255 for a in range(256)) for m in range(256))
    return _SCALE


def patch_of(op):
    """The pixels an op paints as a RasterPatch: a raster patch's own, a magic-brush dab's recorded
    result, else None (a dab without recorded pixels)."""
    if "raster_patch" in op:
        return op["raster_patch"]
    result = op.get("magic_brush", {}).get("result")
    if result and int(result.get("width", 0)) and int(result.get("height", 0)):
        return result
    return None
