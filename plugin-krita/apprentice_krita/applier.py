"""Painting an op with Krita's own tools, so that it is a real, undoable Krita edit.

Strokes: on Krita 5.3+ at full pressure through the scripting API (`Node.paintPath`); on Krita
5.2, which has no painting API, and for strokes whose pressure varies, by driving the freehand
brush tool with synthesized tablet events (pressure included). The brush settings
come from the op: the preset for its tool (ops.TOOL_PRESETS), size, opacity, flow, colour,
blend mode, eraser mode. Fills: the covered pixels are filled as one path on Krita 5.3+; on
5.2 they become a selection, filled with the selection fill action. Raster patches and the
recorded pixels of magic-brush dabs go into a new layer above the active one (over the
painting, in either patch mode): Krita's API writes pixels outside its undo history, but adding
a layer is one undo step, so the pixels are written into the layer before it is added. A dab
without recorded pixels raises NotPainted: the plug-in has no brush of its own. Undo and redo
trigger Krita's actions.

Each function here is a generator yielding milliseconds to wait, so that Krita's event loop
runs between steps (see Steps below).
"""

from typing import ClassVar

from krita import Krita, Node, Selection

from . import canvas, ops
from .client import paint
from .qt import EV, LEFT, NO_BUTTON, NO_MODIFIER, QT6, QPointF, QtCore, QtGui, QtWidgets, enum

HAS_PAINT_API = hasattr(Node, "paintPath")
PATCH_LAYER = "Apprentice patch"
MAGIC_LAYER = "Magic brush"


class NotPainted(Exception):
    """An op the plug-in cannot paint; the painter is told, and the rest goes on."""


def apply(view, op):
    """Paints one op into the view's document; a generator of waits (ms)."""
    k = paint.kind(op)
    if k == "stroke":
        yield from stroke(view, op["stroke"])
    elif k == "fill":
        yield from fill(view, op["fill"])
    elif k == "raster_patch":
        yield from patch(view, op["raster_patch"])
    elif k == "magic_brush":
        result = paint.patch_of(op)
        if result is None:
            raise NotPainted(
                "a magic-brush dab came without its pixels (the daemon records them when it paints one); "
                "not painted here: the plug-in has no brush of its own"
            )
        yield from patch(view, result, MAGIC_LAYER)
    elif k in ("undo", "redo"):
        action = Krita.instance().action("edit_" + k)
        for _ in range(int(op[k].get("count", 1) or 1)):
            view.document().waitForDone()  # the op before must have landed on the undo stack
            action.trigger()
            yield 20


def set_brush(view, s):
    tool = s.get("tool", "TOOL_BRUSH")
    brush = s.get("brush", {})
    presets = Krita.instance().resources("preset")
    preset = presets.get(ops.TOOL_PRESETS.get(tool, ops.TOOL_PRESETS["TOOL_BRUSH"]))
    if preset is not None:
        view.setCurrentBrushPreset(preset)
    view.setBrushSize(max(1.0, float(brush.get("size", 10.0))))
    view.setPaintingOpacity(float(brush.get("opacity", 1.0)))
    view.setPaintingFlow(float(brush.get("flow", 1.0)))
    canvas.set_foreground(view, paint.color8(brush.get("color", {})))
    view.setCurrentBlendingMode(ops.KRITA_BLEND.get(brush.get("blend"), "normal"))
    canvas.set_eraser_mode(tool == "TOOL_ERASER")


def stroke(view, s):
    set_brush(view, s)
    step = max(1.0, float(s.get("brush", {}).get("size", 10.0)) / 4.0)
    samples = paint.densify(s.get("points", []), step)
    if not samples:
        return
    # paintPath paints at full pressure, in one undo step; a stroke whose pressure varies goes
    # through the brush tool instead (paintLine per segment would make one undo step each).
    # (Krita 6 always takes the API: Qt 6 tablet events need a pointing device plug-ins cannot make.)
    if HAS_PAINT_API and (QT6 or all(p >= 0.99 for _, _, p in samples)):
        yield from _stroke_api(view, samples)
    else:
        yield from _stroke_events(view, samples)


def _stroke_api(view, samples):
    node = view.document().activeNode()
    path = QtGui.QPainterPath(QPointF(samples[0][0], samples[0][1]))
    for x, y, _ in samples[1:]:
        path.lineTo(QPointF(x, y))
    if len(samples) == 1:  # a dab: a path needs some length to paint
        path.lineTo(QPointF(samples[0][0] + 0.01, samples[0][1]))
    node.paintPath(path, "ForegroundColor", "None")
    yield 0


def _tablet(widget, kind, pos, pressure, buttons):
    button = LEFT if kind in (EV["TabletPress"], EV["TabletRelease"]) else NO_BUTTON
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QtGui.QTabletEvent(
        kind, pos, global_pos, QtGui.QTabletEvent.Stylus, QtGui.QTabletEvent.Pen,
        pressure, 0, 0, 0.0, 0.0, 0, NO_MODIFIER, 1, button, buttons,
    )  # fmt: skip
    QtWidgets.QApplication.sendEvent(widget, event)


