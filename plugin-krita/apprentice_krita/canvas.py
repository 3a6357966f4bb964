"""Krita's canvas as the plug-in sees it: the active tool, the canvas widget, image <-> widget
coordinates, the brush settings, and the document's pixels."""

import uuid

from krita import Krita, ManagedColor

from . import ops
from .qt import QPointF, QtCore, QtGui, QtWidgets, enum

CANVAS_CLASSES = ("KisQPainterCanvas", "KisOpenGLCanvas2")
BRUSH_TOOL = "KritaShape/KisToolBrush"
FILL_TOOL = "KritaFill/KisToolFill"
ID_ANNOTATION = "apprentice-document-id"


def canvas_widgets(window):
    """The canvas widgets (one per open view) of a Krita window."""
    qwin = window.qwindow()
    return [w for w in qwin.findChildren(QtWidgets.QWidget) if w.metaObject().className() in CANVAS_CLASSES]


def canvas_widget(view):
    """The widget that paints `view`'s canvas; the view must be the window's active one."""
    qwin = view.window().qwindow()
    mdi = qwin.findChild(QtWidgets.QMdiArea)
    # Every open view has a canvas widget; the active sub-window holds the active view's.
    scope = mdi.activeSubWindow() if mdi is not None and mdi.activeSubWindow() is not None else qwin
    widgets = [w for w in scope.findChildren(QtWidgets.QWidget) if w.metaObject().className() in CANVAS_CLASSES]
    return widgets[0] if widgets else None


def active_tool(window):
    """The id of the checked tool button in the toolbox ("KritaShape/KisToolBrush", ...)."""
    for b in window.qwindow().findChildren(QtWidgets.QToolButton):
        if b.isCheckable() and b.isChecked() and b.objectName().startswith("Krita"):
            return b.objectName()
    return None


def image_to_widget(view):
    """A function mapping image pixels to canvas-widget coordinates for the view as it is now."""
    image_to_flake, _ = view.flakeToImageTransform().inverted()
    flake_to_widget = view.flakeToCanvasTransform()
    return lambda x, y: flake_to_widget.map(image_to_flake.map(QPointF(x, y)))


def widget_to_image(view):
    widget_to_flake, _ = view.flakeToCanvasTransform().inverted()
    flake_to_image = view.flakeToImageTransform()

    def convert(point):
        p = flake_to_image.map(widget_to_flake.map(point))
        return p.x(), p.y()

    return convert


def foreground_rgb8(view):
    c = view.foregroundColor().colorForCanvas(view.canvas())  # 8-bit sRGB as the canvas shows it
    return c.red(), c.green(), c.blue()


def set_foreground(view, rgb8):
    view.setForeGroundColor(ManagedColor.fromQColor(QtGui.QColor(*rgb8)))


def eraser_mode():
    action = Krita.instance().action("erase_action")
    return bool(action and action.isChecked())


def set_eraser_mode(on):
    action = Krita.instance().action("erase_action")
    if action and action.isChecked() != bool(on):
        action.trigger()


def brush_state(view):
    """The proto BrushState of the view's brush settings now."""
    preset = view.currentBrushPreset()
    return ops.brush_state(
        view.brushSize(),
        view.paintingOpacity(),
        view.paintingFlow(),
        foreground_rgb8(view),
        view.currentBlendingMode(),
        ops.hardness_for(preset.name() if preset else ""),
    )


def stroke_tool(view):
    preset = view.currentBrushPreset()
    return ops.tool_for(preset.name() if preset else "", eraser_mode())


