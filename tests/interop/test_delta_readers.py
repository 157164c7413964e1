"""Tables written through the API are ordinary Delta tables: Python deltalake, DuckDB
(its delta extension, loaded from the PyPI wheel) and Polars read identical rows."""

import base64
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import deltalake
import duckdb
import duckdb_extension_delta
import polars as pl
import pyarrow as pa
import pytest

COLUMNS = [
    {"name": "id", "type": "int64", "nullable": False},
    {"name": "name", "type": "string"},
    {"name": "score", "type": "float64"},
    {"name": "active", "type": "boolean"},
    {"name": "amount", "type": "decimal(12,2)"},
    {"name": "born", "type": "date"},
    {"name": "seen", "type": "timestamp"},
    {"name": "doc", "type": "json"},
    {"name": "small", "type": "int32"},
    {"name": "blob", "type": "binary"},
]

EXPECTED = {
    1: dict(name="Ada", score=1.5, active=True, amount=Decimal("10.50"), born=dt.date(1815, 12, 10),
            seen=dt.datetime(2024, 1, 31, 11, 0, tzinfo=dt.timezone.utc), doc={"k": [1, 2]}, small=7, blob=b"hi"),
    2: dict(name="Bob, \"the\" builder", score=None, active=False, amount=None, born=None, seen=None, doc=None, small=None, blob=None),
    3: dict(name="Cy (updated)", score=-2.25, active=None, amount=Decimal("-0.01"), born=dt.date(2000, 2, 29),
            seen=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), doc="text", small=-3, blob=b""),
    5: dict(name="from arrow", score=0.0, active=True, amount=Decimal("99999.99"), born=dt.date(1970, 1, 1),
            seen=dt.datetime(2030, 6, 15, 12, 30, 45, 123456, tzinfo=dt.timezone.utc), doc=None, small=2147483647, blob=b"\x00\xff"),
    6: dict(name="from csv", score=3.0, active=False, amount=Decimal("1.00"), born=dt.date(2021, 3, 4),
            seen=dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc), doc={"a": None}, small=1, blob=None),
}


def normalise(row: dict) -> dict:
    """One canonical form for every reader's Python values."""
    out = dict(row)
    if out.get("amount") is not None:
        out["amount"] = Decimal(str(out["amount"])).quantize(Decimal("0.01"))
    if isinstance(out.get("seen"), dt.datetime) and out["seen"].tzinfo is None:
        out["seen"] = out["seen"].replace(tzinfo=dt.timezone.utc)
    if isinstance(out.get("seen"), dt.datetime):
        out["seen"] = out["seen"].astimezone(dt.timezone.utc)
    if isinstance(out.get("doc"), str):
        out["doc"] = json.loads(out["doc"])
    if isinstance(out.get("blob"), (bytearray, memoryview)):
        out["blob"] = bytes(out["blob"])
    return out


def by_id(rows: list[dict]) -> dict:
    return {r["id"]: {k: v for k, v in normalise(r).items() if k != "id"} for r in rows}