def _stroke_events(view, samples):
    """Krita 5.2: the freehand brush tool, fed a synthesized pen stroke."""
    view.window().showView(view)  # the painter may have switched documents meanwhile
    Krita.instance().action(canvas.BRUSH_TOOL).trigger()
    widget = canvas.canvas_widget(view)
    if widget is None:
        raise RuntimeError("no canvas widget to paint on")
    to_widget = canvas.image_to_widget(view)
    x0, y0, p0 = samples[0]
    # The pen hovers in first: without it Krita takes the first press of a session for a tap.
    for dx in (-4.0, -2.0, 0.0):
        _tablet(widget, EV["TabletMove"], to_widget(x0 + dx, y0), 0.0, NO_BUTTON)
    yield 0
    _tablet(widget, EV["TabletPress"], to_widget(x0, y0), p0, LEFT)
    for i, (x, y, p) in enumerate(samples[1:], 1):
        _tablet(widget, EV["TabletMove"], to_widget(x, y), p, LEFT)
        if i % 8 == 0:
            yield 0
    x1, y1, p1 = samples[-1]
    _tablet(widget, EV["TabletRelease"], to_widget(x1, y1), p1, NO_BUTTON)
    yield 10


def fill(view, f):
    doc = view.document()
    w, h = doc.width(), doc.height()
    x, y = int(f.get("x", 0.0)), int(f.get("y", 0.0))
    if not (0 <= x < w and 0 <= y < h):
        return
    mask = paint.fill_mask(canvas.projection_bgra(doc), w, h, x, y, f.get("tolerance", 0.0), f.get("contiguous", False))
    canvas.set_foreground(view, paint.color8(f.get("color", {})))
    if HAS_PAINT_API:
        # Krita 5.3+: the covered pixels as a path, filled in one stroke — one undo step (there,
        # selecting and deselecting are undo steps of their own).
        view.setPaintingOpacity(1.0)
        view.setCurrentBlendingMode("normal")
        doc.activeNode().paintPath(_mask_path(mask, w, h), "None", "ForegroundColor")
        yield 10
        return
    selection = Selection()
    selection.setPixelData(mask, 0, 0, w, h)
    doc.setSelection(selection)
    yield 0
    Krita.instance().action("fill_selection_foreground_color").trigger()
    yield 10
    # Through the API, not the Deselect action: on 5.2 the fill stays one undo step.
    doc.setSelection(None)
    yield 10


def _mask_path(mask, width, height):
    """The pixels of a fill mask (255 = covered) as a QPainterPath of pixel rectangles."""
    inverted = mask.translate(bytes(255 - v for v in range(256)))  # a bitmap's set bits are black
    image = QtGui.QImage(inverted, width, height, width, enum(QtGui.QImage, "Format", "Format_Grayscale8"))
    bitmap = QtGui.QBitmap.fromImage(image.convertToFormat(enum(QtGui.QImage, "Format", "Format_Mono")))
    path = QtGui.QPainterPath()
    path.addRegion(QtGui.QRegion(bitmap))
    return path


def patch(view, p, name=PATCH_LAYER):
    """The patch on a new layer above the active one, in one undo step; returns the layer."""
    doc = view.document()
    layer = doc.createNode(name, "paintlayer")
    width, height = int(p.get("width", 0)), int(p.get("height", 0))
    # Written while the layer is outside the image: the undoable step is adding it.
    layer.setPixelData(ops.rgba_to_bgra(p.get("rgba", b"")), int(p.get("x", 0)), int(p.get("y", 0)), width, height)
    active = doc.activeNode()
    (active.parentNode() or doc.rootNode()).addChildNode(layer, active)
    doc.refreshProjection()
    yield 10
    return layer


class Steps:
    """Runs a generator of waits on Krita's event loop; `on_done(error)` at the end."""

    _running: ClassVar[list] = []  # PyQt keeps only weak references to bound methods passed to QTimer

    def __init__(self, gen, on_done=None):
        self.gen = gen
        self.on_done = on_done
        self.cancelled = False
        Steps._running.append(self)
        QtCore.QTimer.singleShot(0, self._next)

    def cancel(self):
        self.cancelled = True

    def _next(self):
        try:
            if self.cancelled:
                raise StopIteration
            delay = next(self.gen)
        except StopIteration:
            self._end(None)
        except Exception as e:  # noqa: BLE001 (any failure ends the run and is shown to the painter)
            self._end(e)
        else:
            QtCore.QTimer.singleShot(int(delay), self._next)

    def _end(self, error):
        Steps._running.remove(self)
        if self.on_done:
            self.on_done(error)
