use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::data::{T, customers, ids, insert, rows, sample, sql};
use crate::support::{TestServer, invalid};

#[tokio::test]
async fn every_state_can_be_read_and_restored() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let token = ada.token.clone();
    customers(&s, &ada).await; // v0
    insert(&s, &token, sample()).await; // v1
    s.call(Method::PATCH, &format!("{T}/rows?id=eq.1"), Some(&token), Some(json!({ "name": "Ada L." }))).await; // v2
    s.call(Method::DELETE, &format!("{T}/rows?id=eq.2"), Some(&token), None).await; // v3

    assert_eq!(ids(&rows(&s, &token, "?order=id").await.1), [1, 3]);
    assert_eq!(ids(&rows(&s, &token, "?order=id&version=1").await.1), [1, 2, 3]);
    assert_eq!(rows(&s, &token, "?id=eq.1&version=1&select=name").await.1, json!([{ "name": "Ada" }]));
    assert_eq!(rows(&s, &token, "?version=0").await.1, json!([]));
    let (_, now, _) =
        rows(&s, &token, &format!("?as_of={}&order=id", urlencode(&chrono::Utc::now().to_rfc3339()))).await;
    assert_eq!(ids(&now), [1, 3]);
    let (status, body, _) = rows(&s, &token, "?as_of=2000-01-01T00:00:00Z").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("as_of", "the table did not exist at that time")));
    let (_, old) = sql(&s, &token, "SELECT count(*) AS n FROM main.crm.\"customers@v1\"").await;
    assert_eq!(old["rows"], json!([{ "n": 3 }]));
    let res =
        s.client.get(s.url(&format!("{T}/export?format=ndjson&version=1"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"customers.ndjson\"");
    assert_eq!(res.text().await.unwrap().lines().count(), 3);
    assert_eq!(s.get(&format!("{T}?version=1"), &token).await.1["num_rows"], 3);

    let (_, history) = s.get(&format!("{T}/history"), &token).await;
    let ops: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["version"].as_u64().unwrap(), h["operation"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(ops, [(3, "DELETE".to_owned()), (2, "UPDATE".into()), (1, "WRITE".into()), (0, "CREATE TABLE".into())]);
    for h in history.as_array().unwrap() {
        assert_eq!(h["userId"], ada.user_id.as_str());
        assert_eq!(h["userName"], "ada@example.com");
        assert!(h["timestamp"].as_i64().unwrap() > 0);
    }
    assert!(!history.to_string().contains(&s.data_dir().display().to_string()), "no storage paths in history");
    let (_, page) = s.get(&format!("{T}/history?limit=2&before=3"), &token).await;
    assert_eq!(page.as_array().unwrap().iter().map(|h| h["version"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 1]);

    let (status, body) = s.call(Method::PUT, &format!("{T}/rollback/1"), Some(&token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "restored_version": 1, "version": 4 })));
    assert_eq!(
        rows(&s, &token, "?order=id&select=id,name").await.1,
        json!([{ "id": 1, "name": "Ada" }, { "id": 2, "name": "Bob" }, { "id": 3, "name": "Cy" }])
    );
    assert_eq!(s.get(&format!("{T}/history?limit=1"), &token).await.1[0]["operation"], "RESTORE");
    let (status, body) = s.call(Method::PUT, &format!("{T}/rollback/9"), Some(&token), None).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("version", "can only roll back to an earlier version than the current 4"))
    );
    let (status, _) = s.call(Method::PUT, &format!("{T}/rollback/x"), Some(&token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The audit trail names each change with the version it produced.
    let (_, audit) = s.get("/v1/audit?target_type=table", &token).await;
    let trail: Vec<_> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["details"]["version"].clone()))
        .collect();
    assert_eq!(
        trail,
        [
            ("table.rolled_back".to_owned(), json!(4)),
            ("rows.deleted".into(), json!(3)),
            ("rows.updated".into(), json!(2)),
            ("row.batch_inserted".into(), json!(1)),
            ("table.created".into(), json!(0)),
        ]
    );
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn checkpoints_keep_the_log_short() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    for i in 0..12 {
        let (status, _) = insert(&s, &ada.token, json!([{ "id": i }])).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let log = find_log(&s.data_dir().join("warehouse")).expect("a _delta_log");
    let checkpoint = log.join("00000000000000000009.checkpoint.parquet");
    assert!(
        checkpoint.exists(),
        "{:?}",
        std::fs::read_dir(&log).unwrap().flatten().map(|e| e.file_name()).collect::<Vec<_>>()
    );
    assert_eq!(s.get(T, &ada.token).await.1["num_rows"], 12);
}

fn find_log(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "_delta_log") {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find_log(&path)
        {
            return Some(found);
        }
    }
    None
}
