"""Three replicas of the server on one PostgreSQL and one shared warehouse (a local folder,
and the S3 emulator), as behind a load balancer: any request may land on any of them.
Sessions, API keys and revocations are everyone's at once, writes are read everywhere at
once, 16 clients spread over the replicas commit each row once with versions without
gaps, a replica killed with SIGKILL loses no acknowledged write (its running job is marked
failed by another replica once the job's lease expires), and webhook deliveries, sent by
every replica's dispatcher, reach the receiver once each."""

import http.server
import io
import json
import os
import secrets
import subprocess
import threading
import time
import uuid

import deltalake
import pytest

import delta_fixtures
from conftest import start, stop

COLUMNS = [{"name": "id", "type": "int64", "nullable": False}, {"name": "writer", "type": "string"}]


def fresh_database() -> str:
    admin = os.environ.get("LAKEWARD_TEST_POSTGRES_URL")
    assert admin, "LAKEWARD_TEST_POSTGRES_URL: start PostgreSQL with `eval \"$(scripts/postgres.sh)\"`"
    name = f"lakeward_replicas_{secrets.token_hex(6)}"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    return admin.rsplit("/", 1)[0] + "/" + name


class Warehouse:
    """Where the replicas keep their tables: the shared data folder's `warehouse`, or a
    prefix of its own in the S3 emulator's bucket."""

    def __init__(self, kind: str):
        self.kind = kind
        self.url, self.options = None, {}
        if kind == "s3":
            assert os.environ.get("LAKEWARD_TEST_S3_ENDPOINT"), "run scripts/emulators.sh and export what it prints"
            bucket = os.environ.get("LAKEWARD_TEST_S3_BUCKET", "lakeward")
            self.url = f"s3://{bucket}/replicas-{uuid.uuid4().hex[:8]}"
            self.options = delta_fixtures.storage_options_from_env(self.url)

    def args(self) -> list[str]:
        return ["--warehouse", self.url] if self.url else []

    def env(self) -> dict:
        return {k: v for k, v in self.options.items() if k.isupper()}

    def table(self, server, org_id: str, name: str) -> deltalake.DeltaTable:
        if self.url is None:
            return deltalake.DeltaTable(str(server.table_path(org_id, "main", "crm", name)))
        return deltalake.DeltaTable(f"{self.url}/{org_id}/main/crm/{name}", storage_options=self.options)


