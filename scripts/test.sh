#!/usr/bin/env bash
# The whole test suite: every crate's unit and integration tests (cargo-nextest), then
# the interop tests, in which third-party clients (Python deltalake, DuckDB, Polars) read
# what the real server wrote. README.md and .ci/run both use exactly this script; it
# installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "installing cargo-nextest" >&2
    cargo install --locked cargo-nextest
fi

cargo nextest run --workspace --no-fail-fast "$@"

# Interop: the binary the Rust tests just built, and pinned Python clients in a venv.
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build -p lakeward
venv="${LAKEWARD_INTEROP_VENV:-$HOME/.cache/lakeward-interop-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
LAKEWARD_BIN="$target_dir/debug/lakeward" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/interop
