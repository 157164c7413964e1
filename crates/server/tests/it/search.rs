//! Search: substring matches first, then matches within a few typos, by similarity.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::data::{T, customers, ids, insert, sample};
use crate::support::{TestServer, invalid};

async fn setup() -> (TestServer, String) {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, &ada.token, sample()).await.0, StatusCode::CREATED);
    let more = json!([
        { "id": 4, "name": "Adam", "country": "UK" },
        { "id": 5, "name": "Ada Lovelace", "country": "UK" },
        { "id": 6, "name": "Dana", "country": "NL" }
    ]);
    assert_eq!(insert(&s, &ada.token, more).await.0, StatusCode::CREATED);
    (s, ada.token)
}

async fn search(s: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    s.get(&format!("{T}/search/{path}"), token).await
}

#[tokio::test]
async fn typos_are_tolerated_and_answers_say_what_they_hold() {
    let (s, token) = setup().await;
    let (status, body) = search(&s, &token, "Aad").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "name": "customers",
            "description": "Our customers",
            "columns": [
                { "name": "id", "type": "int64" },
                { "name": "name", "type": "string" },
                { "name": "country", "type": "string" },
                { "name": "balance", "type": "decimal(10,2)" },
                { "name": "joined", "type": "date" }
            ],
            "rows": [
                { "id": 1, "name": "Ada", "country": "DE", "balance": 10.50, "joined": "2020-01-01" },
                { "id": 5, "name": "Ada Lovelace", "country": "UK", "balance": null, "joined": null }
            ],
            "number_of_rows": 2,
            "limit_reached": false
        })
    );
    assert_eq!(ids(&search(&s, &token, "Lovelase").await.1["rows"]), [5], "one typo in a word of the cell");
    assert_eq!(ids(&search(&s, &token, "ada%20lovlace").await.1["rows"]), [5], "a typo in a run of words");
    let (status, body) = search(&s, &token, "zzzz").await;
    assert_eq!((status, &body["rows"], &body["number_of_rows"]), (StatusCode::OK, &json!([]), &json!(0)));
}

#[tokio::test]
async fn substring_matches_come_first_then_typos_by_similarity() {
    let (s, token) = setup().await;
    // Containing `ada`: exactly (1), in a short cell (4), in a long one (5); `Dana` is two
    // edits away, too many for a three-letter term.
    assert_eq!(ids(&search(&s, &token, "ADA").await.1["rows"]), [1, 4, 5]);
    // `Adam` itself, then `Ada` one edit away (1 and 5, ties by primary key).
    assert_eq!(ids(&search(&s, &token, "Adam").await.1["rows"]), [4, 1, 5]);
    // Short terms match only as substrings: `de` is the country of 1 and 3.
    assert_eq!(ids(&search(&s, &token, "de").await.1["rows"]), [1, 3]);

    let (status, body) = search(&s, &token, "Adam?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (ids(&body["rows"]), &body["number_of_rows"], &body["limit_reached"]),
        (vec![4, 1], &json!(2), &json!(true))
    );
    let (_, body) = search(&s, &token, "Adam?limit=3").await;
    assert_eq!((ids(&body["rows"]), &body["limit_reached"]), (vec![4, 1, 5], &json!(false)));

    let res = s
        .client
        .get(s.url(&format!("{T}/search/Adam")))
        .bearer_auth(&token)
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = res.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), [4, 1, 5]);
}

#[tokio::test]
async fn bad_searches_name_the_parameter() {
    let (s, token) = setup().await;
    assert_eq!(
        search(&s, &token, "Ada?limit=0").await,
        (StatusCode::BAD_REQUEST, invalid("limit", "must be between 1 and 10000"))
    );
    assert_eq!(search(&s, &token, "%20").await, (StatusCode::BAD_REQUEST, invalid("term", "must not be empty")));
}
