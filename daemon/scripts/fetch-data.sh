#!/usr/bin/env bash
# Fetches the real data that `apprentice data` and `apprentice eval` read, at
# data-preparation time (none of it is committed), with the registries' own
# clients, at pinned versions checked against their SHA-256:
#
#   CACHE/hanzi-writer-data/package/十.json, …  npm `hanzi-writer-data`: about 9,500
#       Chinese characters, each its strokes in writing order (outlines and medians),
#       from Make Me a Hanzi (Arphic Public License)
#   CACHE/skimage-photos/astronaut.png, …       the PNG sample pictures inside
#       scikit-image's wheel (skimage/data/; its three JPEGs are left out)
#
# Usage: daemon/scripts/fetch-data.sh [CACHE]      (CACHE defaults to ./data-cache)
# Needs npm and python3 (with pip). Running it again reuses what is there.
set -euo pipefail

HANZI_VERSION=2.0.1
HANZI_SHA256=72baf3d82b114e60d6e40ea05f24d2262a05cd39d544e2f322ba2fceb7beff15
SKIMAGE_VERSION=0.26.0
# One platform's wheel, whatever the machine, so every machine gets the same file.
SKIMAGE_WHEEL=scikit_image-0.26.0-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
SKIMAGE_SHA256=7df650e79031634ac90b11e64a9eedaf5a5e06fcd09bcd03a34be01745744466

cache="${1:-data-cache}"
mkdir -p "$cache/downloads"
cache="$(cd "$cache" && pwd)"

check() { # FILE SHA256
    local got
    got="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1")"
    if [ "$got" != "$2" ]; then
        echo "error: $1: SHA-256 $got, expected $2" >&2
        exit 1
    fi
}

# Each result is unpacked beside its final name and renamed into place, so an
# interrupted run leaves nothing that a later run would take for finished.
if [ ! -d "$cache/hanzi-writer-data" ]; then
    tarball="$cache/downloads/hanzi-writer-data-$HANZI_VERSION.tgz"
    [ -f "$tarball" ] || (cd "$cache/downloads" && npm pack --silent "hanzi-writer-data@$HANZI_VERSION" >/dev/null)
    check "$tarball" "$HANZI_SHA256"
    rm -rf "$cache/hanzi-writer-data.part"
    mkdir "$cache/hanzi-writer-data.part"
    tar -xzf "$tarball" -C "$cache/hanzi-writer-data.part"
    mv "$cache/hanzi-writer-data.part" "$cache/hanzi-writer-data"
fi

if [ ! -d "$cache/skimage-photos" ]; then
    wheel="$cache/downloads/$SKIMAGE_WHEEL"
    [ -f "$wheel" ] || python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
        "scikit-image==$SKIMAGE_VERSION" -d "$cache/downloads"
    check "$wheel" "$SKIMAGE_SHA256"
    rm -rf "$cache/skimage-photos.part"
    # A wheel is a zip; take the PNGs of skimage/data/ and nothing else.
    python3 - "$wheel" "$cache/skimage-photos.part" <<'EOF'
import os
import sys
import zipfile

wheel, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        folder, base = os.path.split(name)
        if folder == "skimage/data" and base.lower().endswith(".png"):
            with open(os.path.join(out, base), "wb") as f:
                f.write(z.read(name))
EOF
    mv "$cache/skimage-photos.part" "$cache/skimage-photos"
fi

echo "characters: $(find "$cache/hanzi-writer-data/package" -name '*.json' ! -name package.json | wc -l) character files in $cache/hanzi-writer-data"
echo "photographs: $(find "$cache/skimage-photos" -name '*.png' | wc -l) PNGs in $cache/skimage-photos"
