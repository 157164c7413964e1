"""Exports and Arrow answers as pyarrow reads them: standard Arrow types (`string`,
`binary`) unless the client asks for view types, and JSON columns as JSON values."""

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

TABLE = "/v1/tables/main/files/docs"
ROWS = [
    {"id": 1, "name": "Ada", "blob": "aGk=", "doc": {"k": [1, 2]}},
    {"id": 2, "name": None, "blob": None, "doc": "text"},
]
STANDARD = [("id", pa.int64()), ("name", pa.string()), ("blob", pa.binary()), ("doc", pa.string())]
VIEWS = [("id", pa.int64()), ("name", pa.string_view()), ("blob", pa.binary_view()), ("doc", pa.string_view())]
# Arrow and Parquet carry a json column's text.
VALUES = [
    {"id": 1, "name": "Ada", "blob": b"hi", "doc": '{"k":[1,2]}'},
    {"id": 2, "name": None, "blob": None, "doc": '"text"'},
]


@pytest.fixture(scope="module")
def token(lakeward):
    token = lakeward.onboard("Exports", "ada@exports.test")["access_token"]
    for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "files"})]:
        assert lakeward.call("POST", path, token, json=body).status_code == 201
    columns = [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "name", "type": "string"},
        {"name": "blob", "type": "binary"},
        {"name": "doc", "type": "json"},
    ]
    assert lakeward.call("POST", TABLE, token, json={"columns": columns, "primary_key": ["id"]}).status_code == 201
    assert lakeward.call("POST", TABLE + "/rows", token, json=ROWS).status_code == 201
    return token


def types(table: pa.Table) -> list[tuple[str, pa.DataType]]:
    return [(f.name, f.type) for f in table.schema]


def test_pyarrow_reads_arrow_and_parquet_exports_in_standard_types(lakeward, token):
    res = lakeward.call("GET", TABLE + "/export?format=arrow", token)
    assert res.status_code == 200, res.text
    arrow = pa.ipc.open_stream(res.content).read_all().sort_by("id")
    assert (types(arrow), arrow.to_pylist()) == (STANDARD, VALUES)
    assert arrow.schema.field("doc").metadata == {b"lakeward.type": b"json"}

    res = lakeward.call("GET", TABLE + "/export?format=parquet", token)
    assert res.status_code == 200, res.text
    parquet = pq.read_table(io.BytesIO(res.content)).sort_by("id")
    assert (types(parquet), parquet.to_pylist()) == (STANDARD, VALUES)


def test_view_types_are_sent_when_asked_for(lakeward, token):
    res = lakeward.call("GET", TABLE + "/export?format=arrow&view_types=true", token)
    exported = pa.ipc.open_stream(res.content).read_all()
    # Even pyarrow cannot sort view columns (no `take` kernel for them): the rows are
    # sorted here.
    assert (types(exported), sorted(exported.to_pylist(), key=lambda r: r["id"])) == (VIEWS, VALUES)
    accept = {"accept": "application/vnd.apache.arrow.stream; view_types=true"}
    res = lakeward.call("GET", TABLE + "/rows?order=id", token, headers=accept)
    assert types(pa.ipc.open_stream(res.content).read_all()) == VIEWS
    accept = {"accept": "application/vnd.apache.parquet; view_types=true"}
    res = lakeward.call("GET", TABLE + "/rows?order=id", token, headers=accept)
    assert types(pq.read_table(io.BytesIO(res.content))) == VIEWS
    res = lakeward.call("GET", TABLE + "/rows?order=id", token, headers={"accept": "application/vnd.apache.arrow.stream"})
    rows = pa.ipc.open_stream(res.content).read_all()
    assert (types(rows), rows.to_pylist()) == (STANDARD, VALUES)


def test_json_answers_hold_json_values(lakeward, token):
    assert lakeward.call("GET", TABLE + "/rows?order=id", token).json() == ROWS
