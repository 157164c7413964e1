"""Several writers on one table: two Lakeward processes on one data directory, and
Lakeward beside Python `deltalake`. Every acknowledged row is in the table exactly once
and the primary key holds, whoever committed in between."""

import threading

import deltalake
import pyarrow as pa
import pytest

from conftest import PASSWORD, start, stop

COLUMNS = [{"name": "id", "type": "int64", "nullable": False}, {"name": "writer", "type": "string"}]


def setup_table(server, org: str) -> tuple[str, str]:
    """An organisation with a keyed table main.crm.t; its token and id."""
    onboarded = server.onboard(org, f"admin@{org.lower()}.example")
    token = onboarded["access_token"]
    for path, body in [
        ("/v1/catalogs", {"name": "main"}),
        ("/v1/catalogs/main/schemas", {"name": "crm"}),
        ("/v1/tables/main/crm/t", {"columns": COLUMNS, "primary_key": ["id"]}),
    ]:
        res = server.call("POST", path, token, json=body)
        assert res.status_code == 201, res.text
    org_id = server.call("GET", "/v1/organisations/me", token).json()["id"]
    return token, org_id


def login(server, email: str) -> str:
    res = server.call("POST", "/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return res.json()["access_token"]


def insert_all(server, token: str, ids: list[int], writer: str, answers: list) -> None:
    for i in ids:
        res = server.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": i, "writer": writer}])
        answers.append((i, res.status_code, res.text))


def assert_each_once(table_path, expected_ids: set[int]) -> None:
    ids = deltalake.DeltaTable(str(table_path)).to_pyarrow_table(columns=["id"]).column("id").to_pylist()
    assert len(ids) == len(expected_ids), f"{len(ids)} rows, {len(set(ids))} distinct"
    assert set(ids) == expected_ids


SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("writer", pa.string())])


def python_appends(uri: str, ids: list[int], errors: list, storage_options: dict | None = None) -> None:
    """Python `deltalake` appending one row per commit, as another engine would."""
    try:
        for i in ids:
            batch = pa.table({"id": [i], "writer": ["python"]}, schema=SCHEMA)
            deltalake.write_deltalake(uri, batch, mode="append", storage_options=storage_options)
    except Exception as e:  # reported by the test, in its own thread
        errors.append(e)


