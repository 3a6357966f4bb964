"""The magic brush from the docker: the selection (or a brush-sized dab) goes to the daemon's
MagicBrush RPC, and the pixels it returns go on a new layer, one undo step.

The plug-in only captures, sends and applies. The daemon paints on the document's session: the
ops recorded so far, then a snapshot of what Krita shows. The RPC takes a path and a radius, not
a mask picture, so a selection is sent as rows covering its bounding rectangle, and the returned
pixels are cut to the selection's own shape (and softness) here. Without a selection, the dab is
one brush-sized disc at the centre of what the view shows. Progress (step i of N) streams in on
a background thread; Cancel closes the stream, which stops the daemon between steps. The dab,
with the pixels as painted, goes into the document's history.
"""

import threading
import time

from . import applier, canvas
from .client import RpcError, paint
from .continuing import stored_session
from .qt import QPointF, QtCore


def region(view):
    """(path, radius, clip) of a dab for the view's document: clip is (mask, x, y, w, h) of the
    selection, one byte per pixel, or None when nothing is selected."""
    doc = view.document()
    selection = doc.selection()
    if selection is not None and selection.width() > 0 and selection.height() > 0:
        x0, y0 = max(0, selection.x()), max(0, selection.y())
        x1 = min(doc.width(), selection.x() + selection.width())
        y1 = min(doc.height(), selection.y() + selection.height())
        if x1 > x0 and y1 > y0:
            mask = bytes(selection.pixelData(x0, y0, x1 - x0, y1 - y0))
            if mask.strip(b"\x00"):
                path, radius = paint.cover_path(x0, y0, x1 - x0, y1 - y0)
                return path, radius, (mask, x0, y0, x1 - x0, y1 - y0)
    widget = canvas.canvas_widget(view)
    if widget is not None:
        cx, cy = canvas.widget_to_image(view)(QPointF(widget.width() / 2.0, widget.height() / 2.0))
    else:
        cx, cy = doc.width() / 2.0, doc.height() / 2.0
    cx, cy = min(max(cx, 0.0), doc.width() - 1.0), min(max(cy, 0.0), doc.height() - 1.0)
    path, radius = paint.disc_path(cx, cy, view.brushSize())
    return path, radius, None


class MagicRun:
    """One magic-brush dab: `dab` is a proto MagicBrush without its path and radius (region)."""

    def __init__(self, client, view, outbox, dab, steps=0, on_change=None):
        self.client = client
        self.view = view
        self.outbox = outbox
        path, radius, self.clip = region(view)
        self.dab = dict(dab, path=path, radius=radius)
        self.steps_asked = int(steps)
        self.on_change = on_change or (lambda: None)
        self.step = self.steps = 0  # the sampler's progress: about to take step `step` of `steps`
        self.model = self.note = None  # who painted it, and what it could not follow
        self.op = None  # the dab as painted, recorded pixels included
        self.error = None
        self.cancelled = False
        self.finished = False
        self.seconds = None
        self._t0 = time.monotonic()
        self._outcome = None  # ("done", MagicBrushDone) or ("error", exception), from the thread
        self._stream = None
        self._painting = False
        self._timer = QtCore.QTimer()
        self._timer.setInterval(15)
        self._timer.timeout.connect(self._pump)

    def start(self):
        # The daemon must see the canvas as it is now: the ops recorded so far, then a snapshot.
        self.outbox.snapshot(*canvas.snapshot(self.view.document()))
        threading.Thread(target=self._receive, name="apprentice-magic", daemon=True).start()
        self._timer.start()

    def cancel(self):
        if self.finished or self._painting:
            return  # the pixels are going in: one undo takes them back
        self.cancelled = True
        stream = self._stream
        if stream is not None:
            stream.close()
        self._finish(None)

    def _receive(self):
        outcome = ("error", RuntimeError("the daemon ended the stream without a result"))
        try:
            request = {"session_id": stored_session(self.outbox), "dab": self.dab}
            if self.steps_asked:
                request["steps"] = self.steps_asked
            with self.client.magic_brush(request) as stream:
                self._stream = stream
                for event in stream:
                    if self.cancelled:
                        return
                    if "progress" in event:
                        self.step = int(event["progress"].get("step", 0))
                        self.steps = int(event["progress"].get("steps", 0))
                        self.on_change()
                    elif "done" in event:
                        outcome = ("done", event["done"])
        except RpcError as e:
            outcome = ("error", RuntimeError(f"{e.code_name}: {e.message}"))
        except Exception as e:  # noqa: BLE001 (shown to the painter, who can retry)
            outcome = ("error", e)
        if not self.cancelled:
            self._outcome = outcome

    def _pump(self):
        """On Krita's event loop: paint the result once it is in."""
        if self._outcome is None or self._painting or self.finished:
            return
        kind, value = self._outcome
        if kind == "error":
            self._finish(value)
            return
        self.model, self.note = value.get("model", ""), value.get("note", "")
        dab = value.get("op", {}).get("magic_brush", {})
        result = paint.patch_of({"magic_brush": dab})
        if result is not None and self.clip is not None:
            result = paint.clip_patch(result, *self.clip)
        if result is None:
            self._finish(RuntimeError("the magic brush painted nothing here (the dab missed the canvas)"))
            return
        self.op = {"magic_brush": dict(dab, result=result)}
        self._painting = True
        applier.Steps(applier.patch(self.view, result, applier.MAGIC_LAYER), self._painted)

    def _painted(self, error):
        self._painting = False
        if error is None:
            self.outbox.put([self.op])
        self._finish(error)

    def _finish(self, error):
        if self.finished:
            return
        self.finished = True
        self.seconds = round(time.monotonic() - self._t0, 3)
        self._timer.stop()
        self.error = error
        self.on_change()
