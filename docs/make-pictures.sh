#!/usr/bin/env bash
# Makes the README's pictures of Continue painting, into docs/continue/:
#   still-life-before.png / still-life-after.png   examples/still-life.jsonl, and 50 ops more
#   still-life-continued.gif                       its timelapse (the picture, then the continuation)
#   photo-half.png / photo-continued.png           a photograph never trained on (scikit-image's
#   photo-finished.png                             "chelsea", held out by the split), painted by the
#                                                  teacher in 600 ops, cut at half, continued by 100;
#                                                  and where the teacher went
# Every run is seeded: the same binary and model make the same pictures.
# Usage: docs/make-pictures.sh      (builds the release binary; fetches the photographs if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p apprentice --bin apprentice
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/apprentice"
out=docs/continue
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

# The still life, continued at the defaults.
"$bin" replay examples/still-life.jsonl -o "$out/still-life-before.png"
"$bin" continue examples/still-life.jsonl --steps 50 --seed 1 -o "$tmp/still-life.jsonl" --png "$out/still-life-after.png"
"$bin" replay "$tmp/still-life.jsonl" -o "$tmp/still-life.png" --gif "$out/still-life-continued.gif" --gif-size 320

# A held-out photograph, half painted by the teacher, continued with no reference.
bash daemon/scripts/fetch-data.sh data-cache > /dev/null
python3 - "$tmp/chelsea.png" << 'PY'
import sys
from PIL import Image
img = Image.open("data-cache/skimage-photos/chelsea.png").convert("RGB")
side = min(img.size)
left, top = (img.width - side) // 2, (img.height - side) // 2
img.crop((left, top, left + side, top + side)).resize((256, 256), Image.LANCZOS).save(sys.argv[1])
PY
"$bin" paint "$tmp/chelsea.png" --painter teacher --ops 600 --seed 1 -o "$out/photo-finished.png" --history "$tmp/photo.jsonl"
head -n 301 "$tmp/photo.jsonl" > "$tmp/photo-half.jsonl" # the header and the first 300 ops
"$bin" replay "$tmp/photo-half.jsonl" -o "$out/photo-half.png"
"$bin" continue "$tmp/photo-half.jsonl" --steps 100 --seed 1 -o "$tmp/photo-continued.jsonl" --png "$out/photo-continued.png"
echo "wrote $(ls "$out" | wc -l) pictures to $out"
