//! Row-level diffs between versions, checked against a brute-force comparison of the
//! versions' rows.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, insert};
use crate::support::{TestServer, invalid};

/// Rows of a version by id.
async fn at(s: &TestServer, token: &str, version: u64) -> BTreeMap<i64, Value> {
    let (status, rows) = s.get(&format!("{T}/rows?order=id&limit=10000&version={version}"), token).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    rows.as_array().unwrap().iter().map(|r| (r["id"].as_i64().unwrap(), r.clone())).collect()
}

/// What a diff must answer, computed from both versions' whole rows.
fn brute_force(before: &BTreeMap<i64, Value>, after: &BTreeMap<i64, Value>) -> Vec<Value> {
    let mut keys: Vec<i64> = before.keys().chain(after.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for id in keys {
        let key = json!({ "id": id });
        match (before.get(&id), after.get(&id)) {
            (None, Some(row)) => out.push(json!({ "change": "added", "key": key, "row": row })),
            (Some(row), None) => out.push(json!({ "change": "removed", "key": key, "row": row })),
            (Some(old), Some(new)) if old != new => {
                let columns: serde_json::Map<String, Value> = new
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, v)| old.get(k.as_str()) != Some(v))
                    .map(|(k, v)| (k.clone(), json!({ "old": old[k.as_str()], "new": v })))
                    .collect();
                out.push(json!({ "change": "changed", "key": key, "columns": columns }));
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn diffs_between_versions_match_a_brute_force_comparison() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    let rows: Vec<Value> = (0..300)
        .map(|i| {
            let country = ["DE", "FR", "IT"][i % 3];
            json!({ "id": i, "name": format!("n{i}"), "country": country, "balance": format!("{i}.25") })
        })
        .collect();
    assert_eq!(insert(&s, t, Value::Array(rows)).await.0, StatusCode::CREATED);
    // Pseudo-random changes, one commit each: updates, deletes and inserts.
    let mut seed: u64 = 7;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for round in 0..12 {
        let id = next(300);
        let (status, body) = match round % 3 {
            0 => {
                s.call(
                    Method::PATCH,
                    &format!("{T}/rows?id=eq.{id}"),
                    Some(t),
                    Some(json!({ "name": format!("r{round}") })),
                )
                .await
            }
            1 => s.call(Method::DELETE, &format!("{T}/rows?id=lt.{}&id=gte.{}", id + 3, id), Some(t), None).await,
            _ => {
                s.post(&format!("{T}/rows"), Some(t), json!([{ "id": 1000 + round, "country": "DE", "balance": 1 }]))
                    .await
            }
        };
        assert!(status.is_success(), "{body}");
    }
    let latest = s.get(T, t).await.1["version"].as_u64().unwrap();
    for (from, to) in [(1, latest), (1, 2), (3, latest), (5, 9), (latest, latest)] {
        let (status, diff) = s.get(&format!("{T}/diff?from_version={from}&to_version={to}&limit=10000"), t).await;
        assert_eq!(status, StatusCode::OK, "{diff}");
        let expected = brute_force(&at(&s, t, from).await, &at(&s, t, to).await);
        assert_eq!(diff["differences"], Value::Array(expected.clone()), "{from} -> {to}");
        let count = |kind: &str| expected.iter().filter(|d| d["change"] == kind).count();
        assert_eq!(
            diff["counts"],
            json!({ "added": count("added"), "removed": count("removed"), "changed": count("changed") }),
            "{from} -> {to}"
        );
        assert_eq!((diff["key"].clone(), diff["compared_by"].clone()), (json!(["id"]), json!("key")));
    }
    // One inserted row: only the new file is read.
    let (_, diff) = s.get(&format!("{T}/diff?from_version={}&to_version={}", latest - 1, latest), t).await;
    assert_eq!((diff["files_read"].as_u64(), diff["counts"]["added"].as_u64()), (Some(1), Some(1)), "{diff}");
    // Paged, and as NDJSON.
    let (_, page) = s.get(&format!("{T}/diff?from_version=1&limit=2&offset=1"), t).await;
    let (_, all) = s.get(&format!("{T}/diff?from_version=1"), t).await;
    assert_eq!(page["differences"], json!(all["differences"].as_array().unwrap()[1..3]));
    let res = s
        .client
        .get(s.url(&format!("{T}/diff?from_version=1")))
        .bearer_auth(t)
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = res.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(Value::Array(lines), all["differences"]);
    // Bad requests.
    assert_eq!(
        s.get(&format!("{T}/diff?from_version=1&limit=0"), t).await,
        (StatusCode::BAD_REQUEST, invalid("limit", "must be between 1 and 10000"))
    );
    let (status, _) = s.get(&format!("{T}/diff"), t).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = s.get(&format!("{T}/diff?from_version=999"), t).await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn without_a_primary_key_whole_rows_are_compared() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    crate::data::namespace(&s, &ada).await;
    let table = "/v1/tables/main/crm/events";
    let (status, _) = s
        .post(
            table,
            Some(t),
            json!({ "columns": [{ "name": "what", "type": "string" }, { "name": "n", "type": "int64" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let rows = json!([{ "what": "a", "n": 1 }, { "what": "a", "n": 1 }, { "what": "b", "n": 2 }]);
    assert_eq!(s.post(&format!("{table}/rows"), Some(t), rows).await.0, StatusCode::CREATED);
    assert_eq!(s.call(Method::DELETE, &format!("{table}/rows?what=eq.b"), Some(t), None).await.0, StatusCode::OK);
    assert_eq!(
        s.post(&format!("{table}/rows"), Some(t), json!([{ "what": "a", "n": 1 }, { "what": "c", "n": 3 }])).await.0,
        StatusCode::CREATED
    );
    let (status, diff) = s.get(&format!("{table}/diff?from_version=1"), t).await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    assert_eq!((&diff["key"], &diff["compared_by"]), (&json!([]), &json!("whole_rows")));
    assert_eq!(diff["counts"], json!({ "added": 2, "removed": 1, "changed": 0 }));
    let mut differences: Vec<String> =
        diff["differences"].as_array().unwrap().iter().map(|d| format!("{} {}", d["change"], d["row"])).collect();
    differences.sort();
    assert_eq!(
        differences,
        [r#""added" {"n":1,"what":"a"}"#, r#""added" {"n":3,"what":"c"}"#, r#""removed" {"n":2,"what":"b"}"#]
    );
}

/// A clone against its source: only the files that diverged are read.
#[tokio::test]
async fn a_table_diffs_against_another_with_the_same_key() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    for chunk in 0..4 {
        let rows: Vec<Value> =
            (chunk * 50..chunk * 50 + 50).map(|i| json!({ "id": i, "name": format!("n{i}") })).collect();
        assert_eq!(insert(&s, t, Value::Array(rows)).await.0, StatusCode::CREATED);
    }
    let (status, job) =
        s.post("/v1/clones", Some(t), json!({ "source": "main.crm.customers", "destination": "main.crm.copy" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(crate::imports::finished(&s, t, &job).await["status"], "succeeded");
    let copy = "/v1/tables/main/crm/copy";
    let (status, _) =
        s.call(Method::PATCH, &format!("{copy}/rows?id=eq.7"), Some(t), Some(json!({ "name": "seven" }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.post(&format!("{copy}/rows"), Some(t), json!([{ "id": 500 }])).await.0, StatusCode::CREATED);
    let (status, diff) = s.get(&format!("{copy}/diff?against=main.crm.customers&limit=10000"), t).await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let (_, source) = s.get(&format!("{T}/rows?order=id&limit=10000"), t).await;
    let (_, cloned) = s.get(&format!("{copy}/rows?order=id&limit=10000"), t).await;
    let by_id =
        |rows: &Value| rows.as_array().unwrap().iter().map(|r| (r["id"].as_i64().unwrap(), r.clone())).collect();
    assert_eq!(diff["differences"], Value::Array(brute_force(&by_id(&source), &by_id(&cloned))));
    assert_eq!(diff["counts"], json!({ "added": 1, "removed": 0, "changed": 1 }));
    // The rewritten file on each side and the new one: the three untouched files are shared.
    assert_eq!(diff["files_read"], 3, "{diff}");

    let (status, body) = s.get(&format!("{copy}/diff"), t).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("from_version", "is required unless `against` names another table"))
    );
    let (status, body) = s.get(&format!("{copy}/diff?against=customers"), t).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("against", "must be `catalog.schema.table`")));
    let (status, _) = s.get(&format!("{copy}/diff?against=main.crm.nope"), t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        s.post("/v1/tables/main/crm/keyless", Some(t), json!({ "columns": [{ "name": "id", "type": "int64" }] })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s.get(&format!("{copy}/diff?against=main.crm.keyless"), t).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Another organisation's table is not there.
    let bob = s.onboard("Bobco", "bob@example.com").await;
    customers(&s, &bob).await;
    let (status, _) = s.get(&format!("{T}/diff?against=main.crm.copy"), &bob.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_diff_as_csv_has_a_line_per_changed_value() {
    let (s, ada) = crate::data::acme_with_sample().await;
    let t = &ada.token;
    let rename = json!({ "name": "A, \"quoted\"", "country": null });
    assert_eq!(s.call(Method::PATCH, &format!("{T}/rows?id=eq.1"), Some(t), Some(rename)).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::DELETE, &format!("{T}/rows?id=eq.2"), Some(t), None).await.0, StatusCode::OK);
    assert_eq!(crate::data::insert(&s, t, json!([{ "id": 4, "name": "Dee" }])).await.0, StatusCode::CREATED);
    let (_, all) = s.get(&format!("{T}/diff?from_version=1"), t).await;
    let res = s
        .client
        .get(s.url(&format!("{T}/diff?from_version=1")))
        .bearer_auth(t)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let quoted = |v: &Value| format!("\"{}\"", v.to_string().replace('"', "\"\""));
    let removed = &all["differences"][1]["row"];
    let added = &all["differences"][2]["row"];
    let expected = format!(
        "change,id,column,old,new\r\n\
         changed,1,country,\"\"\"DE\"\"\",null\r\n\
         changed,1,name,\"\"\"Ada\"\"\",\"\"\"A, \\\"\"quoted\\\"\"\"\"\"\r\n\
         removed,2,,{},\r\n\
         added,4,,,{}\r\n",
        quoted(removed),
        quoted(added)
    );
    assert_eq!(res.text().await.unwrap(), expected, "{all}");
}
