"""Issue 17: replicas on one PostgreSQL and one warehouse folder.

- The authentication path (an API-key request, `GET /v1/organisations/me`) on SQLite and
  on PostgreSQL metadata: requests/s from 8 keep-alive clients for a fixed time.
- 16 clients inserting single rows into one keyed table through 1 replica and through 3
  (clients spread round-robin): inserts/s, p50/p99, and the stored rows checked.
- A point lookup on a replica that did not write, right after a write on another,
  against the same lookup on the writing replica (medians).
"""

import concurrent.futures
import http.client
import json
import secrets
import statistics
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

CLIENTS = 16


def postgres_url() -> str:
    """Starts (or reuses) the loopback PostgreSQL of scripts/postgres.sh; a new database."""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([str(root / "scripts" / "postgres.sh"), "start"], check=True, capture_output=True, text=True).stdout
    admin = out.strip().split("=", 1)[1]
    name = f"lakeward_bench_{secrets.token_hex(4)}"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    return admin.rsplit("/", 1)[0] + "/" + name


class Conn:
    def __init__(self, base: str, token: str):
        parsed = urlparse(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        res = self.conn.getresponse()
        return res.status, res.read()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def auth_path(Server, binary, report, work: Path, seconds: float = 5.0, repeat: int = 3):
    rates = {}
    for backend in ("sqlite", "postgres"):
        data = work / f"auth-{backend}"
        subprocess.run(["rm", "-rf", str(data)], check=True)
        data.mkdir(parents=True)
        args = ["--metadata-url", postgres_url()] if backend == "postgres" else []
        server = Server(binary, data, extra_args=args)
        try:
            key = server.http.post(server.base + "/v1/api-keys", json={"name": "bench", "scopes": ["read"]}).json()["key"]
            runs = []
            for _ in range(repeat):
                stop_at = time.perf_counter() + seconds
                counts = []

                def work_loop(_):
                    conn, n = Conn(server.base, key), 0
                    while time.perf_counter() < stop_at:
                        status, _ = conn.call("GET", "/v1/organisations/me")
                        assert status == 200, status
                        n += 1
                    counts.append(n)

                with concurrent.futures.ThreadPoolExecutor(8) as pool:
                    list(pool.map(work_loop, range(8)))
                runs.append(sum(counts) / seconds)
            rates[backend] = statistics.median(runs)
        finally:
            server.stop()
    report("API-key requests, PostgreSQL (req/s)", rates["postgres"], {"SQLite": rates["sqlite"]},
           "report: PostgreSQL vs SQLite", unit="r/s")


def start_replicas(Server, binary, work: Path, n: int):
    data = work / f"replicas-{n}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    data.mkdir(parents=True)
    args = ["--metadata-url", postgres_url(), "--secret", secrets.token_hex(32)]
    first = Server(binary, data, extra_args=args)
    others = [Server(binary, data, extra_args=args, join=True) for _ in range(n - 1)]
    return [first, *others]


def inserts(Server, binary, report, work: Path, total: int = 4000):
    results = {}
    for n in (1, 3):
        servers = start_replicas(Server, binary, work, n)
        try:
            table = servers[0].create("small")
            token = servers[0].http.headers["authorization"].split(" ", 1)[1]
            keys = iter(range(1, total + 1))
            lock = threading.Lock()
            latencies, statuses = [], []

            def work_loop(c):
                conn = Conn(servers[c % n].base, token)
                while True:
                    with lock:
                        key = next(keys, None)
                    if key is None:
                        return
                    start = time.perf_counter()
                    status, _ = conn.call("POST", "/v1/tables/bench/crm/small/rows", [{"id": key, "name": f"n{key}"}])
                    with lock:
                        latencies.append((time.perf_counter() - start) * 1000)
                        statuses.append(status)

            began = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(work_loop, range(CLIENTS)))
            elapsed = time.perf_counter() - began
            assert statuses.count(201) == total, {s: statuses.count(s) for s in set(statuses)}
            stored = servers[-1].http.post(servers[-1].base + "/v1/sql",
                                           json={"query": "SELECT count(*) AS n, count(DISTINCT id) AS d FROM bench.crm.small"}).json()["rows"][0]
            assert stored == {"n": total, "d": total}, stored
            results[n] = (total / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99))
        finally:
            for s in servers:
                s.stop()
    for n in (1, 3):
        rate, p50, p99 = results[n]
        peers = {"1 replica": results[1][0]} if n == 3 else {}
        report(f"16 clients x single-row inserts, {n} replica(s) (ins/s)", rate, peers,
               "no loss; 3 replicas >= 1", unit="i/s", extra=f"| p50 {p50:.0f} ms, p99 {p99:.0f} ms, {total:,} rows stored once")


def lookup_elsewhere(Server, binary, report, work: Path, repeat: int = 41):
    writer, reader = start_replicas(Server, binary, work, 2)
    try:
        writer.create("lookups")
        token = writer.http.headers["authorization"].split(" ", 1)[1]
        w, r = Conn(writer.base, token), Conn(reader.base, token)
        own, other = [], []
        for i in range(repeat):
            status, _ = w.call("POST", "/v1/tables/bench/crm/lookups/rows", [{"id": i, "name": f"n{i}"}])
            assert status == 201
            for conn, times in ((r, other), (w, own)) if i % 2 else ((w, own), (r, other)):
                start = time.perf_counter()
                status, body = conn.call("GET", f"/v1/tables/bench/crm/lookups/rows?id=eq.{i}")
                times.append((time.perf_counter() - start) * 1000)
                assert status == 200 and json.loads(body)[0]["id"] == i, body
        report("lookup right after a write elsewhere (ms)", statistics.median(other), {"on the writer": statistics.median(own)},
               "within 1.2x of the writing replica")
    finally:
        writer.stop()
        reader.stop()
