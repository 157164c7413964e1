"""Arrow Flight SQL through the ADBC Flight SQL driver (what notebooks and BI tools use)
and a raw pyarrow.flight client: sign-in with an API key and with a password, queries and
prepared statements over the SQL sandbox, metadata, and tickets that serve only the
principal they were issued to."""

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from conftest import PASSWORD

TABLE = "/v1/tables/main/crm/people"
ROWS = [
    {"id": 1, "name": "Ada", "country": "DE"},
    {"id": 2, "name": "Bob", "country": "FR"},
    {"id": 3, "name": "Cy", "country": "DE"},
]
EMAIL = "ada@flight.test"


@pytest.fixture(scope="module")
def org(lakeward):
    answer = lakeward.onboard("Flight", EMAIL)
    token = answer["access_token"]
    for path, body in [("/v1/catalogs", {"name": "main"}), ("/v1/catalogs/main/schemas", {"name": "crm"})]:
        assert lakeward.call("POST", path, token, json=body).status_code == 201
    columns = [{"name": "id", "type": "int64", "nullable": False}, {"name": "name", "type": "string"},
               {"name": "country", "type": "string"}]
    assert lakeward.call("POST", TABLE, token, json={"columns": columns, "primary_key": ["id"]}).status_code == 201
    assert lakeward.call("POST", TABLE + "/rows", token, json=ROWS).status_code == 201
    res = lakeward.call("POST", "/v1/api-keys", token, json={"name": "notebook", "scopes": ["read"]})
    assert res.status_code == 201, res.text
    return {"token": token, "key": res.json()["key"]}


def with_key(lakeward, key: str):
    header = adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value
    return flight_sql.connect(lakeward.flight, db_kwargs={header: f"Bearer {key}"})


def with_password(lakeward, email: str, password: str):
    return flight_sql.connect(lakeward.flight, db_kwargs={"username": email, "password": password})


def test_queries_through_adbc_with_an_api_key_and_with_a_password(lakeward, org):
    for connect in (lambda: with_key(lakeward, org["key"]), lambda: with_password(lakeward, EMAIL, PASSWORD)):
        with connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id, name FROM main.crm.people WHERE country = 'DE' ORDER BY id")
            table = cur.fetch_arrow_table()
            assert table.to_pydict() == {"id": [1, 3], "name": ["Ada", "Cy"]}
            assert (table.schema.field("id").type, table.schema.field("name").type) == (pa.int64(), pa.string())
            # Time travel as in POST /v1/sql: version 0 is the empty table.
            cur.execute('SELECT count(*) AS n FROM main.crm."people@v0"')
            assert cur.fetchall() == [(0,)]


def test_prepared_statements_run_again_and_again(lakeward, org):
    with with_key(lakeward, org["key"]) as conn, conn.cursor() as cur:
        cur.adbc_prepare("SELECT name FROM main.crm.people ORDER BY id")
        for _ in range(2):
            cur.execute("SELECT name FROM main.crm.people ORDER BY id")
            assert [r[0] for r in cur.fetchall()] == ["Ada", "Bob", "Cy"]


def test_queries_with_parameters(lakeward, org):
    with with_key(lakeward, org["key"]) as conn, conn.cursor() as cur:
        query = "SELECT name FROM main.crm.people WHERE country = $1 AND id > $2 ORDER BY id"
        for params, names in [(("DE", 0), ["Ada", "Cy"]), (("DE", 1), ["Cy"]), (("FR", 0), ["Bob"])]:
            cur.execute(query, parameters=params)
            assert [r[0] for r in cur.fetchall()] == names, params
    # A cursor of its own for each: an ADBC cursor keeps the last values it bound.
    for params in [None, (1, 2)]:
        with with_key(lakeward, org["key"]) as conn, conn.cursor() as cur:
            with pytest.raises(adbc_driver_manager.ProgrammingError) as refused:
                cur.execute("SELECT name FROM main.crm.people WHERE id = $1", parameters=params)
            given = 0 if params is None else 2
            assert f"the query has 1 placeholder(s) ($1, $2, ...) and {given} value(s) were bound" in str(refused.value)


def test_metadata_shows_the_callers_tables_with_their_columns(lakeward, org):
    other = lakeward.onboard("Elsewhere", "eve@flight.test")["access_token"]
    assert lakeward.call("POST", "/v1/catalogs", other, json={"name": "hidden"}).status_code == 201
    with with_key(lakeward, org["key"]) as conn:
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        assert [c["catalog_name"] for c in objects] == ["main"]
        schemas = objects[0]["catalog_db_schemas"]
        assert [s["db_schema_name"] for s in schemas] == ["crm"]
        tables = schemas[0]["db_schema_tables"]
        assert [(t["table_name"], t["table_type"]) for t in tables] == [("people", "TABLE")]
        assert [c["column_name"] for c in tables[0]["table_columns"]] == ["id", "name", "country"]
        schema = conn.adbc_get_table_schema("people", catalog_filter="main", db_schema_filter="crm")
        assert schema.names == ["id", "name", "country"]
        assert schema.field("id").type == pa.int64() and schema.field("name").type == pa.string()


