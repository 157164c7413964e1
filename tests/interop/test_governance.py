"""Rules set through the API live in the Delta table: another Delta writer (Python
`deltalake`) enforces a CHECK constraint added through Lakeward, and sees domains in the
schema's column metadata."""

import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake


@pytest.fixture(scope="module")
def governed(lakeward):
    tenant = lakeward.onboard("Governed", "gov@interop.test")
    token = tenant["access_token"]
    org_id = tenant["organisation"]["id"]
    for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "crm"})]:
        assert lakeward.call("POST", path, token, json=body).status_code == 201
    table = "/v1/tables/main/crm/accounts"
    columns = [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "status", "type": "string"},
        {"name": "balance", "type": "int64"},
    ]
    assert lakeward.call("POST", table, token, json={"columns": columns, "primary_key": ["id"]}).status_code == 201
    res = lakeward.call("POST", table + "/rows", token, json=[{"id": 1, "status": "open", "balance": 5}])
    assert res.status_code == 201, res.text
    res = lakeward.call("POST", table + "/constraints", token,
                        json={"constraints": [{"name": "balance_not_negative", "expr": "balance >= 0"}]})
    assert res.status_code == 200, res.text
    res = lakeward.call("PUT", table + "/columns/status/domain/fixed", token, json={"allowed_values": ["open", "closed"]})
    assert res.status_code == 200, res.text
    return {"token": token, "table": table, "path": str(lakeward.table_path(org_id, "main", "crm", "accounts"))}


def test_python_deltalake_enforces_a_constraint_added_through_the_api(governed):
    dt = DeltaTable(governed["path"])
    assert dt.metadata().configuration["delta.constraints.balance_not_negative"] == "balance >= 0"
    bad = pa.table({"id": pa.array([2], pa.int64()), "status": ["open"], "balance": pa.array([-1], pa.int64())})
    with pytest.raises(Exception, match="(?i)invalid data|check constraint|violat"):
        write_deltalake(governed["path"], bad, mode="append")
    good = pa.table({"id": pa.array([3], pa.int64()), "status": ["closed"], "balance": pa.array([0], pa.int64())})
    write_deltalake(governed["path"], good, mode="append")
    assert sorted(DeltaTable(governed["path"]).to_pyarrow_table().column("id").to_pylist()) == [1, 3]


def test_domains_are_in_the_delta_schema(governed, lakeward):
    field = next(f for f in DeltaTable(governed["path"]).schema().fields if f.name == "status")
    stored = field.metadata["lakeward.domain"]
    domain = stored if isinstance(stored, dict) else json.loads(stored)
    assert domain["type"] == "fixed"
    assert [v["value"] for v in domain["allowed_values"]] == ["open", "closed"]
    api = lakeward.call("GET", governed["table"] + "/columns/status/domain", governed["token"]).json()
    assert api["domain"] == domain


def test_a_renamed_column_reads_under_its_new_name_everywhere(governed, lakeward):
    import polars as pl
    from test_delta_readers import duckdb_with_delta

    table, token = governed["table"], governed["token"]
    res = lakeward.call("POST", table + "/columns", token, json={"name": "note", "type": "string"})
    assert res.status_code == 200, res.text
    res = lakeward.call("POST", table + "/rows", token, json=[{"id": 10, "status": "open", "balance": 1, "note": "hi"}])
    assert res.status_code == 201, res.text
    res = lakeward.call("PATCH", table + "/columns/note", token, json={"name": "remark"})
    assert res.status_code == 200, res.text

    path = governed["path"]
    names = [f.name for f in DeltaTable(path).schema().fields]
    assert "remark" in names and "note" not in names
    rows = DeltaTable(path).to_pyarrow_table().to_pylist()
    assert next(r for r in rows if r["id"] == 10)["remark"] == "hi"
    assert pl.read_delta(path).filter(pl.col("id") == 10)["remark"].to_list() == ["hi"]
    con = duckdb_with_delta()
    assert con.execute(f"SELECT remark FROM delta_scan('{path}') WHERE id = 10").fetchall() == [("hi",)]
