"""Issue 13: storage connections on the S3 emulator (moto, started by scripts/emulators.sh).

- discovery of 1,000 tables (10 schema folders of 100 tables): LIST requests per directory
  level and per folder (goal: 1 per folder), the first discovery (which registers them) and
  rediscovery (a walk that registers nothing), medians;
- object-store requests for a primary-key lookup on an S3 table whose state is cached and
  unchanged (goal: at most 2), counted in moto's request log, against Python `deltalake`
  opening the table and doing the same lookup;
- upload and download of a large object through the object browser, with the server's
  peak memory increase (goal: under 64 MB);
- import of the CSV into a warehouse on the emulator side by side with Python `deltalake`
  writing the same data to the same emulator (goal: within 1.2x).
"""

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import pyarrow.csv as pacsv
import requests
from deltalake import DeltaTable, write_deltalake
from deltalake._internal import DeltaFileSystemHandler

ENDPOINT = os.environ.get("LAKEWARD_TEST_S3_ENDPOINT", "")
BUCKET = os.environ.get("LAKEWARD_TEST_S3_BUCKET", "lakeward")
KEY_ID = os.environ.get("LAKEWARD_TEST_S3_ACCESS_KEY_ID", "test")
SECRET = os.environ.get("LAKEWARD_TEST_S3_SECRET_ACCESS_KEY", "test")
MOTO_LOG = Path(os.environ.get("LAKEWARD_EMULATOR_STATE", "/tmp/lakeward-emulators")) / "moto-5055.log"
OPTIONS = {
    "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1", "aws_conditional_put": "etag",
}
# A minimal commit: enough for a folder to be a Delta table root.
FIRST_COMMIT = (
    b'{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}\n'
    b'{"metaData":{"id":"00000000-0000-0000-0000-000000000000","format":{"provider":"parquet","options":{}},'
    b'"schemaString":"{\\"type\\":\\"struct\\",\\"fields\\":[{\\"name\\":\\"id\\",\\"type\\":\\"long\\",'
    b'\\"nullable\\":true,\\"metadata\\":{}}]}","partitionColumns":[],"configuration":{},"createdTime":0}}\n'
)


def moto_requests() -> int:
    """Requests moto has logged so far (one werkzeug line per request)."""
    try:
        return sum(1 for line in MOTO_LOG.read_text(errors="replace").splitlines() if '" 2' in line or '" 3' in line
                   or '" 4' in line or '" 5' in line)
    except FileNotFoundError:
        return -1


def counted(fn):
    """Runs `fn` and returns its result and the moto requests it caused (after moto's log settles)."""
    time.sleep(0.3)
    before = moto_requests()
    result = fn()
    time.sleep(0.3)
    return result, moto_requests() - before


def register(server, prefix: str, name: str, **extra) -> dict:
    body = {"accessKeyId": KEY_ID, "secretKey": SECRET, "region": "us-east-1", "bucketName": BUCKET,
            "endpoint": ENDPOINT, "basePath": prefix, "name": name, **extra}
    res = server.http.post(f"{server.base}/v1/storages/s3", json=body, timeout=3600)
    assert res.status_code == 201, res.text
    return res.json()


