"""Issue 15.4 and 15.5: single-row changes and many small writers.

- Update and delete of one row by primary key on the large table, medians, against
  Python `deltalake` doing the same on a copy of the table Lakeward wrote; then the
  changed rows are read back by `deltalake`, DuckDB and Polars.
- 16 clients each inserting single rows, one request per row, over keep-alive
  connections (the standard library's `http.client`: a light client, so that the
  2-core machine's time goes to the server), until `inserts` rows are in; throughput
  and latency percentiles per window of 10,000, so that a slowdown as the log grows
  shows; then acknowledged versus stored rows.
"""

import concurrent.futures
import http.client
import json
import random
import shutil
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import polars as pl
import pyarrow.dataset as ds
from deltalake import DeltaTable

from peers import duckdb_with_delta

CLIENTS = 16
WINDOW = 10_000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def single_row_changes(server, report, work: Path, table_path: Path, ext: Path, rows: int, repeat: int = 21):
    url = f"{server.base}/v1/tables/bench/crm/customers"
    peer_path = work / "peer-single-row"
    shutil.rmtree(peer_path, ignore_errors=True)
    shutil.copytree(table_path, peer_path)
    rng = random.Random(11)
    updated = [rng.randrange(1, rows + 1) for _ in range(repeat)]
    deleted = [rng.randrange(1, rows + 1) for _ in range(repeat)]
    deleted = [k for k in deleted if k not in updated]

    def timed(fn, keys) -> list[float]:
        times = []
        for k in keys:
            start = time.perf_counter()
            fn(k)
            times.append((time.perf_counter() - start) * 1000)
        return times

    def update(k):
        res = server.http.patch(f"{url}/rows?id=eq.{k}", json={"city": f"moved {k}"})
        assert res.status_code == 200 and res.json()["rows"] == 1, res.text

    def delete(k):
        res = server.http.delete(f"{url}/rows?id=eq.{k}")
        assert res.status_code == 200 and res.json()["rows"] == 1, res.text

    ours_upd, ours_del = timed(update, updated), timed(delete, deleted)
    peer = DeltaTable(str(peer_path))
    peer_keys = [rng.randrange(1, rows + 1) for _ in range(7)]
    peer_upd = timed(lambda k: peer.update(predicate=f"id = {k}", updates={"city": "'moved'"}), peer_keys)
    peer_del = timed(lambda k: peer.delete(f"id = {k}"), peer_keys)
    report("update one row by PK (ms)", statistics.median(ours_upd), {"deltalake-py update": statistics.median(peer_upd)},
           "median <= 50 ms", extra=f"| p90 {percentile(ours_upd, 0.9):.0f} ms")
    report("delete one row by PK (ms)", statistics.median(ours_del), {"deltalake-py delete": statistics.median(peer_del)},
           "median <= 50 ms", extra=f"| p90 {percentile(ours_del, 0.9):.0f} ms")

    # Every reader sees the changes.
    keys = ", ".join(str(k) for k in updated + deleted)
    con = duckdb_with_delta(ext)
    readers = {
        "deltalake": lambda: DeltaTable(str(table_path)).to_pyarrow_dataset().to_table(
            filter=ds.field("id").isin(updated + deleted)).to_pylist(),
        "duckdb": lambda: [dict(zip(["id", "city"], r)) for r in
                           con.execute(f"SELECT id, city FROM delta_scan('{table_path}') WHERE id IN ({keys})").fetchall()],
        "polars": lambda: pl.scan_delta(str(table_path)).filter(pl.col("id").is_in(updated + deleted)).collect().to_dicts(),
        "lakeward": lambda: server.http.post(server.base + "/v1/sql", json={
            "query": f"SELECT id, city FROM bench.crm.customers WHERE id IN ({keys})"}).json()["rows"],
    }
    total = server.http.post(server.base + "/v1/sql", json={"query": "SELECT count(*) AS n FROM bench.crm.customers"}).json()["rows"][0]["n"]
    for name, read in readers.items():
        seen = {r["id"]: r["city"] for r in read()}
        assert seen == {k: f"moved {k}" for k in updated}, f"{name} does not see the changes: {seen}"
    counts = {"deltalake": DeltaTable(str(table_path)).to_pyarrow_dataset().count_rows(),
              "duckdb": con.execute(f"SELECT count(*) FROM delta_scan('{table_path}')").fetchone()[0],
              "polars": pl.scan_delta(str(table_path)).select(pl.len()).collect().item()}
    assert all(c == total for c in counts.values()), (total, counts)
    print(f"{'changes read back':<38} deltalake, DuckDB, Polars and Lakeward see {len(updated)} updates and "
          f"{len(deleted)} deletes; {total} rows in every reader", flush=True)


class Client:
    """One keep-alive connection posting single-row inserts."""

    def __init__(self, base: str, token: str, table: str):
        parsed = urlparse(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.path = f"/v1/tables/bench/crm/{table}/rows"
        self.headers = {"authorization": token, "content-type": "application/json"}

    def insert(self, key: int) -> int:
        self.conn.request("POST", self.path, body=json.dumps([{"id": key, "name": f"n{key}"}]), headers=self.headers)
        res = self.conn.getresponse()
        res.read()
        return res.status


def many_small_writers(server, inserts: int):
    table = "small_inserts"
    server.create(table)
    token = server.http.headers["authorization"]
    keys = iter(range(1, inserts + 1))
    lock = threading.Lock()
    done = []  # (finished at, latency ms, status)

    def work(_):
        client = Client(server.base, token, table)
        while True:
            with lock:
                key = next(keys, None)
            if key is None:
                return
            start = time.perf_counter()
            status = client.insert(key)
            end = time.perf_counter()
            with lock:
                done.append((end, (end - start) * 1000, status))

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(work, range(CLIENTS)))
    elapsed = time.perf_counter() - began
    done.sort()
    ok = sum(1 for _, _, s in done if s == 201)
    failed = len(done) - ok
    windows = []
    at = began
    for i in range(0, len(done), WINDOW):
        part = done[i:i + WINDOW]
        end = part[-1][0]
        windows.append(f"{len(part) / (end - at):.0f}/s p99 {percentile([l for _, l, _ in part], 0.99):.0f}")
        at = end
    latencies = [l for _, l, _ in done]
    stored = server.http.post(server.base + "/v1/sql", json={
        "query": f"SELECT count(*) AS n, count(DISTINCT id) AS keys FROM bench.crm.{table}"}).json()["rows"][0]
    version = server.http.get(f"{server.base}/v1/tables/bench/crm/{table}/history?limit=1").json()[0]["version"]
    print(f"{f'{CLIENTS} clients x single-row inserts':<38} lakeward {ok / elapsed:>9.1f} inserts/s | p50 "
          f"{percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms | {ok} acknowledged, "
          f"{stored['n']} stored ({stored['keys']} distinct), {failed} failed, {version} commits "
          f"| goal: >= 1000/s, p99 < 50 ms, flat", flush=True)
    print(f"{'  per 10,000 inserts':<38} {', '.join(windows)}", flush=True)
    assert stored["n"] == stored["keys"] == ok and failed == 0
