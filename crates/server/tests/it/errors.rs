//! Every way a request can be malformed gets the documented error shape and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, error, invalid, not_found};

async fn raw(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &'static str,
) -> (StatusCode, Value) {
    let mut req = s.client.request(method, s.url(path)).bearer_auth(token).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    for path in
        ["/v2/anything", "/v1/organisations/x/y/z/w", "/v1/api-keys/%2e%2e%2f%2e%2e", "/v1/organisations/..%2F..%2Fetc"]
    {
        assert_eq!(s.get(path, &ada.token).await, (StatusCode::NOT_FOUND, not_found()), "{path}");
    }
    let res = s.client.delete(s.url("/v1/users/me")).bearer_auth(&ada.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET,HEAD");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        error(405, "Method Not Allowed", "Method not allowed on this resource")
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let path = format!("/v1/organisations/{}", ada.org_id);
    let json_ct = Some("application/json");

    let (status, body) = raw(&s, Method::PUT, &path, &ada.token, json_ct, r#"{"name": "#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().starts_with("Malformed JSON: EOF while parsing"), "{body}");
    let (status, body) = raw(&s, Method::PUT, &path, &ada.token, json_ct, "").await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error(400, "Bad Request", "Request body is empty; expected a JSON object"))
    );
    let (status, body) = raw(&s, Method::PUT, &path, &ada.token, json_ct, r#"["name"]"#).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("body", "expected a JSON object")));
    let (status, body) = raw(&s, Method::PUT, &path, &ada.token, json_ct, r#"{"name": 42}"#).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("name", "invalid type: integer `42`, expected a string"))
    );
    let (status, body) = raw(&s, Method::PUT, &path, &ada.token, json_ct, r#"{"name": "B", "owner": "me"}"#).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("owner", "unknown field `owner`, expected `name`")));

    let unsupported =
        error(415, "Unsupported Media Type", "Expected a request body with Content-Type: application/json");
    assert_eq!(
        raw(&s, Method::PUT, &path, &ada.token, Some("text/plain"), r#"{"name":"B"}"#).await,
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, unsupported.clone())
    );
    assert_eq!(
        raw(&s, Method::PUT, &path, &ada.token, None, r#"{"name":"B"}"#).await,
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, unsupported)
    );

    assert_eq!(s.get(&path, &ada.token).await.1["name"], "Acme", "nothing changed");
}

#[tokio::test]
async fn oversized_bodies_answer_413() {
    let s = TestServer::start_with(|c| c.limits.max_body_bytes = 1024).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let path = format!("/v1/organisations/{}", ada.org_id);
    let big = json!({ "name": "x".repeat(2000) });
    let (status, body) = s.call(Method::PUT, &path, Some(&ada.token), Some(big)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            error(413, "Payload Too Large", "Request body is larger than the configured limit")
        )
    );
    // A chunked body with no Content-Length is cut off at the limit too.
    let stream = futures_stream(3000);
    let res = s
        .client
        .put(s.url(&path))
        .bearer_auth(&ada.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.get(&path, &ada.token).await.1["name"], "Acme");
}

fn futures_stream(len: usize) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let mut body = br#"{"name":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', len));
    body.extend(br#""}"#);
    futures::stream::iter(body.chunks(256).map(|c| Ok(c.to_vec())).collect::<Vec<_>>())
}

#[tokio::test]
async fn validation_errors_name_the_field_for_odd_strings() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let path = format!("/v1/organisations/{}", ada.org_id);
    let (status, body) = s.call(Method::PUT, &path, Some(&ada.token), Some(json!({ "name": "bad\u{0}name" }))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("name", "must not contain control characters")));
    let (status, body) = s.call(Method::PUT, &path, Some(&ada.token), Some(json!({ "name": "n".repeat(201) }))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("name", "must be at most 200 characters")));
    // Unicode names are fine.
    let (status, body) =
        s.call(Method::PUT, &path, Some(&ada.token), Some(json!({ "name": "Zürich Daten 数据" }))).await;
    assert_eq!((status, &body["name"]), (StatusCode::OK, &json!("Zürich Daten 数据")));
}

