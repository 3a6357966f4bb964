#!/usr/bin/env bash
# The whole test suite: formatting and lints, unit and behaviour tests, the
# end-to-end tests against the real binary, and a smoke pass of the benches.
# Installs what it needs (ruff) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m ruff --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'ruff==0.17.*'
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
python3 -m ruff check .
python3 -m ruff format --check .
# --all-targets also runs the benches once in their short smoke mode.
cargo test --workspace --release --all-targets
