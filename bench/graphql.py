"""Issue 14: GraphQL against REST on the same table and server, medians:

- a primary-key lookup (goal: within 1.2x of the same lookup through REST);
- a list of 100 rows each with a nested relation into the large table (goal: a bounded
  number of engine reads, not one per row), against the two REST reads a client would
  make for the same answer.
"""

import random
import statistics
import time

SMALL = "/v1/tables/bench/crm/visits"
FIELDS = "id name email country city age balance active joined segment"


def timed_each(fn, args: list) -> float:
    """The median of `fn(arg)` over `args`, in milliseconds."""
    times = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def graphql(server, report, rows: int, lookups: int = 300, repeat: int = 15):
    """`bench.crm.customers` (`rows` rows, key `id` from 1) exists in `server`."""
    http, base = server.http, server.base

    def gql(query: str, **variables) -> dict:
        res = http.post(base + "/v1/graphql", json={"query": query, "variables": variables}, timeout=600)
        res.raise_for_status()
        body = res.json()
        assert "errors" not in body, body["errors"]
        return body

    by_pk = f"query($id: BigInt!) {{ bench_crm_customers_by_pk(id: $id) {{ {FIELDS} }} }}"
    rng = random.Random(7)
    ids = [rng.randint(1, rows) for _ in range(lookups)]
    # One of each first: the schema is built and the key index loaded before timing.
    assert gql(by_pk, id=ids[0])["data"]["bench_crm_customers_by_pk"]["id"] == ids[0]
    assert http.get(f"{base}/v1/tables/bench/crm/customers/rows?id=eq.{ids[0]}").json()[0]["id"] == ids[0]
    # Interleaved rounds, so that both see the same machine.
    rest_ms, gql_ms = [], []
    for chunk in range(0, lookups, 50):
        part = ids[chunk:chunk + 50]
        rest_ms.append(timed_each(lambda i: http.get(f"{base}/v1/tables/bench/crm/customers/rows?id=eq.{i}").raise_for_status(), part))
        gql_ms.append(timed_each(lambda i: gql(by_pk, id=i), part))
    ours, rest = statistics.median(gql_ms), statistics.median(rest_ms)
    report("primary-key lookup (GraphQL)", ours, {"REST": rest}, "<= 1.2x REST")

    # 100 visits, each naming a customer of the large table through a reference domain.
    columns = [{"name": "id", "type": "int64", "nullable": False}, {"name": "customer", "type": "int64"}]
    http.post(base + SMALL, json={"columns": columns, "primary_key": ["id"]}).raise_for_status()
    reference = {"table_reference": {"catalog": "bench", "schema": "crm", "table": "customers"}, "column": "id"}
    http.put(base + SMALL + "/columns/customer/domain/reference", json=reference).raise_for_status()
    customers = random.Random(11).sample(range(1, rows + 1), 100)
    visits = [{"id": i, "customer": c} for i, c in enumerate(customers)]
    http.post(base + SMALL + "/rows", json=visits).raise_for_status()
    nested = "{ bench_crm_visits(order_by: [{id: asc}]) { id customer_ref { id name country } } }"

    def over_graphql():
        body = gql(nested)
        listed = body["data"]["bench_crm_visits"]
        assert len(listed) == 100 and all(v["customer_ref"]["id"] == c for v, c in zip(listed, customers))
        return body["extensions"]["engineReads"]

    def over_rest():
        listed = http.get(base + SMALL + "/rows?order=id.asc").json()
        wanted = ",".join(str(v["customer"]) for v in listed)
        found = http.get(f"{base}/v1/tables/bench/crm/customers/rows?id=in.({wanted})&select=id,name,country").json()
        assert len(found) == 100

    reads = over_graphql()
    over_rest()
    ours = timed_each(lambda _: over_graphql(), range(repeat))
    rest = timed_each(lambda _: over_rest(), range(repeat))
    report("100 rows + nested relation (GraphQL)", ours, {"REST, two reads": rest}, "bounded engine reads",
           extra=f"| engine reads: {reads} for 100 rows")
