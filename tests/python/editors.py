"""The Debian roots that hold the real editors (tests/editors/make-root.sh, run by tests/run.sh):
trixie has Krita 5.2.9 and GIMP 3.0, forky Krita 5.3 and GIMP 3.2."""

import os
import pathlib
import subprocess

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
