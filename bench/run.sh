#!/usr/bin/env bash
# Builds the release binary and runs the benchmark harness (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lakeward
venv="${LAKEWARD_BENCH_VENV:-$HOME/.cache/lakeward-bench-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
LAKEWARD_BIN="${CARGO_TARGET_DIR:-target}/release/lakeward" exec "$venv/bin/python" bench/run.py "$@"
