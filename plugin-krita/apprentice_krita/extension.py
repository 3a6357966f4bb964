"""The plug-in's state and actions: one outbox per document, the recorder, Continue painting, the
magic brush, learning the painter's style.

Tools ▸ Scripts: "Continue painting" (Ctrl+Alt+N), "Record my strokes" (a toggle) and
"Apprentice settings…"; the Apprentice docker shows the same controls and the connection. When
no daemon answers on the configured address (on this computer), the plug-in starts one at Krita's
start-up, and it ends with Krita.
"""

import os
import pathlib
import random
import threading

from krita import Extension, Krita

from . import canvas, settings
from .client import daemon, paint
from .continuing import ContinueRun
from .learning import LearnRun
from .magic import MagicRun
from .outbox import Outbox
from .qt import QtCore, QtWidgets
from .recorder import Recorder

INSTANCE = None  # the running plug-in (the docker and the tests reach it here)


class Apprentice(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        global INSTANCE
        INSTANCE = self
        self.outboxes = {}  # document id -> Outbox
        self.recorder = None
        self.run = None  # the ContinueRun in progress
        self.magic = None  # the last MagicRun
        self.learning = None  # the last LearnRun
        self.model = ""  # the stroke model Continue paints with (Info.models); "": the daemon's in use
        self.recorded = None  # (ops, sessions) the daemon holds, or None when not known
        self.info = None  # the daemon's GetInfo answer, or None when not connected
        self.info_error = None
        self.info_address = None  # the address `info` came from
        self._asks = 0
        self.managed = None  # the daemon this Krita started (apprentice_client.daemon.Managed), if any
        self.daemon_log = None
        self.daemon_error = None  # why none could be started
        self.listeners = []  # called on Krita's event loop when anything shown changes
        self._poll = QtCore.QTimer()
        self._poll.setInterval(5000)
        self._poll.timeout.connect(self.refresh_info)
        self._changed = False
        self._notify = QtCore.QTimer()
        self._notify.setInterval(200)
        self._notify.timeout.connect(self._deliver)

    def setup(self):
        settings.load()
        self._notify.start()
        self._poll.start()
        Krita.instance().notifier().applicationClosing.connect(self.stop_daemon)
        threading.Thread(target=self._start_daemon, name="apprentice-daemon", daemon=True).start()

    # ---- the daemon, started by Krita when none answers ----

    def _start_daemon(self):
        """Off Krita's thread at start-up: `apprentice serve` on the configured (loopback) address
        when nothing answers there, tied to Krita's process; then the docker shows what it found."""
        here = pathlib.Path(__file__).resolve().parent
        binary = daemon.find_binary(settings.binary(), str(here / "install.json"))
        self.daemon_log = str(here.parents[1] / "apprentice-daemon.log")  # in Krita's resource folder
        try:
            self.managed = daemon.ensure(settings.client(timeout=5.0), binary, self.daemon_log, os.getpid())
        except daemon.NotStarted as e:
            self.daemon_error = str(e)
        self.refresh_info()

    def stop_daemon(self):
        """When Krita closes: the daemon it started stops too (it would by itself, a moment later)."""
        if self.managed is not None:
            self.managed.stop()

    def createActions(self, window):
        # Texts, the checkable toggle and the shortcut (Ctrl+Alt+N) come from apprentice_krita.action.
        action = window.createAction("apprentice_continue", "Continue painting", "tools/scripts")
        action.triggered.connect(lambda: self._continue_from_menu(window))
        record = window.createAction("apprentice_record", "Record my strokes", "tools/scripts")
        record.setCheckable(True)
        record.toggled.connect(self.set_recording)
        window.createAction("apprentice_settings", "Apprentice settings…", "tools/scripts").triggered.connect(
            lambda: settings.SettingsDialog(window.qwindow()).exec()
        )

    # ---- state shown by the docker ----

    def changed(self):
        """Asks for the listeners to run on Krita's event loop (safe from any thread)."""
        self._changed = True

    def _deliver(self):
        if self._changed:
            self._changed = False
            for listener in list(self.listeners):
                listener()

    def refresh_info(self):
        """Asks the daemon for its model and device, off Krita's thread; the newest ask wins."""
        self._asks += 1
        ask_number = self._asks
        address = settings.address()

        def ask():
            recorded = None
            try:
                client = settings.client(timeout=3.0)
                info, error = client.get_info(), None
                sessions = client.list_sessions().get("sessions", [])
                recorded = (sum(int(s.get("op_count", 0)) for s in sessions), len(sessions))
            except Exception as e:  # noqa: BLE001 (not connected, for whatever reason: shown in the docker)
                info, error = None, getattr(e, "message", None) or str(e)
            # An older answer (say, from the address before a settings change) must not win.
            if ask_number == self._asks:
                self.info, self.info_error, self.info_address = info, error, address
                self.recorded = recorded
                self.changed()

        threading.Thread(target=ask, name="apprentice-info", daemon=True).start()

    # ---- recording ----

    def outbox(self, doc):
        """The document's outbox (made on first use; the session opens when it first sends)."""
        key = canvas.document_id(doc)
        box = self.outboxes.get(key)
        if box is None:
            box = Outbox(settings.client, key, canvas.header(doc), "krita", Krita.instance().version())
            box.on_change = self.changed
            self.outboxes[key] = box
        return box

    def _recorder(self):
        """The recorder, made on first use (Continue pauses it even when it does not record)."""
        if self.recorder is None:
            self.recorder = Recorder(self.outbox)
        return self.recorder

    def set_recording(self, on):
        self._recorder()
        if on:
            self.recorder.start()
        else:
            self.recorder.stop()
        self.changed()

    def recording(self):
        return bool(self.recorder and self.recorder.enabled)

    # ---- continue painting ----

    def _continue_from_menu(self, window):
        try:
            self.continue_painting()
        except RuntimeError as e:
            QtWidgets.QMessageBox.information(window.qwindow(), "Continue painting", str(e))

    def busy(self):
        """Whether the plug-in is painting (Continue or the magic brush): one at a time."""
        return any(r is not None and not r.finished for r in (self.run, self.magic))

    def _active_view(self):
        view = Krita.instance().activeWindow().activeView() if Krita.instance().activeWindow() else None
        if view is None or view.document() is None:
            raise RuntimeError("open a document first")
        return view

    def continue_painting(self, count=20, temperature=None, reference=None, seed=None, painter="", imagine=None):
        """Starts a run on the active view; returns it (None when one is already running).

        temperature None: the daemon's default, the same as the command line's. imagine: a proto
        Imagine (strength, prompt or style) to imagine the finished picture with the magic brush;
        each imagined picture is shown on a hidden layer "Imagined"."""
        if self.busy():
            return None
        view = self._active_view()
        doc = view.document()
        # A fresh seed each time: Continue, undo, Continue again gives another take.
        seed = random.getrandbits(63) if seed is None else int(seed)
        request = {"count": int(count), "seed": seed, "painter": painter}
        if self.model:
            request["model"] = self.model
        if temperature is not None:
            request["temperature"] = float(temperature)
        if imagine is not None:
            if reference is not None:
                raise RuntimeError("imagining is for Continue without a reference layer")
            request["imagine"] = dict(imagine, preview=True)
        if reference is not None:
            active = doc.activeNode()
            if active is not None and active.uniqueId() == reference.uniqueId():
                # The ops go to the active layer: they would paint over the picture being copied.
                raise RuntimeError(f"“{reference.name()}” is the reference: choose another layer to paint on")
            request["reference_png"] = canvas.node_png(reference, doc.width(), doc.height())
        self.run = ContinueRun(
            settings.client(timeout=None),
            view,
            self.outbox(doc),
            self._recorder(),
            request,
            on_progress=lambda painted, total: self.changed(),
            on_finish=lambda error: self.changed(),
        )
        self.run.start()
        self.changed()
        return self.run

    def cancel(self):
        if self.run is not None:
            self.run.cancel()

    # ---- the magic brush ----

    def magic_brush(self, prompt="", style="", strength=1.0, seed=None, steps=0, texture=1.0):
        """Repaints the selection (else a brush-sized dab at the view's centre) with the daemon's
        magic brush, `texture` of the picture's own texture cloned into its fill; returns the run
        (None when the plug-in is already painting)."""
        if self.busy():
            return None
        view = self._active_view()
        # A fresh seed each time, as for Continue: brush, undo, brush again gives another take.
        seed = random.getrandbits(63) if seed is None else int(seed)
        try:
            dab = paint.magic_dab([], 1.0, prompt, style, strength, seed, texture)
        except ValueError as e:
            raise RuntimeError(str(e)) from None
        self.magic = MagicRun(
            settings.client(timeout=None), view, self.outbox(view.document()), dab, steps, on_change=self.changed
        )
        self.magic.start()
        self.changed()
        return self.magic

    def cancel_magic(self):
        if self.magic is not None:
            self.magic.cancel()

    # ---- learning the painter's style ----

    def learn_style(self, steps=0):
        """Asks the daemon to learn from the recorded sessions (`steps` 0: its default); once it
        has, Continue paints with the new model. Returns the run (None when one is learning)."""
        if self.learning is not None and not self.learning.finished:
            return None

        def changed():
            run = self.learning
            if run is not None and run.finished and run.done and not run.cancelled:
                self.model = run.done.get("model", "")
                self.refresh_info()  # the new model is listed (first: the one in use)
            self.changed()

        self.learning = LearnRun(settings.client(timeout=None), steps, on_change=changed)
        self.learning.start()
        self.changed()
        return self.learning

    def cancel_learning(self):
        if self.learning is not None:
            self.learning.cancel()
