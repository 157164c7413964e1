//! Arrow Flight SQL through arrow-flight's own client: the handshake, queries and
//! prepared statements over the SQL sandbox, metadata, and every refusal as the gRPC
//! status a driver acts on.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, CommandStatementQuery, ProstMessageExt,
};
use arrow_flight::{FlightDescriptor, FlightInfo, Ticket};
use futures::TryStreamExt;
use prost::Message;
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

use crate::data::{acme_with_sample, customers};
use crate::support::{PASSWORD, TestServer};

async fn client(s: &TestServer) -> FlightSqlServiceClient<Channel> {
    let channel = Channel::from_shared(s.flight_url()).unwrap().connect().await.unwrap();
    FlightSqlServiceClient::new(channel)
}

async fn signed_in(s: &TestServer, email: &str) -> FlightSqlServiceClient<Channel> {
    let mut c = client(s).await;
    c.handshake(email, PASSWORD).await.unwrap();
    c
}

async fn fetch(c: &mut FlightSqlServiceClient<Channel>, info: FlightInfo) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let stream = c.do_get(endpoint.ticket.unwrap()).await.unwrap();
        batches.extend(stream.try_collect::<Vec<_>>().await.unwrap());
    }
    batches
}

/// The status of GetFlightInfo for `query`, sent with `authorization` (if any) as is.
async fn info_status(s: &TestServer, authorization: Option<&str>, query: &str) -> tonic::Status {
    let mut c = client(s).await;
    let command = CommandStatementQuery { query: query.into(), transaction_id: None };
    let mut request = tonic::Request::new(FlightDescriptor::new_cmd(command.as_any().encode_to_vec()));
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value.parse().unwrap());
    }
    c.inner_mut().get_flight_info(request).await.unwrap_err()
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect()
}

#[tokio::test]
async fn queries_run_the_sql_sandbox_for_the_signed_in_principal() {
    let (s, ada) = acme_with_sample().await;

    let mut c = signed_in(&s, "ada@example.com").await;
    let info = c.execute("SELECT id, name FROM main.crm.customers ORDER BY id".into(), None).await.unwrap();
    let announced = info.clone().try_decode_schema().unwrap();
    let batches = fetch(&mut c, info).await;
    assert_eq!(ids(&batches), [1, 2, 3]);
    assert_eq!(batches[0].schema().as_ref(), &announced, "the rows come in the schema announced");
    let names: Vec<&str> = batches.iter().flat_map(|b| b.column(1).as_string::<i32>().iter().flatten()).collect();
    assert_eq!(names, ["Ada", "Bob", "Cy"]);

    // Time travel as in POST /v1/sql: version 1 is the empty table.
    let info = c.execute(r#"SELECT count(*) AS n FROM main.crm."customers@v0""#.into(), None).await.unwrap();
    assert_eq!(ids(&fetch(&mut c, info).await), [0]);

    // An API key as the Basic password of the user `token`, and a bearer key sent directly.
    let (key, _) = s.create_key(&ada.token, json!({ "name": "bi", "scopes": ["tables:query", "tables:read"] })).await;
    let mut c = client(&s).await;
    let answered = c.handshake("token", &key).await.unwrap();
    assert_eq!(answered, key.as_bytes());
    let info = c.execute("SELECT id FROM main.crm.customers WHERE id = 2".into(), None).await.unwrap();
    assert_eq!(ids(&fetch(&mut c, info).await), [2]);
    let mut c = client(&s).await;
    c.set_token(key.clone());
    let info = c.execute("SELECT 7 AS seven".into(), None).await.unwrap();
    assert_eq!(ids(&fetch(&mut c, info).await), [7]);
}

#[tokio::test]
async fn prepared_statements_are_stateless_handles_of_their_principal() {
    let (s, _) = acme_with_sample().await;
    let mut c = signed_in(&s, "ada@example.com").await;
    let mut prepared =
        c.prepare("SELECT id FROM main.crm.customers WHERE country = 'DE' ORDER BY id".into(), None).await.unwrap();
    assert_eq!(prepared.dataset_schema().unwrap().field(0).name(), "id");
    for _ in 0..2 {
        let info = prepared.execute().await.unwrap();
        assert_eq!(ids(&fetch(&mut c, info).await), [1, 3]);
    }
    prepared.close().await.unwrap();

    // Parameters: the schema names the placeholders, each binding comes back as a new
    // handle (the server keeps nothing), and the values select the rows.
    let query = "SELECT id FROM main.crm.customers WHERE country = $1 AND id >= $2 ORDER BY id";
    let mut prepared = c.prepare(query.into(), None).await.unwrap();
    let parameters: Vec<&str> =
        prepared.parameter_schema().unwrap().fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(parameters, ["$1", "$2"]);
    for (country, from, expected) in [("DE", 0, vec![1, 3]), ("DE", 2, vec![3]), ("FR", 0, vec![2])] {
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("$1", arrow::datatypes::DataType::Utf8, false),
            arrow::datatypes::Field::new("$2", arrow::datatypes::DataType::Int64, false),
        ]));
        let values = RecordBatch::try_new(
            schema,
            vec![
                std::sync::Arc::new(arrow::array::StringArray::from(vec![country])),
                std::sync::Arc::new(arrow::array::Int64Array::from(vec![from])),
            ],
        )
        .unwrap();
        prepared.set_parameters(values).unwrap();
        let info = prepared.execute().await.unwrap();
        assert_eq!(ids(&fetch(&mut c, info).await), expected, "{country} from {from}");
    }
}

