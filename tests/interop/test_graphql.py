"""GraphQL through a real client (`gql` from PyPI, which validates every request against
the schema it introspected) and over plain HTTP: every filter operator, ordering, paging
both ways, aggregates, time travel, nested relations, governed mutations valid and
violating, introspection as two organisations, limits, transport errors and GraphiQL."""

import datetime
import re
import time
from decimal import Decimal

import pytest
import pyarrow as pa
from deltalake import write_deltalake
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport
from graphql import ExecutionResult, GraphQLError

CUSTOMERS = "/v1/tables/main/crm/customers"
COUNTRIES = "/v1/tables/main/crm/countries"
LABELS = {"DE": "Germany", "FR": "France", "IT": "Italy"}
NAMES = ["Ada", "ada", "Bob", "Cy", "Dee"]


def customer(i: int) -> dict:
    """Row `i` of the 100 customers: every fourth has no country, the last few no date."""
    return {
        "id": i,
        "name": f"{NAMES[i % len(NAMES)]}{i:03d}",
        "country": [None, "DE", "FR", "IT"][i % 4],
        "price": f"{Decimal(i) * Decimal('1.25'):.2f}",
        "joined": None if i > 90 else (datetime.date(2024, 1, 1) + datetime.timedelta(days=i)).isoformat(),
    }


ROWS = [customer(i) for i in range(1, 101)]


@pytest.fixture(scope="module")
def org(lakeward):
    answer = lakeward.onboard("Graph", "ada@graphql.test")
    token = answer["access_token"]
    for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "crm"})]:
        assert lakeward.call("POST", path, token, json=body).status_code == 201
    countries = {"columns": [{"name": "code", "type": "string", "nullable": False}, {"name": "label", "type": "string"}],
                 "primary_key": ["code"]}
    assert lakeward.call("POST", COUNTRIES, token, json=countries).status_code == 201
    codes = [{"code": c, "label": label} for c, label in LABELS.items()]
    assert lakeward.call("POST", COUNTRIES + "/rows", token, json=codes).status_code == 201
    columns = [
        {"name": "id", "type": "int64", "nullable": False}, {"name": "name", "type": "string"},
        {"name": "country", "type": "string"}, {"name": "price", "type": "decimal(10,2)"}, {"name": "joined", "type": "date"},
    ]
    assert lakeward.call("POST", CUSTOMERS, token, json={"columns": columns, "primary_key": ["id"]}).status_code == 201
    reference = {"table_reference": {"catalog": "main", "schema": "crm", "table": "countries"}, "column": "code"}
    res = lakeward.call("PUT", CUSTOMERS + "/columns/country/domain/reference", token, json=reference)
    assert res.status_code == 200, res.text
    res = lakeward.call("POST", CUSTOMERS + "/rows", token, json=ROWS)
    assert res.status_code == 201, res.text
    res = lakeward.call("POST", "/v1/api-keys", token, json={"name": "app", "scopes": ["read"]})
    assert res.status_code == 201, res.text
    return {"token": token, "read_key": res.json()["key"], "org_id": answer["organisation"]["id"]}


def client(lakeward, token: str, **headers) -> Client:
    transport = RequestsHTTPTransport(
        url=lakeward.base + "/v1/graphql", headers={"Authorization": f"Bearer {token}", **headers}, timeout=60
    )
    return Client(transport=transport, fetch_schema_from_transport=True)


def run(c: Client, query: str, **variables) -> ExecutionResult:
    """The whole answer (`data`, `errors`, `extensions`), errors included."""
    with c as session:
        try:
            return session.execute(GraphQLRequest(query, variable_values=variables or None), get_execution_result=True)
        except TransportQueryError as failed:
            return ExecutionResult(data=failed.data, errors=failed.errors, extensions=failed.extensions)


def post(lakeward, token: str | None, query: str, **variables) -> tuple[int, dict]:
    res = lakeward.call("POST", "/v1/graphql", token, json={"query": query, "variables": variables})
    return res.status_code, res.json()


def table_version(lakeward, token: str) -> int:
    res = lakeward.call("GET", CUSTOMERS, token)
    assert res.status_code == 200, res.text
    return res.json()["version"]


LIST = "query($w: main_crm_customers_bool_exp) { main_crm_customers(where: $w, order_by: [{id: asc}]) { id } }"


