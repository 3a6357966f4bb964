"""Real GIMP 3 for the plug-in's end-to-end tests: the editors' Debian roots (editors.py), a fresh
GIMP profile with the plug-in put in place by `apprentice install gimp`, and
the driver (tests/gimp/driver.py) run by gimp-console's Python batch interpreter."""

import json
import shutil
import subprocess

import editors
import pytest
from conftest import daemon_binary

INSIDE = "/opt/apprentice-gimp-e2e"  # the test's folder, as GIMP sees it
GIMP = {"trixie": "3.0", "forky": "3.2"}


def run_gimp(root, params, timeout_s=300, window=False, binary_inside=False):
    """Runs the driver in GIMP with `params` (scenarios, address, inputs as paths inside the
    folder); returns (report dict, the folder on this side, GIMP's output). `window`: GIMP with
    its window, on an Xvfb display (gimp-console has none)."""
    editors.require(root, "usr/bin/gimp-console")
    base = root / INSIDE.lstrip("/")
    shutil.rmtree(base, ignore_errors=True)
    (base / "profile").mkdir(parents=True)
    # The painter's way: the plug-in inside the binary, put in place by `apprentice install`;
    # with `binary_inside`, the binary is copied into the root and installs from there (the
    # plug-in then finds it to start the daemon).
    if binary_inside:
        (base / "bin").mkdir()
        shutil.copy(daemon_binary(), base / "bin" / "apprentice")
        env = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={INSIDE}"]
        install = [
            "chroot",
            str(root),
            *env,
            f"{INSIDE}/bin/apprentice",
            "install",
            "gimp",
            "--profile",
            f"{INSIDE}/profile",
        ]
    else:
        install = [daemon_binary(), "install", "gimp", "--profile", str(base / "profile")]
    subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
    shutil.copy(editors.REPO / "tests" / "gimp" / "driver.py", base / "driver.py")
    for key, path in params.get("files", {}).items():  # inputs from this side, copied in
        shutil.copy(path, base / f"{key}.png")
        params[key] = f"{INSIDE}/{key}.png"
    params.pop("files", None)
    (base / "params.json").write_text(json.dumps(params))
    (base / "profile" / "gimprc").write_text("(show-welcome-dialog no)\n")  # its window would take the keys
    env = [
        "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", f"HOME={INSIDE}",
        f"GIMP3_DIRECTORY={INSIDE}/profile", f"APPRENTICE_E2E_PARAMS={INSIDE}/params.json", "PYTHONUNBUFFERED=1",
    ]  # fmt: skip
    batch = f'exec(open("{INSIDE}/driver.py").read())'
    gimp = ["gimp-console-3", "-i"]
    xvfb = None
    if window:
        xvfb, display = editors.start_xvfb(root)
        runtime = root / "tmp" / "runtime-gimp-e2e"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        env += [f"DISPLAY={display}", "XDG_RUNTIME_DIR=/tmp/runtime-gimp-e2e"]
        gimp = ["gimp-3", "--no-splash"]
    try:
        proc = subprocess.run(
            ["chroot", str(root), *env, "timeout", str(timeout_s), *gimp, "--batch-interpreter", "python-fu-eval",
             "-b", batch, "--quit"],
            check=False,  # the report says what happened
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s + 30,
        )  # fmt: skip
    finally:
        if xvfb is not None:
            xvfb.kill()
            xvfb.wait()
    log = proc.stdout.decode("utf-8", "replace")
    report_path = base / "out" / "report.json"
    if not report_path.exists():
        pytest.fail(f"GIMP exited {proc.returncode} without a report; its output:\n{log[-6000:]}")
    report = json.loads(report_path.read_text())
    if "error" in report:
        pytest.fail(f"the driver failed in GIMP:\n{report['error']}\n{log[-4000:]}")
    return report, base, log


def inside(base, path_inside):
    """A file GIMP wrote, on this side."""
    return base / path_inside[len(INSIDE) + 1 :]
