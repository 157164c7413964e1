"""Storage connections against real emulators (moto for S3, Azurite for Azure Blob), which
scripts/emulators.sh starts: registering with good and bad credentials, discovering the
Delta tables Python `deltalake` wrote there, reading and writing them through the API,
reading Lakeward's writes back with `deltalake` and DuckDB, and the object browser."""

import hashlib
import os
import time
import uuid

from pathlib import Path

import duckdb
import duckdb_extension_delta
import duckdb_extension_httpfs
import pytest
from deltalake import DeltaTable

import delta_fixtures
from conftest import reset_peak_rss, rss_mb

S3_ENDPOINT = os.environ.get("LAKEWARD_TEST_S3_ENDPOINT")
AZURITE_ENDPOINT = os.environ.get("LAKEWARD_TEST_AZURITE_ENDPOINT")
BUCKET = os.environ.get("LAKEWARD_TEST_S3_BUCKET", "lakeward")
CONTAINER = os.environ.get("LAKEWARD_TEST_AZURITE_CONTAINER", "lakeward")
# moto runs with authentication on (scripts/emulators.sh): only this key, with this secret, is let in.
S3_KEY_ID = os.environ.get("LAKEWARD_TEST_S3_ACCESS_KEY_ID", "")
S3_SECRET = os.environ.get("LAKEWARD_TEST_S3_SECRET_ACCESS_KEY", "")


def duckdb_on_s3() -> duckdb.DuckDBPyConnection:
    """DuckDB with its delta and httpfs extensions from their PyPI packages (nothing downloads),
    signed with moto's key."""
    def extension(module, name):
        return Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{extension(duckdb_extension_httpfs, 'httpfs')}'")
    con.execute(f"LOAD '{extension(duckdb_extension_delta, 'delta')}'")
    con.execute(
        f"CREATE SECRET s3 (TYPE s3, KEY_ID '{S3_KEY_ID}', SECRET '{S3_SECRET}', REGION 'us-east-1', "
        f"ENDPOINT '{S3_ENDPOINT.removeprefix('http://')}', URL_STYLE 'path', USE_SSL false)")
    return con


def test_the_emulators_are_running():
    # Not a skip: without the emulators these tests cannot say anything, so they fail.
    assert S3_ENDPOINT and AZURITE_ENDPOINT and S3_SECRET, "run scripts/emulators.sh and export what it prints"


def s3_request(base_path: str, **extra) -> dict:
    return {
        "accessKeyId": S3_KEY_ID, "secretKey": S3_SECRET, "region": "us-east-1", "bucketName": BUCKET,
        "endpoint": S3_ENDPOINT, "basePath": base_path, **extra,
    }


def az_request(base_path: str, **extra) -> dict:
    return {
        "accountName": delta_fixtures.AZURITE_ACCOUNT, "container": CONTAINER, "accessKey": delta_fixtures.AZURITE_KEY,
        "endpoint": AZURITE_ENDPOINT, "basePath": base_path, **extra,
    }


KINDS = {
    "s3": (f"s3://{BUCKET}", s3_request),
    "az": (f"az://{CONTAINER}", az_request),
}


