"""Real Krita for the plug-in's end-to-end tests: a Debian root with the editors (tests/editors/make-root.sh,
run by tests/run.sh), the plug-in imported from its zip by Krita's own importer, an Xvfb display,
and the driver plug-in (tests/krita/driver) that paints and reports."""

import json
import pathlib
import shutil
import subprocess

import editors
import pytest

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
    """A fresh Krita profile with the plug-in imported from its zip, and the test driver."""
    base = root / INSIDE.lstrip("/")
    shutil.rmtree(base, ignore_errors=True)
    home, out = base / "home", base / "out"
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    pykrita.mkdir(parents=True)
    out.mkdir()
    subprocess.run(
        ["python3", str(REPO / "plugin-krita" / "build_zip.py"), "-o", str(base / "apprentice-krita.zip")], check=True
    )
    # Krita's own importer (Tools > Scripts > Import Python Plugin from File). Krita 5.3's takes
    # i18n from builtins that Krita provides; outside Krita, a stand-in.
    script = f"import builtins, runpy; builtins.i18n = str; runpy.run_path({IMPORTER!r}, run_name='__main__')"
    zip_inside, resources_inside = f"{INSIDE}/apprentice-krita.zip", f"{INSIDE}/home/.local/share/krita"
    importer = ["chroot", str(root), "python3", "-c", script, zip_inside, resources_inside]
    subprocess.run(importer, check=True, stdout=subprocess.DEVNULL)
    driver = REPO / "tests" / "krita" / "driver"
    shutil.copy(driver / "apprentice_e2e.desktop", pykrita)
    shutil.copytree(driver / "apprentice_e2e", pykrita / "apprentice_e2e")
    config = home / ".config"
    config.mkdir()
    (config / "kritarc").write_text(
        f"[python]\nenable_apprentice_krita=true\nenable_apprentice_e2e=true\n\n[apprentice]\naddress={address}\n"
    )
    # The QPainter canvas: no OpenGL needed under Xvfb.
    (config / "kritadisplayrc").write_text("[General]\nOpenGLRenderer=none\n")
    return out


def run_krita(root, address, continue_ops=12, timeout_s=300):
    """Runs Krita with the driver; returns (report dict, log text)."""
    require_root(root)
    out = install(root, address)
    runtime = root / "tmp" / "runtime-e2e"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    xvfb, display = editors.start_xvfb(root)
    try:
        env = [
            "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", f"HOME={INSIDE}/home",
            "XDG_RUNTIME_DIR=/tmp/runtime-e2e", f"DISPLAY={display}", f"APPRENTICE_E2E_OUT={INSIDE}/out",
            f"APPRENTICE_E2E_CONTINUE_OPS={continue_ops}", "PYTHONUNBUFFERED=1",
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
