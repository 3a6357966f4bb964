"""Plans (plan.py) carried out with GIMP's own procedures, and the pixels the plug-in reads:
what the image shows, a layer, the selection's mask, the active path.

Coordinates in ops are image pixels; GIMP's painting procedures take the drawable's own, so the
drawable's offsets are taken off. Colours go in and out as 8-bit sRGB ("R'G'B'A u8"), whatever
the image's precision.
"""

import os
import tempfile

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio

from . import plan

RGBA8 = "R'G'B'A u8"
PATCH_LAYER = "Apprentice patch"
MAGIC_LAYER = "Magic brush"


def rgba(drawable, x, y, width, height):
    """8-bit RGBA of the drawable over the image rectangle (transparent beyond the drawable)."""
    _ok, ox, oy = drawable.get_offsets()
    buffer = drawable.get_buffer()
    data = buffer.get(Gegl.Rectangle.new(x - ox, y - oy, width, height), 1.0, RGBA8, Gegl.AbyssPolicy.NONE)
    return bytes(data)


def composite(image, without=None):
    """What the image shows, flattened, as 8-bit RGBA of the image's size; `without` a layer
    (copy mode's reference, which is not part of the painting even when it is visible)."""
    w, h = image.get_width(), image.get_height()
    copy = image.duplicate()
    try:
        if without is not None:
            twin = copy.get_layer_by_tattoo(without.get_tattoo())  # a duplicate keeps the tattoos
            if twin is not None:
                copy.remove_layer(twin)
        if not any(layer.get_visible() for layer in copy.get_layers()):
            return bytes(w * h * 4)
        merged = copy.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        return rgba(merged, 0, 0, w, h)
    finally:
        copy.delete()


def layer_png(layer, width, height):
    """A layer's pixels over the whole image as a PNG (the reference of copy mode)."""
    from .client import png

    return png.encode(rgba(layer, 0, 0, width, height), width, height)


def selection_mask(image):
    """(mask, x, y, w, h) of the selection, one byte per pixel, or None without one."""
    _ok, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    if not non_empty or x2 <= x1 or y2 <= y1:
        return None
    buffer = image.get_selection().get_buffer()
    mask = bytes(buffer.get(Gegl.Rectangle.new(x1, y1, x2 - x1, y2 - y1), 1.0, "Y u8", Gegl.AbyssPolicy.NONE))
    if not mask.strip(b"\x00"):
        return None
    return mask, x1, y1, x2 - x1, y2 - y1


def path_strokes(image):
    """The active path's strokes, each a flat [x0, y0, x1, y1, ...] polyline (image pixels)."""
    paths = image.get_selected_paths()
    out = []
    for path in paths or []:
        for stroke_id in path.get_strokes():
            coords, closed = path.stroke_interpolate(stroke_id, 1.0)
            if coords:
                out.append(list(coords) + (list(coords[:2]) if closed else []))
    return out


def color(rgb8):
    return Gegl.Color.new("#{:02x}{:02x}{:02x}".format(*rgb8))  # CSS colours are sRGB


def set_context(ctx):
    Gimp.context_enable_dynamics(False)  # the op's size and opacity are the stroke's, as the plan says
    Gimp.context_set_brush(Gimp.Brush.get_by_name(ctx["brush"]))
    Gimp.context_set_brush_size(ctx["size"])
    Gimp.context_set_brush_hardness(ctx["hardness"])
    Gimp.context_set_brush_spacing(ctx["spacing"])
    Gimp.context_set_brush_aspect_ratio(0.0)
    Gimp.context_set_brush_angle(0.0)
    Gimp.context_set_opacity(ctx["opacity"])
    Gimp.context_set_paint_mode(getattr(Gimp.LayerMode, ctx["mode"]))
    Gimp.context_set_foreground(color(ctx["foreground"]))


def _local(drawable, coords):
    _ok, ox, oy = drawable.get_offsets()
    return [c - (ox if i % 2 == 0 else oy) for i, c in enumerate(coords)]


def carry_out(image, drawable, steps):
    """Paints the steps of one op onto the drawable."""
    for name, a in steps:
        if name == "context":
            set_context(a)
        elif name == "paintbrush":
            Gimp.paintbrush(drawable, 0.0, _local(drawable, a["strokes"]), Gimp.PaintApplicationMode.CONSTANT, 0.0)
        elif name == "pencil":
            Gimp.pencil(drawable, _local(drawable, a["strokes"]))
        elif name == "airbrush":
            Gimp.airbrush(drawable, a["pressure"], _local(drawable, a["strokes"]))
        elif name == "smudge":
            Gimp.smudge(drawable, a["pressure"], _local(drawable, a["strokes"]))
        elif name == "eraser":
            mode = Gimp.BrushApplicationMode.SOFT
            Gimp.eraser(drawable, _local(drawable, a["strokes"]), mode, Gimp.PaintApplicationMode.CONSTANT)
        elif name == "fill":
            fill(image, drawable, a)
        elif name == "patch":
            put_patch(image, drawable, a)
        else:
            raise ValueError(f"unknown step {name!r}")


