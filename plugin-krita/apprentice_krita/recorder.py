"""Recording: the painter's strokes, fills and undo/redo, as they happen, into the outbox.

An event filter on the canvas widgets sees the pointer (tablet events with pressure and tilt;
the mouse as pressure 1) without consuming anything: Krita paints as usual. A stroke becomes an
op when the pen lifts, with the brush settings it was painted with. A snapshot of the canvas
goes along when recording starts, after fills (Krita's fill options are not visible to plug-ins),
and every `SNAPSHOT_EVERY` ops, so the daemon stays in step with what Krita really shows.
"""

import time

from krita import Krita

from . import canvas, ops
from .qt import EV, LEFT, QtCore, event_pos

SNAPSHOT_EVERY = 50
FILL_TOLERANCE = 0.03  # Krita's fill tool default threshold, 8 of 255
_TABLET = (EV["TabletPress"], EV["TabletMove"], EV["TabletRelease"])
_MOUSE = (EV["MouseButtonPress"], EV["MouseMove"], EV["MouseButtonRelease"])
_PRESS = (EV["TabletPress"], EV["MouseButtonPress"])
_RELEASE = (EV["TabletRelease"], EV["MouseButtonRelease"])


class Recorder(QtCore.QObject):
    """Records into `outbox_for(document)` while `enabled`; `paused` while the plug-in paints."""

    def __init__(self, outbox_for):
        super().__init__()
        self.outbox_for = outbox_for
        self.enabled = False
        self.paused = False
        self.recorded = 0
        self._stroke = None
        self._source = None  # "tablet" or "mouse": the one that started the stroke
        self._since_snapshot = 0
        self._watched = []
        self._watching_views = False
        app = Krita.instance()
        for name, make in (("edit_undo", ops.undo_op), ("edit_redo", ops.redo_op)):
            action = app.action(name)
            if action:
                action.triggered.connect(lambda _checked=False, make=make: self._history(make()))

    def start(self):
        self.enabled = True
        self.watch_canvases()
        if not self._watching_views:
            # A new view brings a new canvas widget: watch it once Krita has made it.
            Krita.instance().notifier().viewCreated.connect(lambda: QtCore.QTimer.singleShot(0, self.watch_canvases))
            self._watching_views = True
        doc = Krita.instance().activeDocument()
        if doc:
            self.snapshot(doc)

    def stop(self):
        self.enabled = False
        self._stroke = None

    def watch_canvases(self):
        """Installs the filter on every canvas widget not yet watched (new views make new ones)."""
        for window in Krita.instance().windows():
            for w in canvas.canvas_widgets(window):
                if w not in self._watched:
                    w.installEventFilter(self)
                    self._watched.append(w)
                    w.destroyed.connect(lambda _=None, w=w: self._watched.remove(w) if w in self._watched else None)

    def snapshot(self, doc):
        self._since_snapshot = 0
        self.outbox_for(doc).snapshot(*canvas.snapshot(doc))

    def _history(self, op):
        if not self.enabled or self.paused:
            return
        doc = Krita.instance().activeDocument()
        if doc:
            self._emit(doc, op)

    def _emit(self, doc, op):
        self.outbox_for(doc).put([op])
        self.recorded += 1
        self._since_snapshot += 1
        if self._since_snapshot >= SNAPSHOT_EVERY:
            # After Krita has finished the stroke: a moment later, off this event.
            QtCore.QTimer.singleShot(300, lambda: self.snapshot(doc))

    def eventFilter(self, obj, event):
        if not self.enabled or self.paused:
            return False
        t = event.type()
        if t not in _TABLET and t not in _MOUSE:
            return False
        source = "tablet" if t in _TABLET else "mouse"
        try:
            self._pointer(t, source, event)
        except Exception as e:  # noqa: BLE001 (recording must never break painting)
            print("apprentice: recording failed:", repr(e))
            self._stroke = None
        return False

    def _pointer(self, t, source, event):
        app = Krita.instance()
        view = app.activeWindow().activeView() if app.activeWindow() else None
        if view is None or view.document() is None:
            return
        if t in _PRESS:
            if self._stroke is not None or (source == "mouse" and event.button() != LEFT):
                return  # Qt's mouse copy of a tablet press, or another button
            tool = canvas.active_tool(view.window())
            x, y = canvas.widget_to_image(view)(event_pos(event))
            if tool == canvas.FILL_TOOL:
                doc = view.document()
                self._emit(doc, ops.fill_op(x, y, canvas.foreground_rgb8(view), FILL_TOLERANCE))
                QtCore.QTimer.singleShot(500, lambda: self.snapshot(doc))
                return
            if tool != canvas.BRUSH_TOOL:
                return
            self._stroke = ops.StrokeRecorder(canvas.stroke_tool(view), canvas.brush_state(view))
            self._source = source
        if self._stroke is None or source != self._source:
            return
        pressure = event.pressure() if source == "tablet" else 1.0
        tilt = (event.xTilt(), event.yTilt()) if source == "tablet" else None
        x, y = canvas.widget_to_image(view)(event_pos(event))
        self._stroke.add(x, y, pressure, time.monotonic() * 1000.0, tilt)
        if t in _RELEASE:
            op = self._stroke.op()
            self._stroke = None
            if op:
                self._emit(view.document(), op)
