#!/usr/bin/env bash
# Fetches the real data that `apprentice data` and `apprentice eval` read, at
# data-preparation time (none of it is committed), with the registries' own
# clients, at pinned versions checked against their SHA-256:
#
#   CACHE/hanzi-writer-data/package/十.json, …  npm `hanzi-writer-data`: about 9,500
#       Chinese characters, each its strokes in writing order (outlines and medians),
#       from Make Me a Hanzi (Arphic Public License)
#   CACHE/kanjivg/kanji/05341.svg, …            PyPI `kanjivg`: about 6,700 kanji (and
#       kana), each its strokes in writing order as SVG paths, drawn from handwriting:
#       a second source of stroke order (KanjiVG, © Ulrich Apel, CC BY-SA 3.0)
#   CACHE/skimage-photos/astronaut.png, …       the PNG sample pictures inside
#       scikit-image's wheel (skimage/data/; its three JPEGs are left out)
#   CACHE/wallpaper-photos/mate-Aqua.png, …     26 photographs (and a few paintings) of
#       Debian's desktop wallpapers, `mate-backgrounds` (nature/) and
#       `plasma-workspace-wallpapers`, as PNG with the shorter side at most 768 px: more
#       real pictures for the magic brush than scikit-image's 23 (GPL / LGPL / CC-BY-SA,
#       see each package's copyright file)
#
# Usage: daemon/scripts/fetch-data.sh [CACHE]      (CACHE defaults to ./data-cache)
# Needs npm, python3 (with pip; Pillow is installed when missing) and apt-get (Debian 12).
# Running it again reuses what is there.
set -euo pipefail

HANZI_VERSION=2.0.1
HANZI_SHA256=72baf3d82b114e60d6e40ea05f24d2262a05cd39d544e2f322ba2fceb7beff15
KANJIVG_VERSION=20260714
KANJIVG_SHA256=5190e7ec4eb513dbe6865b2ed52c58287fc10ea514b9409e4cf66ce7db41644d
SKIMAGE_VERSION=0.26.0
# One platform's wheel, whatever the machine, so every machine gets the same file.
SKIMAGE_WHEEL=scikit_image-0.26.0-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
SKIMAGE_SHA256=7df650e79031634ac90b11e64a9eedaf5a5e06fcd09bcd03a34be01745744466
MATE_DEB=mate-backgrounds_1.26.0-1_all.deb
MATE_SHA256=7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04
PLASMA_DEB=plasma-workspace-wallpapers_4%3a5.27.5-2_all.deb
PLASMA_SHA256=32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b
# Plasma's wallpapers that are photographs or paintings (the rest are flat vector art).
PLASMA_PICTURES="Altai Autumn BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Grey Kite MilkyWay OneStandsOut PastelHills Path summer_1am"

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

if [ ! -d "$cache/kanjivg" ]; then
    wheel="$cache/downloads/kanjivg-$KANJIVG_VERSION-py3-none-any.whl"
    [ -f "$wheel" ] || python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: "kanjivg==$KANJIVG_VERSION" -d "$cache/downloads"
    check "$wheel" "$KANJIVG_SHA256"
    rm -rf "$cache/kanjivg.part"
    mkdir "$cache/kanjivg.part"
    # The wheel is a zip of kanji/*.svg and its licence; nothing in it is run.
    python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("kanji/")])' \
        "$wheel" "$cache/kanjivg.part"
    mv "$cache/kanjivg.part" "$cache/kanjivg"
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

if [ ! -d "$cache/wallpaper-photos" ]; then
    for pair in "mate-backgrounds=1.26.0-1 $MATE_DEB $MATE_SHA256" \
        "plasma-workspace-wallpapers=4:5.27.5-2 $PLASMA_DEB $PLASMA_SHA256"; do
        read -r spec deb sha <<<"$pair"
        if [ ! -f "$cache/downloads/$deb" ]; then
            (cd "$cache/downloads" && apt-get download -q "$spec" 2>/dev/null) || {
                echo "error: apt-get download $spec failed (run 'apt-get update' first?)" >&2
                exit 1
            }
        fi
        check "$cache/downloads/$deb" "$sha"
    done
    python3 -c 'import PIL' 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check 'pillow>=10'
    rm -rf "$cache/wallpaper-photos.part" "$cache/downloads/debs"
    mkdir -p "$cache/wallpaper-photos.part" "$cache/downloads/debs"
    dpkg-deb -x "$cache/downloads/$MATE_DEB" "$cache/downloads/debs"
    dpkg-deb -x "$cache/downloads/$PLASMA_DEB" "$cache/downloads/debs"
    # shellcheck disable=SC2086 # the wallpapers' names, one word each
    python3 - "$cache/downloads/debs/usr/share" "$cache/wallpaper-photos.part" $PLASMA_PICTURES <<'EOF'
import glob
import os
import sys

from PIL import Image

share, out, plasma = sys.argv[1], sys.argv[2], sys.argv[3:]
pictures = {
    f"mate-{os.path.splitext(os.path.basename(f))[0]}": f
    for f in glob.glob(f"{share}/backgrounds/mate/nature/*.jpg")
}
for name in plasma:
    # The largest of each wallpaper's sizes (the smaller ones are empty links in the package).
    sizes = glob.glob(f"{share}/wallpapers/{name}/contents/images/*")
    pictures[f"plasma-{name}"] = max(sizes, key=os.path.getsize)
for name, path in sorted(pictures.items()):
    img = Image.open(path).convert("RGB")
    scale = 768 / min(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    img.save(os.path.join(out, name + ".png"))
EOF
    rm -rf "$cache/downloads/debs"
    mv "$cache/wallpaper-photos.part" "$cache/wallpaper-photos"
fi

echo "characters: $(find "$cache/hanzi-writer-data/package" -name '*.json' ! -name package.json | wc -l) character files in $cache/hanzi-writer-data"
echo "kanji: $(find "$cache/kanjivg/kanji" -name '*.svg' | wc -l) stroke files in $cache/kanjivg"
echo "photographs: $(find "$cache/skimage-photos" -name '*.png' | wc -l) PNGs in $cache/skimage-photos"
echo "wallpapers: $(find "$cache/wallpaper-photos" -name '*.png' | wc -l) PNGs in $cache/wallpaper-photos"