#[tokio::test]
async fn credentials_scopes_and_the_sandbox_refuse_with_the_status_drivers_expect() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;

    let mut c = client(&s).await;
    let refused = c.handshake("ada@example.com", "wrong password").await.unwrap_err().to_string();
    assert!(refused.contains("Unauthenticated") || refused.contains("Invalid email or password"), "{refused}");

    let status = info_status(&s, None, "SELECT 1").await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = info_status(&s, Some("Bearer not-a-token"), "SELECT 1").await;
    assert_eq!((status.code(), status.message()), (Code::Unauthenticated, "Invalid or expired token"));

    // A key without `tables:query` is refused, naming the scope.
    let (key, _) = s.create_key(&ada.token, json!({ "name": "reader", "scopes": ["tables:read"] })).await;
    let status = info_status(&s, Some(&format!("Bearer {key}")), "SELECT 1").await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("tables:query"), "{}", status.message());

    // The sandbox's refusals, as POST /v1/sql answers them (400 → InvalidArgument).
    let bearer = format!("Bearer {}", ada.token);
    for query in
        ["DROP TABLE main.crm.customers", "INSERT INTO main.crm.customers VALUES (9)", "COPY (SELECT 1) TO '/tmp/x'"]
    {
        let status = info_status(&s, Some(&bearer), query).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{query}: {status:?}");
        let (code, rest) = s.post("/v1/sql", Some(&ada.token), json!({ "query": query })).await;
        assert_eq!(code, 400);
        assert_eq!(status.message(), rest["message"].as_str().unwrap(), "{query}");
    }
    let status = info_status(&s, Some(&bearer), "SELECT * FROM main.crm.nowhere").await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("main.crm.nowhere"), "{}", status.message());
}