@pytest.fixture(scope="module")
def admin(lakeward):
    return lakeward.onboard("Storage Org", f"storage-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture(scope="module", params=["s3", "az"])
def connected(request, lakeward, admin):
    """Fixture tables written by Python deltalake under a fresh prefix, and a connection to it."""
    kind = request.param
    root, make = KINDS[kind]
    prefix = f"lake-{uuid.uuid4().hex[:8]}"
    uri = f"{root}/{prefix}"
    options = delta_fixtures.storage_options_from_env(uri)
    fixtures = delta_fixtures.write_fixtures(uri, options)
    res = lakeward.call("POST", f"/v1/storages/{kind}", admin["access_token"],
                        json=make(prefix, name=f"{kind}-{prefix}", discoverIceberg=True))
    assert res.status_code == 201, res.text
    return {"kind": kind, "uri": uri, "options": options, "fixtures": fixtures, "answer": res.json(), "prefix": prefix}


def test_registering_tests_the_connection_and_discovers_its_tables(lakeward, admin, connected):
    answer = connected["answer"]
    assert [(c["name"], c["ok"]) for c in answer["checks"]] == [
        ("reachable", True), ("list", True), ("write", True), ("read", True), ("delete", True)]
    config = answer["config"]
    assert config["path"] == connected["uri"] + "/"
    assert S3_SECRET not in str(config) and delta_fixtures.AZURITE_KEY not in str(config)
    assert "accessKey" not in config["settings"]
    discovery = answer["discovery"]
    catalog = config["catalog"]
    # Hidden (`.tmp`) and `_` folders are skipped; the folder layout names schemas.
    assert sorted(discovery["registered"]) == sorted(
        [f"{catalog}.sales.orders", f"{catalog}.sales.events", f"{catalog}.crm.customers", f"{catalog}.crm.accounts"])
    assert discovery["deltaTablesCount"] == 4 and discovery["vanished"] == []
    assert [t["path"] for t in discovery["iceberg"]] == ["ice/t"]
    assert [c["name"] for c in discovery["iceberg"][0]["columns"]] == ["id", "name"]
    # One LIST per folder: the levels are base, then its folders, then theirs.
    assert discovery["listsPerLevel"][0] == 1

    # Rediscovery registers nothing new and reports nothing vanished.
    again = lakeward.call("GET", f"/v1/storages/tables?with_discovery=true&config_id={config['id']}", admin["access_token"])
    assert again.status_code == 200, again.text
    report = again.json()["discovery"][config["name"]]
    assert report["registered"] == [] and len(report["alreadyRegistered"]) == 4


def wait_for_job(lakeward, token, job_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        res = lakeward.call("GET", f"/v1/jobs/{job_id}", token)
        assert res.status_code == 200, res.text
        job = res.json()
        if job["finished_at"] or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_discovery_runs_as_a_job_when_the_client_prefers_not_to_wait(lakeward, admin):
    """`Prefer: respond-async` answers at once with the discovery job; the job's result is
    the report a waiting request would have had, and the tables it found are governed."""
    token = admin["access_token"]
    prefix = f"async-{uuid.uuid4().hex[:8]}"
    uri = f"s3://{BUCKET}/{prefix}"
    delta_fixtures.write_fixtures(uri, delta_fixtures.storage_options_from_env(uri), include_iceberg=False)
    res = lakeward.call("POST", "/v1/storages/s3", token, json=s3_request(prefix, name=prefix),
                        headers={"Prefer": "respond-async"})
    assert res.status_code == 201, res.text
    answer = res.json()
    assert "discovery" not in answer
    job = answer["discoveryJob"]
    assert job["kind"] == "discovery" and job["target"] == prefix
    job = wait_for_job(lakeward, token, job["id"])
    assert job["status"] == "succeeded", job
    catalog = answer["config"]["catalog"]
    assert sorted(job["result"]["registered"]) == sorted(
        [f"{catalog}.sales.orders", f"{catalog}.sales.events", f"{catalog}.crm.customers", f"{catalog}.crm.accounts"])
    assert job["progress"]["rows_written"] == 4  # tables found
    rows = lakeward.call("GET", f"/v1/tables/{catalog}/crm/accounts/rows", token)
    assert rows.status_code == 200 and len(rows.json()) == 40

    # Rediscovery of every connection: 202 with one job per connection, each ending in a report.
    res = lakeward.call("GET", "/v1/storages/tables?with_discovery=true", token, headers={"Prefer": "respond-async"})
    assert res.status_code == 202, res.text
    jobs = res.json()["jobs"]
    configs = lakeward.call("GET", "/v1/storages/configs", token).json()["configs"]
    assert sorted(j["target"] for j in jobs) == sorted(c["name"] for c in configs)
    mine = next(j for j in jobs if j["target"] == prefix)
    done = wait_for_job(lakeward, token, mine["id"])
    assert done["status"] == "succeeded" and done["result"]["registered"] == [], done
    assert len(done["result"]["alreadyRegistered"]) == 4
    listed = lakeward.call("GET", "/v1/jobs?kind=discovery", token).json()
    assert {j["id"] for j in jobs} <= {j["id"] for j in listed}


def test_discovered_tables_read_and_write_like_managed_ones(lakeward, admin, connected):
    token, catalog = admin["access_token"], connected["answer"]["config"]["catalog"]
    fixtures = connected["fixtures"]
    for rel, schema, table in [("sales/orders", "sales", "orders"), ("sales/events", "sales", "events"),
                               ("crm/customers", "crm", "customers"), ("crm/accounts", "crm", "accounts")]:
        res = lakeward.call("GET", f"/v1/tables/{catalog}/{schema}/{table}/rows?limit=1000", token,
                            headers={"Prefer": "count=exact"})
        assert res.status_code in (200, 206), res.text
        assert len(res.json()) == fixtures[rel]["rows"], rel
    # Partitioned: a filter on the partition column.
    res = lakeward.call("GET", f"/v1/tables/{catalog}/sales/orders/rows?region=eq.emea&limit=1000", token)
    assert res.status_code == 200 and res.json() and {r["region"] for r in res.json()} == {"emea"}
    # Evolved schema: the added column reads as null for the first rows.
    res = lakeward.call("GET", f"/v1/tables/{catalog}/crm/customers", token)
    assert "email" in [c["name"] for c in res.json()["schema"]["fields"]], res.text

    # SQL over a discovered table.
    res = lakeward.call("POST", "/v1/sql", token, json={"query": f"SELECT count(*) AS n FROM {catalog}.sales.events"})
    assert res.status_code == 200, res.text
    assert res.json()["rows"][0]["n"] == fixtures["sales/events"]["rows"]

    # The constraint another engine declared holds for Lakeward's writes too.
    res = lakeward.call("POST", f"/v1/tables/{catalog}/crm/accounts/rows", token,
                        json=[{"account_id": 1000, "customer_id": 1, "balance": -5.0}])
    assert res.status_code in (400, 409), res.text
    res = lakeward.call("POST", f"/v1/tables/{catalog}/crm/accounts/rows", token,
                        json=[{"account_id": 1001, "customer_id": 1, "balance": 5.0}])
    assert res.status_code == 201, res.text
    # Lakeward's write, read back by deltalake and DuckDB straight from the store.
    uri = connected["uri"] + "/crm/accounts"
    dt = DeltaTable(uri, storage_options=connected["options"])
    assert dt.to_pyarrow_table().num_rows == fixtures["crm/accounts"]["rows"] + 1
    assert 1001 in dt.to_pyarrow_table().column("account_id").to_pylist()
    if connected["kind"] == "s3":
        con = duckdb_on_s3()
        n = con.execute(f"SELECT count(*) FROM delta_scan('{uri}')").fetchone()[0]
        assert n == fixtures["crm/accounts"]["rows"] + 1

    # Update, delete, history, rollback.
    res = lakeward.call("PATCH", f"/v1/tables/{catalog}/crm/accounts/rows?account_id=eq.1001", token, json={"balance": 7.0})
    assert res.status_code == 200, res.text
    res = lakeward.call("DELETE", f"/v1/tables/{catalog}/crm/accounts/rows?account_id=eq.1001", token)
    assert res.status_code == 200, res.text
    history = lakeward.call("GET", f"/v1/tables/{catalog}/crm/accounts/history", token).json()
    assert len(history) == 5, history  # 2 by deltalake, insert, update, delete


def test_registering_with_bad_credentials_or_places_stores_nothing(lakeward, admin):
    token = admin["access_token"]
    before = lakeward.call("GET", "/v1/storages/configs", token).json()["configs"]
    cases = [
        ("s3", s3_request("x", bucketName="no-such-bucket-here", name="no-bucket"), "list"),
        ("s3", s3_request("x", secretKey="wrong-secret-value", name="s3-bad-secret"), "list"),
        ("s3", s3_request("x", accessKeyId="AKIANOSUCHKEY000000", name="s3-unknown-key"), "list"),
        ("s3", s3_request("x", endpoint="http://127.0.0.1:1", name="unreachable"), "reachable"),
        ("az", az_request("x", accessKey="d3Jvbmc=", name="az-bad-key"), "list"),
        ("az", az_request("x", container="nosuchcontainer", name="az-no-container"), "list"),
    ]
    for kind, body, failing in cases:
        res = lakeward.call("POST", f"/v1/storages/{kind}", token, json=body)
        assert res.status_code == 400, (body["name"], res.text)
        error = res.json()
        checks = {c["name"]: c for c in error["checks"]}
        assert checks[failing]["ok"] is False and checks[failing]["reason"], error
        assert "wrong" not in res.text and delta_fixtures.AZURITE_KEY not in res.text
        assert S3_SECRET not in res.text
    after = lakeward.call("GET", "/v1/storages/configs", token).json()["configs"]
    assert after == before


def test_object_browser_lists_downloads_uploads_and_deletes(lakeward, admin, connected):
    token, config = admin["access_token"], connected["answer"]["config"]
    base = f"/v1/storages/configs/{config['id']}"
    res = lakeward.call("GET", f"{base}/objects?delimiter=true", token)
    assert res.status_code == 200, res.text
    listing = res.json()
    assert {"crm/", "sales/", "raw/", "ice/", "_staging/", ".tmp/"} <= set(listing["commonPrefixes"])
    res = lakeward.call("GET", f"{base}/objects?path=raw/files&extensions=csv", token)
    names = [o["name"] for o in res.json()["objects"]]
    assert names == ["a.csv", "b.csv"], res.text
    # Pages: one object at a time, by continuation token.
    first = lakeward.call("GET", f"{base}/objects?path=raw/files&limit=1", token).json()
    assert first["hasMore"] and first["count"] == 1
    second = lakeward.call("GET", f"{base}/objects?path=raw/files&limit=1&continuation_token={first['nextContinuationToken']}",
                           token).json()
    assert [o["name"] for o in second["objects"]] == ["b.csv"]

    body = b"id,name\n1,x\n2,y\n"
    up = lakeward.call("POST", "/v1/storages/uploads", token,
                       data={"configId": config["id"], "path": "uploads/day1"},
                       files=[("files", ("new.csv", body, "text/csv")), ("files", ("other.txt", b"hello", "text/plain"))])
    assert up.status_code == 201, up.text
    assert [u["path"] for u in up.json()["uploaded"]] == ["uploads/day1/new.csv", "uploads/day1/other.txt"]
    down = lakeward.call("GET", f"{base}/objects/download?path=uploads/day1/new.csv", token)
    assert down.status_code == 200 and down.content == body
    assert down.headers["content-type"].startswith("text/csv")
    assert down.headers["content-disposition"].startswith("attachment")
    part = lakeward.call("GET", f"{base}/objects/download?path=uploads/day1/new.csv&inline=true", token,
                         headers={"Range": "bytes=3-6"})
    assert part.status_code == 206 and part.content == body[3:7]
    assert part.headers["content-range"] == f"bytes 3-6/{len(body)}"
    assert lakeward.call("GET", f"{base}/objects/download?path=uploads/none.csv", token).status_code == 404

    # Paths stay inside the base.
    for trick in ["../x", "/etc/passwd", "a/../../b", "a\\..\\b", "%2e%2e/x", "a//b", "./a"]:
        res = lakeward.call("GET", f"{base}/objects/download", token, params={"path": trick})
        assert res.status_code == 400, (trick, res.text)
        assert res.json()["details"][0]["field"] == "path"
    # A registered table's files are not deleted one by one.
    res = lakeward.call("DELETE", f"{base}/objects", token, params={"path": "crm/accounts/_delta_log/00000000000000000000.json"})
    assert res.status_code == 409, res.text
    res = lakeward.call("DELETE", f"{base}/objects", token, params={"path": "uploads/day1/new.csv"})
    assert res.status_code == 200, res.text
    assert lakeward.call("GET", f"{base}/objects/download?path=uploads/day1/new.csv", token).status_code == 404


def test_other_organisations_and_viewers(lakeward, admin, connected):
    config = connected["answer"]["config"]
    other = lakeward.onboard("Other Org", f"other-{uuid.uuid4().hex[:8]}@example.com")
    for method, path in [("GET", f"/v1/storages/configs/{config['id']}"),
                         ("GET", f"/v1/storages/configs/{config['id']}/objects"),
                         ("GET", f"/v1/storages/configs/{config['id']}/test"),
                         ("DELETE", f"/v1/storages/configs/{config['id']}")]:
        res = lakeward.call(method, path, other["access_token"])
        assert res.status_code == 404, (method, path, res.text)
    assert lakeward.call("GET", "/v1/storages/configs", other["access_token"]).json()["configs"] == []
    # The same location cannot be connected by another organisation.
    root, make = KINDS[connected["kind"]]
    res = lakeward.call("POST", f"/v1/storages/{connected['kind']}", other["access_token"],
                        json=make(connected["prefix"], name="steal"))
    assert res.status_code == 409, res.text


def multipart_stream(fields: dict[str, str], name: str, chunk: bytes, chunks: int, boundary: str):
    """A multipart body (`fields`, then one file part of `chunks` x `chunk`) produced piece by
    piece, so that the client holds one chunk, not the file (requests sends it chunked)."""
    for key, value in fields.items():
        yield f"--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n".encode()
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(chunks):
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def test_a_gigabyte_streams_through_the_browser_in_bounded_memory(lakeward, admin, connected):
    """1.05 GB up and down through the object browser: the bytes arrive whole and in order, and
    the server's resident memory grows by less than 64 MB at its peak (never the object)."""
    token, config = admin["access_token"], connected["answer"]["config"]
    base = f"/v1/storages/configs/{config['id']}"
    chunk = hashlib.sha256(connected["prefix"].encode()).digest() * (1 << 15)  # 1 MiB, not all zeros
    chunks = 1000  # 1.05 GB: above the 1 GB asked for, below the default 1 GiB upload limit
    reset_peak_rss(lakeward.pid)
    before = rss_mb(lakeward.pid)
    boundary = uuid.uuid4().hex
    res = lakeward.http.post(
        f"{lakeward.base}/v1/storages/uploads",
        data=multipart_stream({"configId": config["id"], "path": "big"}, "gigabyte.bin", chunk, chunks, boundary),
        headers={"authorization": f"Bearer {token}", "content-type": f"multipart/form-data; boundary={boundary}"},
        timeout=1800,
    )
    assert res.status_code == 201, res.text
    assert [(u["path"], u["size"]) for u in res.json()["uploaded"]] == [("big/gigabyte.bin", chunks * len(chunk))]
    upload_peak = rss_mb(lakeward.pid, "VmHWM") - before

    digest, expected, received = hashlib.sha256(), hashlib.sha256(), 0
    for _ in range(chunks):
        expected.update(chunk)
    with lakeward.http.get(f"{lakeward.base}{base}/objects/download", params={"path": "big/gigabyte.bin"},
                           headers={"authorization": f"Bearer {token}"}, stream=True, timeout=1800) as down:
        assert down.status_code == 200, down.text
        assert down.headers["content-length"] == str(chunks * len(chunk))
        for piece in down.iter_content(1 << 20):
            digest.update(piece)
            received += len(piece)
    assert received == chunks * len(chunk) and digest.hexdigest() == expected.hexdigest()
    both_peak = rss_mb(lakeward.pid, "VmHWM") - before
    assert upload_peak < 64 and both_peak < 64, f"peak RSS +{upload_peak:.0f} MB (upload), +{both_peak:.0f} MB (both)"
    res = lakeward.call("DELETE", f"{base}/objects", token, params={"path": "big/gigabyte.bin"})
    assert res.status_code == 200, res.text


def test_read_only_connections_refuse_writes(lakeward, admin):
    token = admin["access_token"]
    prefix = f"ro-{uuid.uuid4().hex[:8]}"
    uri = f"s3://{BUCKET}/{prefix}"
    options = delta_fixtures.storage_options_from_env(uri)
    delta_fixtures.write_fixtures(uri, options, include_iceberg=False)
    res = lakeward.call("POST", "/v1/storages/s3?readOnly=true", token, json=s3_request(prefix, name=prefix))
    assert res.status_code == 201, res.text
    answer = res.json()
    assert [c["name"] for c in answer["checks"] if c["skipped"]] == ["write", "read", "delete"]
    catalog, config_id = answer["config"]["catalog"], answer["config"]["id"]
    rows = lakeward.call("GET", f"/v1/tables/{catalog}/crm/accounts/rows", token)
    assert rows.status_code == 200 and len(rows.json()) == 40
    res = lakeward.call("POST", f"/v1/tables/{catalog}/crm/accounts/rows", token, json=[{"account_id": 1, "customer_id": 1, "balance": 1.0}])
    assert res.status_code == 409 and "read-only" in res.json()["message"], res.text
    up = lakeward.call("POST", "/v1/storages/uploads", token, data={"configId": config_id, "path": "x"},
                       files=[("files", ("a.txt", b"a", "text/plain"))])
    assert up.status_code == 409, up.text
    # Deleting a connection with tables needs the confirm, and keeps the data.
    res = lakeward.call("DELETE", f"/v1/storages/configs/{config_id}", token)
    assert res.status_code == 409, res.text
    res = lakeward.call("DELETE", f"/v1/storages/configs/{config_id}?confirm={prefix}", token)
    assert res.status_code == 200 and res.json()["tablesUnregistered"] == 4, res.text
    assert lakeward.call("GET", f"/v1/tables/{catalog}/crm/accounts/rows", token).status_code == 404
    assert DeltaTable(uri + "/crm/accounts", storage_options=options).to_pyarrow_table().num_rows == 40


def test_tables_with_delta_features_are_written_where_delta_rs_can_and_refused_where_it_cannot(lakeward, admin):
    """Deletion vectors and column mapping (which delta-rs writes) take every write, and
    DuckDB reads the result; identity columns (which it does not) are readable,
    and every write answers 409 naming the feature, with the table left as it was."""
    token = admin["access_token"]
    prefix = f"feat-{uuid.uuid4().hex[:8]}"
    uri = f"s3://{BUCKET}/{prefix}"
    options = delta_fixtures.storage_options_from_env(uri)
    features = delta_fixtures.write_feature_fixtures(uri, options)
    res = lakeward.call("POST", "/v1/storages/s3", token, json=s3_request(prefix, name=prefix))
    assert res.status_code == 201, res.text
    catalog = res.json()["config"]["catalog"]
    assert sorted(res.json()["discovery"]["registered"]) == sorted(f"{catalog}.lake.{t}" for t in features)
    duck = duckdb_on_s3()
    writes = [
        ("POST", "rows", [{"id": 3, "name": "c"}], 201),
        ("PATCH", "rows?id=eq.1", {"name": "z"}, 200),
        ("DELETE", "rows?id=eq.2", None, 200),
        ("POST", "columns", {"name": "extra", "type": "string"}, 200),
        ("POST", "columns", {"name": "spare", "type": "int64"}, 200),
        ("DELETE", "columns/spare?confirm=spare", None, 200),
        ("PATCH", "columns/name", {"name": "label"}, 200),
        ("POST", "rows", [{"id": 4, "label": "d", "extra": "x"}], 201),
    ]
    for table, refused_feature in features.items():
        base = f"/v1/tables/{catalog}/lake/{table}"
        rows = lakeward.call("GET", f"{base}/rows?order=id", token)
        assert rows.status_code == 200 and rows.json() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], rows.text
        sql = lakeward.call("POST", "/v1/sql", token, json={"query": f"SELECT count(*) AS n FROM {catalog}.lake.{table}"})
        assert sql.status_code == 200 and sql.json()["rows"] == [{"n": 2}], sql.text
        delta = DeltaTable(f"{uri}/lake/{table}", storage_options=options)
        before = delta.version()
        # Where writes are refused, those that need an earlier one (drop `spare`, insert
        # into `label`) are left out.
        for method, path, body, status in writes[:4] + writes[6:7] if refused_feature else writes:
            res = lakeward.call(method, f"{base}/{path}", token, json=body)
            if refused_feature:
                assert res.status_code == 409, (table, method, path, res.text)
                assert refused_feature in res.json()["message"], res.text
            else:
                assert res.status_code == status, (table, method, path, res.text)
        delta = DeltaTable(f"{uri}/lake/{table}", storage_options=options)
        # Python deltalake does not read deletion vectors into Arrow; DuckDB (delta-kernel) does.
        result = duck.execute(f"SELECT * FROM delta_scan('{uri}/lake/{table}') ORDER BY id")
        got = [dict(zip([d[0] for d in result.description], row)) for row in result.fetchall()]
        if refused_feature:
            assert delta.version() == before
            assert got == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
        else:
            assert got == [{"id": 1, "label": "z", "extra": None}, {"id": 3, "label": "c", "extra": None},
                           {"id": 4, "label": "d", "extra": "x"}], (table, got)
            rows = lakeward.call("GET", f"{base}/rows?order=id", token).json()
            assert rows == got, (table, rows)