def replicas(tmp_path, n: int = 3, warehouse: Warehouse | None = None, extra: list[str] | None = None):
    warehouse = warehouse or Warehouse("folder")
    data_dir = tmp_path / "shared"
    data_dir.mkdir()
    args = ["--metadata-url", fresh_database(), "--secret", secrets.token_hex(32), *warehouse.args(), *(extra or [])]
    started = [start(data_dir, f"replica-{i}.log", args, warehouse.env()) for i in range(n)]
    return [p for p, _ in started], [s for _, s in started]


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_three_replicas_share_identity_writes_and_keys(tmp_path, kind):
    warehouse = Warehouse(kind)
    procs, (a, b, c) = replicas(tmp_path, warehouse=warehouse)
    try:
        token = a.onboard("Replicas", "ada@replicas.example")["access_token"]
        org_id = b.call("GET", "/v1/organisations/me", token).json()["id"]  # a session of one is everyone's
        for server, path, body in [
            (a, "/v1/catalogs", {"name": "main"}),
            (b, "/v1/catalogs/main/schemas", {"name": "crm"}),
            (c, "/v1/tables/main/crm/t", {"columns": COLUMNS, "primary_key": ["id"]}),
        ]:
            res = server.call("POST", path, token, json=body)
            assert res.status_code == 201, res.text

        # 16 clients over three replicas, 20 single-row inserts each.
        answers: list = []

        def insert_all(server, ids):
            for i in ids:
                res = server.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": i, "writer": server.base}])
                answers.append((i, res.status_code, res.text))

        threads = [threading.Thread(target=insert_all, args=([a, b, c][k % 3], range(k * 100, k * 100 + 20)))
                   for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [x for x in answers if x[1] != 201] == []
        expected = {i for i, _, _ in answers}
        assert len(expected) == 320
        table = warehouse.table(a, org_id, "t")
        ids = table.to_pyarrow_table(columns=["id"]).column("id").to_pylist()
        assert (len(ids), set(ids)) == (320, expected)
        versions = sorted(h["version"] for h in table.history())
        assert versions == list(range(versions[-1] + 1)), "versions without gaps"

        # A write on one replica is read on the others at once, and its key is refused there.
        assert a.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": 5000, "writer": "a"}]).status_code == 201
        for server in (b, c):
            res = server.call("GET", "/v1/tables/main/crm/t/rows?id=eq.5000", token)
            assert res.status_code == 200 and [r["id"] for r in res.json()] == [5000], res.text
            res = server.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": 5000, "writer": "again"}])
            assert res.status_code == 409, res.text

        # An API key made on one replica works on every one; revoked on another, it is
        # refused by all at once.
        made = a.call("POST", "/v1/api-keys", token, json={"name": "etl", "scopes": ["read"]}).json()
        key = made["key"]
        for server in (a, b, c):
            assert server.call("GET", "/v1/tables/main/crm/t", key).status_code == 200
        assert b.call("DELETE", f"/v1/api-keys/{made['api_key']['id']}", token).status_code in (200, 204)
        for server in (a, b, c):
            assert server.call("GET", "/v1/tables/main/crm/t", key).status_code == 401
        # Signing out on one replica ends the session on all.
        assert c.call("POST", "/v1/auth/logout", token).status_code in (200, 204)
        for server in (a, b, c):
            assert server.call("GET", "/v1/organisations/me", token).status_code == 401
    finally:
        for p in procs:
            stop(p)


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_a_killed_replica_loses_no_acknowledged_write_and_its_job_fails_elsewhere(tmp_path, kind):
    warehouse = Warehouse(kind)
    procs, (a, b, c) = replicas(tmp_path, warehouse=warehouse)
    try:
        token = a.onboard("Killed", "ada@killed.example")["access_token"]
        org_id = a.call("GET", "/v1/organisations/me", token).json()["id"]
        for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "crm"}),
                           ("/v1/tables/main/crm/t", {"columns": COLUMNS, "primary_key": ["id"]})]:
            assert a.call("POST", path, token, json=body).status_code == 201
        # An import running on the replica about to die.
        csv = "id,name\n" + "".join(f"{i},name{i}\n" for i in range(600_000))
        files = {"file": ("big.csv", io.BytesIO(csv.encode()), "text/csv")}
        res = c.call("POST", "/v1/tables/main/crm/big/import", token, files=files)
        assert res.status_code == 202, res.text
        job_id = res.json()["id"]

        answers: list = []

        def insert_all(server, ids):
            for i in ids:
                try:
                    res = server.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": i, "writer": "w"}])
                    answers.append((i, res.status_code))
                except Exception:  # the killed replica's connections fail: not acknowledged
                    answers.append((i, None))

        threads = [threading.Thread(target=insert_all, args=([a, b, c][k % 3], range(k * 100, k * 100 + 30)))
                   for k in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        procs[2].kill()
        procs[2].wait()
        for t in threads:
            t.join()
        acknowledged = {i for i, status in answers if status == 201}
        assert len(acknowledged) >= 120, "the two live replicas' clients all wrote"
        ids = warehouse.table(a, org_id, "t").to_pyarrow_table(columns=["id"]).column("id").to_pylist()
        assert len(ids) == len(set(ids)), "no key twice"
        assert acknowledged <= set(ids), "every acknowledged write is there"
        res = b.call("GET", "/v1/tables/main/crm/t/rows?select=id&limit=10000", token)
        assert res.status_code == 200 and {r["id"] for r in res.json()} == set(ids)

        # The dead replica's import: failed by a live one once its lease expired (30 s,
        # checked every 10 s), and nothing of it committed.
        deadline = time.time() + 60
        while (job := a.call("GET", f"/v1/jobs/{job_id}", token).json())["status"] in ("queued", "running"):
            assert time.time() < deadline, job
            time.sleep(0.5)
        assert job["status"] == "failed", job
        assert job["error"]["message"] == "the server running the job stopped; nothing was committed by it"
        res = b.call("GET", "/v1/tables/main/crm/big/rows?limit=1", token)
        assert res.status_code == 404 or res.json() == [], res.text
    finally:
        for p in procs[:2]:
            stop(p)


def test_webhook_deliveries_from_three_replicas_reach_the_receiver_once_each(tmp_path):
    """Every replica runs the dispatcher; a delivery is leased to one of them at a time, so
    a slow receiver (each answer takes 150 ms) gets each delivery once, with the
    `Lakeward-Delivery` id receivers deduplicate retries by."""
    received: list[tuple[str, str, dict]] = []
    lock = threading.Lock()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with lock:
                received.append((self.headers["lakeward-delivery"], self.headers["lakeward-event"], body))
            time.sleep(0.15)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    procs, servers = replicas(tmp_path, extra=["--webhook-allow-private-targets", "true"])
    a = servers[0]
    try:
        token = a.onboard("Hooks", "ada@hooks.example")["access_token"]
        for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "crm"}),
                           ("/v1/tables/main/crm/t", {"columns": COLUMNS, "primary_key": ["id"]})]:
            assert a.call("POST", path, token, json=body).status_code == 201
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        res = a.call("POST", "/v1/webhooks", token, json={"url": url, "events": ["row.batch_inserted"]})
        assert res.status_code == 201, res.text

        # 30 inserts spread over the replicas: 30 deliveries queued by all three.
        def insert_all(server, ids):
            for i in ids:
                res = server.call("POST", "/v1/tables/main/crm/t/rows", token, json=[{"id": i, "writer": "w"}])
                assert res.status_code == 201, res.text

        threads = [threading.Thread(target=insert_all, args=(servers[k], range(k * 10, k * 10 + 10))) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.time() + 60
        while len(received) < 30:
            assert time.time() < deadline, f"{len(received)} of 30 deliveries arrived"
            time.sleep(0.2)
        time.sleep(2)  # time for a second sending of any of them, if one were to come
        ids = [delivery for delivery, _, _ in received]
        assert len(ids) == 30 and len(set(ids)) == 30, f"{len(ids)} received, {len(set(ids))} distinct"
        assert {event for _, event, _ in received} == {"row.batch_inserted"}
        # Every replica reports each delivery as delivered, once.
        hook_id = res.json()["id"]
        for server in servers:
            listed = server.call("GET", f"/v1/webhooks/{hook_id}/deliveries?limit=100", token)
            assert listed.status_code == 200, listed.text
            items = listed.json()
            assert sorted(str(d["id"]) for d in items) == sorted(ids), items[:2]
            assert {(d["status"], d["attempts"]) for d in items} == {("delivered", 1)}, items[:2]
    finally:
        for p in procs:
            stop(p)
        receiver.shutdown()