@pytest.fixture(scope="module")
def written(lakeward):
    tenant = lakeward.onboard("Interop", "ada@interop.test")
    token = tenant["access_token"]
    org_id = tenant["organisation"]["id"]
    for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "crm"})]:
        assert lakeward.call("POST", path, token, json=body).status_code == 201
    table = "/v1/tables/main/crm/people"
    res = lakeward.call("POST", table, token, json={"columns": COLUMNS, "primary_key": ["id"]})
    assert res.status_code == 201, res.text

    rows = [
        {"id": 1, "name": "Ada", "score": 1.5, "active": True, "amount": "10.50", "born": "1815-12-10",
         "seen": "2024-01-31T12:00:00+01:00", "doc": {"k": [1, 2]}, "small": 7, "blob": base64.b64encode(b"hi").decode()},
        {"id": 2, "name": "Bob, \"the\" builder", "active": False},
        {"id": 3, "name": "Cy", "score": -2.25, "amount": "-0.01", "born": "2000-02-29", "seen": "2000-01-01T00:00:00Z",
         "doc": "text", "small": -3, "blob": ""},
        {"id": 4, "name": "to be deleted"},
    ]
    assert lakeward.call("POST", table + "/rows", token, json=rows).status_code == 201

    arrow = pa.table({
        "id": pa.array([5], pa.int64()), "name": ["from arrow"], "score": [0.0], "active": [True],
        "amount": pa.array([Decimal("99999.99")], pa.decimal128(12, 2)), "born": pa.array([dt.date(1970, 1, 1)]),
        "seen": pa.array([dt.datetime(2030, 6, 15, 12, 30, 45, 123456)], pa.timestamp("us", tz="UTC")),
        "small": pa.array([2147483647], pa.int32()), "blob": pa.array([b"\x00\xff"], pa.binary()),
    })
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    res = lakeward.call("POST", table + "/rows", token, data=sink.getvalue(), headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert res.status_code == 201, res.text

    csv = "id,name,score,active,amount,born,seen,doc,small\n6,from csv,3,false,1,2021-03-04,2021-03-04T05:06:07Z,\"{\"\"a\"\": null}\",1\n"
    res = lakeward.call("POST", table + "/rows", token, data=csv.encode(), headers={"content-type": "text/csv"})
    assert res.status_code == 201, res.text

    assert lakeward.call("PATCH", table + "/rows?id=eq.3", token, json={"name": "Cy (updated)"}).status_code == 200
    assert lakeward.call("DELETE", table + "/rows?id=eq.4", token).status_code == 200
    meta = lakeward.call("GET", table, token).json()
    return {
        "token": token,
        "path": lakeward.table_path(org_id, "main", "crm", "people"),
        "version": meta["version"],
        "api_rows": lakeward.call("GET", table + "/rows?order=id", token).json(),
    }


def test_the_api_itself_returns_the_expected_rows(written):
    api = written["api_rows"]
    assert [r["id"] for r in api] == [1, 2, 3, 5, 6]
    assert api[0]["seen"] == "2024-01-31T11:00:00Z"
    assert api[0]["amount"] == 10.5
    assert api[0]["blob"] == base64.b64encode(b"hi").decode(), "binary reads back as base64, as it was written"
    assert [r["blob"] for r in api[1:]] == [None, "", base64.b64encode(b"\x00\xff").decode(), None]


def test_python_deltalake_reads_identical_rows_and_history(written):
    table = deltalake.DeltaTable(str(written["path"]))
    assert table.version() == written["version"]
    rows = table.to_pyarrow_table().sort_by("id").to_pylist()
    assert by_id(rows) == EXPECTED
    history = table.history()
    assert history[0]["operation"] == "DELETE"
    assert {h["userName"] for h in history} == {"ada@interop.test"}
    # Time travel agrees with the API's.
    first = deltalake.DeltaTable(str(written["path"]), version=1).to_pyarrow_table()
    assert sorted(first.column("id").to_pylist()) == [1, 2, 3, 4]
    schema = {f.name: f for f in table.schema().fields}
    assert schema["doc"].metadata == {"lakeward.type": "json"}
    assert table.metadata().configuration["lakeward.primaryKey"] == "id"


def duckdb_with_delta() -> duckdb.DuckDBPyConnection:
    """DuckDB with its delta extension loaded from the PyPI wheel: nothing downloads."""
    extension = Path(duckdb_extension_delta.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "delta.duckdb_extension"
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{extension}'")
    return con


def test_duckdb_reads_identical_rows(written):
    con = duckdb_with_delta()
    rows = con.execute(f"SELECT * FROM delta_scan('{written['path']}') ORDER BY id").to_arrow_table().to_pylist()
    assert by_id(rows) == EXPECTED


def test_polars_reads_identical_rows(written):
    rows = pl.read_delta(str(written["path"])).sort("id").to_arrow().to_pylist()
    assert by_id(rows) == EXPECTED


def wait_for_job(lakeward, token: str, job: dict) -> dict:
    import time
    for _ in range(600):
        job = lakeward.call("GET", f"/v1/jobs/{job['id']}", token).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job still running: {job}")


@pytest.mark.parametrize("clone_type", ["DEEP", "SHALLOW"])
def test_clones_are_read_by_every_reader_and_writes_to_them_leave_the_source_alone(lakeward, written, clone_type):
    token = written["token"]
    name = f"people_{clone_type.lower()}"
    body = {"source": "main.crm.people", "destination": f"main.crm.{name}", "clone_type": clone_type}
    res = lakeward.call("POST", "/v1/clones", token, json=body)
    assert res.status_code == 202, res.text
    job = wait_for_job(lakeward, token, res.json())
    assert job["status"] == "succeeded", job
    assert job["result"]["plan"]["files_linked"] == (clone_type == "SHALLOW")
    org_id = written["path"].parts[-4]
    path = lakeward.table_path(org_id, "main", "crm", name)
    assert by_id(deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()) == EXPECTED
    assert deltalake.DeltaTable(str(path)).version() == 0, "its own history, from version 0"
    con = duckdb_with_delta()
    assert by_id(con.execute(f"SELECT * FROM delta_scan('{path}') ORDER BY id").to_arrow_table().to_pylist()) == EXPECTED
    assert by_id(pl.read_delta(str(path)).to_arrow().to_pylist()) == EXPECTED
    # Writes to the clone, through the API and by another engine, change nothing of the source.
    assert lakeward.call("DELETE", f"/v1/tables/main/crm/{name}/rows?id=eq.1", token).status_code == 200
    deltalake.write_deltalake(str(path), deltalake.DeltaTable(str(path)).to_pyarrow_table().slice(0, 1), mode="append")
    assert by_id(deltalake.DeltaTable(str(written["path"])).to_pyarrow_table().to_pylist()) == EXPECTED
    assert deltalake.DeltaTable(str(written["path"])).version() == written["version"]


def test_optimized_and_z_ordered_tables_read_the_same_everywhere(lakeward, written):
    """A deep clone of `people`, compacted, then Z-ordered by two columns: every reader
    reads the same rows, the files are fewer, and the history shows the rewrites."""
    token = written["token"]
    body = {"source": "main.crm.people", "destination": "main.crm.people_optimized"}
    job = wait_for_job(lakeward, token, lakeward.call("POST", "/v1/clones", token, json=body).json())
    assert job["status"] == "succeeded", job
    table = "/v1/tables/main/crm/people_optimized"
    org_id = written["path"].parts[-4]
    path = lakeward.table_path(org_id, "main", "crm", "people_optimized")
    files_before = len(deltalake.DeltaTable(str(path)).file_uris())
    assert files_before > 1
    for request in [{}, {"zorder_by": ["name", "id"]}]:
        res = lakeward.call("POST", table + "/optimize", token, json=request)
        assert res.status_code == 202, res.text
        job = wait_for_job(lakeward, token, res.json())
        assert job["status"] == "succeeded" and job["result"]["version"] is not None, job
    delta = deltalake.DeltaTable(str(path))
    assert len(delta.file_uris()) == 1
    assert [h["operation"] for h in delta.history()[:2]] == ["OPTIMIZE", "OPTIMIZE"]
    assert by_id(delta.to_pyarrow_table().to_pylist()) == EXPECTED
    con = duckdb_with_delta()
    assert by_id(con.execute(f"SELECT * FROM delta_scan('{path}') ORDER BY id").to_arrow_table().to_pylist()) == EXPECTED
    assert by_id(pl.read_delta(str(path)).to_arrow().to_pylist()) == EXPECTED
    # Time travel to before the rewrites still reads the same rows.
    assert by_id(deltalake.DeltaTable(str(path), version=0).to_pyarrow_table().to_pylist()) == EXPECTED


def test_a_catalog_clone_is_read_by_every_reader(lakeward, written):
    token = written["token"]
    body = {"source": "main", "destination": "copy", "include_tables_regex": "^people$"}
    job = wait_for_job(lakeward, token, lakeward.call("POST", "/v1/clones", token, json=body).json())
    assert job["status"] == "succeeded", job
    assert [t["destination"] for t in job["result"]["tables"]] == ["copy.crm.people"]
    path = lakeward.table_path(written["path"].parts[-4], "copy", "crm", "people")
    assert by_id(deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()) == EXPECTED
    con = duckdb_with_delta()
    assert by_id(con.execute(f"SELECT * FROM delta_scan('{path}') ORDER BY id").to_arrow_table().to_pylist()) == EXPECTED
    assert by_id(pl.read_delta(str(path)).to_arrow().to_pylist()) == EXPECTED