@pytest.mark.parametrize(
    "where, matches",
    [
        ({"id": {"_eq": 3}}, lambda r: r["id"] == 3),
        ({"id": {"_neq": 3}}, lambda r: r["id"] != 3),
        ({"id": {"_gt": 95}}, lambda r: r["id"] > 95),
        ({"id": {"_gte": 95}}, lambda r: r["id"] >= 95),
        ({"id": {"_lt": 4}}, lambda r: r["id"] < 4),
        ({"id": {"_lte": 4}}, lambda r: r["id"] <= 4),
        ({"country": {"_in": ["DE", "IT"]}}, lambda r: r["country"] in ("DE", "IT")),
        # SQL's NOT IN: a null is in no list and outside none.
        ({"country": {"_nin": ["DE"]}}, lambda r: r["country"] not in (None, "DE")),
        ({"name": {"_like": "Ada%"}}, lambda r: r["name"].startswith("Ada")),
        ({"name": {"_ilike": "ada%"}}, lambda r: r["name"].lower().startswith("ada")),
        ({"joined": {"_is_null": True}}, lambda r: r["joined"] is None),
        ({"joined": {"_is_null": False}}, lambda r: r["joined"] is not None),
        ({"joined": {"_gt": "2024-03-01"}}, lambda r: r["joined"] is not None and r["joined"] > "2024-03-01"),
        ({"price": {"_gte": "120.00"}}, lambda r: Decimal(r["price"]) >= Decimal("120.00")),
        ({"price": {"_lt": 2.5}}, lambda r: Decimal(r["price"]) < Decimal("2.5")),
        ({"_or": [{"id": {"_lt": 3}}, {"id": {"_gt": 98}}]}, lambda r: r["id"] < 3 or r["id"] > 98),
        ({"_and": [{"country": {"_eq": "FR"}}, {"id": {"_lt": 20}}]}, lambda r: r["country"] == "FR" and r["id"] < 20),
        ({"_not": {"country": {"_eq": "DE"}}}, lambda r: r["country"] not in (None, "DE")),
        ({"id": {"_gt": 10, "_lt": 13}}, lambda r: 10 < r["id"] < 13),
        ({}, lambda r: True),
    ],
)
def test_every_operator_selects_the_rows_it_names(lakeward, org, where, matches):
    result = run(client(lakeward, org["token"]), LIST, w=where)
    assert result.errors is None
    assert [r["id"] for r in result.data["main_crm_customers"]] == [r["id"] for r in ROWS if matches(r)]
    assert result.extensions == {"engineReads": 1}


def test_values_and_filters_answer_what_rest_answers(lakeward, org):
    query = """{ main_crm_customers(where: {country: {_eq: "FR"}, id: {_lte: 10}}, order_by: [{id: desc}]) {
        id name country price joined } }"""
    result = run(client(lakeward, org["token"]), query)
    rest = lakeward.call("GET", CUSTOMERS + "/rows?country=eq.FR&id=lte.10&order=id.desc", org["token"])
    assert rest.status_code == 200
    # Decimals are text with their scale: the digits REST writes, never a rounded float.
    expected = [{**r, "price": r["price"]} for r in reversed(ROWS) if r["country"] == "FR" and r["id"] <= 10]
    assert result.data["main_crm_customers"] == expected
    assert [{**r, "price": f"{Decimal(str(r['price'])):.2f}"} for r in rest.json()] == expected
    assert expected[0] == {"id": 10, "name": "Ada010", "country": "FR", "price": "12.50", "joined": "2024-01-11"}


