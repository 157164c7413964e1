#!/usr/bin/env bash
# The whole test suite: unit and integration tests of every crate, with cargo-nextest.
# README.md and .ci/run both use exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "installing cargo-nextest" >&2
    cargo install --locked cargo-nextest
fi

cargo nextest run --workspace --no-fail-fast "$@"
