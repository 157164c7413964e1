//! Body limits per route: a body announced over its route's limit is refused at once,
//! before it is sent; bodies within the limit, however large, still go through.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::data::{T, customers, rows};
use crate::support::{TestServer, error};

/// Sends only the headers of a request announcing `length` bytes of body, over a raw
/// connection (an HTTP client would insist on sending the body), and returns the status
/// and JSON body of the answer, which must come within two seconds.
async fn announce(s: &TestServer, request_line: &str, token: &str, content_type: &str, length: u64) -> (u16, Value) {
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{request_line} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: {content_type}\r\ncontent-length: {length}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(2), read_response(&mut tcp))
        .await
        .unwrap_or_else(|_| panic!("no answer to {request_line} within {:?}", started.elapsed()));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

/// Reads one response: its head, then as many body bytes as its `content-length` says.
async fn read_response(tcp: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).await.unwrap();
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                .map(|v| v.trim().parse::<usize>().unwrap());
            if length.is_some_and(|len| body.len() >= len) {
                return text;
            }
        }
        assert!(n > 0, "the connection closed mid-answer: {text}");
    }
}

fn too_large() -> Value {
    error(413, "Payload Too Large", "Request body is larger than the configured limit")
}

const GIB: u64 = 1 << 30;

#[tokio::test]
async fn a_body_announced_over_its_routes_limit_is_refused_before_it_is_sent() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let t = &ada.token;
    let org = format!("/v1/organisations/{}", ada.org_id);
    // JSON bodies: the 10 MiB JSON limit.
    assert_eq!(announce(&s, &format!("PUT {org}"), t, "application/json", GIB).await, (413, too_large()));
    assert_eq!(announce(&s, "POST /v1/catalogs", t, "application/json", GIB).await, (413, too_large()));
    // Row writes and imports: the 1 GiB upload limit.
    for (line, content_type) in [
        (format!("POST {T}/rows"), "text/csv"),
        (format!("POST {T}/rows"), "application/json"),
        (format!("PATCH {T}/rows?id=eq.1"), "application/json"),
        (format!("POST {T}/import"), "multipart/form-data; boundary=x"),
        ("POST /v1/tables/infer".to_owned(), "multipart/form-data; boundary=x"),
    ] {
        assert_eq!(announce(&s, &line, t, content_type, 2 * GIB).await, (413, too_large()), "{line}");
    }
    assert_eq!(s.get(&org, t).await.1["name"], "Acme", "nothing changed");
    assert_eq!(s.get("/v1/catalogs", t).await.1.as_array().unwrap().len(), 1);
    assert_eq!(rows(&s, t, "").await.1, json!([]));
}

#[tokio::test]
async fn uploads_over_the_json_limit_and_within_the_upload_limit_go_through() {
    let s = TestServer::start_with(|c| {
        c.limits.max_body_bytes = 1024;
        c.limits.max_upload_bytes = 256 * 1024;
    })
    .await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let t = &ada.token;
    let csv: String =
        std::iter::once("id,name\n".to_owned()).chain((1..=2000).map(|i| format!("{i},name {i}\n"))).collect();
    assert!(csv.len() > 20 * 1024);

    let res = s.client.post(s.url(&format!("{T}/rows"))).bearer_auth(t).header("content-type", "text/csv");
    let res = res.body(csv.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "version": 1, "rows": 2000, "replayed": false }));

    let part = Part::bytes(csv.replace("id,", "id2,").into_bytes()).file_name("more.csv");
    let res = s.client.post(s.url("/v1/tables/main/crm/more/import")).bearer_auth(t);
    let res = res.multipart(Form::new().part("file", part)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = crate::imports::finished(&s, t, &res.json().await.unwrap()).await;
    assert_eq!((&job["status"], &job["rows_written"]), (&json!("succeeded"), &json!(2000)), "{job}");

    // Over the upload limit: refused at once, and the JSON routes keep their own limit.
    let (status, body) = announce(&s, &format!("POST {T}/rows"), t, "text/csv", 256 * 1024 + 1).await;
    assert_eq!((status, body), (413, too_large()));
    let (status, body) = announce(&s, "POST /v1/catalogs", t, "application/json", 1025).await;
    assert_eq!((status, body), (413, too_large()));
    let (_, count) = crate::data::sql(&s, t, "SELECT count(*) AS n FROM main.crm.customers").await;
    assert_eq!(count["rows"], json!([{ "n": 2000 }]));
}
