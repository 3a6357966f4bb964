#!/usr/bin/env bash
# The GPU check: what differs per device, run on a machine with an NVIDIA GPU.
#
#   daemon/scripts/gpu-check.sh BIN_DIR OUT_DIR [TRAIN_SECONDS]
#
# It runs the same jobs with `--device cpu` and `--device cuda` and compares them (a
# continuation at temperature 0 op by op, the magic brush pixel by pixel, next-stroke
# accuracy), runs the benches on the GPU, then trains the stroke transformer on the GPU for
# TRAIN_SECONDS (0, the default: no training; TRAIN_UNTIL, seconds since the epoch, sets an
# end instead), keeping the last four checkpoints (one every EVAL_EVERY steps, 500).
#
# BIN_DIR: `apprentice` and the `painters` and `brush` benches built with `--features cuda`
#   (`daemon/scripts/build-cuda.sh --bins --benches`, then target/release/apprentice and
#   target/release/deps/{painters,brush}-HASH copied under those names).
# OUT_DIR: at most eight files come back there: the magic brush's and search's pictures, the
#   checkpoints and their config.
# GPU_CHECK_DATA (gpu/data.tar.xz): an .xz tarball of hanzi-writer-data/ and skimage-photos/ as
#   `daemon/scripts/fetch-data.sh` makes them (the characters' `medians` alone will do), for
#   the next-stroke comparison and the training; without it they are left out.
# GPU_CHECK_DEVICE=cpu: a dry run of this script on a machine without a GPU.
# The CUDA libraries are looked for in LD_LIBRARY_PATH, then under /usr and /opt (a CUDA
# toolkit, or PyTorch's wheels).
set -uo pipefail
bin=$(realpath "$1")
out=$(realpath "$2")
train_seconds=${3:-0}
cd "$(dirname "$0")/../.."
app=$bin/apprentice
gpu=${GPU_CHECK_DEVICE:-cuda}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for lib in libcublas.so.13 libcuda.so.1; do
    if ! ldconfig -p | grep -q "$lib" && ! ls ${LD_LIBRARY_PATH//:/ } 2>/dev/null | grep -q "$lib"; then
        dir=$(find /usr /opt -name "$lib" -not -path '*/stubs/*' 2>/dev/null | head -1)
        [ -n "$dir" ] && export LD_LIBRARY_PATH=$(dirname "$dir")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    fi
done
nvidia-smi -L
if ldd "$app" | grep "not found"; then echo "missing libraries"; exit 1; fi
section() { echo; echo "== $*"; }
# Runs a command, its output through the filter FILTER (a shell snippet), and says how long it took.
timed() {
    local filter=$1 t0
    shift
    t0=$(date +%s%N)
    "$@" 2>&1 | eval "$filter"
    echo "   (${PIPESTATUS[0]}: exit status; $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

section info
"$app" info --device "$gpu"

section "continue, transformer alone, temperature 0, 300 ops: cpu against cuda"
for d in cpu "$gpu"; do
    timed "tail -1" "$app" continue examples/still-life.jsonl --steps 300 --temperature 0 --painter transformer \
        --device "$d" -o "$work/continue-$d.jsonl"
done
python3 - "$work" "$gpu" <<'EOF'
import json, sys
out = sys.argv[1]
a, b = ([json.loads(l) for l in open(f"{out}/continue-{d}.jsonl")] for d in ("cpu", sys.argv[2]))
same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
print(f"lines {len(a)} / {len(b)}; identical up to line {same}")
EOF

section "continue, search (the default painter), 100 ops on cuda"
timed "tail -2" "$app" continue examples/still-life.jsonl --steps 100 --device "$gpu" -o "$work/search-cuda.jsonl" \
    --png "$out/search-cuda.png"

section "magic brush, built-in model: cpu against cuda"
for d in cpu "$gpu"; do
    timed "tail -2" "$app" magic docs/continue/photo-half.png --path "60,60;190,120" --radius 40 --seed 3 \
        --device "$d" -o "$work/magic-$d.png"
done
cp "$work/magic-$gpu.png" "$out/"
python3 - "$work" "$gpu" <<'EOF'
import sys
import numpy as np
from PIL import Image
out = sys.argv[1]
a, b = (np.asarray(Image.open(f"{out}/magic-{d}.png").convert("RGB"), dtype=np.float64) / 255 for d in ("cpu", sys.argv[2]))
src = np.asarray(Image.open("docs/continue/photo-half.png").convert("RGB"), dtype=np.float64) / 255
mse = ((a - b) ** 2).mean()
psnr = 10 * np.log10(1 / mse) if mse > 0 else float("inf")
print(f"cpu vs {sys.argv[2]}: max diff {np.abs(a - b).max():.4f}, PSNR {psnr:.1f} dB; "
      f"changed from the input: cpu {(np.abs(a - src).max(-1) > 0).mean():.3f}, {sys.argv[2]} {(np.abs(b - src).max(-1) > 0).mean():.3f} of pixels")
EOF

mkdir -p $work/data
tar -xJf "${GPU_CHECK_DATA:-gpu/data.tar.xz}" -C $work/data 2>/dev/null
if [ -d $work/data/hanzi-writer-data ]; then
    section "next-stroke accuracy, 150 held-out characters, temperature 0: cpu against cuda"
    for d in cpu "$gpu"; do
        timed 'grep "^|\|accuracy"' "$app" eval --hanzi $work/data/hanzi-writer-data --characters 150 \
            --pictures 0 --continuation 0 --temperature 0 --device "$d"
    done
fi

if [ "${GPU_CHECK_BENCHES:-1}" = 1 ]; then
    section "benches on $gpu"
    timed cat timeout 150 "$bin/painters" --bench --device "$gpu"
    timed cat timeout 150 "$bin/brush" --bench --device "$gpu"
fi

# TRAIN_UNTIL (seconds since the epoch) trains until then instead: a lease's end.
until=${TRAIN_UNTIL:-$(( $(date +%s) + train_seconds ))}
if [ "$until" -gt "$(date +%s)" ] && [ -d $work/data/hanzi-writer-data ]; then
    section "training the stroke transformer on $gpu for $(( until - $(date +%s) )) s"
    photos=()
    [ -d $work/data/skimage-photos ] && photos=(--photos $work/data/skimage-photos)
    timed "tail -3" "$app" data --out $work/train --scenes 400 --hanzi $work/data/hanzi-writer-data \
        --augment 3 "${photos[@]}" --size 128 --ops 300 --seed 1
    model=$work/model/m.safetensors
    mkdir -p $work/model
    timeout $(( until - $(date +%s) )) "$app" train --data $work/train --init daemon/models/default.safetensors --grow \
        --out $model --steps 100000 --batch 32 --window 32 --reference-rate 0.5 --copy-character-share 0.5 \
        --lr 3e-4 --seed 5 --eval-every "${EVAL_EVERY:-500}" --device "$gpu" 2>&1 | grep -v "^$" &
    trainer=$!
    # Keep the last four checkpoints (the trainer writes the weights, then the config and progress).
    last=0
    while kill -0 $trainer 2>/dev/null; do
        sleep 3
        step=$(python3 -c "import json; print(json.load(open('$work/model/m.train.json'))['step'])" 2>/dev/null || echo 0)
        if [ "$step" != "$last" ]; then
            cp $model "$out/step$step.safetensors" && cp $work/model/m.json "$out/"
            ls "$out"/step*.safetensors | sort -V | head -n -4 | xargs -r rm
            echo "   checkpoint at step $step: $(tr -d ' \n' < $work/model/m.train.json)"
            last=$step
        fi
    done
fi
