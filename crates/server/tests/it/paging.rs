//! `Range` with `limit`/`offset`: as in PostgREST, a read returns the rows both ask for,
//! and `Content-Range` names exactly the rows returned.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::data::{T, customers, ids, insert};
use crate::support::TestServer;

/// Ten customers, ids 1 to 10.
async fn setup() -> (TestServer, String) {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let rows: Vec<Value> = (1..=10).map(|id| json!({ "id": id, "name": format!("c{id}") })).collect();
    assert_eq!(insert(&s, &ada.token, Value::Array(rows)).await.0, StatusCode::CREATED);
    (s, ada.token)
}

/// (status, ids or the error body, Content-Range).
async fn read(
    s: &TestServer,
    token: &str,
    query: &str,
    range: Option<&str>,
    count: bool,
) -> (u16, Value, Option<String>) {
    let mut req = s.client.get(s.url(&format!("{T}/rows?order=id{query}"))).bearer_auth(token);
    if let Some(range) = range {
        req = req.header("range", range);
    }
    if count {
        req = req.header("prefer", "count=exact");
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_range = res.headers().get("content-range").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = res.json().await.unwrap();
    let body = if status == 200 { json!(ids(&body)) } else { body };
    (status, body, content_range)
}

/// (query, Range, `Prefer: count=exact`, ids returned, Content-Range).
type Case = (&'static str, Option<&'static str>, bool, Value, Option<&'static str>);

#[tokio::test]
async fn range_and_limit_offset_meet_and_content_range_names_the_rows_returned() {
    let (s, token) = setup().await;
    let cases: &[Case] = &[
        ("&limit=5", Some("0-9"), false, json!([1, 2, 3, 4, 5]), Some("0-4/*")),
        ("&offset=5", Some("0-9"), false, json!([6, 7, 8, 9, 10]), Some("5-9/*")),
        ("&limit=5", Some("2-9"), false, json!([3, 4, 5]), Some("2-4/*")),
        ("&limit=2&offset=4", Some("3-"), false, json!([5, 6]), Some("4-5/*")),
        ("&offset=1", Some("0-3"), true, json!([2, 3, 4]), Some("1-3/10")),
        ("&limit=3&offset=9", Some("8-"), true, json!([10]), Some("9-9/10")),
        ("&limit=0", Some("0-4"), true, json!([]), Some("*/10")),
        ("&offset=20", None, true, json!([]), Some("*/10")),
        ("", Some("8-20"), true, json!([9, 10]), Some("8-9/10")),
        ("", Some("8-"), true, json!([9, 10]), Some("8-9/10")),
        ("&offset=7&limit=200000", None, true, json!([8, 9, 10]), Some("7-9/10")),
        ("&limit=4&offset=8", None, false, json!([9, 10]), Some("8-9/*")),
        // An unbounded read streams: the number of rows is not known before they are sent.
        ("&offset=8", None, false, json!([9, 10]), None),
    ];
    for (query, range, count, expected, content_range) in cases {
        let got = read(&s, &token, query, *range, *count).await;
        let expected = (200, expected.clone(), content_range.map(str::to_owned));
        assert_eq!(got, expected, "{query} Range: {range:?} count: {count}");
    }
}

#[tokio::test]
async fn a_range_and_an_offset_without_rows_in_common_are_not_satisfiable() {
    let (s, token) = setup().await;
    let expected = json!({
        "statusCode": 416,
        "error": "Range Not Satisfiable",
        "message": "The Range header and limit/offset have no row in common"
    });
    assert_eq!(read(&s, &token, "&offset=5", Some("0-4"), false).await, (416, expected.clone(), None));
    assert_eq!(read(&s, &token, "&limit=2", Some("5-9"), true).await, (416, expected, None));
}
