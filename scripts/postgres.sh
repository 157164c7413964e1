#!/usr/bin/env bash
# A PostgreSQL server on loopback for the tests of the PostgreSQL metadata store.
#
#   scripts/postgres.sh [start]   install Debian's postgresql if missing, initialise a
#                                 cluster in the state folder and start it (reused when it
#                                 already answers), print `export NAME=value` lines
#   scripts/postgres.sh env       only print those lines
#   scripts/postgres.sh stop      stop it
#
# Use: eval "$(scripts/postgres.sh)". Progress goes to stderr, the exports to stdout:
# LAKEWARD_TEST_POSTGRES_URL, a database the tests may create and drop databases beside.
# The server runs as the `postgres` user when started by root (PostgreSQL refuses root).
#
# Settings (environment):
#   LAKEWARD_POSTGRES_STATE   the cluster and its log (${TMPDIR:-/tmp}/lakeward-postgres)
#   LAKEWARD_POSTGRES_PORT    55432
set -euo pipefail

state="${LAKEWARD_POSTGRES_STATE:-${TMPDIR:-/tmp}/lakeward-postgres}"
port="${LAKEWARD_POSTGRES_PORT:-55432}"
password=lakeward-tests

log() { echo "postgres: $*" >&2; }

bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    echo "$dir"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

answers() {
    local bin
    bin=$(bin_dir)
    [ -n "$bin" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null
}

print_env() {
    echo "export LAKEWARD_TEST_POSTGRES_URL=postgres://lakeward:$password@127.0.0.1:$port/lakeward"
}

install() {
    if [ -n "$(bin_dir)" ]; then
        return
    fi
    log "installing Debian's postgresql"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
}

start() {
    install
    if answers; then
        log "already answering on 127.0.0.1:$port"
        return
    fi
    local bin
    bin=$(bin_dir)
    mkdir -p "$state"
    [ "$(id -u)" = 0 ] && chown postgres "$state"
    if [ ! -f "$state/data/PG_VERSION" ]; then
        log "initialising a cluster in $state/data"
        as_owner "'$bin/initdb' -D '$state/data' -U postgres --auth=trust -E UTF8 >'$state/initdb.log' 2>&1"
    fi
    log "starting on 127.0.0.1:$port (log $state/postgres.log)"
    as_owner "'$bin/pg_ctl' -D '$state/data' -l '$state/postgres.log' -w -t 60 \
        -o \"-c listen_addresses=127.0.0.1 -p $port -k '$state' -c max_connections=300 -c fsync=off\" start >&2"
    as_owner "'$bin/psql' -h 127.0.0.1 -p $port -U postgres -qAt -c \
        \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lakeward') THEN \
          CREATE ROLE lakeward LOGIN CREATEDB PASSWORD '$password'; END IF; END \\\$\\\$;\" >&2"
    if ! as_owner "'$bin/psql' -h 127.0.0.1 -p $port -U postgres -qAt -c \"SELECT 1 FROM pg_database WHERE datname = 'lakeward'\"" | grep -q 1; then
        as_owner "'$bin/createdb' -h 127.0.0.1 -p $port -U postgres -O lakeward lakeward"
    fi
    log "answers"
}

case "${1:-start}" in
    start)
        start
        print_env
        ;;
    env)
        print_env
        ;;
    stop)
        if [ -f "$state/data/postmaster.pid" ]; then
            as_owner "'$(bin_dir)/pg_ctl' -D '$state/data' -m fast stop >&2" || true
        fi
        ;;
    *)
        echo "usage: $0 [start|env|stop]" >&2
        exit 2
        ;;
esac
