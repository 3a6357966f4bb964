#!/usr/bin/env python3
"""Installs the Apprentice plug-in into GIMP 3: copies the apprentice-gimp folder, with the
daemon's client inside it, into the plug-ins folder of every GIMP 3 profile found (or the one
given), so that GIMP finds Filters ▸ Apprentice at its next start.

    python3 plugin-gimp/install.py                 # every GIMP 3.x profile of this user
    python3 plugin-gimp/install.py --profile DIR   # one profile folder (e.g. ~/.config/GIMP/3.0)
    python3 plugin-gimp/install.py --list          # where it would go, and installs nothing
    python3 plugin-gimp/install.py --uninstall     # takes it out again

Profiles are looked for where GIMP 3.0 and 3.2 keep them: $GIMP3_DIRECTORY; on Linux
~/.config/GIMP/3.x (and Flatpak's and Snap's); on macOS ~/Library/Application Support/GIMP/3.x;
on Windows %APPDATA%\\GIMP\\3.x.
"""

import argparse
import os
import pathlib
import shutil
import stat
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
NAME = "apprentice-gimp"
PLUGIN = HERE / NAME
CLIENT = HERE.parent / "proto" / "python" / "apprentice_client"


def profile_bases(env=None, home=None, platform=None):
    """The folders that hold GIMP's versioned profile folders, for this platform."""
    env = os.environ if env is None else env
    home = pathlib.Path(home or pathlib.Path.home())
    platform = platform or sys.platform
    if platform.startswith("win"):
        return [pathlib.Path(env["APPDATA"]) / "GIMP"] if env.get("APPDATA") else []
    if platform == "darwin":
        return [home / "Library" / "Application Support" / "GIMP"]
    config = pathlib.Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [
        config / "GIMP",
        home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP",  # Flatpak
        home / "snap" / "gimp" / "current" / ".config" / "GIMP",  # Snap
    ]


def profiles(env=None, home=None, platform=None):
    """GIMP 3 profile folders that exist: $GIMP3_DIRECTORY, else every 3.x under the bases."""
    env = os.environ if env is None else env
    if env.get("GIMP3_DIRECTORY"):
        return [pathlib.Path(env["GIMP3_DIRECTORY"])]
    found = []
    for base in profile_bases(env, home, platform):
        if base.is_dir():
            found += sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith("3."))
    return found


def files():
    """(path in the plug-in folder, path on disk)."""
    for path in sorted(PLUGIN.rglob("*.py")):
        yield path.relative_to(PLUGIN), path
    for path in sorted(CLIENT.glob("*.py")):
        yield pathlib.Path("apprentice_client") / path.name, path


def install(profile):
    """Puts the plug-in into `profile`/plug-ins; returns its folder. A copy made before is replaced
    as a whole (written beside it first, so a failure leaves the old one working)."""
    plug_ins = pathlib.Path(profile) / "plug-ins"
    plug_ins.mkdir(parents=True, exist_ok=True)
    target = plug_ins / NAME
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=plug_ins))
    for relative, source in files():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging / relative)
    main = staging / f"{NAME}.py"
    main.chmod(main.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)  # GIMP runs it
    staging.chmod(0o755)
    if target.exists():
        old = plug_ins / f".{NAME}-old"
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    return target


def uninstall(profile):
    target = pathlib.Path(profile) / "plug-ins" / NAME
    if target.exists():
        shutil.rmtree(target)
        return target
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=pathlib.Path, action="append", help="a GIMP 3 profile folder")
    parser.add_argument("--list", action="store_true", help="say where it would go; install nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove the plug-in")
    args = parser.parse_args()
    targets = args.profile or profiles()
    if not targets:
        looked = ", ".join(str(b) for b in profile_bases())
        sys.exit(
            f"install.py: no GIMP 3 profile found (looked in {looked}): start GIMP 3 once, "
            "or give the profile folder with --profile"
        )
    for profile in targets:
        if args.list:
            print(pathlib.Path(profile) / "plug-ins" / NAME)
        elif args.uninstall:
            removed = uninstall(profile)
            print(f"removed {removed}" if removed else f"nothing to remove in {profile}")
        else:
            print(f"installed {install(profile)}; restart GIMP, then see Filters ▸ Apprentice")


if __name__ == "__main__":
    main()
