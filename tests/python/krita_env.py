"""Real Krita for the plug-in's end-to-end tests: a Debian root with the editors (tests/editors/make-root.sh,
run by tests/run.sh), the plug-in put in place by `apprentice install krita` (and, to compare, its
zip unpacked by Krita's own importer), an Xvfb display, and the driver plug-in (tests/krita/driver)
that paints and reports."""

import json
import os
import pathlib
import shutil
import subprocess

import editors
import pytest
from conftest import daemon_binary

REPO = pathlib.Path(__file__).resolve().parents[2]
# Krita 5.2.9 (Debian trixie: no painting API, so synthesized pen input) and 5.3 (forky: Node.paintPath).
ROOTS = {"5.2": editors.ROOTS["trixie"], "5.3": editors.ROOTS.get("forky")}
if ROOTS["5.3"] is None:  # tests/run.sh: forky could not be installed
    del ROOTS["5.3"]
INSIDE = "/opt/apprentice-e2e"  # the test's folder, as Krita sees it
IMPORTER = "/usr/share/krita/pykrita/plugin_importer/plugin_importer.py"


def require_root(root):
    editors.require(root, "usr/bin/krita")


def install(root, address):
    """A fresh Krita profile with the plug-in put in place by `apprentice install krita`, and the
    test driver."""
    base = root / INSIDE.lstrip("/")
    shutil.rmtree(base, ignore_errors=True)
    home, out = base / "home", base / "out"
    resources = home / ".local" / "share" / "krita"
    resources.mkdir(parents=True)
    out.mkdir()
    config = home / ".config"
    config.mkdir()
    # The test's own settings first; the install adds its switch beside them.
    (config / "kritarc").write_text(f"[python]\nenable_apprentice_e2e=true\n\n[apprentice]\naddress={address}\n")
    # The QPainter canvas: no OpenGL needed under Xvfb.
    (config / "kritadisplayrc").write_text("[General]\nOpenGLRenderer=none\n")
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run([daemon_binary(), "install", "krita"], env=env, check=True, stdout=subprocess.DEVNULL)
    driver = REPO / "tests" / "krita" / "driver"
    pykrita = resources / "pykrita"
    shutil.copy(driver / "apprentice_e2e.desktop", pykrita)
    shutil.copytree(driver / "apprentice_e2e", pykrita / "apprentice_e2e")
    return out


def import_zip(root, resources_inside):
    """Krita's own importer (Tools ▸ Scripts ▸ Import Python Plugin from File) unpacking the
    plug-in's zip into `resources_inside` (a folder inside the root): the by-hand install."""
    zip_path = root / resources_inside.lstrip("/") / "apprentice-krita.zip"
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", str(REPO / "plugin-krita" / "build_zip.py"), "-o", str(zip_path)], check=True)
    # Krita 5.3's importer takes i18n from builtins that Krita provides; outside Krita, a stand-in.
    script = f"import builtins, runpy; builtins.i18n = str; runpy.run_path({IMPORTER!r}, run_name='__main__')"
    zip_inside = f"{resources_inside}/apprentice-krita.zip"
    importer = ["chroot", str(root), "python3", "-c", script, zip_inside, resources_inside]
    subprocess.run(importer, check=True, stdout=subprocess.DEVNULL)
    zip_path.unlink()


def run_krita(root, address, continue_ops=12, timeout_s=300, scenario=None):
    """Runs Krita with the driver (its main run, or `scenario`); returns (report dict, log text)."""
    require_root(root)
    out = install(root, address)
    env = [f"APPRENTICE_E2E_CONTINUE_OPS={continue_ops}", f"APPRENTICE_E2E_TIMEOUT_MS={(timeout_s - 30) * 1000}"]
    if scenario:
        env.append(f"APPRENTICE_E2E_SCENARIO={scenario}")
    return launch(root, INSIDE, out, env, timeout_s)


MANAGED = "/opt/apprentice-managed"  # the managed-daemon test's folder, as Krita sees it


def run_krita_managed(root, address, binary=None, timeout_s=300):
    """Krita in a fresh profile where `apprentice install krita` ran inside the root — `binary`
    (a path inside the root, e.g. the installed package's), else the test's binary copied in —
    and no daemon runs at `address`: the plug-in must start one.
    Returns (report dict, log text, the folder on this side)."""
    require_root(root)
    base = root / MANAGED.lstrip("/")
    shutil.rmtree(base, ignore_errors=True)
    home, out, bin_dir = base / "home", base / "out", base / "bin"
    for d in (home / ".local" / "share" / "krita", home / ".config", out, bin_dir):
        d.mkdir(parents=True)
    if binary is None:
        shutil.copy(daemon_binary(), bin_dir / "apprentice")
        binary = f"{MANAGED}/bin/apprentice"
    (home / ".config" / "kritarc").write_text(
        f"[python]\nenable_apprentice_e2e=true\n\n[apprentice]\naddress={address}\n"
    )
    (home / ".config" / "kritadisplayrc").write_text("[General]\nOpenGLRenderer=none\n")
    # As a painter would: the binary's own install, run where Krita will find what it recorded.
    env = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={MANAGED}/home"]
    subprocess.run(["chroot", str(root), *env, binary, "install", "krita"], check=True)
    driver = REPO / "tests" / "krita" / "driver"
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    shutil.copy(driver / "apprentice_e2e.desktop", pykrita)
    shutil.copytree(driver / "apprentice_e2e", pykrita / "apprentice_e2e")
    report, log = launch(root, MANAGED, out, ["APPRENTICE_E2E_SCENARIO=managed"], timeout_s)
    return report, log, base


def launch(root, inside, out, extra_env, timeout_s):
    """Krita under Xvfb with HOME in `inside`/home and the driver's report going to `out`."""
    runtime = root / "tmp" / "runtime-e2e"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    xvfb, display = editors.start_xvfb(root)
    try:
        env = [
            "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", f"HOME={inside}/home",
            "XDG_RUNTIME_DIR=/tmp/runtime-e2e", f"DISPLAY={display}", f"APPRENTICE_E2E_OUT={inside}/out",
            "PYTHONUNBUFFERED=1", *extra_env,
        ]  # fmt: skip
        proc = subprocess.run(
            ["chroot", str(root), *env, "timeout", str(timeout_s), "krita", "--nosplash"],
            check=False,  # the report says what happened; the exit status alone does not
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s + 30,
        )
    finally:
        xvfb.kill()
        xvfb.wait()
    log = proc.stdout.decode("utf-8", "replace")
    report_path = out / "report.json"
    if not report_path.exists():
        pytest.fail(f"Krita exited {proc.returncode} without a report; its output:\n{log[-6000:]}")
    return json.loads(report_path.read_text()), log
