#!/usr/bin/env bash
# Vendors the GraphiQL web IDE into crates/server/assets/graphiql/, from which the server
# embeds it in its binary: nothing is fetched at build or run time. Run by hand when
# upgrading; the copied files are committed. Needs only npm (the npm registry) and tar.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. graphiql 3.9.0 is the last 3.x; its package ships the prebuilt UMD
# bundle graphiql.min.js (+ graphiql.min.css), which needs no bundler: it reads the
# globals React and ReactDOM (graphql-js and codemirror are bundled inside). React 18.3.1
# is the last release whose package still has UMD builds (umd/*.production.min.js);
# React 19 dropped them, and graphiql 3.x supports React 16.8-18 only.
GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1
REACT_DOM_VERSION=18.3.1

DEST=crates/server/assets/graphiql

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# unpack NAME VERSION: npm pack the package into $tmp and unpack it to $tmp/NAME/package.
unpack() {
    local name="$1" version="$2" tarball
    tarball="$(cd "$tmp" && npm pack --silent "$name@$version" | tail -n 1)"
    mkdir -p "$tmp/$name"
    tar -xzf "$tmp/$tarball" -C "$tmp/$name"
}

unpack graphiql "$GRAPHIQL_VERSION"
unpack react "$REACT_VERSION"
unpack react-dom "$REACT_DOM_VERSION"

mkdir -p "$DEST"
cp "$tmp/graphiql/package/graphiql.min.js" "$DEST/graphiql.min.js"
cp "$tmp/graphiql/package/graphiql.min.css" "$DEST/graphiql.min.css"
cp "$tmp/react/package/umd/react.production.min.js" "$DEST/react.production.min.js"
cp "$tmp/react-dom/package/umd/react-dom.production.min.js" "$DEST/react-dom.production.min.js"
cp "$tmp/graphiql/package/LICENSE" "$DEST/LICENSE.graphiql"
cp "$tmp/react/package/LICENSE" "$DEST/LICENSE.react"
cp "$tmp/react-dom/package/LICENSE" "$DEST/LICENSE.react-dom"

echo "vendored graphiql@$GRAPHIQL_VERSION react@$REACT_VERSION react-dom@$REACT_DOM_VERSION into $DEST" >&2
