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

# Real Krita and real GIMP for the plug-ins' end-to-end tests: Debian trixie's Krita 5.2.9 and
# GIMP 3.0, and forky's Krita 5.3 and GIMP 3.2, each in a root kept in ~/.cache between runs
# (a few minutes each the first time).
bash tests/editors/make-root.sh "${APPRENTICE_EDITORS_ROOT:-$HOME/.cache/apprentice/editors-trixie}" trixie
# forky is Debian testing: when it cannot be installed today, say so loudly and test trixie's only.
if ! bash tests/editors/make-root.sh "${APPRENTICE_EDITORS_FORKY_ROOT:-$HOME/.cache/apprentice/editors-forky}" forky; then
    echo "WARNING: no forky root (Debian forky could not be installed): the Krita 5.3 and GIMP 3.2 tests are left out" >&2
    export APPRENTICE_EDITORS_FORKY_ROOT=none
fi

# The Python clients (gRPC-Web on the standard library, and PyPI grpcio) and the Krita plug-in
# (its logic, then inside real Krita) against the real daemon.
cargo build --release -p apprentice --bin apprentice
APPRENTICE_BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/apprentice" \
    python3 -m pytest -q tests/python
