"""Fixtures: the real daemon on a free port, and the contract compiled by the official tools.

The daemon binary is $APPRENTICE_BIN, else $CARGO_TARGET_DIR/release/apprentice, else
<repo>/target/release/apprentice (build it with `cargo build --release -p apprentice`).
"""

import importlib
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time
import types

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO / "proto"
CLIENT_ROOT = PROTO_ROOT / "python"
PROTO_FILES = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in (PROTO_ROOT / "apprentice" / "v1").glob("*.proto"))

# The plug-ins' client, imported as the plug-ins import it: the folder on sys.path.
sys.path.insert(0, str(CLIENT_ROOT))


def daemon_binary():
    env = os.environ.get("APPRENTICE_BIN")
    if env:
        if not os.access(env, os.X_OK):
            pytest.fail(f"APPRENTICE_BIN={env} is not an executable file")
        return env
    candidates = []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(pathlib.Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "apprentice")
    candidates.append(REPO / "target" / "release" / "apprentice")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    pytest.fail(
        "no apprentice binary at " + " or ".join(map(str, candidates)) + ": build it with "
        "`cargo build --release -p apprentice`, or set APPRENTICE_BIN (or CARGO_TARGET_DIR)"
    )


class Daemon:
    """`apprentice serve` on 127.0.0.1:0 with its own config and data folders; logs in `log_path`."""

    def __init__(self, root, token=None):
        root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "daemon.log"
        args = [daemon_binary(), "serve", "--address", "127.0.0.1:0"]
        args += ["--config-dir", str(root / "config"), "--data-dir", str(root / "data")]
        if token is not None:
            args += ["--token", token]
        env = dict(os.environ, APPRENTICE_LOG="info,apprentice=debug", NO_COLOR="1")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env)
        line = self._first_line(timeout=30.0)
        m = re.fullmatch(r"apprentice listening on (\S+:\d+)", line)
        if not m:
            self.stop()
            pytest.fail(f"the daemon printed {line!r}, not its address; its log:\n{self.log()}")
        self.address = m.group(1)

    def _first_line(self, timeout):
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                break
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
        if b"\n" not in data:
            self.stop()
            pytest.fail(f"the daemon did not say where it listens within {timeout} s; its log:\n{self.log()}")
        return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then the exit status (killed after 10 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"the daemon did not stop within 10 s of SIGTERM; its log:\n{self.log()}")
        self.proc.stdout.close()
        return self.proc.returncode


def _daemon(tmp_path_factory, name, token=None):
    daemon = Daemon(tmp_path_factory.mktemp(name), token=token)
    yield daemon
    alive = daemon.running()
    code = daemon.stop()
    assert alive, f"the daemon died during the tests (exit {code}); its log:\n{daemon.log()}"
    assert code == 0, f"the daemon exited {code} on SIGTERM; its log:\n{daemon.log()}"


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    """One daemon for the whole run (tests use their own document ids)."""
    yield from _daemon(tmp_path_factory, "daemon")


@pytest.fixture(scope="session")
def token_daemon(tmp_path_factory):
    """A daemon that requires `authorization: Bearer s3cret-token`."""
    yield from _daemon(tmp_path_factory, "token-daemon", token="s3cret-token")


@pytest.fixture
def client(daemon):
    from apprentice_client import Client

    return Client(daemon.address, timeout=30.0)


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The official Python bindings, generated by grpc_tools.protoc at test time.

    A namespace: ops, history, service (the _pb2 modules), service_grpc (the stubs) and
    descriptor_set (the FileDescriptorSet bytes).
    """
    import grpc_tools
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("pb2")
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    descriptor_set = out / "apprentice.pb"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--descriptor_set_out={descriptor_set}",
        "--include_imports",
    ] + PROTO_FILES
    assert protoc.main(args) == 0, "grpc_tools.protoc failed"
    sys.path.insert(0, str(out))
    try:
        modules = {
            "ops": importlib.import_module("apprentice.v1.ops_pb2"),
            "history": importlib.import_module("apprentice.v1.history_pb2"),
            "service": importlib.import_module("apprentice.v1.service_pb2"),
            "service_grpc": importlib.import_module("apprentice.v1.service_pb2_grpc"),
        }
    finally:
        sys.path.remove(str(out))

    return types.SimpleNamespace(descriptor_set=descriptor_set.read_bytes(), **modules)