#[tokio::test]
async fn the_handshake_answers_a_bearer_credential_or_refuses() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let handshake = |authorization: String| {
        let url = s.flight_url();
        async move {
            let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
            let mut c = arrow_flight::flight_service_client::FlightServiceClient::new(channel);
            let hello = arrow_flight::HandshakeRequest { protocol_version: 0, payload: Default::default() };
            let mut request = tonic::Request::new(futures::stream::iter([hello]));
            request.metadata_mut().insert("authorization", authorization.parse().unwrap());
            c.handshake(request).await.map(|r| r.metadata().get("authorization").unwrap().to_str().unwrap().to_owned())
        }
    };
    // A bearer credential is checked and handed back.
    assert_eq!(handshake(format!("Bearer {}", ada.token)).await.unwrap(), format!("Bearer {}", ada.token));
    for (authorization, message) in [
        ("Basic !!!".to_owned(), "Basic credentials must be base64 of user:password"),
        (format!("Basic {}", base64_of("no-colon")), "Basic credentials must be user:password"),
        (
            format!("Basic {}", base64_of("token:lw_live_0000000000000000000000000000000000000000")),
            "Invalid or expired token",
        ),
        ("Digest x".to_owned(), "Send Basic or Bearer credentials"),
        ("Bearer nope".to_owned(), "Invalid or expired token"),
    ] {
        let status = handshake(authorization.clone()).await.unwrap_err();
        assert_eq!((status.code(), status.message()), (Code::Unauthenticated, message), "{authorization}");
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn tickets_serve_only_the_principal_they_were_issued_to() {
    let (s, ada) = acme_with_sample().await;
    s.onboard("Other", "eve@example.com").await;
    s.add_member(&ada, "bob@example.com", "viewer").await;
    let mut c = signed_in(&s, "ada@example.com").await;
    let info = c.execute("SELECT id FROM main.crm.customers".into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();

    for email in ["eve@example.com", "bob@example.com"] {
        let mut other = signed_in(&s, email).await;
        let err = other.do_get(ticket.clone()).await.unwrap_err().to_string();
        assert!(err.contains("issued to another principal"), "{email}: {err}");
    }
    // One changed byte (the last: in the signature, so the ticket still decodes) and the
    // ticket is not the server's any more.
    let mut altered = ticket.ticket.to_vec();
    *altered.last_mut().unwrap() ^= 0x01;
    let err = c.do_get(Ticket { ticket: altered.into() }).await.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("this flight-ticket was not issued by this server or was altered"), "{err}");
    // The ticket itself still works for Ada.
    assert_eq!(ids(&fetch(&mut c, info).await).len(), 3);
}

#[tokio::test]
async fn metadata_lists_only_the_callers_organisation() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let eve = s.onboard("Other", "eve@example.com").await;
    let (status, _) = s.post("/v1/catalogs", Some(&eve.token), json!({ "name": "secret" })).await;
    assert_eq!(status, 201);

    let mut c = signed_in(&s, "ada@example.com").await;
    let info = c.get_catalogs().await.unwrap();
    let catalogs: Vec<String> = fetch(&mut c, info)
        .await
        .iter()
        .flat_map(|b| b.column(0).as_string::<i32>().iter().flatten().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert_eq!(catalogs, ["main"]);
    let info = c.get_db_schemas(CommandGetDbSchemas { catalog: None, db_schema_filter_pattern: None }).await.unwrap();
    let schemas = fetch(&mut c, info).await;
    assert_eq!(schemas.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    assert_eq!(schemas[0].column(1).as_string::<i32>().value(0), "crm");

    let request = CommandGetTables {
        catalog: None,
        db_schema_filter_pattern: None,
        table_name_filter_pattern: Some("cust%".into()),
        table_types: vec![],
        include_schema: true,
    };
    let info = c.get_tables(request).await.unwrap();
    let tables = fetch(&mut c, info).await;
    let batch = &tables[0];
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(batch.column(2).as_string::<i32>().value(0), "customers");
    assert_eq!(batch.column(3).as_string::<i32>().value(0), "TABLE");
    let schema_bytes = batch.column(4).as_binary::<i32>().value(0);
    let schema = arrow::ipc::convert::try_schema_from_ipc_buffer(schema_bytes).unwrap();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(columns, ["id", "name", "country", "balance", "joined"]);
    assert!(!batch.column(4).is_null(0));

    let info = c.get_table_types().await.unwrap();
    assert_eq!(fetch(&mut c, info).await[0].column(0).as_string::<i32>().value(0), "TABLE");

    let keys = |catalog: &str| CommandGetPrimaryKeys {
        catalog: Some(catalog.into()),
        db_schema: Some("crm".into()),
        table: "customers".into(),
    };
    let info = c.get_primary_keys(keys("main")).await.unwrap();
    let key = fetch(&mut c, info).await;
    assert_eq!(key[0].num_rows(), 1);
    assert_eq!(
        (
            key[0].column(3).as_string::<i32>().value(0),
            key[0].column(5).as_primitive::<arrow::datatypes::Int32Type>().value(0)
        ),
        ("id", 1)
    );
    // Another organisation's catalog of the same name is not found.
    let mut eve_client = signed_in(&s, "eve@example.com").await;
    let info = eve_client.get_primary_keys(keys("main")).await.unwrap();
    let err = eve_client.do_get(info.endpoint[0].ticket.clone().unwrap()).await.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("not found") || err.contains("NotFound"), "{err}");

    let info = c.get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: None }).await.unwrap();
    let types = fetch(&mut c, info).await;
    let names: Vec<&str> = types.iter().flat_map(|b| b.column(0).as_string::<i32>().iter().flatten()).collect();
    // Ordered by their JDBC type code, as JDBC asks.
    assert_eq!(names, ["BOOLEAN", "BIGINT", "VARBINARY", "DECIMAL", "INT", "DOUBLE", "VARCHAR", "DATE", "TIMESTAMP"]);
    let bigint = arrow_flight::sql::XdbcDataType::XdbcBigint as i32;
    let info =
        c.get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: Some(bigint) }).await.unwrap();
    let types = fetch(&mut c, info).await;
    assert_eq!(types.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    assert_eq!(types[0].column(0).as_string::<i32>().value(0), "BIGINT");
}

#[tokio::test]
async fn flight_speaks_tls_when_given_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let s = TestServer::start_with(|c| c.flight_tls = Some((cert_path.clone(), key_path.clone()))).await;
    s.onboard("Acme", "ada@example.com").await;

    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.cert.pem()))
        .domain_name("localhost");
    let url = s.flight_url().replace("http://", "https://");
    let channel = Channel::from_shared(url).unwrap().tls_config(tls).unwrap().connect().await.unwrap();
    let mut c = FlightSqlServiceClient::new(channel);
    c.handshake("ada@example.com", PASSWORD).await.unwrap();
    let info = c.execute("SELECT 5 AS five".into(), None).await.unwrap();
    assert_eq!(ids(&fetch(&mut c, info).await), [5]);

    // Plain gRPC to the TLS port gets nowhere.
    let plain = Channel::from_shared(s.flight_url()).unwrap().connect().await.unwrap();
    let mut plain = FlightSqlServiceClient::new(plain);
    assert!(plain.handshake("ada@example.com", PASSWORD).await.is_err());
}