def storage(server, report, post_file, csv_path: Path, rows: int, object_mb: int, peak_rss_mb, current_rss_mb, repeat: int = 3):
    assert ENDPOINT, "run scripts/emulators.sh and export what it prints (LAKEWARD_TEST_S3_ENDPOINT)"
    run = uuid.uuid4().hex[:8]

    # Discovery of 1,000 tables.
    prefix = f"bench-{run}/discovery"
    handler = DeltaFileSystemHandler(f"s3://{BUCKET}/{prefix}", dict(OPTIONS))
    for s in range(10):
        for t in range(100):
            out = handler.open_output_stream(f"schema_{s}/table_{t:03}/_delta_log/00000000000000000000.json")
            out.write(FIRST_COMMIT)
            out.close()
    start = time.perf_counter()
    answer = register(server, prefix, f"disc-{run}")
    first_ms = (time.perf_counter() - start) * 1000
    discovery = answer["discovery"]
    assert len(discovery["registered"]) == 1000, discovery["message"]
    config_id = answer["config"]["id"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        res = server.http.get(f"{server.base}/v1/storages/tables?with_discovery=true&config_id={config_id}", timeout=3600)
        times.append((time.perf_counter() - start) * 1000)
        assert res.ok, res.text
    lists = discovery["listsPerLevel"]
    report("discover 1,000 tables (registers them)", first_ms, {}, "1 LIST per folder",
           extra=f"LISTs per level {lists} for folders per level [1, 10, 1000]")
    report("rediscover 1,000 tables (walk only)", statistics.median(times), {}, "1 LIST per folder")

    # A primary-key lookup on an S3 table whose state is cached and unchanged.
    table_prefix = f"bench-{run}/tables"
    conn = register(server, table_prefix, f"tables-{run}", discoverDelta=False)
    catalog = conn["config"]["catalog"]
    server.http.post(f"{server.base}/v1/catalogs/{catalog}/schemas", json={"name": "crm"}).raise_for_status()
    res = server.http.post(f"{server.base}/v1/tables/{catalog}/crm/lookup", json={
        "columns": [{"name": "id", "type": "int64", "nullable": False}, {"name": "name", "type": "string"}],
        "primary_key": ["id"]})
    assert res.status_code == 201, res.text
    rows_url = f"{server.base}/v1/tables/{catalog}/crm/lookup/rows"
    server.http.post(rows_url, json=[{"id": i, "name": f"n{i}"} for i in range(10_000)]).raise_for_status()
    server.http.get(rows_url + "?id=eq.1").raise_for_status()  # the state is now cached
    counts, lookup_ms = [], []
    for k in range(repeat + 2):
        start = time.perf_counter()
        res, n = counted(lambda: server.http.get(rows_url + f"?id=eq.{500 + k}"))
        lookup_ms.append((time.perf_counter() - start) * 1000 - 600)
        assert res.ok and res.json() == [{"id": 500 + k, "name": f"n{500 + k}"}], res.text
        counts.append(n)
    uri = f"s3://{BUCKET}/{table_prefix}/crm/lookup"
    peer_counts = []
    for k in range(repeat):
        found, n = counted(lambda: DeltaTable(uri, storage_options=OPTIONS).to_pyarrow_table(filters=[("id", "=", 700 + k)]))
        assert found.num_rows == 1
        peer_counts.append(n)
    report("S3 requests for a key lookup (cached)", statistics.median(counts), {"deltalake": statistics.median(peer_counts)},
           "<= 2", unit="req", extra=f"(all runs: {counts}; deltalake opens the table each time: {peer_counts})")

    # Upload and download through the object browser.
    size = object_mb << 20
    blob = Path(csv_path.parent / f"object-{object_mb}.bin")
    if not blob.exists() or blob.stat().st_size != size:
        with open(blob, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(object_mb):
                f.write(chunk)
    pid = server.proc.pid
    # Resets the peak RSS (VmHWM) to the current RSS, so that the peak below is this workload's.
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    base_rss = current_rss_mb(pid)
    start = time.perf_counter()
    res = post_file(server, "/v1/storages/uploads", "files", blob, "application/octet-stream",
                    {"configId": config_id, "path": "objects"})
    upload_s = time.perf_counter() - start
    assert res.status_code == 201, res.text
    upload_peak = peak_rss_mb(pid) - base_rss
    start = time.perf_counter()
    with server.http.get(f"{server.base}/v1/storages/configs/{config_id}/objects/download?path=objects/{blob.name}",
                         stream=True, timeout=3600) as res:
        res.raise_for_status()
        received = sum(len(c) for c in res.iter_content(1 << 20))
    download_s = time.perf_counter() - start
    assert received == size
    both_peak = peak_rss_mb(pid) - base_rss
    report(f"upload {object_mb} MiB through the browser", upload_s * 1000, {}, "peak +<64 MB",
           extra=f"server peak RSS +{upload_peak:.0f} MB")
    report(f"download {object_mb} MiB through the browser", download_s * 1000, {}, "peak +<64 MB",
           extra=f"server peak RSS +{both_peak:.0f} MB (upload and download)")


def import_to_s3_warehouse(server, report, csv_path: Path, rows: int, import_job, repeat: int = 3):
    """`server` runs with `--warehouse s3://...`; its catalog `bench.crm` exists."""
    ours = []
    for i in range(repeat):
        ours.append(import_job(server, f"s3imp{i}", csv_path) * 1000)
    peers = []
    for i in range(repeat):
        start = time.perf_counter()
        table = pacsv.read_csv(csv_path)
        write_deltalake(f"s3://{BUCKET}/bench-peer-{uuid.uuid4().hex[:8]}/t{i}", table, storage_options=OPTIONS)
        peers.append((time.perf_counter() - start) * 1000)
    report(f"import {rows:,}-row CSV into an S3 warehouse", statistics.median(ours), {"deltalake": statistics.median(peers)},
           "within 1.2x")


if __name__ == "__main__":
    sys.exit("run through bench/run.py --only storage")
