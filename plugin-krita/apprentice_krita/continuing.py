"""Continue painting: ops stream in from the daemon and Krita paints each as it arrives.

The stream is read on a background thread; Krita's event loop takes ops from a queue and paints
them one after another (applier), with the recorder paused. When the run imagines with the magic
brush, each imagined picture goes onto a hidden layer "Imagined" that the painter may look at. Every op painted goes into the
session's outbox, so the daemon's history holds what the document now shows. The painter's brush
settings are put back at the end, whether the run finished, failed or was cancelled.
"""

import queue
import threading

from . import applier, canvas
from .client import RpcError
from .qt import QtCore

_DONE = object()


class Imagined:
    """A picture the daemon imagined (PNG bytes), shown on the hidden layer "Imagined"."""

    def __init__(self, png):
        self.png = bytes(png)


def stored_session(outbox):
    """The outbox's session id once everything put so far is stored (off Krita's thread); a
    daemon that is down is said at once, not waited for."""
    for _ in range(60):
        if outbox.flush(timeout=1.0):
            break
        if outbox.error:
            raise RuntimeError(outbox.error)
    else:
        raise RuntimeError("the daemon did not take the recorded history within 60 s")
    if outbox.session_id is None:
        raise RuntimeError("no session with the daemon: " + (outbox.error or "not connected"))
    return outbox.session_id


class ContinueRun:
    """One "Continue painting": `request` is a ContinueRequest without its session id."""

    def __init__(self, client, view, outbox, recorder, request, on_progress=None, on_finish=None):
        self.client = client
        self.view = view
        self.outbox = outbox
        self.recorder = recorder
        self.request = dict(request)
        self.on_progress = on_progress or (lambda painted, total: None)
        self.on_finish = on_finish or (lambda error: None)
        self.painted = 0
        self.notes = []  # why an op was not painted (the run goes on without it)
        self.said = ""  # what the daemon could not follow (a prompt, a style)
        self.imagined = 0  # pictures imagined (with "imagine" in the request), shown on a hidden layer
        self.error = None
        self.finished = False
        self._ops = queue.Queue()
        self._stream = None
        self._cancelled = False
        self._brush = canvas.BrushSettings(view)
        self._step = None
        self._timer = QtCore.QTimer()
        self._timer.setInterval(15)
        self._timer.timeout.connect(self._pump)

    def start(self):
        # The daemon must see the canvas as it is now: the ops recorded so far, then a snapshot.
        self.outbox.snapshot(*canvas.snapshot(self.view.document()))
        self.recorder.paused = True
        threading.Thread(target=self._receive, name="apprentice-continue", daemon=True).start()
        self._timer.start()

    def cancel(self):
        self._cancelled = True
        stream = self._stream
        if stream is not None:
            stream.close()

    def _receive(self):
        try:
            request = dict(self.request, session_id=stored_session(self.outbox))
            with self.client.continue_(request) as stream:
                self._stream = stream
                for event in stream:
                    if self._cancelled:
                        break
                    if event.get("note"):
                        self.said = event["note"]
                    if event.get("imagined_png"):
                        self._ops.put(Imagined(event["imagined_png"]))
                    if "op" in event:
                        self._ops.put(event["op"])
        except RpcError as e:
            if not self._cancelled:
                self._ops.put(RuntimeError(f"{e.code_name}: {e.message}"))
        except Exception as e:  # noqa: BLE001 (shown to the painter, who can retry)
            if not self._cancelled:
                self._ops.put(e)
        self._ops.put(_DONE)

    def _pump(self):
        """On Krita's event loop: start painting the next op when the last one is done."""
        if self._step is not None:
            return
        try:
            item = self._ops.get_nowait()
        except queue.Empty:
            return
        if item is _DONE or self._cancelled:
            self._finish(None)
        elif isinstance(item, Exception):
            self._finish(item)
        elif isinstance(item, Imagined):
            canvas.show_imagined(self.view.document(), item.png)
            self.imagined += 1
        else:
            self._step = applier.Steps(applier.apply(self.view, item), lambda error, op=item: self._painted(op, error))

    def _painted(self, op, error):
        self._step = None
        if isinstance(error, applier.NotPainted):
            # Not in the document, so not in its history either: the daemon would paint it.
            self.notes.append(str(error))
            self.on_progress(self.painted, self.request.get("count", 0))
            return
        if error is not None:
            self._finish(error)
            return
        self.outbox.put([op])
        self.painted += 1
        self.on_progress(self.painted, self.request.get("count", 0))

    def _finish(self, error):
        if self.finished:
            return
        self.finished = True
        self._timer.stop()
        if error is not None:
            self.cancel()
        self.error = error
        self._brush.restore()
        self.recorder.paused = False
        self.on_finish(error)