#[tokio::test]
async fn bad_query_parameters_name_the_parameter() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (status, body) = s.get("/v1/audit?limit=abc", &ada.token).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("limit", "invalid digit found in string")));
    let (status, body) = s.get("/v1/audit?limit=0", &ada.token).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("limit", "must be between 1 and 500")));
    let (status, body) = s.get("/v1/audit?actor_id=nope", &ada.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "actor_id");
    let (status, body) = s.get("/v1/audit?color=red", &ada.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "color");
    assert!(body["details"][0]["message"].as_str().unwrap().starts_with("unknown parameter `color`"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let s = TestServer::start().await;
    let res = s.client.get(s.url("/v1/health")).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"].to_str().unwrap().len(), 36);
    let res = s.client.get(s.url("/v1/health")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }));
}

/// A 404 for a name says what is missing, by name: the outermost missing part of a path
/// (catalog, schema, table), or the column or constraint. Names resolve in the caller's
/// organisation only, so another organisation's tables change nothing in the answer.
#[tokio::test]
async fn not_found_names_what_is_missing() {
    use crate::data::{T, customers};
    use crate::support::missing;

    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let t = &ada.token;
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/v1/tables/main/crm/nope".into(), None, "table `main.crm.nope`"),
        (Method::GET, "/v1/tables/main/nope/customers/rows".into(), None, "schema `main.nope`"),
        (Method::GET, "/v1/tables/nope/crm/customers/history".into(), None, "catalog `nope`"),
        (Method::GET, "/v1/tables/main/crm/bad-name".into(), None, "table `main.crm.bad-name`"),
        (Method::GET, "/v1/catalogs/nope/schemas".into(), None, "catalog `nope`"),
        (Method::DELETE, "/v1/catalogs/nope".into(), None, "catalog `nope`"),
        (Method::DELETE, "/v1/catalogs/main/schemas/nope".into(), None, "schema `main.nope`"),
        (Method::DELETE, "/v1/catalogs/nope/schemas/crm".into(), None, "catalog `nope`"),
        (Method::POST, "/v1/catalogs/nope/schemas".into(), Some(json!({ "name": "x" })), "catalog `nope`"),
        (
            Method::POST,
            "/v1/tables/main/nope/fresh".into(),
            Some(json!({ "columns": [{ "name": "x", "type": "string" }] })),
            "schema `main.nope`",
        ),
        (Method::PATCH, format!("{T}/columns/nope"), Some(json!({ "comment": "x" })), "column `nope`"),
        (Method::GET, format!("{T}/columns/nope/domain"), None, "column `nope`"),
        (Method::DELETE, format!("{T}/constraints/nope"), None, "constraint `nope`"),
    ];
    for (method, path, body, what) in &cases {
        let got = s.call(method.clone(), path, Some(t), body.clone()).await;
        assert_eq!(got, (StatusCode::NOT_FOUND, missing(what)), "{method} {path}");
    }
    // Acme holding `main.crm.customers` changes nothing for Eve, who has no catalog.
    let eve = s.onboard("Evil", "eve@example.com").await;
    for path in [T.to_owned(), format!("{T}/rows"), format!("{T}/columns/name/domain")] {
        assert_eq!(s.get(&path, &eve.token).await, (StatusCode::NOT_FOUND, missing("catalog `main`")), "{path}");
    }
    // Ids name nothing anyone else could recognise: a plain 404.
    let (status, body) = s.get("/v1/jobs/01900000-0000-7000-8000-000000000000", t).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, not_found()));
}

/// Readiness: 200 while the metadata database and the warehouse answer, without
/// credentials and past any rate limit; 503 naming the warehouse once its folder is gone.
#[tokio::test]
async fn readiness_fails_while_the_warehouse_is_unreachable() {
    let s = TestServer::start_with(|c| c.limits.rate_limit_per_minute = 1).await;
    for _ in 0..3 {
        let (status, body) = s.call(reqwest::Method::GET, "/v1/health/ready", None, None).await;
        let checks = json!([{ "name": "metadata", "ok": true }, { "name": "warehouse", "ok": true }]);
        assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ready", "checks": checks })));
    }
    let root = s.config.warehouse.root().clone();
    if root.scheme() != "file" {
        return; // The object-store pass: the bucket cannot be taken away here.
    }
    std::fs::remove_dir_all(root.to_file_path().unwrap()).unwrap();
    let (status, body) = s.call(reqwest::Method::GET, "/v1/health/ready", None, None).await;
    let checks = json!([{ "name": "metadata", "ok": true },
                        { "name": "warehouse", "ok": false, "reason": "the warehouse does not answer" }]);
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, json!({ "status": "unavailable", "checks": checks })));
    assert_eq!(s.call(reqwest::Method::GET, "/v1/health", None, None).await.0, StatusCode::OK, "still alive");
}
