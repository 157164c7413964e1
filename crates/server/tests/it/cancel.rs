//! A query that is abandoned, past its timeout or by a client that went away, stops
//! using the CPU: the work ends, not only the answer.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestServer;

/// A non-equi join of two 2M-row ranges: hours of work, one batch of it enough to keep a
/// core busy for a minute unless the operators yield.
const RUNAWAY: &str = "SELECT count(*) FROM range(2000000) a JOIN range(2000000) b ON a.value < b.value";

/// CPU seconds this process (the in-process server, and the test) has used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// CPU seconds used over the `window` that starts `after` from now.
async fn cpu_used(after: Duration, window: Duration) -> f64 {
    tokio::time::sleep(after).await;
    let start = cpu_seconds();
    tokio::time::sleep(window).await;
    cpu_seconds() - start
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_stop_working_when_they_time_out_or_their_client_goes_away() {
    // Long enough for the join to be past its build phase, probing, when it is abandoned.
    let s = TestServer::start_with(|c| c.limits.query_timeout = Duration::from_secs(4)).await;
    let ada = s.onboard("Acme", "ada@example.com").await;

    let (status, body) = s.post("/v1/sql", Some(&ada.token), json!({ "query": RUNAWAY })).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    let used = cpu_used(Duration::from_millis(1000), Duration::from_secs(2)).await;
    assert!(used < 0.3, "{used:.2} CPU seconds used in the 2 s starting 1 s after the timeout");

    // A client that gives up after three seconds.
    let request = s.client.post(s.url("/v1/sql")).bearer_auth(&ada.token).json(&json!({ "query": RUNAWAY }));
    let gave_up = tokio::time::timeout(Duration::from_secs(3), request.send()).await;
    assert!(gave_up.is_err(), "the query cannot have answered yet");
    let used = cpu_used(Duration::from_millis(1000), Duration::from_secs(1)).await;
    assert!(used < 0.3, "{used:.2} CPU seconds used in the 1 s starting 1 s after the client went away");
}

/// First rows within the timeout, then a runaway branch: the answer has started (200), and
/// must end so that a client cannot take it for complete.
#[tokio::test]
async fn answers_cut_by_the_timeout_end_in_an_error_the_client_sees() {
    let s = TestServer::start_with(|c| c.limits.query_timeout = Duration::from_secs(2)).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let query = format!("SELECT 1 AS n UNION ALL ({RUNAWAY})");
    for accept in ["application/json", "application/x-ndjson", "text/csv", "application/vnd.apache.arrow.stream"] {
        let res = s
            .client
            .post(s.url("/v1/sql"))
            .bearer_auth(&ada.token)
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{accept}: the first rows came in time");
        let body = res.bytes().await;
        assert!(body.is_err(), "{accept}: a cut answer must not read as complete: {body:?}");
    }
}
