"""An image's session with the daemon: opened under the image's document id, shown the canvas
as a snapshot (GIMP gives plug-ins no stroke events, so each run starts from what the image
shows), and told the ops the plug-in painted. No GIMP: tested against the real daemon outside
GIMP (tests/python/test_gimp_plugin.py).
"""

import re
import uuid

from .client import DaemonUnavailable, RpcError, append_ops, png

PARASITE = "apprentice-document-id"  # the image parasite (kept in the .xcf) holding the id
RAW_SNAPSHOT_LIMIT = 16 << 20  # bytes of raw RGBA; larger canvases go as PNG


def new_document_id():
    return "gimp-" + uuid.uuid4().hex


def document_id(stored):
    """The id kept in the image's parasite (bytes or None): (id, True when it is new)."""
    text = bytes(stored or b"").decode("ascii", "replace").strip()
    if re.fullmatch(r"[A-Za-z0-9._:-]{1,200}", text):
        return text, False
    return new_document_id(), True


class Unreachable(Exception):
    """The daemon could not be reached; nothing was painted."""


def unreachable_message(address, error):
    return (
        f"The Apprentice daemon is not reachable at {address} ({error}). "
        "Start it with `apprentice serve`, or set its address in Filters ▸ Apprentice ▸ Settings."
    )


class Session:
    """One image's session. `client` is an apprentice_client.Client."""

    def __init__(self, client, document_id, width, height, editor_version=""):
        self.client = client
        self.document_id = document_id
        self.header = {"width": int(width), "height": int(height), "background": {"r": 1.0, "g": 1.0, "b": 1.0}}
        self.editor_version = editor_version
        self.session_id = None
        self.op_count = 0
        self.sequence = 0
        self.rejected = []  # (op, message): ops the daemon would not store

    def open(self):
        try:
            r = self.client.open_session(
                {
                    "document_id": self.document_id,
                    "header": self.header,
                    "editor": "gimp",
                    "editor_version": self.editor_version,
                }
            )
        except DaemonUnavailable as e:
            raise Unreachable(unreachable_message(self.client.address, e.message)) from e
        self.session_id = r["session_id"]
        self.sequence = int(r.get("next_sequence", 0))
        self.op_count = int(r.get("op_count", 0))
        return self

    def snapshot(self, rgba):
        """The canvas as the image shows it now: 8-bit RGBA of the header's size."""
        w, h = self.header["width"], self.header["height"]
        if len(rgba) != w * h * 4:
            raise ValueError(f"a snapshot of {len(rgba)} bytes for a {w}x{h} canvas (needs {w * h * 4})")
        image = {"rgba": bytes(rgba)} if len(rgba) <= RAW_SNAPSHOT_LIMIT else {"png": png.encode(rgba, w, h)}
        self.client.upload_snapshot(dict(image, session_id=self.session_id, op_count=self.op_count))

    def record(self, ops):
        """Stores ops the plug-in painted, in order; an op the daemon refuses is kept aside in
        `rejected` and the rest still go. Returns how many were stored."""
        try:
            response, self.sequence, rejected = append_ops(self.client.append_ops, self.session_id, self.sequence, ops)
        except RpcError as e:
            if e.code_name != "FAILED_PRECONDITION":
                raise
            # Another client stored a batch under our number since the session was opened:
            # opening it again gives the next free number.
            self.open()
            response, self.sequence, rejected = append_ops(self.client.append_ops, self.session_id, self.sequence, ops)
        self.rejected += rejected
        if response is None:
            return 0
        self.sequence = int(response.get("next_sequence", self.sequence + 1))
        self.op_count = int(response.get("op_count", self.op_count))
        return len(ops) - len(rejected)
