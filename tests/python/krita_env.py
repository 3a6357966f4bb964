"""Real Krita for the plug-in's end-to-end tests: a Debian root with Krita (tests/krita/make-root.sh,
run by tests/run.sh), the plug-in installed from its zip, an Xvfb display, and the driver plug-in
(tests/krita/driver) that paints and reports."""

import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ROOT = pathlib.Path(
    os.environ.get("APPRENTICE_KRITA_ROOT", pathlib.Path.home() / ".cache" / "apprentice" / "krita-root")
)
INSIDE = "/opt/apprentice-e2e"  # the test's folder, as Krita sees it


def require_root():
    if not (ROOT / "usr" / "bin" / "krita").exists():
        pytest.fail(
            f"no Krita root at {ROOT}: make it with `tests/krita/make-root.sh` (as root; tests/run.sh does), "
            "or point APPRENTICE_KRITA_ROOT at one"
        )
    subprocess.run([str(REPO / "tests" / "krita" / "mounts.sh"), str(ROOT)], check=True)


def install(address, continue_ops):
    """A fresh Krita profile with the plug-in imported from its zip, and the test driver."""
    base = ROOT / INSIDE.lstrip("/")
    shutil.rmtree(base, ignore_errors=True)
    home, out = base / "home", base / "out"
    resources = home / ".local" / "share" / "krita"
    pykrita = resources / "pykrita"
    pykrita.mkdir(parents=True)
    out.mkdir()
    zip_path = base / "apprentice-krita.zip"
    subprocess.run(["python3", str(REPO / "plugin-krita" / "build_zip.py"), "-o", str(zip_path)], check=True)
    # Installed by Krita's own importer (Tools > Scripts > Import Python Plugin from File).
    importer = "/usr/share/krita/pykrita/plugin_importer/plugin_importer.py"
    subprocess.run(
        [
            "chroot",
            str(ROOT),
            "python3",
            importer,
            f"{INSIDE}/apprentice-krita.zip",
            f"{INSIDE}/home/.local/share/krita",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
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
    return base, out


def run_krita(address, continue_ops=12, timeout_s=300):
    """Runs Krita with the driver; returns (report dict, output folder on this side, log text)."""
    require_root()
    base, out = install(address, continue_ops)
    runtime = ROOT / "tmp" / "runtime-e2e"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    display_file = ROOT / "tmp" / "e2e-display"
    display_file.unlink(missing_ok=True)
    xvfb = subprocess.Popen(
        [
            "chroot",
            str(ROOT),
            "sh",
            "-c",
            "exec Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>/tmp/e2e-display",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if display_file.exists() and display_file.read_text().strip():
                break
            time.sleep(0.05)
        display = ":" + display_file.read_text().strip()
        env = [
            "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", f"HOME={INSIDE}/home",
            f"XDG_RUNTIME_DIR=/tmp/runtime-e2e", f"DISPLAY={display}", f"APPRENTICE_E2E_OUT={INSIDE}/out",
            f"APPRENTICE_E2E_CONTINUE_OPS={continue_ops}", "PYTHONUNBUFFERED=1",
        ]  # fmt: skip
        proc = subprocess.run(
            ["chroot", str(ROOT), *env, "timeout", str(timeout_s), "krita", "--nosplash"],
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
    report = json.loads(report_path.read_text())
    return report, out, log


def outside(path_inside):
    """A path Krita wrote (inside the root) as this side sees it."""
    return ROOT / path_inside.lstrip("/")
