#!/usr/bin/env bash
# The object-store emulators of the interop tests, on loopback:
#   S3:    moto (PyPI `moto[server]`, pinned in tests/interop/requirements-emulators.txt)
#   Azure: Azurite's blob service (npm `azurite`, pinned below)
#
#   scripts/emulators.sh [start]   install what is missing, start what is not running, wait
#                                  until both answer, print `export NAME=value` lines
#   scripts/emulators.sh env       only print those lines
#   scripts/emulators.sh status    say what runs
#   scripts/emulators.sh stop      stop both (by the PIDs in the state folder)
#
# Use: eval "$(scripts/emulators.sh)". Progress goes to stderr, the exports to stdout.
# Idempotent: an emulator already answering on its port is reused. A bucket and a container,
# both named $LAKEWARD_TEST_BUCKET (default `lakeward`), are created.
#
# moto checks credentials, as S3 does: by default it accepts any key, so a test of wrong
# credentials could not fail. Setup creates an IAM user with an s3:* policy and an access
# key (kept in the state folder, exported as LAKEWARD_TEST_S3_ACCESS_KEY_ID/SECRET), then
# switches moto's authentication on (`POST /moto-api/reset-auth` with 0: every later
# request must be signed by a known key with the right secret).
#
# Settings (environment):
#   LAKEWARD_EMULATOR_VENV   venv for moto and the Python clients ($HOME/.cache/lakeward-emulator-venv)
#   LAKEWARD_AZURITE_DIR     npm prefix for Azurite ($HOME/.cache/lakeward-azurite)
#   LAKEWARD_EMULATOR_STATE  PID files, logs, Azurite's data (${TMPDIR:-/tmp}/lakeward-emulators)
#   LAKEWARD_MOTO_PORT       5055
#   LAKEWARD_AZURITE_PORT    10055
#   LAKEWARD_TEST_BUCKET     lakeward
#
# moto keeps every object in its own process (parts and objects in unlinked temporary files
# under $TMPDIR, each CompleteMultipartUpload assembled in memory: about 4x the object's
# size at its peak, 4.3 GB for 1 GiB); stop it to give that back.
set -euo pipefail
cd "$(dirname "$0")/.."

AZURITE_VERSION=3.37.0
AZURITE_ACCOUNT=devstoreaccount1
# The well-known emulator key, public in Microsoft's documentation.
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

venv="${LAKEWARD_EMULATOR_VENV:-$HOME/.cache/lakeward-emulator-venv}"
azurite_dir="${LAKEWARD_AZURITE_DIR:-$HOME/.cache/lakeward-azurite}"
state="${LAKEWARD_EMULATOR_STATE:-${TMPDIR:-/tmp}/lakeward-emulators}"
moto_port="${LAKEWARD_MOTO_PORT:-5055}"
azurite_port="${LAKEWARD_AZURITE_PORT:-10055}"
bucket="${LAKEWARD_TEST_BUCKET:-lakeward}"
requirements=tests/interop/requirements-emulators.txt
timeout_s=60

moto_pidfile="$state/moto-$moto_port.pid"
moto_keys="$state/moto-$moto_port.keys"
azurite_pidfile="$state/azurite-$azurite_port.pid"

log() { echo "emulators: $*" >&2; }

