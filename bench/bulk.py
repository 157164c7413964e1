"""Issue 15.1: one large Arrow IPC insert of 1,000,000 rows, into a new keyed table and
into the 5M-row table, against Python `deltalake` and Polars appending the same Arrow
table to a Delta table of the same state, medians, with the server's peak memory.
"""

import io
import shutil
import statistics
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
from deltalake import write_deltalake

APPEND = 1_000_000


def arrow_rows(schema: pa.Schema, first_id: int, rows: int) -> pa.Table:
    """`rows` customers with ids from `first_id`, in `schema`."""
    ids = pa.array(range(first_id, first_id + rows), pa.int64())
    columns = {
        "id": ids,
        "name": pa.array([f"name {i}" for i in range(rows)]),
        "email": pa.array([f"user{i}@example.com" for i in range(rows)]),
        "country": pa.array(["DE", "FR", "IT", "ES"] * (rows // 4) + ["DE"] * (rows % 4)),
        "city": pa.array([f"city {i % 1000}" for i in range(rows)]),
        "age": pa.array([18 + i % 70 for i in range(rows)], pa.int32()),
        "balance": pa.array([i * 0.25 for i in range(rows)], pa.float64()),
        "active": pa.array([i % 3 == 0 for i in range(rows)]),
        "joined": pa.array([i % 20000 for i in range(rows)], pa.int32()).cast(pa.date32()),
        "segment": pa.array(["retail", "smb", "enterprise"] * (rows // 3) + ["retail"] * (rows % 3)),
    }
    return pa.table({f.name: columns[f.name] for f in schema}, schema=schema)


def ipc_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65536)
    return sink.getvalue()


def bulk(server, report, peak_rss_mb, reset_peak, work: Path, table_path: Path, rows: int, repeat: int = 5):
    """`bench.crm.customers` (`rows` rows, ids 1..rows) exists at `table_path`."""
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("email", pa.string()), ("country", pa.string()),
                        ("city", pa.string()), ("age", pa.int32()), ("balance", pa.float64()), ("active", pa.bool_()),
                        ("joined", pa.date32()), ("segment", pa.string())])
    headers = {"content-type": "application/vnd.apache.arrow.stream"}

    def ours(url: str, first_id: int) -> tuple[float, float]:
        body = ipc_bytes(arrow_rows(schema, first_id, APPEND))
        reset_peak(server.proc.pid)
        start = time.perf_counter()
        res = server.http.post(url + "/rows", data=body, headers=headers, timeout=600)
        elapsed = time.perf_counter() - start
        assert res.status_code == 201, res.text[:500]
        return elapsed, peak_rss_mb(server.proc.pid)

    def peer(write, target: Path, seed: Path | None, first_id: int) -> float:
        shutil.rmtree(target, ignore_errors=True)
        if seed is not None:
            shutil.copytree(seed, target)
        data = arrow_rows(schema, first_id, APPEND)
        start = time.perf_counter()
        write(str(target), data)
        return time.perf_counter() - start

    writers = {
        "deltalake": lambda path, data: write_deltalake(path, data, mode="append"),
        "polars": lambda path, data: pl.from_arrow(data).write_delta(path, mode="append"),
    }
    for case, seed in [("new keyed table", None), (f"{rows:,}-row table", table_path)]:
        times, peaks = [], []
        for i in range(repeat):
            if seed is None:
                url = server.create(f"bulk_{i}_{int(time.time() * 1000)}")
                first = 1
            else:
                url = f"{server.base}/v1/tables/bench/crm/customers"
                first = rows + 1 + i * APPEND
            elapsed, peak = ours(url, first)
            times.append(elapsed)
            peaks.append(peak)
        peers = {name: statistics.median(peer(w, work / f"bulk-{name}", seed, rows + 1) for _ in range(repeat))
                 for name, w in writers.items()}
        report(f"1M-row Arrow append, {case} (s)", statistics.median(times), peers, "<= 1.0x deltalake, peak < 300 MB",
               unit="s", extra=f"| server peak {max(peaks):.0f} MB")