def test_two_processes_on_one_data_directory_commit_each_row_once(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    first, a = start(data_dir, "first.log")
    try:
        token, org_id = setup_table(a, "TwoProcs")
        second, b = start(data_dir, "second.log")
        try:
            token_b = login(b, "admin@twoprocs.example")
            # 8 clients, 4 on each process, 25 single-row inserts each: 200 commits, enough
            # that both processes compact small files while the other is committing.
            answers: list = []
            threads = [
                threading.Thread(
                    target=insert_all,
                    args=(server, tok, list(range(c * 1000, c * 1000 + 25)), name, answers),
                )
                for c, (server, tok, name) in enumerate([(a, token, "a"), (b, token_b, "b")] * 4)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            refused = [x for x in answers if x[1] != 201]
            assert refused == [], refused[:5]
            expected = {i for i, _, _ in answers}
            assert len(expected) == 200

            assert_each_once(a.table_path(org_id, "main", "crm", "t"), expected)
            for server, tok in [(a, token), (b, token_b)]:
                res = server.call("GET", "/v1/tables/main/crm/t/rows?select=id", tok, headers={"Prefer": "count=exact"})
                assert res.status_code == 200, res.text
                assert sorted(r["id"] for r in res.json()) == sorted(expected)
            # The key holds across processes: a key the other process wrote is refused.
            res = b.call("POST", "/v1/tables/main/crm/t/rows", token_b, json=[{"id": 0, "writer": "again"}])
            assert res.status_code == 409, res.text
            res = a.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": 1000, "writer": "again"}])
            assert res.status_code == 409, res.text
            assert_each_once(a.table_path(org_id, "main", "crm", "t"), expected)
        finally:
            stop(second)
    finally:
        stop(first)


def test_lakeward_beside_python_deltalake_keeps_every_row_once(lakeward):
    token, org_id = setup_table(lakeward, "BesideDeltalake")
    path = str(lakeward.table_path(org_id, "main", "crm", "t"))
    errors: list = []
    answers: list = []
    writers = [threading.Thread(target=python_appends, args=(path, [50_000 + i for i in range(100)], errors))] + [
        threading.Thread(target=insert_all, args=(lakeward, token, list(range(c * 100, c * 100 + 50)), "lakeward", answers))
        for c in range(2)
    ]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    assert errors == []
    assert [x for x in answers if x[1] != 201] == []
    expected = {i for i, _, _ in answers} | {50_000 + i for i in range(100)}
    assert_each_once(path, expected)

    # Keys another engine committed are known to Lakeward's key check.
    res = lakeward.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": 50_042, "writer": "lakeward"}])
    assert res.status_code == 409, res.text
    assert "50042" in res.json()["message"]
    res = lakeward.call("GET", "/v1/tables/main/crm/t/rows?id=eq.50042", token)
    assert res.json() == [{"id": 50042, "writer": "python"}]
    assert_each_once(path, expected)


def test_two_processes_on_one_s3_table_commit_each_row_once_without_version_gaps(tmp_path):
    """The same on a warehouse in the S3 emulator, with Python `deltalake` appending to the
    same table meanwhile: commits are conditional puts (`If-None-Match: *`), so no two
    writers both write one version, with no lock service."""
    import os
    import uuid

    import delta_fixtures

    endpoint = os.environ.get("LAKEWARD_TEST_S3_ENDPOINT")
    assert endpoint, "run scripts/emulators.sh and export what it prints"
    bucket = os.environ.get("LAKEWARD_TEST_S3_BUCKET", "lakeward")
    warehouse = f"s3://{bucket}/concurrent-{uuid.uuid4().hex[:8]}"
    options = delta_fixtures.storage_options_from_env(warehouse)
    env = {k: v for k, v in options.items() if k.isupper()}
    args = ["--warehouse", warehouse]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    first, a = start(data_dir, "s3-first.log", args, env)
    try:
        token, org_id = setup_table(a, "S3Procs")
        second, b = start(data_dir, "s3-second.log", args, env)
        try:
            token_b = login(b, "admin@s3procs.example")
            uri = f"{warehouse}/{org_id}/main/crm/t"
            answers: list = []
            errors: list = []
            python_ids = [90_000 + i for i in range(15)]
            threads = [
                threading.Thread(target=insert_all, args=(server, tok, list(range(c * 1000, c * 1000 + 10)), name, answers))
                for c, (server, tok, name) in enumerate([(a, token, "a"), (b, token_b, "b")] * 3)
            ] + [threading.Thread(target=python_appends, args=(uri, python_ids, errors, options))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            refused = [x for x in answers if x[1] != 201]
            assert refused == [], refused[:5]
            expected = {i for i, _, _ in answers}
            assert len(expected) == 60
            expected |= set(python_ids)
            table = deltalake.DeltaTable(uri, storage_options=options)
            ids = table.to_pyarrow_table(columns=["id"]).column("id").to_pylist()
            assert sorted(ids) == sorted(expected), f"{len(ids)} rows, {len(set(ids))} distinct"
            versions = sorted(h["version"] for h in table.history())
            assert versions == list(range(len(versions))), versions
            # Both processes know the keys the other engine committed.
            for server, tok in [(a, token), (b, token_b)]:
                res = server.call("POST", "/v1/tables/main/crm/t/rows", tok, json=[{"id": 90_007, "writer": "again"}])
                assert res.status_code == 409, res.text
            res = b.call("GET", "/v1/tables/main/crm/t/rows?select=id", token_b)
            assert sorted(r["id"] for r in res.json()) == sorted(expected)
        finally:
            stop(second)
    finally:
        stop(first)
