//! Vacuum and storage metrics over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, acme_with_sample, insert};
use crate::imports::finished;
use crate::support::{TestServer, forbidden, invalid};

async fn metrics(s: &TestServer, token: &str) -> Value {
    let (status, m) = s.get(&format!("{T}/storage-metrics"), token).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    m
}

async fn vacuum(s: &TestServer, token: &str, body: Value) -> Value {
    let (status, job) = s.post(&format!("{T}/vacuum"), Some(token), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "vacuum");
    finished(s, token, &job).await
}

#[tokio::test]
async fn vacuum_removes_only_what_no_retained_version_needs() {
    let (s, ada) = acme_with_sample().await;
    let t = &ada.token;
    let (status, _) = s.call(Method::PATCH, &format!("{T}/rows?id=eq.1"), Some(t), Some(json!({ "name": "A" }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(insert(&s, t, json!([{ "id": 40, "name": "Dee" }])).await.0, StatusCode::CREATED);
    let folder = s.data_dir().join("warehouse").join(&ada.org_id).join("main").join("crm").join("customers");
    // A file no commit names, as a refused or cancelled write leaves behind.
    let first =
        std::fs::read_dir(&folder).unwrap().flatten().find(|e| e.path().extension().is_some_and(|x| x == "parquet"));
    std::fs::copy(first.unwrap().path(), folder.join("part-00000-left-behind.parquet")).unwrap();
    let before = metrics(&s, t).await;
    assert_eq!((before["active_files"].as_u64(), before["vacuumable_files"].as_u64()), (Some(2), Some(0)), "{before}");
    assert_eq!(before["time_travel_files"].as_u64(), Some(2), "the updated file and the one left behind: {before}");
    assert!(before["log_files"].as_u64().unwrap() >= 3 && before["active_bytes"].as_u64().unwrap() > 0);

    // Under the configured minimum only with force.
    let (status, body) = s.post(&format!("{T}/vacuum"), Some(t), json!({ "retention_hours": 0 })).await;
    let refused = invalid("retention_hours", "must be at least 168 (the configured minimum); force=true allows less");
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, refused));
    let (status, _) = s.post(&format!("{T}/vacuum"), Some(t), json!({ "retention": 1 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The default retention keeps everything this young.
    let job = vacuum(&s, t, json!({})).await;
    assert_eq!((job["status"].as_str(), job["result"]["files"].as_u64()), (Some("succeeded"), Some(0)), "{job}");

    let rows = s.get(&format!("{T}/rows?order=id"), t).await.1;
    let dry = vacuum(&s, t, json!({ "retention_hours": 0, "force": true, "dry_run": true })).await;
    assert_eq!((dry["result"]["dry_run"].as_bool(), dry["result"]["files"].as_u64()), (Some(true), Some(2)), "{dry}");
    let paths: Vec<String> =
        dry["result"]["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
    assert!(paths.contains(&"part-00000-left-behind.parquet".to_owned()), "{paths:?}");
    assert!(paths.iter().all(|p| folder.join(p).exists()), "a dry run removes nothing");
    assert_eq!(
        dry["result"]["bytes"].as_u64().unwrap(),
        paths.iter().map(|p| std::fs::metadata(folder.join(p)).unwrap().len()).sum::<u64>()
    );

    let done = vacuum(&s, t, json!({ "retention_hours": 0, "force": true })).await;
    assert_eq!((done["status"].as_str(), done["result"]["files"].as_u64()), (Some("succeeded"), Some(2)), "{done}");
    assert!(paths.iter().all(|p| !folder.join(p).exists()), "removed");
    assert_eq!(s.get(&format!("{T}/rows?order=id"), t).await.1, rows, "the latest version reads as before");
    let after = metrics(&s, t).await;
    assert_eq!(
        (after["time_travel_files"].as_u64(), after["vacuumable_files"].as_u64()),
        (Some(0), Some(0)),
        "{after}"
    );
    assert_eq!(after["active_files"], before["active_files"]);
    let (_, audit) = s.get("/v1/audit?action=table.vacuumed", t).await;
    assert_eq!(audit["events"].as_array().map(Vec::len), Some(1), "only the vacuum that removed files: {audit}");
    assert_eq!(audit["events"][0]["details"]["files"], 2);

    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    assert_eq!(
        s.post(&format!("{T}/vacuum"), Some(&viewer.token), json!({})).await,
        (StatusCode::FORBIDDEN, forbidden("tables:modify"))
    );
    assert_eq!(s.get(&format!("{T}/storage-metrics"), &viewer.token).await.0, StatusCode::OK);
}
