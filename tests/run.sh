#!/usr/bin/env bash
# The whole test suite: formatting and lints, unit and behaviour tests, the
# end-to-end tests against the real binary, and a smoke pass of the benches.
# Installs what it needs (ruff, and the Python clients' test tools) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check 'ruff==0.17.*' -r tests/python/requirements.txt

# Debian's nginx for the load-balancer test (two daemons behind grpc_pass).
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nginx-light
fi
export PATH="$PATH:/usr/sbin"

cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
python3 -m ruff check .
python3 -m ruff format --check .
# --all-targets also runs the benches once in their short smoke mode.
cargo test --workspace --release --all-targets

# Real Krita for the plug-in's end-to-end tests: Debian trixie's 5.2.9 and forky's 5.3, each in a
# root kept in ~/.cache between runs (about a minute each the first time).
bash tests/krita/make-root.sh "${APPRENTICE_KRITA_ROOT:-$HOME/.cache/apprentice/krita-root}" trixie
# forky is Debian testing: when it cannot be installed today, say so loudly and test 5.2 only.
if ! bash tests/krita/make-root.sh "${APPRENTICE_KRITA53_ROOT:-$HOME/.cache/apprentice/krita-root-forky}" forky; then
    echo "WARNING: no Krita 5.3 root (Debian forky could not be installed): its tests are left out" >&2
    export APPRENTICE_KRITA53_ROOT=none
fi

# The Python clients (gRPC-Web on the standard library, and PyPI grpcio) and the Krita plug-in
# (its logic, then inside real Krita) against the real daemon.
cargo build --release -p apprentice --bin apprentice
APPRENTICE_BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/apprentice" \
    python3 -m pytest -q tests/python
