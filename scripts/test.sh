#!/usr/bin/env bash
# The whole test suite: every crate's unit and integration tests (cargo-nextest), then
# the interop tests, in which third-party clients (Python deltalake, DuckDB, Polars) read
# what the real server wrote, then the web console's tests in headless Chromium.
# README.md and .ci/run both use exactly this script; it installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "installing cargo-nextest" >&2
    cargo install --locked cargo-nextest
fi

# The web console the binary embeds must be what its sources build (fast; fails early).
scripts/console.sh check

# The S3 (moto) and Azure (Azurite) emulators on loopback, installed and started here;
# the storage tests need them, and stopping them is left to the end of this script.
eval "$(scripts/emulators.sh start)"
# PostgreSQL from Debian's packages on loopback, for the metadata-store tests on PostgreSQL.
eval "$(scripts/postgres.sh start)"
trap 'scripts/emulators.sh stop >/dev/null 2>&1 || true; scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT

cargo nextest run --workspace --no-fail-fast "$@"

# The data-plane tests a second time, with the warehouse on the S3 emulator (one test
# matrix: the same tests, another warehouse). Tests that look at the warehouse's local
# files are left out of this pass.
AWS_ENDPOINT_URL="$LAKEWARD_TEST_S3_ENDPOINT" AWS_ALLOW_HTTP=true AWS_REGION="$LAKEWARD_TEST_S3_REGION" \
    AWS_ACCESS_KEY_ID="$LAKEWARD_TEST_S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$LAKEWARD_TEST_S3_SECRET_ACCESS_KEY" \
    LAKEWARD_TEST_WAREHOUSE="s3://$LAKEWARD_TEST_S3_BUCKET/warehouse-tests" \
    cargo nextest run --workspace --no-fail-fast -E "package(lakeward-server) and ($(sed 's/.*/(&)/' scripts/s3-warehouse-tests.txt | paste -sd'|' | sed 's/|/ or /g'))"

# The server's tests a second time with their metadata on PostgreSQL (each test server on
# a database of its own): every endpoint behaves as on SQLite.
# Selected with `--workspace` and a filter, as above: `-p lakeward-server` alone would
# build another feature set and rebuild DataFusion and delta-rs.
LAKEWARD_TEST_METADATA_URL="$LAKEWARD_TEST_POSTGRES_URL" cargo nextest run --workspace --no-fail-fast -E "package(lakeward-server)"

# Interop: the binary the Rust tests just built, and pinned Python clients in a venv.
# Built with the tests' selection (`--workspace --tests`), so that it shares their feature
# set: `-p lakeward` alone would leave out the test clients' features and rebuild
# delta-rs and everything above it a second time.
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --workspace --tests
venv="${LAKEWARD_INTEROP_VENV:-$HOME/.cache/lakeward-interop-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
LAKEWARD_BIN="$target_dir/debug/lakeward" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/interop

# The web console in headless Chromium (Debian's), against the same binary, as a user goes
# through it; screenshots of each step are left in console/e2e/artifacts/.
scripts/console.sh e2e "$target_dir/debug/lakeward"
