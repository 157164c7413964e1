"""Issue 14: results through Arrow Flight SQL (the ADBC driver) against Lakeward's own
REST Arrow IPC stream and DuckDB exporting the same Delta table to Arrow, medians:

- the whole 5M-row table (goal: Flight at least as fast as REST, within 1.5x of DuckDB);
- a 1M-row query result (the same goals).
"""

import statistics
import time

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import duckdb
import pyarrow.ipc as ipc


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def flight(server, report, table_path, ext, rows: int, repeat: int = 5):
    """`bench.crm.customers` exists in `server` (the dataplane group made it) at `table_path`."""
    token = server.http.headers["authorization"]
    header = adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value
    conn = flight_sql.connect(f"grpc://127.0.0.1:{server.flight_port}", db_kwargs={header: token})
    duck = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    duck.execute(f"LOAD '{ext}'")
    subset = min(1_000_000, rows)
    cases = [
        (f"fetch the {rows:,}-row table", "SELECT * FROM bench.crm.customers", f"SELECT * FROM delta_scan('{table_path}')"),
        (f"fetch a {subset:,}-row query result", f"SELECT * FROM bench.crm.customers WHERE id <= {subset}",
         f"SELECT * FROM delta_scan('{table_path}') WHERE id <= {subset}"),
    ]
    for name, query, duck_query in cases:
        def over_flight():
            with conn.cursor() as cur:
                cur.execute(query)
                return cur.fetch_arrow_table()

        def over_rest():
            with server.http.post(f"{server.base}/v1/sql", json={"query": query}, stream=True, timeout=600,
                                  headers={"accept": "application/vnd.apache.arrow.stream"}) as res:
                res.raise_for_status()
                res.raw.decode_content = True
                return ipc.open_stream(res.raw).read_all()

        flight_ms, table = timed(over_flight, repeat)
        rest_ms, rest_table = timed(over_rest, repeat)
        duck_ms, duck_table = timed(lambda: duck.execute(duck_query).fetch_arrow_table(), repeat)
        assert table.num_rows == rest_table.num_rows == duck_table.num_rows, (table.num_rows, rest_table.num_rows)
        report(f"{name} (Flight SQL, ADBC)", flight_ms, {"REST Arrow stream": rest_ms, "duckdb to Arrow": duck_ms},
               "<= REST, <= 1.5x DuckDB", extra=f"| x{flight_ms / rest_ms:.2f} of REST")
    conn.close()
