//! `GET /metrics` as a Prometheus scraper reads it: requests counted by route template,
//! latency histograms, jobs and webhook deliveries; an admin's `metrics:read`, or a
//! server that serves it publicly, without a rate limit.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::data::{T, customers, insert, sample};
use crate::imports::finished;
use crate::support::{TestServer, error, forbidden, unauthorized};

const ROWS_ROUTE: &str = "/v1/tables/{catalog}/{schema}/{table}/rows";

async fn scrape(s: &TestServer, token: Option<&str>, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut req = s.client.get(s.url("/metrics"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let content_type = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

/// The value of the sample `name{labels}` (labels as written in the exposition), if any.
fn sample_value(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn import(s: &TestServer, token: &str, csv: &'static str) -> serde_json::Value {
    let form = Form::new().part("file", Part::bytes(csv.as_bytes()).file_name("rows.csv"));
    let res = s.client.post(s.url(&format!("{T}/import"))).bearer_auth(token).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = res.json().await.unwrap();
    finished(s, token, &job).await
}

/// A receiver on port 0 that accepts every delivery.
async fn receiver() -> String {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn requests_are_counted_by_route_template_with_latency_jobs_and_deliveries() {
    let s = TestServer::start_with(|c| c.webhooks.allow_private_targets = true).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    let url = receiver().await;
    let (status, hook) = s.post("/v1/webhooks", Some(t), json!({ "url": url, "events": ["table.created"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    for i in 10..12 {
        assert_eq!(insert(&s, t, json!([{ "id": i }])).await.0, StatusCode::CREATED);
    }
    for _ in 0..2 {
        assert_eq!(s.get(&format!("{T}/rows?id=eq.1"), t).await.0, StatusCode::OK);
    }
    assert_eq!(s.get("/v1/tables/main/crm/nowhere/rows", t).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/no/such/route", t).await.0, StatusCode::NOT_FOUND);
    let method = s.client.request(reqwest::Method::from_bytes(b"BREW").unwrap(), s.url(T)).send().await.unwrap();
    assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(import(&s, t, "id\n20\n21\n").await["status"], "succeeded");
    assert_eq!(import(&s, t, "id\n20\n").await["status"], "failed", "a duplicate key");
    let deadline = Instant::now() + Duration::from_secs(15);
    let id = hook["id"].as_str().unwrap();
    while s.get(&format!("/v1/webhooks/{id}/deliveries"), t).await.1[0]["status"] != "delivered" {
        assert!(Instant::now() < deadline, "the delivery never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, content_type, body) = scrape(&s, Some(t), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let requests = |method: &str, route: &str, status: u16| {
        sample_value(
            &body,
            &format!("lakeward_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"),
        )
    };
    // Every write and read of the table under one series, whatever the table's name.
    assert_eq!(requests("POST", ROWS_ROUTE, 201), Some(3.0), "{body}");
    assert_eq!(requests("GET", ROWS_ROUTE, 200), Some(2.0), "{body}");
    assert_eq!(requests("GET", ROWS_ROUTE, 404), Some(1.0), "{body}");
    assert_eq!(requests("POST", "/v1/tables/{catalog}/{schema}/{table}", 201), Some(1.0), "{body}");
    assert_eq!(requests("GET", "unmatched", 404), Some(1.0), "{body}");
    assert_eq!(requests("other", "/v1/tables/{catalog}/{schema}/{table}", 405), Some(1.0), "{body}");
    assert!(!body.contains("customers") && !body.contains("nowhere") && !body.contains("BREW"), "{body}");

    assert!(body.contains("# TYPE lakeward_http_request_duration_seconds histogram"), "{body}");
    let latency = format!("lakeward_http_request_duration_seconds_count{{method=\"POST\",route=\"{ROWS_ROUTE}\"}}");
    assert_eq!(sample_value(&body, &latency), Some(3.0), "{body}");
    let slowest =
        format!("lakeward_http_request_duration_seconds_bucket{{method=\"POST\",route=\"{ROWS_ROUTE}\",le=\"+Inf\"}}");
    assert_eq!(sample_value(&body, &slowest), Some(3.0), "{body}");
    let sum = format!("lakeward_http_request_duration_seconds_sum{{method=\"POST\",route=\"{ROWS_ROUTE}\"}}");
    assert!(sample_value(&body, &sum).is_some_and(|secs| secs > 0.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_http_requests_in_flight"), Some(1.0), "the scrape itself: {body}");

    assert_eq!(sample_value(&body, "lakeward_jobs{kind=\"import\",status=\"succeeded\"}"), Some(1.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_jobs{kind=\"import\",status=\"failed\"}"), Some(1.0), "{body}");
    let attempts = "lakeward_webhook_delivery_attempts_total{outcome=\"delivered\"}";
    assert_eq!(sample_value(&body, attempts), Some(1.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_webhook_deliveries{status=\"delivered\"}"), Some(1.0), "{body}");
    // The engine's own counters: three inserts (each its own group commit) and one import.
    assert_eq!(sample_value(&body, "lakeward_engine_commits_total"), Some(4.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_engine_group_commits_total"), Some(3.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_engine_grouped_inserts_total"), Some(3.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_engine_commit_conflicts_total"), Some(0.0), "{body}");
    assert_eq!(sample_value(&body, "lakeward_engine_redos_total"), Some(0.0), "{body}");
    // The first insert built the table's key index; the two after it extended it.
    assert_eq!(sample_value(&body, "lakeward_engine_key_index_builds_total"), Some(1.0), "{body}");
    assert!(sample_value(&body, "lakeward_engine_query_memory_bytes").is_some(), "{body}");

    // The next scrape counts this one; OpenMetrics when the scraper prefers it.
    let prometheus_accept =
        "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (status, content_type, body) = scrape(&s, Some(t), Some(prometheus_accept)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(body.ends_with("# EOF\n"), "{body}");
    let scraped = "lakeward_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}";
    assert_eq!(sample_value(&body, scraped), Some(1.0), "{body}");
}

#[tokio::test]
async fn metrics_need_an_admins_metrics_read() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let missing = error(401, "Unauthorized", "Missing bearer token in the Authorization header");
    let (status, _, body) = scrape(&s, None, None).await;
    assert_eq!(
        (status, serde_json::from_str::<serde_json::Value>(&body).unwrap()),
        (StatusCode::UNAUTHORIZED, missing)
    );
    let (status, _, body) = scrape(&s, Some("not-a-token"), None).await;
    assert_eq!((status, serde_json::from_str(&body).unwrap()), (StatusCode::UNAUTHORIZED, unauthorized()));

    let builder = s.add_member(&ada, "bob@example.com", "builder").await;
    let (status, _, body) = scrape(&s, Some(&builder.token), None).await;
    assert_eq!((status, serde_json::from_str(&body).unwrap()), (StatusCode::FORBIDDEN, forbidden("metrics:read")));
    // An admin's key needs the scope too.
    let (narrow, _) = s.create_key(&ada.token, json!({ "name": "org", "scopes": ["org:read"] })).await;
    let (status, _, body) = scrape(&s, Some(&narrow), None).await;
    assert_eq!((status, serde_json::from_str(&body).unwrap()), (StatusCode::FORBIDDEN, forbidden("metrics:read")));
    let (scraper, _) = s.create_key(&ada.token, json!({ "name": "prometheus", "scopes": ["metrics:read"] })).await;
    let (status, _, body) = scrape(&s, Some(&scraper), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("lakeward_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"403\"} 2"),
        "{body}"
    );
}

#[tokio::test]
async fn public_metrics_need_no_credentials_and_are_not_rate_limited() {
    let s = TestServer::start_with(|c| {
        c.metrics_public = true;
        c.limits.rate_limit_per_minute = 3;
    })
    .await;
    for _ in 0..6 {
        let (status, _, body) = scrape(&s, None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Other anonymous requests are limited as before, and counted.
    for _ in 0..3 {
        assert_eq!(s.client.get(s.url("/v1/users/me")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let res = s.client.get(s.url("/v1/users/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Failed credentials are still charged here, so that keys cannot be guessed through it.
    let bogus = format!("lw_live_{}", "a".repeat(40));
    let res = s.client.get(s.url("/metrics")).bearer_auth(&bogus).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    let (status, _, body) = scrape(&s, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sample_value(&body, "lakeward_rate_limited_requests_total{caller=\"anonymous\"}"), Some(2.0), "{body}");
    let scrapes = "lakeward_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}";
    assert_eq!(sample_value(&body, scrapes), Some(6.0), "{body}");
}
