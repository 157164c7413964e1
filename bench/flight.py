"""Issue 14: results through Arrow Flight SQL (the ADBC driver) against Lakeward's own
REST Arrow IPC stream and DuckDB exporting the same Delta table to Arrow, medians:

- the whole 5M-row table (goal: Flight at least as fast as REST, within 1.5x of DuckDB);
- a 1M-row query result (the same goals).
"""

import statistics
import time

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import pyarrow.flight as pa_flight
import pyarrow.ipc as ipc

from peers import duckdb_with_delta


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def _field(number: int, value: bytes) -> bytes:
    """A protobuf length-delimited field (wire type 2)."""
    length, out = len(value), bytearray()
    while True:
        out.append((length & 0x7F) | (0x80 if length >> 7 else 0))
        length >>= 7
        if not length:
            return bytes([number << 3 | 2]) + bytes(out) + value


def statement_descriptor(query: str) -> pa_flight.FlightDescriptor:
    """`CommandStatementQuery` packed in an `Any`, as a Flight SQL client sends it."""
    kind = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    return pa_flight.FlightDescriptor.for_command(_field(1, kind) + _field(2, _field(1, query.encode())))


def flight(server, report, table_path, ext, rows: int, repeat: int = 5):
    """`bench.crm.customers` exists in `server` (the dataplane group made it) at `table_path`."""
    token = server.http.headers["authorization"]
    header = adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value
    conn = flight_sql.connect(f"grpc://127.0.0.1:{server.flight_port}", db_kwargs={header: token})
    duck = duckdb_with_delta(ext)
    raw = pa_flight.FlightClient(f"grpc://127.0.0.1:{server.flight_port}")
    options = pa_flight.FlightCallOptions(headers=[(b"authorization", token.encode())])
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

        def over_cpp_flight():
            # The same calls from Arrow C++'s Flight client: tells the server's share of
            # the time from the ADBC (Go) driver's.
            info = raw.get_flight_info(statement_descriptor(query), options)
            return raw.do_get(info.endpoints[0].ticket, options).read_all()

        flight_ms, table = timed(over_flight, repeat)
        cpp_ms, cpp_table = timed(over_cpp_flight, repeat)
        rest_ms, rest_table = timed(over_rest, repeat)
        duck_ms, duck_table = timed(lambda: duck.execute(duck_query).fetch_arrow_table(), repeat)
        assert table.num_rows == cpp_table.num_rows == rest_table.num_rows == duck_table.num_rows
        report(f"{name} (Flight SQL, ADBC)", flight_ms, {"REST Arrow stream": rest_ms, "duckdb to Arrow": duck_ms},
               "<= REST, <= 1.5x DuckDB", extra=f"| x{flight_ms / rest_ms:.2f} of REST | pyarrow.flight {cpp_ms:.1f} ms")
    conn.close()
    raw.close()
