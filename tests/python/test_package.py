"""The packages (daemon/scripts/package.sh): a Debian package and a release archive. The package
goes into the editors' Debian root, and a painter's first run follows with nothing else: the
packaged `apprentice install krita`, Krita opened, the plug-in starting the daemon by itself, a
stroke painted and Continue — and the daemon gone when Krita quits."""

import os
import pathlib
import subprocess
import tarfile

import editors
import krita_env
import pytest
from conftest import REPO, daemon_binary


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ)
    # The test's binary is the one packaged: built where it was built.
    env.setdefault("CARGO_TARGET_DIR", str(pathlib.Path(daemon_binary()).parents[1]))
    made = subprocess.run(
        ["bash", str(REPO / "daemon" / "scripts" / "package.sh"), str(out)],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return {
        "deb": next(p for p in made if p.endswith(".deb")),
        "archive": next(p for p in made if p.endswith(".tar.gz")),
    }


def test_the_release_archive_holds_the_binary_and_the_readme(packages):
    with tarfile.open(packages["archive"]) as tar:
        names = sorted(m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name)
    assert {"apprentice", "README.md"} <= set(names), names


def test_the_debian_package_installs_and_a_painter_paints_with_it_in_krita(packages):
    root = krita_env.ROOTS["5.2"]
    editors.require(root, "usr/bin/krita")
    contents = subprocess.run(["dpkg-deb", "--contents", packages["deb"]], check=True, capture_output=True, text=True)
    for path in ("usr/bin/apprentice", "man1/apprentice.1.gz", "completions/apprentice", "_apprentice"):
        assert path in contents.stdout, path
    inside = "/tmp/" + os.path.basename(packages["deb"])
    subprocess.run(["cp", packages["deb"], str(root / inside.lstrip("/"))], check=True)
    run = ["chroot", str(root), "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    try:
        subprocess.run([*run, "dpkg", "-i", inside], check=True, capture_output=True)
        info = subprocess.run([*run, "apprentice", "info"], check=True, capture_output=True, text=True)
        assert info.stdout.startswith("apprentice ") and "models:" in info.stdout, info.stdout
        address = editors.free_address()
        report, log, base = krita_env.run_krita_managed(root, address, binary="/usr/bin/apprentice")
        m = report.get("managed", {})
        assert report.get("ok"), f"{report.get('error')}\n{log[-4000:]}"
        assert m["connected"] and m["started"], m
        assert m["error"] is None and m["painted"] == 3, m
        assert m["sent"] == 4, "the painter's stroke and the three ops Continue painted"
        # The log the docker offers is the daemon's, and the daemon is the package's.
        daemon_log = (base / m["log"][len(krita_env.MANAGED) + 1 :]).read_text()
        assert "/usr/bin/apprentice serve --address " + address in daemon_log
        assert "apprentice listening on " + address in daemon_log
        assert editors.wait_gone(address), "the daemon Krita started still answers after Krita quit"
    finally:
        subprocess.run([*run, "dpkg", "-r", "apprentice"], check=False, capture_output=True)
        (root / inside.lstrip("/")).unlink(missing_ok=True)