# The `Server` header that answers on a port, or nothing when no server answers there.
server_header() {
    curl -s -o /dev/null -m 2 -D - "http://127.0.0.1:$1/" 2>/dev/null \
        | tr -d '\r' | awk 'tolower($1) == "server:" { $1 = ""; print substr($0, 2) }' | paste -sd' ' - || true
}
# Once authentication is on, moto answers unsigned requests to `/` with a 500 from
# Werkzeug; its own API (`/moto-api/data.json`) still answers anyone.
moto_answers() {
    local h; h="$(server_header "$moto_port")"
    [[ "$h" == *amazon.com* ]] || curl -sf -m 2 "http://127.0.0.1:$moto_port/moto-api/data.json" 2>/dev/null | grep -q '"s3"'
}
azurite_answers() { local h; h="$(server_header "$azurite_port")"; [[ "$h" == *Azurite-Blob* ]]; }
port_taken() { [ -n "$(server_header "$1")" ] || (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_moto() {
    if [ ! -x "$venv/bin/python" ]; then
        log "creating venv $venv"
        python3 -m venv "$venv"
    fi
    local stamp="$venv/.lakeward-requirements.sha256" sum
    sum="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        log "installing $requirements into $venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        echo "$sum" >"$stamp"
    fi
}

install_azurite() {
    local installed
    installed="$(node -p "require('$azurite_dir/node_modules/azurite/package.json').version" 2>/dev/null || true)"
    if [ "$installed" != "$AZURITE_VERSION" ]; then
        log "installing azurite@$AZURITE_VERSION into $azurite_dir"
        mkdir -p "$azurite_dir"
        npm install --prefix "$azurite_dir" --no-save --no-audit --no-fund --loglevel=error \
            "azurite@$AZURITE_VERSION" >&2
    fi
}

wait_for() { # name, check function, pidfile, logfile
    local deadline=$((SECONDS + timeout_s))
    until "$2"; do
        if ! alive "$3"; then
            log "$1 exited while starting; last lines of $4:"
            tail -n 20 "$4" >&2 || true
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$1 did not answer within ${timeout_s}s; see $4"
            exit 1
        fi
        sleep 0.2
    done
}

start_moto() {
    if moto_answers; then
        log "moto already answers on 127.0.0.1:$moto_port; reusing it"
        return
    fi
    if port_taken "$moto_port"; then
        log "port $moto_port is taken by something that is not moto; set LAKEWARD_MOTO_PORT"
        exit 1
    fi
    install_moto
    local logfile="$state/moto-$moto_port.log"
    log "starting moto on 127.0.0.1:$moto_port (log $logfile)"
    rm -f "$moto_keys"
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$logfile" 2>&1 </dev/null &
    echo $! >"$moto_pidfile"
    wait_for moto moto_answers "$moto_pidfile" "$logfile"
}

start_azurite() {
    if azurite_answers; then
        log "Azurite already answers on 127.0.0.1:$azurite_port; reusing it"
        return
    fi
    if port_taken "$azurite_port"; then
        log "port $azurite_port is taken by something that is not Azurite; set LAKEWARD_AZURITE_PORT"
        exit 1
    fi
    install_azurite
    local logfile="$state/azurite-$azurite_port.log" data="$state/azurite-$azurite_port-data"
    rm -rf "$data"
    mkdir -p "$data"
    log "starting Azurite (blob) on 127.0.0.1:$azurite_port (log $logfile, data $data)"
    nohup "$azurite_dir/node_modules/.bin/azurite-blob" \
        --blobHost 127.0.0.1 --blobPort "$azurite_port" --location "$data" \
        --skipApiVersionCheck --loose --disableTelemetry --silent \
        >"$logfile" 2>&1 </dev/null &
    echo $! >"$azurite_pidfile"
    wait_for Azurite azurite_answers "$azurite_pidfile" "$logfile"
}

# The bucket and the container of the tests (both calls succeed when they already exist),
# the test user's S3 key (created once per moto process), then moto's authentication on.
create_bucket_and_container() {
    install_moto
    "$venv/bin/python" - "$moto_port" "$azurite_port" "$bucket" "$AZURITE_ACCOUNT" "$AZURITE_KEY" "$moto_keys" <<'EOF'
import json
import os
import sys
import urllib.request

import boto3
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

moto_port, azurite_port, bucket, account, key, keys_file = sys.argv[1:]
endpoint = f"http://127.0.0.1:{moto_port}"


def moto_auth_after(count: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


moto_auth_after("inf")  # setup itself runs unauthenticated
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
if not os.path.exists(keys_file):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    user = "lakeward-tests"
    if user not in [u["UserName"] for u in iam.list_users()["Users"]]:
        iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    access_key = iam.create_access_key(UserName=user)["AccessKey"]
    with open(keys_file + ".tmp", "w") as out:
        out.write(f"{access_key['AccessKeyId']}\n{access_key['SecretAccessKey']}\n")
    os.replace(keys_file + ".tmp", keys_file)
moto_auth_after("0")
service = BlobServiceClient(f"http://127.0.0.1:{azurite_port}/{account}",
                            credential={"account_name": account, "account_key": key})
try:
    service.create_container(bucket)
except ResourceExistsError:
    pass
EOF
}

print_env() {
    local key_id=test secret=test
    if [ -f "$moto_keys" ]; then
        { read -r key_id; read -r secret; } <"$moto_keys"
    fi
    cat <<EOF
export LAKEWARD_TEST_S3_ENDPOINT=http://127.0.0.1:$moto_port
export LAKEWARD_TEST_S3_BUCKET=$bucket
export LAKEWARD_TEST_S3_REGION=us-east-1
export LAKEWARD_TEST_S3_ACCESS_KEY_ID=$key_id
export LAKEWARD_TEST_S3_SECRET_ACCESS_KEY='$secret'
export LAKEWARD_TEST_AZURITE_ENDPOINT=http://127.0.0.1:$azurite_port/$AZURITE_ACCOUNT
export LAKEWARD_TEST_AZURITE_CONTAINER=$bucket
export LAKEWARD_TEST_AZURITE_ACCOUNT=$AZURITE_ACCOUNT
export LAKEWARD_TEST_AZURITE_KEY='$AZURITE_KEY'
export LAKEWARD_EMULATOR_VENV=$venv
EOF
}

stop_one() { # name, pidfile
    if alive "$2"; then
        local pid
        pid="$(cat "$2")"
        log "stopping $1 (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    else
        log "$1 is not running from $2"
    fi
    rm -f "$2"
}

mkdir -p "$state"
case "${1:-start}" in
    start)
        start_moto
        start_azurite
        create_bucket_and_container
        log "both answer"
        print_env
        ;;
    env)
        print_env
        ;;
    status)
        moto_answers && echo "moto: answers on 127.0.0.1:$moto_port" || echo "moto: not answering on $moto_port"
        azurite_answers && echo "azurite: answers on 127.0.0.1:$azurite_port" || echo "azurite: not answering on $azurite_port"
        ;;
    stop)
        stop_one moto "$moto_pidfile"
        rm -f "$moto_keys"
        stop_one Azurite "$azurite_pidfile"
        rm -rf "$state/azurite-$azurite_port-data"
        ;;
    *)
        echo "usage: $0 [start|env|status|stop]" >&2
        exit 2
        ;;
esac