class BrushSettings:
    """The painter's brush settings, saved before the plug-in paints and put back afterwards."""

    def __init__(self, view):
        self.view = view
        self.preset = view.currentBrushPreset()
        self.size = view.brushSize()
        self.opacity = view.paintingOpacity()
        self.flow = view.paintingFlow()
        self.color = view.foregroundColor()
        self.blend = view.currentBlendingMode()
        self.eraser = eraser_mode()
        self.tool = active_tool(view.window())

    def restore(self):
        v = self.view
        if self.preset:
            v.setCurrentBrushPreset(self.preset)
        v.setBrushSize(self.size)
        v.setPaintingOpacity(self.opacity)
        v.setPaintingFlow(self.flow)
        v.setForeGroundColor(self.color)
        v.setCurrentBlendingMode(self.blend)
        set_eraser_mode(self.eraser)
        if self.tool:
            action = Krita.instance().action(self.tool)
            if action:
                action.trigger()


def document_id(doc):
    """A stable id for the document, kept in the .kra as an annotation (made on first use)."""
    raw = doc.annotation(ID_ANNOTATION) if ID_ANNOTATION in doc.annotationTypes() else None
    if raw:
        return bytes(raw).decode("ascii", "replace")
    new = "krita-" + uuid.uuid4().hex
    doc.setAnnotation(ID_ANNOTATION, "Apprentice session id", new.encode("ascii"))
    return new


def header(doc):
    """The session header: the document's size; the background is white (snapshots correct it)."""
    return {"width": doc.width(), "height": doc.height(), "background": {"r": 1.0, "g": 1.0, "b": 1.0, "a": 1.0}}


def projection_bgra(doc):
    """What the document shows, flattened, as Krita's 8-bit BGRA, once its strokes have landed."""
    doc.waitForDone()
    doc.refreshProjection()
    return bytes(doc.pixelData(0, 0, doc.width(), doc.height()))


def projection_rgba(doc):
    """What the document shows, flattened, as 8-bit RGBA."""
    return ops.bgra_to_rgba(projection_bgra(doc))


RAW_SNAPSHOT_LIMIT = 16 << 20  # bytes; the daemon takes messages up to 64 MiB by default


def snapshot(doc):
    """(image, encoding) of what the document shows, for Outbox.snapshot: raw RGBA while it is
    small, PNG beyond (a 4096² canvas is 64 MiB raw)."""
    w, h = doc.width(), doc.height()
    if w * h * 4 <= RAW_SNAPSHOT_LIMIT:
        return projection_rgba(doc), "rgba"
    return _png(projection_bgra(doc), w, h), "png"


def node_png(node, width, height):
    """A layer's pixels as PNG bytes (the reference image of copy mode)."""
    return _png(bytes(node.pixelData(0, 0, width, height)), width, height)


def _png(bgra, width, height):
    # Krita's BGRA is QImage's ARGB32 on little-endian machines.
    image = QtGui.QImage(bgra, width, height, width * 4, enum(QtGui.QImage, "Format", "Format_ARGB32"))
    buffer = QtCore.QBuffer()
    buffer.open(enum(QtCore.QIODevice, "OpenModeFlag", "WriteOnly"))
    image.save(buffer, "PNG")
    return bytes(buffer.data())


IMAGINED_LAYER = "Imagined"


def show_imagined(doc, png):
    """The imagined picture on the document's hidden top layer "Imagined" (made on first use;
    its pixels are replaced by each new picture: a preview, outside the undo history)."""
    image = QtGui.QImage.fromData(png, "PNG")
    if image.isNull() or (image.width(), image.height()) != (doc.width(), doc.height()):
        return None
    # ARGB32 is Krita's BGRA on little-endian machines, as in _png.
    argb = image.convertToFormat(enum(QtGui.QImage, "Format", "Format_ARGB32"))
    bits = argb.constBits()
    bits.setsize(argb.sizeInBytes())
    data = bytes(bits)
    layer = doc.nodeByName(IMAGINED_LAYER)
    if layer is None:
        layer = doc.createNode(IMAGINED_LAYER, "paintlayer")
        layer.setVisible(False)
        layer.setPixelData(data, 0, 0, doc.width(), doc.height())
        top = doc.rootNode().childNodes()
        doc.rootNode().addChildNode(layer, top[-1] if top else None)
    else:
        layer.setPixelData(data, 0, 0, doc.width(), doc.height())
    doc.refreshProjection()
    return layer
