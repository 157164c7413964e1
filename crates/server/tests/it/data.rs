//! Helpers for data-plane tests: a tenant with a catalog, a schema and tables.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Tenant, TestServer};

pub const T: &str = "/v1/tables/main/crm/customers";

pub async fn namespace(s: &TestServer, who: &Tenant) {
    let (status, body) = s.post("/v1/catalogs", Some(&who.token), json!({ "name": "main" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.post("/v1/catalogs/main/schemas", Some(&who.token), json!({ "name": "crm" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A fresh server with Acme's admin Ada, and `main.crm.customers` holding [`sample`].
pub async fn acme_with_sample() -> (TestServer, Tenant) {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    insert(&s, &ada.token, sample()).await;
    (s, ada)
}

/// `main.crm.customers (id int64 pk, name string, country string, balance decimal(10,2), joined date)`.
pub async fn customers(s: &TestServer, who: &Tenant) {
    namespace(s, who).await;
    let (status, body) = s
        .post(
            T,
            Some(&who.token),
            json!({
                "columns": [
                    { "name": "id", "type": "int64", "nullable": false },
                    { "name": "name", "type": "string", "comment": "display name" },
                    { "name": "country", "type": "string" },
                    { "name": "balance", "type": "decimal(10,2)" },
                    { "name": "joined", "type": "date" }
                ],
                "primary_key": ["id"],
                "description": "Our customers"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

pub fn sample() -> Value {
    json!([
        { "id": 1, "name": "Ada", "country": "DE", "balance": "10.50", "joined": "2020-01-01" },
        { "id": 2, "name": "Bob", "country": "FR", "balance": 3 },
        { "id": 3, "name": "Cy", "country": "DE" }
    ])
}

pub async fn insert(s: &TestServer, token: &str, rows: Value) -> (StatusCode, Value) {
    s.call(Method::POST, &format!("{T}/rows"), Some(token), Some(rows)).await
}

/// An upsert on the primary key (`Prefer: resolution=merge-duplicates`).
pub async fn upsert(s: &TestServer, token: &str, rows: Value) -> (StatusCode, Value) {
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(token)
        .header("prefer", "resolution=merge-duplicates")
        .json(&rows)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

/// POSTs a CSV body (with its header line) as rows of [`T`].
pub async fn post_csv(s: &TestServer, token: &str, body: reqwest::Body) -> reqwest::Result<reqwest::Response> {
    s.client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
}

/// GET rows with a query string; returns (status, body, content-range).
pub async fn rows(s: &TestServer, token: &str, query: &str) -> (StatusCode, Value, Option<String>) {
    let res = s.client.get(s.url(&format!("{T}/rows{query}"))).bearer_auth(token).send().await.unwrap();
    let status = res.status();
    let range = res.headers().get("content-range").map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap(), range)
}

pub fn ids(rows: &Value) -> Vec<i64> {
    rows.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

pub async fn sql(s: &TestServer, token: &str, query: &str) -> (StatusCode, Value) {
    s.post("/v1/sql", Some(token), json!({ "query": query })).await
}

/// Restricts a column of [`T`] to a fixed list of values; the change must be accepted.
pub async fn fixed_domain(s: &TestServer, token: &str, column: &str, values: &[&str]) {
    let path = format!("{T}/columns/{column}/domain/fixed");
    let (status, body) = s.call(Method::PUT, &path, Some(token), Some(json!({ "allowed_values": values }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
