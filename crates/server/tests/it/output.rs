//! What reads write: `json` columns as JSON values in every JSON answer, rows returned by
//! writes as the very bytes a read gives, Arrow answers in standard types.

use arrow::datatypes::DataType;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, insert, namespace, sample, sql};
use crate::support::{Tenant, TestServer};

const DOCS: &str = "/v1/tables/main/crm/docs";

/// `main.crm.docs (id int64 pk, doc json, note string, blob binary)`.
async fn docs(s: &TestServer, who: &Tenant) {
    namespace(s, who).await;
    let columns = json!([
        { "name": "id", "type": "int64", "nullable": false },
        { "name": "doc", "type": "json" },
        { "name": "note", "type": "string" },
        { "name": "blob", "type": "binary" }
    ]);
    let (status, body) = s.post(DOCS, Some(&who.token), json!({ "columns": columns, "primary_key": ["id"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A request's status, content type and body text.
async fn text(req: reqwest::RequestBuilder) -> (StatusCode, String, String) {
    let res = req.send().await.unwrap();
    let content_type = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (res.status(), content_type, res.text().await.unwrap())
}

async fn get_text(s: &TestServer, token: &str, path: String, accept: &str) -> String {
    let (status, _, body) = text(s.client.get(s.url(&path)).bearer_auth(token).header("accept", accept)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// A write with `Prefer: return=representation`; the body as text.
async fn represented(s: &TestServer, token: &str, method: Method, path: String, body: Value, prefer: &str) -> String {
    let req = s.client.request(method, s.url(&path)).bearer_auth(token).header("prefer", prefer).json(&body);
    let (status, _, text) = text(req).await;
    assert!(status.is_success(), "{path}: {status} {text}");
    text
}

const DOC_ROWS: [&str; 4] = [
    r#"{"id":1,"doc":{"a":1,"b":[true,null]},"note":"first","blob":"aGk="}"#,
    r#"{"id":2,"doc":"text","note":null,"blob":null}"#,
    r#"{"id":3,"doc":null,"note":null,"blob":null}"#,
    r#"{"id":4,"doc":[1,2.5],"note":null,"blob":null}"#,
];

#[tokio::test]
async fn json_columns_are_json_values_in_every_json_answer() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    docs(&s, &ada).await;
    let rows = json!([
        { "id": 1, "doc": { "b": [true, null], "a": 1 }, "note": "first", "blob": "aGk=" },
        { "id": 2, "doc": "text" },
        { "id": 3, "doc": null },
        { "id": 4, "doc": [1, 2.5] }
    ]);
    let array = format!("[{}]", DOC_ROWS.join(","));
    let written = represented(&s, &ada.token, Method::POST, format!("{DOCS}/rows"), rows, "return=representation");
    assert_eq!(written.await, array);

    let json = "application/json";
    let ndjson = "application/x-ndjson";
    let lines = DOC_ROWS.map(|r| format!("{r}\n")).concat();
    assert_eq!(get_text(&s, &ada.token, format!("{DOCS}/rows?order=id"), json).await, array);
    assert_eq!(get_text(&s, &ada.token, format!("{DOCS}/rows?order=id"), ndjson).await, lines);
    assert_eq!(get_text(&s, &ada.token, format!("{DOCS}/export?format=json"), json).await, array);
    assert_eq!(get_text(&s, &ada.token, format!("{DOCS}/export?format=ndjson"), json).await, lines);
    // CSV keeps the document's text.
    let csv = get_text(&s, &ada.token, format!("{DOCS}/rows?id=eq.1"), "text/csv").await;
    assert_eq!(csv, "id,doc,note,blob\n1,\"{\"\"a\"\":1,\"\"b\"\":[true,null]}\",first,aGk=\n");

    let (status, found) = s.get(&format!("{DOCS}/search/text"), &ada.token).await;
    assert_eq!(
        (status, &found["rows"]),
        (StatusCode::OK, &json!([{ "id": 2, "doc": "text", "note": null, "blob": null }]))
    );

    // A column selected as it is keeps its type in SQL; a computed one is plain text.
    let (status, answer) =
        sql(&s, &ada.token, "SELECT id, doc, concat(doc, '') AS text FROM main.crm.docs WHERE id < 3 ORDER BY id")
            .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["rows"],
        json!([
            { "id": 1, "doc": { "a": 1, "b": [true, null] }, "text": "{\"a\":1,\"b\":[true,null]}" },
            { "id": 2, "doc": "text", "text": "\"text\"" }
        ])
    );
    assert_eq!(
        answer["columns"],
        json!([
            { "name": "id", "type": "int64" },
            { "name": "doc", "type": "json" },
            { "name": "text", "type": "string" }
        ])
    );
    let req = s
        .client
        .post(s.url("/v1/sql"))
        .bearer_auth(&ada.token)
        .header("accept", ndjson)
        .json(&json!({ "query": "SELECT doc FROM main.crm.docs WHERE id = 4" }));
    assert_eq!(text(req).await.2, "{\"doc\":[1,2.5]}\n");

    let patched = represented(
        &s,
        &ada.token,
        Method::PATCH,
        format!("{DOCS}/rows?id=eq.3"),
        json!({ "doc": { "z": "new" } }),
        "return=representation",
    );
    assert_eq!(patched.await, r#"[{"id":3,"doc":{"z":"new"},"note":null,"blob":null}]"#);
}

#[tokio::test]
async fn rows_returned_by_writes_are_the_bytes_a_read_gives() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, &ada.token, sample()).await.0, StatusCode::CREATED);
    let read = |query: &'static str| get_text(&s, &ada.token, format!("{T}/rows{query}"), "application/json");
    let rows = format!("{T}/rows");
    let prefer = "return=representation";

    // Keys in another order than the table's, decimals with fewer digits than the scale.
    let new = json!([
        { "joined": "2021-02-03", "balance": "3.00", "country": "NL", "name": "Dee", "id": 10 },
        { "balance": 3, "id": 11 }
    ]);
    let written = represented(&s, &ada.token, Method::POST, rows.clone(), new, prefer).await;
    assert_eq!(
        written,
        concat!(
            r#"[{"id":10,"name":"Dee","country":"NL","balance":3.00,"joined":"2021-02-03"},"#,
            r#"{"id":11,"name":null,"country":null,"balance":3.00,"joined":null}]"#
        )
    );
    assert_eq!(written, read("?id=in.(10,11)&order=id").await);

    let upserted = represented(
        &s,
        &ada.token,
        Method::POST,
        rows.clone(),
        json!([{ "balance": "4.5", "name": "Dee", "id": 10 }]),
        "return=representation, resolution=merge-duplicates",
    )
    .await;
    assert_eq!(upserted, r#"[{"id":10,"name":"Dee","country":null,"balance":4.50,"joined":null}]"#);
    assert_eq!(upserted, read("?id=eq.10").await);

    let updated =
        represented(&s, &ada.token, Method::PATCH, format!("{rows}?id=eq.11"), json!({ "balance": 7 }), prefer).await;
    assert_eq!(updated, r#"[{"id":11,"name":null,"country":null,"balance":7.00,"joined":null}]"#);
    let before_delete = read("?id=eq.11").await;
    assert_eq!(updated, before_delete);

    let req = s.client.delete(s.url(&format!("{rows}?id=eq.11"))).bearer_auth(&ada.token).header("prefer", prefer);
    let (status, _, deleted) = text(req).await;
    assert_eq!((status, deleted), (StatusCode::OK, before_delete));
    assert_eq!(read("?id=eq.11").await, "[]");
}

/// The schema and rows of an Arrow IPC stream.
fn arrow_stream(bytes: &[u8]) -> (Vec<(String, DataType)>, usize) {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let fields = reader.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let rows = reader.map(|b| b.unwrap().num_rows()).sum();
    (fields, rows)
}

async fn bytes(req: reqwest::RequestBuilder) -> Vec<u8> {
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/vnd.apache.arrow.stream");
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn arrow_answers_use_standard_types_unless_asked_for_views() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    docs(&s, &ada).await;
    let rows = json!([{ "id": 1, "doc": { "a": 1 }, "note": "first", "blob": "aGk=" }, { "id": 2 }]);
    assert_eq!(s.post(&format!("{DOCS}/rows"), Some(&ada.token), rows).await.0, StatusCode::CREATED);
    let standard = vec![
        ("id".to_owned(), DataType::Int64),
        ("doc".to_owned(), DataType::Utf8),
        ("note".to_owned(), DataType::Utf8),
        ("blob".to_owned(), DataType::Binary),
    ];
    let arrow = "application/vnd.apache.arrow.stream";
    let get = |path: String, accept: &'static str| {
        s.client.get(s.url(&path)).bearer_auth(&ada.token).header("accept", accept)
    };

    assert_eq!(arrow_stream(&bytes(get(format!("{DOCS}/rows"), arrow)).await), (standard.clone(), 2));
    assert_eq!(arrow_stream(&bytes(get(format!("{DOCS}/rows?limit=1"), arrow)).await), (standard.clone(), 1));
    assert_eq!(arrow_stream(&bytes(get(format!("{DOCS}/export?format=arrow"), "*/*")).await), (standard.clone(), 2));
    assert_eq!(arrow_stream(&bytes(get(format!("{DOCS}/search/first"), arrow)).await), (standard.clone(), 1));
    let query = json!({ "query": "SELECT * FROM main.crm.docs" });
    let req = s.client.post(s.url("/v1/sql")).bearer_auth(&ada.token).header("accept", arrow).json(&query);
    assert_eq!(arrow_stream(&bytes(req).await), (standard, 2));

    let views = vec![
        ("id".to_owned(), DataType::Int64),
        ("doc".to_owned(), DataType::Utf8View),
        ("note".to_owned(), DataType::Utf8View),
        ("blob".to_owned(), DataType::BinaryView),
    ];
    let asked = "application/vnd.apache.arrow.stream; view_types=true";
    assert_eq!(arrow_stream(&bytes(get(format!("{DOCS}/rows"), asked)).await), (views.clone(), 2));
    let export = format!("{DOCS}/export?format=arrow&view_types=true");
    assert_eq!(arrow_stream(&bytes(get(export, "*/*")).await), (views, 2));
}