def test_ordering_with_nulls_limit_and_offset(lakeward, org):
    c = client(lakeward, org["token"])
    query = """query($o: [main_crm_customers_order_by!], $l: Int, $off: Int) {
        main_crm_customers(order_by: $o, limit: $l, offset: $off) { id } }"""
    nulls_first = sorted(ROWS, key=lambda r: (r["country"] is not None, r["country"] or "", -r["id"]))
    result = run(c, query, o=[{"country": "asc_nulls_first"}, {"id": "desc"}])
    assert [r["id"] for r in result.data["main_crm_customers"]] == [r["id"] for r in nulls_first]
    nulls_last = sorted(ROWS, key=lambda r: (r["joined"] is None, [-ord(ch) for ch in r["joined"] or ""], r["id"]))
    result = run(c, query, o=[{"joined": "desc_nulls_last"}, {"id": "asc"}])
    assert [r["id"] for r in result.data["main_crm_customers"]] == [r["id"] for r in nulls_last]
    result = run(c, query, o=[{"id": "asc"}], l=5, off=10)
    assert [r["id"] for r in result.data["main_crm_customers"]] == [11, 12, 13, 14, 15]
    # A negative page is the client's mistake, named.
    result = run(c, query, o=[{"id": "asc"}], l=-1)
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result.errors[0]["extensions"]["details"] == [{"field": "limit", "message": "must be a non-negative integer"}]


def test_by_primary_key(lakeward, org):
    c = client(lakeward, org["token"])
    query = "query($id: BigInt!) { main_crm_customers_by_pk(id: $id) { id name country_ref { label } } }"
    assert run(c, query, id=6).data == {"main_crm_customers_by_pk": {"id": 6, "name": "ada006", "country_ref": {"label": "France"}}}
    assert run(c, query, id=4).data == {"main_crm_customers_by_pk": {"id": 4, "name": "Dee004", "country_ref": None}}
    assert run(c, query, id=4242).data == {"main_crm_customers_by_pk": None}


