#!/usr/bin/env bash
# The web console (console/): its build and its browser tests.
#   scripts/console.sh build      rebuild the committed copy in crates/server/assets/console
#   scripts/console.sh check      type-check, rebuild into a temporary folder and compare with
#                                 the committed copy (what the binary embeds must be what the
#                                 sources build)
#   scripts/console.sh e2e BIN    end-to-end tests in headless Chromium against the server BIN
# Installs the pinned npm packages (package-lock.json) and, for e2e, Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/../console"

npm ci --no-audit --no-fund --loglevel=error >/dev/null

case "${1:-}" in
build)
    node build.mjs
    ;;
check)
    npx tsc --noEmit
    fresh="$(mktemp -d)"
    trap 'rm -rf "$fresh"' EXIT
    node build.mjs "$fresh" >/dev/null
    committed=../crates/server/assets/console
    # The same files, byte for byte; gzipped copies are compared by what they unpack to
    # (another zlib may pack the same bytes differently).
    diff <(cd "$fresh" && find . -type f | sort) <(cd "$committed" && find . -type f | sort) ||
        { echo "the committed console build has other files than a fresh build: run scripts/console.sh build" >&2; exit 1; }
    while IFS= read -r file; do
        case "$file" in
        *.gz) cmp -s <(gzip -dc "$fresh/$file") <(gzip -dc "$committed/$file") ;;
        *) cmp -s "$fresh/$file" "$committed/$file" ;;
        esac || { echo "$file differs from a fresh build: run scripts/console.sh build" >&2; exit 1; }
    done < <(cd "$fresh" && find . -type f)
    echo "console: the committed build matches the sources"
    ;;
e2e)
    bin="$(realpath "${2:?the server binary}")"
    if ! command -v chromium >/dev/null 2>&1; then
        echo "installing Debian's chromium" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
    LAKEWARD_BIN="$bin" node --test --test-reporter=spec e2e/
    ;;
*)
    echo "usage: scripts/console.sh build|check|e2e BIN" >&2
    exit 2
    ;;
esac
