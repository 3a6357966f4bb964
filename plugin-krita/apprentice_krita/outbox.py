"""Ops and canvas snapshots on their way to the daemon: batched, numbered, resent until stored.

The painter's strokes are put here from Krita's UI thread, which never waits: a background
thread sends them in batches with sequence numbers (AppendOps). When the daemon is down or
restarts, the batch waits and is sent again with the same number — the daemon answers
`duplicate` for a batch it had already stored — so every op lands once and in order. No Qt, no
Krita: tested against the real daemon outside the editor (tests/python/test_krita_plugin.py).
"""

import threading
import time

from .client import DaemonUnavailable, RpcError, append_ops


class Outbox:
    """One document's queue. `connect()` returns a Client (it reads the current settings)."""

    def __init__(self, connect, document_id, header, editor="krita", editor_version="", batch_size=64, linger=0.2):
        self.connect = connect
        self.document_id = document_id
        self.header = header
        self.editor, self.editor_version = editor, editor_version
        self.batch_size = batch_size
        self.linger = linger
        self.retry_delay = (0.25, 4.0)  # first and longest wait between attempts, seconds
        self.session_id = None
        self.op_count = 0  # ops the daemon has acknowledged for this session
        self.sent = 0  # ops acknowledged since this outbox started
        self.error = None  # the last problem, in words, or None while all is well
        self.rejected = []  # (op, message): ops the daemon refused as invalid (kept, not resent)
        self.on_change = None  # called (from the sending thread) when state or counts change
        self._items = []  # ("ops", [op, ...]) and ("snapshot", rgba) in order
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._sequence = None
        self._thread = threading.Thread(target=self._run, name="apprentice-outbox", daemon=True)
        self._thread.start()

    # ---- called from the UI thread: never blocks on the network ----

    def put(self, ops):
        ops = list(ops)
        if ops:
            self._push("ops", ops)

    def snapshot(self, image, encoding="rgba"):
        """The canvas as the editor shows it now, after the ops put so far: 8-bit RGBA of the
        header's size (encoding "rgba"), or a PNG file's bytes (encoding "png")."""
        if encoding not in ("rgba", "png"):
            raise ValueError(f"snapshot encoding {encoding!r}: rgba or png")
        self._push("snapshot", (encoding, bytes(image)))

    def pending(self):
        """Ops waiting to be acknowledged."""
        with self._cond:
            return sum(len(v) for k, v in self._items if k == "ops")

    def connected(self):
        return self.session_id is not None and self.error is None

    def flush(self, timeout=None):
        """Waits (off the UI thread!) until everything put so far is stored; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._items or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 1.0)
        return True

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _push(self, kind, value):
        with self._cond:
            if kind == "ops" and self._items and self._items[-1][0] == "ops":
                self._items[-1][1].extend(value)
            else:
                self._items.append((kind, value))
            self._cond.notify_all()

    # ---- the sending thread ----

    def _run(self):
        delay = self.retry_delay[0]
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                # Let a few more ops arrive so that a stroke burst goes as one batch.
                if self._items[0][0] == "ops" and len(self._items[0][1]) < self.batch_size:
                    self._cond.wait(self.linger)
                kind, value = self._items[0]
                item = value[: self.batch_size] if kind == "ops" else value
                self._busy = True
            try:
                self._send(kind, item)
            except RpcError as e:
                # Kept at the head of the queue, sent again after a wait that doubles each time.
                if isinstance(e, DaemonUnavailable):
                    self._set_error(f"the apprentice daemon is not reachable ({e.message}); will retry")
                else:
                    self._set_error(f"{e.code_name}: {e.message}")
                with self._cond:
                    self._busy = False
                    self._cond.wait(delay)
                delay = min(delay * 2, self.retry_delay[1])
                continue
            delay = self.retry_delay[0]
            with self._cond:
                head_kind, head = self._items[0]
                if head_kind == "ops":
                    del head[: len(item)]
                    if not head:
                        self._items.pop(0)
                else:
                    self._items.pop(0)
                self._busy = False
                self._cond.notify_all()
            self._set_error(None)

    def _open(self, client):
        r = client.open_session(
            {
                "document_id": self.document_id,
                "header": self.header,
                "editor": self.editor,
                "editor_version": self.editor_version,
            }
        )
        self.session_id = r["session_id"]
        self._sequence = int(r.get("next_sequence", 0))
        self.op_count = int(r.get("op_count", 0))

    def _send(self, kind, item):
        client = self.connect()
        if self.session_id is None:
            self._open(client)
        if kind == "snapshot":
            self._call(
                client, "upload_snapshot", {"session_id": self.session_id, "op_count": self.op_count, item[0]: item[1]}
            )
            return
        # An op the daemon cannot store is kept aside (not resent); another window's appends are followed on from.
        response, self._sequence, rejected = append_ops(
            lambda request: self._call(client, "append_ops", request), self.session_id, self._sequence, item
        )
        self.rejected += rejected
        if response is not None:
            self._sequence = int(response.get("next_sequence", self._sequence + 1))
            self.op_count = int(response.get("op_count", self.op_count))
            self.sent += len(item) - len(rejected)

    def _call(self, client, method, request):
        try:
            return getattr(client, method)(request)
        except RpcError as e:
            if e.code_name == "NOT_FOUND":
                # The daemon no longer knows the session (a fresh data folder): start it again.
                self._open(client)
                request = dict(request, session_id=self.session_id)
                if "sequence" in request:
                    request["sequence"] = self._sequence
                return getattr(client, method)(request)
            raise

    def _set_error(self, error):
        changed = error != self.error
        self.error = error
        if self.on_change and (changed or error is None):
            try:
                self.on_change()
            except Exception as e:  # noqa: BLE001 (a UI callback must not kill the sender)
                print("apprentice: status callback failed:", repr(e))
