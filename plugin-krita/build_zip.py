#!/usr/bin/env python3
"""Builds the installable plug-in: a zip for Krita's Tools ▸ Scripts ▸ Import Python Plugin from File.

    python3 plugin-krita/build_zip.py            # -> dist/apprentice-krita.zip
    python3 plugin-krita/build_zip.py -o X.zip

The zip holds apprentice_krita.desktop, apprentice_krita.action (the shortcut) and the
apprentice_krita package, with the daemon's client
(proto/python/apprentice_client, standard library only) copied inside it: nothing else to install.
"""

import argparse
import pathlib
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
CLIENT = REPO / "proto" / "python" / "apprentice_client"


def files():
    """(path in the zip, path on disk), in a stable order."""
    yield "apprentice_krita.desktop", HERE / "apprentice_krita.desktop"
    yield "apprentice_krita.action", HERE / "apprentice_krita.action"  # menu entries and the shortcut
    for path in sorted((HERE / "apprentice_krita").glob("*.py")):
        yield f"apprentice_krita/{path.name}", path
    for path in sorted(CLIENT.glob("*.py")):
        yield f"apprentice_krita/apprentice_client/{path.name}", path


def build(out):
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        # Folder entries too: Krita's importer finds the package by its "apprentice_krita/" entry.
        for folder in ("apprentice_krita/", "apprentice_krita/apprentice_client/"):
            z.writestr(zipfile.ZipInfo(folder, date_time=(2026, 1, 1, 0, 0, 0)), b"")
        for name, path in files():
            # A fixed timestamp: the same sources give the same zip.
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=pathlib.Path, default=REPO / "dist" / "apprentice-krita.zip")
    out = build(parser.parse_args().out)
    print(out)


if __name__ == "__main__":
    main()
