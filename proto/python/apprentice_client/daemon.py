"""A daemon for a plug-in that finds none: the `apprentice` binary found (the plug-in's
settings, the record `apprentice install` left beside the plug-in, the PATH), started as
`apprentice serve` on the configured address — on this computer only — and tied to the editor's
process, so that it ends with the editor. A daemon already answering (or a remote one) is used
as it is. Standard library only; tested against the real binary (tests/python/test_daemon.py).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from .grpcweb import DaemonUnavailable, RpcError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def is_loopback(address):
    host = address.rsplit(":", 1)[0].lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def find_binary(configured=None, record=None):
    """The `apprentice` to start: `configured` (a path from the settings), else the one named in
    `record` (an install.json), else the PATH's; None when there is none."""
    candidates = []
    if configured:
        candidates.append(configured)
    if record and os.path.isfile(record):
        try:
            with open(record, encoding="utf-8") as f:
                candidates.append(json.load(f).get("apprentice", ""))
        except (OSError, ValueError):
            pass
    candidates.append(shutil.which("apprentice") or "")
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def tail(path, lines=20):
    """The last lines of a log file ("" when there is none)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class Managed:
    """A daemon this plug-in started: its process and its log file."""

    def __init__(self, process, log_path, address):
        self.process = process
        self.log_path = str(log_path)
        self.address = address

    def running(self):
        return self.process.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM (the daemon finishes its calls and exits), then SIGKILL after `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class NotStarted(Exception):
    """Why no daemon could be started, in words for the painter."""


def ensure(client, binary, log_path, parent_pid=None, wait_s=30.0):
    """Starts `apprentice serve` on the client's address when nothing answers there; returns the
    Managed daemon, or None when one was already answering. Raises NotStarted saying why not."""
    try:
        client.get_info()
        return None
    except DaemonUnavailable:
        pass
    except RpcError:
        return None  # something answers there (a refusal is an answer): leave it alone
    address = client.address
    if not is_loopback(address):
        raise NotStarted(f"no daemon answers at {address}, and Apprentice starts one only on this computer")
    if binary is None:
        raise NotStarted(
            "no daemon answers, and the apprentice program was not found: install it, then run "
            "`apprentice install` for this editor again (or put apprentice on the PATH)"
        )
    pathlib.Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    args = [binary, "serve", "--address", address]
    if parent_pid:
        args += ["--parent-pid", str(parent_pid)]
    with open(log_path, "ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n".encode())
        log.flush()
        # A session of its own: the editor's terminal signals are not the daemon's.
        kwargs = {"start_new_session": True} if sys.platform != "win32" else {}
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, **kwargs)
    managed = Managed(process, log_path, address)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotStarted(f"apprentice serve exited ({process.returncode}); its log says:\n{tail(log_path)}")
        try:
            client.get_info()
            return managed
        except RpcError:
            time.sleep(0.1)
    managed.stop()
    raise NotStarted(f"apprentice serve did not answer within {wait_s:.0f} s; its log says:\n{tail(log_path)}")