def fill(image, drawable, a):
    """The daemon's fill: pixels whose every channel is within the threshold of the seed's, in
    what the image shows (sample merged), from the seed (contiguous) or everywhere."""
    w, h = image.get_width(), image.get_height()
    x, y = int(a["x"]), int(a["y"])
    if not (0 <= x < w and 0 <= y < h):
        return
    Gimp.context_set_sample_merged(True)
    Gimp.context_set_sample_criterion(Gimp.SelectCriterion.COMPOSITE)
    Gimp.context_set_sample_threshold(a["threshold"])
    Gimp.context_set_sample_transparent(True)
    Gimp.context_set_antialias(False)
    Gimp.context_set_feather(False)
    Gimp.context_set_diagonal_neighbors(False)
    Gimp.context_set_opacity(100.0)
    Gimp.context_set_paint_mode(Gimp.LayerMode.NORMAL_LEGACY)
    Gimp.context_set_foreground(color(a["foreground"]))
    if a["contiguous"]:
        _ok, ox, oy = drawable.get_offsets()
        drawable.edit_bucket_fill(Gimp.FillType.FOREGROUND, x + 0.5 - ox, y + 0.5 - oy)
        return
    _ok, seed = image.pick_color([drawable], x + 0.5, y + 0.5, True, False, 0.0)
    image.select_color(Gimp.ChannelOps.REPLACE, drawable, seed)
    drawable.edit_fill(Gimp.FillType.FOREGROUND)
    Gimp.Selection.none(image)


def patch_layer(image, a, name=PATCH_LAYER, new_layer=False):
    """A new layer (not yet in the image) holding the patch's pixels, cut to the canvas; None
    when none of it is on the canvas."""
    cut = plan.crop(a["x"], a["y"], a["width"], a["height"], a["rgba"], image.get_width(), image.get_height())
    if cut is None:
        return None
    x, y, w, h, pixels = cut
    # Legacy (sRGB) compositing where the patch is anchored, as the daemon composites; a layer of
    # its own keeps GIMP's default mode.
    mode = Gimp.LayerMode.NORMAL_LEGACY if not new_layer else Gimp.LayerMode.NORMAL
    layer = Gimp.Layer.new(image, name, w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, mode)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), RGBA8, pixels)
    buffer.flush()
    layer.set_offsets(x, y)
    return layer


def put_patch(image, drawable, a, new_layer=False):
    """The patch composited over the drawable (its alpha blends; replace mode clears the
    rectangle first), or on a new layer above the drawable. Returns the new layer, if any."""
    layer = patch_layer(image, a, new_layer=new_layer)
    if layer is None:
        return None
    if new_layer:
        parent = drawable.get_parent() if isinstance(drawable, Gimp.Layer) else None
        position = image.get_item_position(drawable) if isinstance(drawable, Gimp.Layer) else 0
        image.insert_layer(layer, parent, position)
        return layer
    if a.get("replace"):
        _ok, x, y = layer.get_offsets()
        image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, layer.get_width(), layer.get_height())
        drawable.edit_clear()
        Gimp.Selection.none(image)
    Gimp.floating_sel_attach(layer, drawable)
    Gimp.floating_sel_anchor(layer)
    return None


class SelectionAside:
    """The painter's selection, set aside while the run paints the whole canvas (the daemon
    paints its ops unclipped) and put back afterwards."""

    def __init__(self, image):
        self.image = image
        self.saved = None

    def __enter__(self):
        _ok, non_empty, *_ = Gimp.Selection.bounds(self.image)
        if non_empty:
            self.saved = Gimp.Selection.save(self.image)
            Gimp.Selection.none(self.image)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            self.image.select_item(Gimp.ChannelOps.REPLACE, self.saved)
            self.image.remove_channel(self.saved)
        return False


IMAGINED_LAYER = "Imagined"


def show_imagined(image, png):
    """The daemon's imagined picture (PNG bytes) on a hidden top layer "Imagined", replacing the
    one shown before: the painter may look at where Continue is painting towards."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "imagined.png")
        with open(path, "wb") as f:
            f.write(png)
        layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path))
    old = image.get_layer_by_name(IMAGINED_LAYER)
    if old is not None:
        image.remove_layer(old)
    layer.set_name(IMAGINED_LAYER)
    image.insert_layer(layer, None, 0)
    layer.set_visible(False)
    return layer
