"""Issue 15.3: the cost of a query does not grow with the organisation. The same
selective queries (SQL: a key lookup and a small aggregate; GraphQL: a key lookup) over
`bench.crm.customers`, first with it the organisation's only table, then after 999 other
tables were created, medians.
"""

import statistics
import time

GRAPHQL = "GraphQL key lookup"
QUERIES = {
    "selective SQL (key lookup)": "SELECT * FROM bench.crm.customers WHERE id = {id}",
    "selective SQL (filtered count)": "SELECT count(*) AS n FROM bench.crm.customers WHERE id BETWEEN {id} AND {id} + 100",
    GRAPHQL: GRAPHQL,
}


def timed(server, query: str, repeat: int) -> float:
    times = []
    for i in range(repeat):
        key = 1000 + i * 7919
        if query == GRAPHQL:
            path, body = "/v1/graphql", {"query": f"{{ bench_crm_customers_by_pk(id: {key}) {{ id name }} }}"}
        else:
            path, body = "/v1/sql", {"query": query.format(id=key)}
        start = time.perf_counter()
        res = server.http.post(server.base + path, json=body, timeout=600)
        times.append((time.perf_counter() - start) * 1000)
        res.raise_for_status()
        assert "errors" not in res.json()
    return statistics.median(times)


def sql_scale(server, report, tables: int = 1000, repeat: int = 41):
    """`bench.crm.customers` exists and is the organisation's only table."""
    alone = {name: timed(server, q, repeat) for name, q in QUERIES.items()}
    server.http.post(server.base + "/v1/catalogs/bench/schemas", json={"name": "many"}).raise_for_status()
    start = time.perf_counter()
    for i in range(1, tables):
        res = server.http.post(f"{server.base}/v1/tables/bench/many/t{i:04d}",
                               json={"columns": [{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}]})
        res.raise_for_status()
    print(f"created {tables - 1} more tables in {time.perf_counter() - start:.1f} s", flush=True)
    for name, q in QUERIES.items():
        many = timed(server, q, repeat)
        report(f"{name}, {tables} tables", many, {"1 table": alone[name]}, "same as with 1 table")
