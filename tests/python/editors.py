"""The Debian roots that hold the real editors (tests/editors/make-root.sh, run by tests/run.sh):
trixie has Krita 5.2.9 and GIMP 3.0, forky Krita 5.3 and GIMP 3.2."""

import os
import pathlib
import socket
import subprocess
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path.home() / ".cache" / "apprentice"
ROOTS = {
    "trixie": pathlib.Path(os.environ.get("APPRENTICE_EDITORS_ROOT", CACHE / "editors-trixie")),
    "forky": pathlib.Path(os.environ.get("APPRENTICE_EDITORS_FORKY_ROOT", CACHE / "editors-forky")),
}
if os.environ.get("APPRENTICE_EDITORS_FORKY_ROOT") == "none":  # tests/run.sh: forky could not be installed
    del ROOTS["forky"]


def require(root, program):
    """Fails the test, saying how to make one, unless `root` holds `program`; mounts what its chroot needs."""
    if not (root / program).exists():
        pytest.fail(
            f"no {program} in {root}: make the root with `tests/editors/make-root.sh {root} SUITE` (as root; "
            "tests/run.sh does), or point APPRENTICE_EDITORS_ROOT / APPRENTICE_EDITORS_FORKY_ROOT at one"
        )
    subprocess.run([str(REPO / "tests" / "editors" / "mounts.sh"), str(root)], check=True)


def start_xvfb(root):
    """An X display inside the root: (the Xvfb process, ":N"). Our own Xvfb (xvfb-run raced
    once); -displayfd picks a free display number."""
    name = f"tmp/xvfb-{uuid.uuid4().hex}"
    display_file = root / name
    command = f"exec Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>/{name}"
    xvfb = subprocess.Popen(
        ["chroot", str(root), "sh", "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        if display_file.exists() and display_file.read_text().strip():
            break
        time.sleep(0.05)
    else:
        xvfb.kill()
        xvfb.wait()
        pytest.fail("Xvfb gave no display number within 10 s")
    display = ":" + display_file.read_text().strip()
    display_file.unlink()
    return xvfb, display


def free_address():
    """host:port of a loopback port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def wait_gone(address, seconds=15.0):
    """Whether the daemon at `address` stops answering within `seconds`."""
    from apprentice_client import Client

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            Client(address, timeout=1.0).get_info()
        except Exception:  # noqa: BLE001 (no answer: gone)
            return True
        time.sleep(0.3)
    return False
