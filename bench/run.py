"""Lakeward benchmark harness: Lakeward over HTTP versus peers on the same data, one run.

Prints one line per workload: Lakeward's median, the peers' medians, the ratio to the
fastest peer, and the goal from the issue. See bench/README.md.
"""

import argparse
import concurrent.futures
import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import uuid
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import requests
from deltalake import DeltaTable, write_deltalake

from peers import delta_extension, duckdb_with_delta

PASSWORD = "correct horse battery"
COUNTRIES = ["DE", "FR", "IT", "ES", "NL", "BE", "AT", "PL", "SE", "DK", "FI", "PT", "IE", "CZ", "GR"]


def generate(path: Path, rows: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    ids = pa.array(range(1, rows + 1), pa.int64())
    n = rows
    names = pa.array([f"customer {i}" for i in range(n)])
    emails = pa.array([f"c{i}@example.com" for i in range(n)])
    country = pa.array([COUNTRIES[rng.randrange(len(COUNTRIES))] for _ in range(n)])
    city = pa.array([f"city {rng.randrange(5000)}" for _ in range(n)])
    age = pa.array([rng.randrange(18, 95) for _ in range(n)], pa.int32())
    balance = pa.array([round(rng.uniform(-1000, 100000), 2) for _ in range(n)], pa.float64())
    active = pa.array([rng.random() < 0.8 for _ in range(n)])
    joined = pa.array([f"20{rng.randrange(10, 25)}-0{rng.randrange(1, 10)}-1{rng.randrange(0, 9)}" for _ in range(n)])
    segment = pa.array([["retail", "sme", "corporate", "public"][rng.randrange(4)] for _ in range(n)])
    table = pa.table({"id": ids, "name": names, "email": emails, "country": country, "city": city, "age": age,
                      "balance": balance, "active": active, "joined": joined, "segment": segment})
    pacsv.write_csv(table, path)


COLUMNS = [
    {"name": "id", "type": "int64", "nullable": False}, {"name": "name", "type": "string"},
    {"name": "email", "type": "string"}, {"name": "country", "type": "string"}, {"name": "city", "type": "string"},
    {"name": "age", "type": "int32"}, {"name": "balance", "type": "float64"}, {"name": "active", "type": "boolean"},
    {"name": "joined", "type": "date"}, {"name": "segment", "type": "string"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss(pid: int) -> None:
    """Makes `VmHWM` the current RSS, so that the next peak is that of what follows."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class Server:
    def __init__(self, binary: str, data_dir: Path, query_timeout_secs: int = 600, extra_args=(), env=None, join=False):
        """`join`: another replica on a database where the bench organisation exists (signs in)."""
        self.port, self.flight_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{self.port}",
             "--flight-listen", f"127.0.0.1:{self.flight_port}",
             "--rate-limit-per-minute", "10000000", "--auth-rate-limit-per-minute", "100000",
             "--max-upload-bytes", str(8 << 30), "--query-timeout-secs", str(query_timeout_secs), "--memory-limit-mb", "4096",
             *extra_args],
            stdout=subprocess.DEVNULL, stderr=open(data_dir.parent / f"server-{self.port}.log" if join else data_dir.parent / "server.log", "w"),
            env={**os.environ, **(env or {})})
        self.http = requests.Session()
        deadline = time.time() + 60
        while True:
            try:
                if self.http.get(self.base + "/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
            if time.time() > deadline:
                raise SystemExit("server did not start")
        if join:
            res = self.http.post(self.base + "/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD})
            res.raise_for_status()
            self.http.headers["authorization"] = f"Bearer {res.json()['access_token']}"
            return
        res = self.http.post(self.base + "/v1/auth/onboard", json={"email": "bench@example.com", "password": PASSWORD, "organisation_name": "Bench"})
        res.raise_for_status()
        body = res.json()
        self.org_id = body["organisation"]["id"]
        self.http.headers["authorization"] = f"Bearer {body['access_token']}"
        for path, payload in [("/v1/catalogs", {"name": "bench"}), ("/v1/catalogs/bench/schemas", {"name": "crm"})]:
            self.http.post(self.base + path, json=payload).raise_for_status()

    def create(self, name: str) -> str:
        res = self.http.post(f"{self.base}/v1/tables/bench/crm/{name}", json={"columns": COLUMNS, "primary_key": ["id"]})
        res.raise_for_status()
        return f"{self.base}/v1/tables/bench/crm/{name}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def report(name, ours, peers: dict, goal: str, unit="ms", extra=""):
    best_name, best = min(peers.items(), key=lambda kv: kv[1]) if peers else ("-", float("nan"))
    ratio = ours / best if peers else float("nan")
    peer_text = ", ".join(f"{k} {v:.1f}" for k, v in peers.items()) or "-"
    print(f"{name:<38} lakeward {ours:>9.1f} {unit} | peers: {peer_text} | x{ratio:.2f} of {best_name} | goal: {goal} {extra}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--work", default=None, help="working directory (default: a temporary one)")
    parser.add_argument("--only", default="dataplane,governance,cancel",
                        help="comma-separated workload groups: dataplane (issue 3), governance (issue 4), cancel (issue 11), "
                             "storage (issue 13: needs scripts/emulators.sh running), flight and graphql (issue 14), "
                             "sqlscale (issue 15: SQL with 1 and 1,000 tables), bulk (issue 15: 1M-row Arrow appends), "
                             "tpch (issue 15: the 22 TPC-H queries), writes (issue 15: single-row changes, many small "
                             "writers), infer (issue 15: CSV inference), clones (issue 16: deep and shallow clones, diffs), replicas (issue 17: PostgreSQL and 3 replicas), "
                             "console (issue 18: the console's first screen in Chromium, its size; the CLI's export)")
    parser.add_argument("--scale", type=int, default=1, help="TPC-H scale factor (tpch)")
    parser.add_argument("--queries", default="", help="comma-separated TPC-H query numbers (tpch; default all 22)")
    parser.add_argument("--inserts", type=int, default=100_000, help="single-row inserts by 16 clients (writes)")
    parser.add_argument("--object-mb", type=int, default=1024, help="size of the object uploaded and downloaded (storage)")
    args = parser.parse_args()
    groups = set(args.only.split(","))
    work = Path(args.work or tempfile.mkdtemp(prefix="lakeward-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ext = delta_extension()
    if "cancel" in groups:
        cancel(work)
    if "tpch" in groups:
        tpch_group(work, ext, args.scale, [int(q) for q in args.queries.split(",") if q])
    if "replicas" in groups:
        import replicas
        binary = os.environ["LAKEWARD_BIN"]
        replicas.auth_path(Server, binary, report, work)
        replicas.inserts(Server, binary, report, work)
        replicas.lookup_elsewhere(Server, binary, report, work)
    if not groups & {"dataplane", "governance", "storage", "flight", "graphql", "sqlscale", "bulk", "writes", "infer",
                     "clones", "console"}:
        return
    csv_path = work / f"customers-{args.rows}.csv"
    if not csv_path.exists():
        t = time.perf_counter()
        generate(csv_path, args.rows)
        print(f"generated {args.rows} rows, {csv_path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t:.1f} s")
    data_dir = work / "server-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    server = Server(os.environ["LAKEWARD_BIN"], data_dir)
    print(f"lakeward {server.http.get(server.base + '/v1/health').json()['version']}, {args.rows} rows, {os.cpu_count()} cores")
    if "governance" in groups:
        governance(server, csv_path, args.rows)
    if "infer" in groups and "governance" not in groups:
        inference(server, csv_path, args.rows)
    if "dataplane" in groups:
        dataplane(server, csv_path, work, data_dir, ext, args.rows)
    table_path = data_dir / "warehouse" / server.org_id / "bench" / "crm" / "customers"
    if groups & {"flight", "graphql", "sqlscale", "bulk", "writes", "clones", "console"} and "dataplane" not in groups:
        server.create("customers")
        import_job(server, "customers", csv_path)
    if "console" in groups:
        import console
        console.console(server, report, work, args.rows)
    if "writes" in groups:
        import small_writes
        small_writes.many_small_writers(server, args.inserts)
        small_writes.single_row_changes(server, report, work, table_path, ext, args.rows)
    if "clones" in groups:
        import clones
        clones.clones(server, report, work, table_path, args.rows)
        clones.catalog(server, report, work)
        clones.diff(server, report, table_path, args.rows)
        clones.vacuum(server, report, work)
    if "bulk" in groups:
        import bulk
        bulk.bulk(server, report, peak_rss_mb, reset_peak_rss, work, table_path, args.rows)
    if "sqlscale" in groups:
        import sql_scale
        sql_scale.sql_scale(server, report)
    if "graphql" in groups:
        import graphql
        graphql.graphql(server, report, args.rows)
    if "flight" in groups:
        import flight
        flight.flight(server, report, table_path, ext, args.rows)
    if "storage" in groups:
        import storage
        storage.storage(server, report, post_file, csv_path, args.rows, args.object_mb, peak_rss_mb, current_rss_mb)
    server.stop()
    if "storage" in groups:
        s3_dir = work / "server-s3-data"
        shutil.rmtree(s3_dir, ignore_errors=True)
        s3_dir.mkdir()
        warehouse = f"s3://{storage.BUCKET}/bench-warehouse-{random.randrange(1 << 30):08x}"
        env = {k: v for k, v in storage.OPTIONS.items() if k.isupper()}
        s3_server = Server(os.environ["LAKEWARD_BIN"], s3_dir, extra_args=["--warehouse", warehouse], env=env)
        storage.import_to_s3_warehouse(s3_server, report, csv_path, args.rows, import_job)
        s3_server.stop()


def tpch_group(work: Path, ext: Path, scale: int, queries: list[int]):
    """Issue 15.2, on a server of its own."""
    import tpch
    data_dir = work / "tpch-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    server = Server(os.environ["LAKEWARD_BIN"], data_dir)
    tpch.tpch(server, report, post_file, wait_job, data_dir / "warehouse" / server.org_id, ext, work, scale, only=queries)
    server.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_release_seconds(pid: int, since: float, window: float = 0.1) -> float:
    """Seconds from `since` until the process's CPU use over a `window` first falls under
    10% of one core (the start of that quiet window)."""
    before, at = cpu_seconds(pid), time.perf_counter()
    while at - since < 180:
        time.sleep(window)
        now_cpu, now = cpu_seconds(pid), time.perf_counter()
        if (now_cpu - before) / (now - at) < 0.1:
            return max(0.0, at - since)
        before, at = now_cpu, now
    return float("inf")


# A non-equi join of two 2M-row ranges: hours of work unless stopped.
RUNAWAY = "SELECT count(*) FROM range(2000000) a JOIN range(2000000) b ON a.value < b.value"


def cancel(work: Path, repeat: int = 5):
    """Issue 11: how soon a query stops using the CPU after its timeout (3 s) answers 408,
    and after its client disconnects (1 s into the query)."""
    data_dir = work / "cancel-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    server = Server(os.environ["LAKEWARD_BIN"], data_dir, query_timeout_secs=3)
    after_timeout, after_disconnect = [], []
    for _ in range(repeat):
        res = server.http.post(server.base + "/v1/sql", json={"query": RUNAWAY}, timeout=60)
        answered = time.perf_counter()
        assert res.status_code == 408, res.text
        after_timeout.append(cpu_release_seconds(server.proc.pid, answered))
        try:
            requests.post(server.base + "/v1/sql", json={"query": RUNAWAY}, timeout=1.0,
                          headers={"authorization": server.http.headers["authorization"]})
            raise SystemExit("the runaway query answered within a second")
        except requests.Timeout:
            gone = time.perf_counter()
        after_disconnect.append(cpu_release_seconds(server.proc.pid, gone))
    server.stop()
    for name, figures in [("CPU released after 408 timeout", after_timeout),
                          ("CPU released after client disconnect", after_disconnect)]:
        runs = ", ".join(f"{f:.2f}" for f in figures)
        print(f"{name:<38} lakeward {statistics.median(figures):>9.2f} s  (runs: {runs}) | goal: under 1 s", flush=True)


def wait_job(server: "Server", job: dict) -> dict:
    while True:
        job = server.http.get(f"{server.base}/v1/jobs/{job['id']}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)


def post_file(server: "Server", path: str, field: str, file: Path, content_type: str, fields: dict | None = None):
    """POSTs `file` as multipart form data read and sent piece by piece, as curl -F does
    (requests' `files=` would build the whole body in memory first, a cost of the client)."""
    boundary = uuid.uuid4().hex

    def body():
        for key, value in (fields or {}).items():
            yield f"--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n".encode()
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file.name}\"\r\n"
               f"Content-Type: {content_type}\r\n\r\n").encode()
        with open(file, "rb") as f:
            while chunk := f.read(4 << 20):
                yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    return server.http.post(server.base + path, data=body(), timeout=3600,
                            headers={"content-type": f"multipart/form-data; boundary={boundary}"})


def import_job(server: "Server", table: str, csv_path: Path) -> float:
    start = time.perf_counter()
    res = post_file(server, f"/v1/tables/bench/crm/{table}/import", "file", csv_path, "text/csv")
    res.raise_for_status()
    job = wait_job(server, res.json())
    assert job["status"] == "succeeded", job
    return time.perf_counter() - start


def governance(server: "Server", csv_path: Path, rows: int):
    """Issue 4: writes into a table with three domains and two CHECK constraints versus
    the same writes into an unconstrained table; CSV inference versus DuckDB's sniffer."""
    def governed(name: str) -> str:
        url = server.create(name)
        domains = {"country": COUNTRIES, "segment": ["retail", "sme", "corporate", "public"],
                   "age": [str(a) for a in range(18, 95)]}
        for column, values in domains.items():
            server.http.put(f"{url}/columns/{column}/domain/fixed", json={"allowed_values": values}).raise_for_status()
        server.http.post(f"{url}/constraints", json={"constraints": [
            {"name": "balance_floor", "expr": "balance >= -1000"},
            {"name": "adult", "expr": "age BETWEEN 18 AND 120"}]}).raise_for_status()
        return url

    # Inserts: the same 100,000-row CSV chunks, one request each.
    chunk_rows = min(100_000, rows)
    with open(csv_path) as f:
        header = f.readline()
        lines = [f.readline() for _ in range(chunk_rows * 5)]
    chunks = [(header + "".join(lines[i * chunk_rows:(i + 1) * chunk_rows])).encode() for i in range(5)]
    times = {}
    for name, url in [("plain", server.create("plain_inserts")), ("governed", governed("governed_inserts"))]:
        it = iter(chunks)
        times[name] = median_ms(lambda: server.http.post(url + "/rows", data=next(it), headers={"content-type": "text/csv"}).raise_for_status(), 5)
    report(f"insert {chunk_rows // 1000}k rows, 3 domains + 2 checks (ms)", times["governed"], {"unconstrained": times["plain"]}, "<= 1.25x unconstrained")

    # Imports of the whole file as jobs.
    server.create("plain_import")
    governed("governed_import")
    plain_s = import_job(server, "plain_import", csv_path)
    governed_s = import_job(server, "governed_import", csv_path)
    report("import job, 3 domains + 2 checks (s)", governed_s, {"unconstrained": plain_s}, "<= 1.25x unconstrained", unit="s",
           extra=f"| {rows / governed_s / 1e6:.2f} M rows/s governed")

    inference(server, csv_path, rows)


def inference(server: "Server", csv_path: Path, rows: int):
    """Issues 4 and 15.6: CSV inference over HTTP (upload included) versus DuckDB on the local file."""
    runs, passes = [], []
    for _ in range(3):
        start = time.perf_counter()
        res = post_file(server, "/v1/tables/infer", "file", csv_path, "text/csv")
        res.raise_for_status()
        runs.append(time.perf_counter() - start)
        passes.append(float(res.headers["server-timing"].split("dur=")[1]) / 1000)
    inferred = res.json()
    assert inferred["length"] == rows, inferred["length"]
    con = duckdb.connect()
    sniff = median_ms(lambda: con.execute(f"SELECT * FROM sniff_csv('{csv_path}')").fetchall(), 3) / 1000
    full = median_ms(lambda: con.execute(f"SELECT count(*) FROM read_csv('{csv_path}')").fetchall(), 3) / 1000
    report("CSV inference pass, every row (s)", statistics.median(passes), {"duckdb read_csv count (full)": full},
           "<= 1.5x DuckDB read_csv (full)", unit="s",
           extra=f"| duckdb sniff_csv (sample) {sniff:.2f} s | {statistics.median(runs):.1f} s with the upload over HTTP; domains proposed: {sorted(inferred['fieldsWithDomains'])}")


def dataplane(server: "Server", csv_path: Path, work: Path, data_dir: Path, ext: Path, rows: int):
    """Issue 3: import, lookups, SQL, concurrent inserts, updates, export."""
    # 1. CSV import over HTTP, one request, one commit.
    table_url = server.create("customers")
    base_rss = current_rss_mb(server.proc.pid)
    start = time.perf_counter()
    with open(csv_path, "rb") as f:
        res = server.http.post(table_url + "/rows", data=f, headers={"content-type": "text/csv"}, timeout=3600)
    ours_import = time.perf_counter() - start
    res.raise_for_status()
    import_peak = peak_rss_mb(server.proc.pid)
    peers = {}
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("email", pa.string()), ("country", pa.string()), ("city", pa.string()),
                        ("age", pa.int32()), ("balance", pa.float64()), ("active", pa.bool_()), ("joined", pa.date32()), ("segment", pa.string())])
    t = time.perf_counter()
    write_deltalake(str(work / "peer-deltalake"), pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(column_types=schema)), mode="overwrite")
    peers["pyarrow+deltalake"] = time.perf_counter() - t
    t = time.perf_counter()
    pl.read_csv(csv_path, schema_overrides={"age": pl.Int32, "joined": pl.Date}).write_delta(str(work / "peer-polars"), mode="overwrite")
    peers["polars"] = time.perf_counter() - t
    report("CSV import over HTTP (s)", ours_import, peers, "<= 1.2x fastest peer, peak < 500 MB", unit="s",
           extra=f"| {rows / ours_import / 1e6:.2f} M rows/s, server peak {import_peak:.0f} MB (idle {base_rss:.0f} MB)")

    table_path = data_dir / "warehouse" / server.org_id / "bench" / "crm" / "customers"
    rng = random.Random(7)

    # 2. Primary-key point lookup over REST.
    ids = [rng.randrange(1, rows + 1) for _ in range(50)]
    it = iter(ids * 10)
    ours = median_ms(lambda: server.http.get(f"{table_url}/rows?id=eq.{next(it)}").raise_for_status(), 50)
    lazy = pl.scan_delta(str(table_path))
    it2 = iter(ids * 10)
    polars_ms = median_ms(lambda: lazy.filter(pl.col("id") == next(it2)).collect(), 20)
    con = duckdb_with_delta(ext)
    it3 = iter(ids * 10)
    duck_ms = median_ms(lambda: con.execute(f"SELECT * FROM delta_scan('{table_path}') WHERE id = {next(it3)}").fetchall(), 20)
    report("PK point lookup over REST (ms)", ours, {"polars": polars_ms, "duckdb": duck_ms}, "median <= 10 ms")

    # 3. Group-by count over SQL.
    query = {"query": "SELECT country, count(*) AS n FROM bench.crm.customers GROUP BY country"}
    ours = median_ms(lambda: server.http.post(server.base + "/v1/sql", json=query).raise_for_status(), 7)
    duck_ms = median_ms(lambda: con.execute(f"SELECT country, count(*) FROM delta_scan('{table_path}') GROUP BY country").fetchall(), 7)
    polars_ms = median_ms(lambda: pl.scan_delta(str(table_path)).group_by("country").len().collect(), 7)
    report("group-by count over SQL (ms)", ours, {"duckdb": duck_ms, "polars": polars_ms}, "<= 1.2x DuckDB")

    # 4. 16 concurrent clients doing single-row inserts.
    small_url = server.create("inserts")
    stop_at = time.time() + 10
    counter = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def client(c: int):
        s = requests.Session()
        s.headers.update(server.http.headers)
        k = 0
        while time.time() < stop_at:
            k += 1
            r = s.post(small_url + "/rows", json=[{"id": c * 10_000_000 + k, "name": "x"}])
            with lock:
                counter["ok" if r.status_code == 201 else "failed"] += 1
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(client, range(16)))
    elapsed = time.perf_counter() - t
    stored = server.http.post(server.base + "/v1/sql", json={"query": "SELECT count(*) AS n FROM bench.crm.inserts"}).json()["rows"][0]["n"]
    print(f"{'16 clients x single-row inserts':<38} lakeward {counter['ok'] / elapsed:>9.1f} inserts/s | {counter['ok']} acknowledged, {stored} stored, "
          f"{counter['failed']} failed | goal: >= 200/s, no lost rows", flush=True)

    # 5. Update and delete one row by primary key.
    upd_ids = iter([rng.randrange(1, rows + 1) for _ in range(20)])
    ours_upd = median_ms(lambda: server.http.patch(f"{table_url}/rows?id=eq.{next(upd_ids)}", json={"city": "moved"}).raise_for_status(), 5)
    del_ids = iter([rng.randrange(1, rows + 1) for _ in range(20)])
    ours_del = median_ms(lambda: server.http.delete(f"{table_url}/rows?id=eq.{next(del_ids)}").raise_for_status(), 5)
    peer_dt = DeltaTable(str(work / "peer-deltalake"))
    peer_ids = iter([rng.randrange(1, rows + 1) for _ in range(20)])
    peer_del = median_ms(lambda: peer_dt.delete(f"id = {next(peer_ids)}"), 3)
    report("update one row by PK (ms)", ours_upd, {"deltalake-py delete": peer_del}, "median <= 100 ms")
    report("delete one row by PK (ms)", ours_del, {"deltalake-py delete": peer_del}, "median <= 100 ms")

    # 6. Export the whole table, watching the server's memory.
    before = current_rss_mb(server.proc.pid)
    peak = {"mb": before}
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak["mb"] = max(peak["mb"], current_rss_mb(server.proc.pid))
            time.sleep(0.05)
    watcher = threading.Thread(target=watch)
    watcher.start()
    t = time.perf_counter()
    size = 0
    with server.http.get(table_url + "/export?format=csv", stream=True) as res:
        res.raise_for_status()
        for chunk in res.iter_content(1 << 20):
            size += len(chunk)
    export_s = time.perf_counter() - t
    done.set()
    watcher.join()
    print(f"{'export whole table as CSV':<38} lakeward {export_s:>9.1f} s | {size / 2**20:.0f} MiB, server RSS {before:.0f} -> peak {peak['mb']:.0f} MB "
          f"| goal: peak < 300 MB", flush=True)


if __name__ == "__main__":
    main()