CONNECTION = """query($first: Int, $after: String, $last: Int, $before: String) {
    main_crm_customers_connection(first: $first, after: $after, last: $last, before: $before, order_by: [{id: asc}]) {
        totalCount edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


def test_paging_both_ways_is_stable_under_writes(lakeward, org):
    c = client(lakeward, org["token"])
    seen, after, pages = [], None, 0
    while True:
        page = run(c, CONNECTION, first=30, after=after).data["main_crm_customers_connection"]
        assert page["totalCount"] == 100
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] == (pages > 0)
        pages += 1
        if pages == 1:
            # A row written while paging shows on no page of this walk: later pages read
            # the version the first one did.
            res = lakeward.call("POST", CUSTOMERS + "/rows", org["token"], json=[{"id": 0, "name": "Early"}])
            assert res.status_code == 201, res.text
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert (seen, pages) == ([r["id"] for r in ROWS], 4)

    backwards, before = [], None
    while True:
        page = run(c, CONNECTION, last=40, before=before).data["main_crm_customers_connection"]
        assert page["totalCount"] == 101
        backwards = [e["node"]["id"] for e in page["edges"]] + backwards
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert backwards == [0] + [r["id"] for r in ROWS]
    res = lakeward.call("DELETE", CUSTOMERS + "/rows?id=eq.0", org["token"])
    assert res.status_code == 200, res.text

    # A cursor altered by hand is refused, not read as another position.
    result = run(c, CONNECTION, first=1, after="bHc6OTk5OTpub3Bl")
    assert result.errors[0]["extensions"]["details"] == [{"field": "after", "message": "not a cursor of this API"}]


def test_aggregates(lakeward, org):
    query = """{ main_crm_customers_aggregate(where: {country: {_eq: "DE"}}) { aggregate {
        count min { id price joined } max { id price name } sum { id price } avg { id price } } } }"""
    result = run(client(lakeward, org["token"]), query)
    de = [r for r in ROWS if r["country"] == "DE"]
    prices = [Decimal(r["price"]) for r in de]
    aggregate = result.data["main_crm_customers_aggregate"]["aggregate"]
    assert aggregate["count"] == 25
    assert aggregate["min"] == {"id": 1, "price": "1.25", "joined": "2024-01-02"}
    assert aggregate["max"] == {"id": 97, "price": "121.25", "name": max(r["name"] for r in de)}
    assert aggregate["sum"] == {"id": sum(r["id"] for r in de), "price": f"{sum(prices):.2f}"}
    assert aggregate["avg"]["id"] == pytest.approx(sum(r["id"] for r in de) / 25)
    assert aggregate["avg"]["price"] == pytest.approx(float(sum(prices) / 25))
    none = run(client(lakeward, org["token"]), "{ main_crm_customers_aggregate(where: {id: {_lt: -1}}) { aggregate { count max { id } } } }")
    assert none.data["main_crm_customers_aggregate"]["aggregate"] == {"count": 0, "max": {"id": None}}


def test_time_travel_by_version_and_timestamp(lakeward, org):
    c = client(lakeward, org["token"])
    before = table_version(lakeward, org["token"])
    time.sleep(0.05)
    moment = datetime.datetime.now(datetime.timezone.utc).isoformat()
    time.sleep(0.05)
    insert = 'mutation { insert_main_crm_customers(objects: [{id: 500, name: "Later"}]) { affected_rows } }'
    assert run(c, insert).data == {"insert_main_crm_customers": {"affected_rows": 1}}
    count = "query($v: Int, $t: String) { main_crm_customers_aggregate(version: $v, as_of: $t) { aggregate { count } } }"
    counted = lambda **at: run(c, count, **at).data["main_crm_customers_aggregate"]["aggregate"]["count"]
    assert (counted(), counted(v=before), counted(t=moment), counted(v=1)) == (101, 100, 100, 0)
    lookup = "query($v: Int) { main_crm_customers_by_pk(id: 500, version: $v) { name } }"
    assert run(c, lookup, v=before).data == {"main_crm_customers_by_pk": None}
    assert run(c, lookup).data == {"main_crm_customers_by_pk": {"name": "Later"}}
    refused = run(c, count, v=before, t=moment)
    assert refused.errors[0]["extensions"]["details"] == [{"field": "as_of", "message": "give version or as_of, not both"}]
    # A version the table never had is refused as REST refuses it.
    missing = run(c, count, v=10_000)
    rest = lakeward.call("GET", CUSTOMERS + "/rows?version=10000", org["token"])
    assert rest.status_code == 400
    assert (missing.errors[0]["message"], missing.errors[0]["extensions"]["status"]) == (rest.json()["message"], 400)
    assert run(c, "mutation { delete_main_crm_customers(where: {id: {_eq: 500}}) { affected_rows } }").data == {
        "delete_main_crm_customers": {"affected_rows": 1}
    }


def test_relations_both_ways_in_one_read_per_table(lakeward, org):
    c = client(lakeward, org["token"])
    result = run(c, "{ main_crm_customers(order_by: [{id: asc}]) { id country_ref { code label } } }")
    rows = result.data["main_crm_customers"]
    assert len(rows) == 100
    assert rows == [
        {"id": r["id"], "country_ref": r["country"] and {"code": r["country"], "label": LABELS[r["country"]]}} for r in ROWS
    ]
    assert result.extensions == {"engineReads": 2}
    result = run(c, "{ main_crm_countries(order_by: [{code: asc}]) { code main_crm_customers_by_country { id } } }")
    assert result.data["main_crm_countries"] == [
        {"code": code, "main_crm_customers_by_country": [{"id": r["id"]} for r in ROWS if r["country"] == code]}
        for code in sorted(LABELS)
    ]
    assert result.extensions == {"engineReads": 2}


def test_mutations_are_governed_writes(lakeward, org):
    c, token = client(lakeward, org["token"]), org["token"]
    start = table_version(lakeward, token)
    insert = """mutation($objects: [main_crm_customers_insert_input!]!) {
        insert_main_crm_customers(objects: $objects) { affected_rows returning { id name country price } } }"""
    result = run(c, insert, objects=[{"id": 200, "name": "New", "country": "IT", "price": "9.90"}, {"id": 201, "price": 3}])
    assert result.data["insert_main_crm_customers"] == {
        "affected_rows": 2,
        "returning": [{"id": 200, "name": "New", "country": "IT", "price": "9.90"},
                      {"id": 201, "name": None, "country": None, "price": "3.00"}],
    }
    assert table_version(lakeward, token) == start + 1

    # A row outside the domain: the error names the row and the column, nothing commits.
    refused = run(c, insert, objects=[{"id": 202, "country": "DE"}, {"id": 203, "country": "XX"}])
    assert refused.data is None or refused.data.get("insert_main_crm_customers") is None
    extensions = refused.errors[0]["extensions"]
    assert (extensions["code"], extensions["status"]) == ("BAD_USER_INPUT", 400)
    assert [d["field"] for d in extensions["details"]] == ["rows[1].country"]
    # The same key again without on_conflict is a conflict, and again nothing commits.
    clash = run(c, insert, objects=[{"id": 200, "name": "Again"}])
    assert (clash.errors[0]["extensions"]["code"], clash.errors[0]["extensions"]["status"]) == ("CONFLICT", 409)
    assert table_version(lakeward, token) == start + 1
    rest = lakeward.call("GET", CUSTOMERS + "/rows?id=gte.200&select=id,name", token).json()
    assert rest == [{"id": 200, "name": "New"}, {"id": 201, "name": None}]

    upsert = """mutation { insert_main_crm_customers(objects: [{id: 200, name: "Upserted"}],
        on_conflict: {constraint: main_crm_customers_pkey}) { affected_rows returning { id name country } } }"""
    assert run(c, upsert).data["insert_main_crm_customers"] == {
        "affected_rows": 1, "returning": [{"id": 200, "name": "Upserted", "country": None}]
    }
    update = """mutation($set: main_crm_customers_set_input!) {
        update_main_crm_customers(where: {id: {_gte: 200}}, _set: $set) { affected_rows returning { id country } } }"""
    assert run(c, update, set={"country": "FR"}).data["update_main_crm_customers"] == {
        "affected_rows": 2, "returning": [{"id": 200, "country": "FR"}, {"id": 201, "country": "FR"}]
    }
    refused = run(c, update, set={"country": "XX"})
    assert refused.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [d["field"] for d in refused.errors[0]["extensions"]["details"]] == ["rows[0].country", "rows[1].country"]
    after_updates = table_version(lakeward, token)
    assert after_updates == start + 3
    delete = "mutation { delete_main_crm_customers(where: {id: {_gte: 200}}) { affected_rows returning { id } } }"
    assert run(c, delete).data["delete_main_crm_customers"] == {"affected_rows": 2, "returning": [{"id": 200}, {"id": 201}]}
    assert lakeward.call("GET", CUSTOMERS + "/rows?id=gte.200", token).json() == []

    # One audit event per mutation, under the action REST records.
    for action, total in [("row.batch_inserted", 1), ("rows.upserted", 1), ("rows.updated", 1), ("rows.deleted", 2)]:
        events = lakeward.call("GET", f"/v1/audit?action={action}", token).json()
        assert events["total"] >= total, (action, events)
        assert events["events"][0]["target_id"] == "main.crm.customers"


def test_one_idempotency_key_commits_once(lakeward, org):
    token = org["token"]
    start = table_version(lakeward, token)
    keyed = client(lakeward, token, **{"Idempotency-Key": "gql-interop-1"})
    insert = 'mutation { insert_main_crm_customers(objects: [{id: 300, name: "Once"}]) { affected_rows } }'
    for _ in range(3):
        assert run(keyed, insert).data == {"insert_main_crm_customers": {"affected_rows": 1}}
    assert table_version(lakeward, token) == start + 1
    assert lakeward.call("GET", CUSTOMERS + "/rows?id=eq.300&select=id,name", token).json() == [{"id": 300, "name": "Once"}]
    assert lakeward.call("DELETE", CUSTOMERS + "/rows?id=eq.300", token).status_code == 200


def test_a_read_only_key_reads_and_is_refused_writes(lakeward, org):
    c = client(lakeward, org["read_key"])
    assert run(c, "{ main_crm_customers_by_pk(id: 1) { name } }").data == {"main_crm_customers_by_pk": {"name": "ada001"}}
    start = table_version(lakeward, org["token"])
    with pytest.raises(TransportQueryError) as refused:
        with c as session:
            session.execute(GraphQLRequest('mutation { delete_main_crm_customers(where: {}) { affected_rows } }'))
    error = refused.value.errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["status"] == 403
    assert error["extensions"]["requiredScope"] == "rows:delete"
    assert table_version(lakeward, org["token"]) == start
    assert len(lakeward.call("GET", CUSTOMERS + "/rows?select=id", org["token"]).json()) == 100


def test_introspection_shows_each_organisation_only_its_own_tables(lakeward, org):
    def table_types(c: Client) -> set[str]:
        with c as session:
            session.fetch_schema()
        return {name for name in c.schema.type_map if name.startswith("main_")}

    ours = table_types(client(lakeward, org["token"]))
    assert {"main_crm_customers", "main_crm_countries", "main_crm_customers_bool_exp"} <= ours
    other = lakeward.onboard("Graph Rival", "eve@graphql.test")["access_token"]
    assert table_types(client(lakeward, other)) == set()
    # The client refuses the query against the schema it was given; the server, asked
    # directly, names the field it does not know.
    with pytest.raises(GraphQLError, match="Cannot query field 'main_crm_customers' on type 'Query'"):
        run(client(lakeward, other), "{ main_crm_customers { id } }")
    status, body = post(lakeward, other, "{ main_crm_customers { id } }")
    assert (status, body["errors"][0]["message"]) == (200, 'Unknown field "main_crm_customers" on type "Query".')
    assert body["data"] is None


def test_depth_and_complexity_limits_refuse_before_reading(lakeward, org):
    deep = "id"
    for _ in range(10):
        deep = f"country_ref {{ main_crm_customers_by_country {{ {deep} }} }}"
    status, body = post(lakeward, org["token"], f"{{ main_crm_customers {{ {deep} }} }}")
    assert (status, body["errors"][0]["message"], body["extensions"]["engineReads"]) == (200, "Query is nested too deep.", 0)
    wide = " ".join(f"a{i}: main_crm_customers_by_pk(id: {i}) {{ id name }}" for i in range(1000))
    status, body = post(lakeward, org["token"], f"{{ {wide} }}")
    assert (status, body["errors"][0]["message"], body["extensions"]["engineReads"]) == (200, "Query is too complex.", 0)


def test_transport_errors_answer_the_rest_error_shape(lakeward, org):
    status, body = post(lakeward, None, "{ main_crm_customers { id } }")
    assert (status, body) == (401, {"statusCode": 401, "error": "Unauthorized", "message": "Missing bearer token in the Authorization header"})
    tampered = org["token"][:-2] + ("AA" if not org["token"].endswith("AA") else "BB")
    status, body = post(lakeward, tampered, "{ main_crm_customers { id } }")
    assert (status, body) == (401, {"statusCode": 401, "error": "Unauthorized", "message": "Invalid or expired token"})
    res = lakeward.call("POST", "/v1/graphql", org["token"], data=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 400
    assert res.json()["details"][0]["field"] == "body"
    # A request that is JSON but no GraphQL request, and a syntax error in the query.
    res = lakeward.call("POST", "/v1/graphql", org["token"], json={"querry": "{ x }"})
    assert res.status_code == 400, res.text
    status, body = post(lakeward, org["token"], "{ main_crm_customers { id ")
    assert status == 200 and body["errors"][0]["message"].startswith(" --> 1:")


def test_graphiql_loads_its_embedded_assets(lakeward):
    res = lakeward.call("GET", "/v1/graphql")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert not re.search(r"(src|href)=\"(https?:)?//", res.text), "nothing may load from another origin"
    assets = re.findall(r"(?:src|href)=\"(/v1/graphql/assets/[^\"]+)\"", res.text)
    assert len(assets) == 6, assets
    for asset in assets:
        loaded = lakeward.call("GET", asset)
        assert loaded.status_code == 200, asset
        assert loaded.headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), asset
        assert len(loaded.content) > 100, asset
    missing = lakeward.call("GET", "/v1/graphql/assets/..%2Fmod.rs")
    assert missing.status_code == 404


def test_a_column_another_engine_adds_shows_within_seconds(lakeward, org):
    token = org["token"]
    table = "/v1/tables/main/crm/external"
    assert lakeward.call("POST", table, token, json={"columns": [{"name": "id", "type": "int64"}]}).status_code == 201
    fields = '{ __type(name: "main_crm_external") { fields { name } } }'
    listed = lambda: [f["name"] for f in post(lakeward, token, fields)[1]["data"]["__type"]["fields"]]
    assert listed() == ["id"]
    # Python deltalake evolves the table's schema behind Lakeward's back.
    path = lakeward.table_path(org["org_id"], "main", "crm", "external")
    write_deltalake(str(path), pa.table({"id": pa.array([1], pa.int64()), "extra": ["x"]}), mode="append", schema_mode="merge")
    start = time.monotonic()
    while "extra" not in listed():
        assert time.monotonic() - start < 8, "the new column never showed"
        time.sleep(0.25)
    assert post(lakeward, token, "{ main_crm_external { id extra } }")[1]["data"] == {"main_crm_external": [{"id": 1, "extra": "x"}]}
