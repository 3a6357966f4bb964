#!/usr/bin/env bash
# Builds apprentice with the CUDA back-end where no CUDA toolkit is installed: the compiler
# (nvcc), headers and libraries come from NVIDIA's wheels on PyPI.
#
#   daemon/scripts/build-cuda.sh [--cuda 13.0] [--arch 90] [--toolkit DIR] [CARGO BUILD ARGS...]
#
# --cuda picks the toolkit release, 13.0 or newer (the driver must be at least as new:
# `nvidia-smi` says which CUDA it supports), --arch the GPU's compute capability without the
# dot (90: H100/H200, 89: RTX 40, 86: RTX 30, 80: A100), --toolkit where the wheels are unpacked
# (~/.cache/apprentice/cuda-RELEASE). The binary links the driver's libcuda.so.1 and the
# toolkit's cuBLAS, cuRAND, NVRTC and runtime: run it with the toolkit's lib folder in
# LD_LIBRARY_PATH (printed at the end) unless the system has those libraries. On a machine
# with no driver (a build machine), linking uses a stub libcuda.so made here from the
# driver functions cudarc declares; the real driver's libcuda.so.1 is loaded where it runs.
set -euo pipefail
cuda=13.0
arch=90
toolkit=
while [ $# -gt 0 ]; do
    case $1 in
        --cuda) cuda=$2; shift 2 ;;
        --arch) arch=$2; shift 2 ;;
        --toolkit) toolkit=$2; shift 2 ;;
        *) break ;;
    esac
done
major=${cuda%%.*}
if [ "$major" -lt 13 ]; then
    # Before 13, NVIDIA's wheels carry a -cu12/-cu11 suffix and another layout.
    echo "--cuda $cuda: this script fetches CUDA 13 or newer (a driver of 580 or newer); for older" \
        "drivers install the CUDA toolkit and run: cargo build --release --features cuda" >&2
    exit 2
fi
toolkit=${toolkit:-$HOME/.cache/apprentice/cuda-$cuda}
root=$toolkit/nvidia/cu$major
cd "$(dirname "$0")/../.."

if [ ! -x "$root/bin/nvcc" ]; then
    mkdir -p "$toolkit/wheels"
    # nvcc, its back-end (nvvm, crt), headers (cccl) and the libraries candle links.
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d "$toolkit/wheels" \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 \
        --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
        "nvidia-cuda-nvcc==$cuda.*" "nvidia-cuda-runtime==$cuda.*" "nvidia-cuda-nvrtc==$cuda.*" \
        "nvidia-cuda-cccl==$cuda.*" "nvidia-nvvm==$cuda.*" "nvidia-cuda-crt==$cuda.*" \
        "nvidia-cublas==$cuda.*" "nvidia-curand"
    for wheel in "$toolkit"/wheels/*.whl; do
        python3 -m zipfile -e "$wheel" "$toolkit"
    done
    chmod +x "$root"/bin/* "$root"/nvvm/bin/*
fi
"$root/bin/nvcc" --version | tail -2

# The linker asks for the unversioned names.
for lib in "$root"/lib/lib*.so.*; do
    base=${lib%%.so.*}.so
    [ -e "$base" ] || ln -s "$(basename "$lib")" "$base"
done
driver=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / {print $NF; exit}')
if [ -n "$driver" ]; then
    ln -sf "$driver" "$root/lib/libcuda.so"
else
    cargo fetch --quiet
    registry=$(cargo metadata --format-version 1 | python3 -c \
        "import json,sys; print(next(p['manifest_path'] for p in json.load(sys.stdin)['packages'] if p['name'] == 'candle-core'))")
    cudarc=$(dirname "$(dirname "$registry")")/cudarc-*/src/driver/sys/mod.rs
    # shellcheck disable=SC2086 # the glob picks the one cudarc in the registry
    grep -ohE '(fn |link_name = ")cu[A-Za-z0-9_]+' $cudarc | sed -E 's/^(fn |link_name = ")//' | sort -u |
        awk '{print "void " $1 "(void) {}"}' > "$toolkit/libcuda-stub.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" "$toolkit/libcuda-stub.c"
    echo "no driver here: linked against a stub libcuda.so (the binary runs where a driver is installed)"
fi

export PATH=$root/bin:$PATH CUDA_HOME=$root CUDA_PATH=$root CUDA_COMPUTE_CAP=$arch LIBRARY_PATH=$root/lib
cargo build --release --features cuda -p apprentice "$@"
echo "built with CUDA $cuda for sm_$arch; run with: LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