def test_the_sandbox_and_the_credentials_refuse_as_rest_does(lakeward, org):
    with with_key(lakeward, org["key"]) as conn, conn.cursor() as cur:
        for query in ["DROP TABLE main.crm.people", "INSERT INTO main.crm.people VALUES (9, 'x', 'y')",
                      "COPY (SELECT 1) TO '/tmp/lakeward-flight-escape.csv'", "SET datafusion.execution.batch_size = 1"]:
            rest = lakeward.call("POST", "/v1/sql", org["token"], json={"query": query})
            assert rest.status_code == 400, rest.text
            with pytest.raises(adbc_driver_manager.ProgrammingError) as refused:
                cur.execute(query)
            assert rest.json()["message"] in str(refused.value), (query, str(refused.value))
        with pytest.raises(adbc_driver_manager.Error) as missing:
            cur.execute("SELECT * FROM main.crm.nowhere")
        assert "main.crm.nowhere" in str(missing.value)
    rows = lakeward.call("GET", TABLE + "/rows", org["token"]).json()
    assert len(rows) == 3, "nothing was written"

    with pytest.raises(adbc_driver_manager.Error) as refused:
        with with_password(lakeward, EMAIL, "not the password") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    assert "UNAUTHENTICATED" in str(refused.value).upper() or "Invalid email or password" in str(refused.value)


def _field(number: int, value: bytes) -> bytes:
    """A protobuf length-delimited field (wire type 2)."""
    length, out = len(value), bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([number << 3 | 2]) + bytes(out) + value


def statement_descriptor(query: str) -> flight.FlightDescriptor:
    command = _field(1, query.encode())
    any_message = _field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + _field(2, command)
    return flight.FlightDescriptor.for_command(any_message)


def test_a_ticket_replayed_by_another_principal_is_refused(lakeward, org):
    client = flight.FlightClient(lakeward.flight)
    mine = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {org['key']}".encode())])
    info = client.get_flight_info(statement_descriptor("SELECT id FROM main.crm.people ORDER BY id"), mine)
    ticket = info.endpoints[0].ticket
    assert client.do_get(ticket, mine).read_all().column("id").to_pylist() == [1, 2, 3]

    eve = lakeward.onboard("Replay", "eve@replay.test")["access_token"]
    theirs = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {eve}".encode())])
    with pytest.raises(flight.FlightError) as refused:
        client.do_get(ticket, theirs).read_all()
    assert "issued to another principal" in str(refused.value)
    altered = bytearray(ticket.ticket)
    altered[len(altered) // 2] ^= 1
    with pytest.raises(pa.ArrowInvalid, match="not issued by this server or was altered"):
        client.do_get(flight.Ticket(bytes(altered)), mine).read_all()
    with pytest.raises(flight.FlightUnauthenticatedError):
        client.get_flight_info(statement_descriptor("SELECT 1"))


def test_bulk_ingest_goes_through_the_governed_insert(lakeward, org):
    token, table = org["token"], "/v1/tables/main/crm/ingested"
    columns = [{"name": "id", "type": "int64", "nullable": False}, {"name": "country", "type": "string"}]
    assert lakeward.call("POST", table, token, json={"columns": columns, "primary_key": ["id"]}).status_code == 201
    res = lakeward.call("PUT", table + "/columns/country/domain/fixed", token, json={"allowed_values": ["DE", "FR"]})
    assert res.status_code == 200, res.text
    writer = lakeward.call("POST", "/v1/api-keys", token, json={"name": "loader", "scopes": ["tables:read", "rows:insert"]})
    loader = writer.json()["key"]

    good = pa.table({"id": pa.array([1, 2], pa.int64()), "country": ["DE", "FR"]})
    with with_key(lakeward, loader) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("ingested", good, mode="append", catalog_name="main", db_schema_name="crm") == 2
    history = lakeward.call("GET", table + "/history", token).json()

    bad = pa.table({"id": pa.array([3, 4], pa.int64()), "country": ["DE", "XX"]})
    duplicate = pa.table({"id": pa.array([5, 1], pa.int64()), "country": ["DE", "FR"]})
    with with_key(lakeward, loader) as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error) as refused:
            cur.adbc_ingest("ingested", bad, mode="append", catalog_name="main", db_schema_name="crm")
        assert "rows[1].country" in str(refused.value), str(refused.value)
        with pytest.raises(adbc_driver_manager.Error) as refused:
            cur.adbc_ingest("ingested", duplicate, mode="append", catalog_name="main", db_schema_name="crm")
        assert "id=1" in str(refused.value), str(refused.value)
        # Creating or replacing tables is a definition change, not an ingest.
        with pytest.raises(adbc_driver_manager.Error) as refused:
            cur.adbc_ingest("fresh", good, mode="create", catalog_name="main", db_schema_name="crm")
        assert "appends to an existing table" in str(refused.value)
    rows = lakeward.call("GET", table + "/rows?order=id", token).json()
    assert rows == [{"id": 1, "country": "DE"}, {"id": 2, "country": "FR"}], "the refused batches committed nothing"
    again = lakeward.call("GET", table + "/history", token).json()
    assert again == history, "no commit for the refused batches"

    # The ingest is audited as an insert through REST is.
    events = lakeward.call("GET", "/v1/audit?action=row.batch_inserted", token).json()
    items = events["events"]
    assert any(e.get("target_id") == "main.crm.ingested" and e["details"]["rows"] == 2 for e in items), items

    # A key without rows:insert is refused, naming the scope.
    with with_key(lakeward, org["key"]) as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error) as refused:
            cur.adbc_ingest("ingested", good, mode="append", catalog_name="main", db_schema_name="crm")
        assert "rows:insert" in str(refused.value)
