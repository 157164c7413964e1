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

async fn optimize(s: &TestServer, token: &str, body: Value) -> Value {
    let (status, job) = s.post(&format!("{T}/optimize"), Some(token), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "optimize");
    finished(s, token, &job).await
}

async fn all_rows(s: &TestServer, token: &str, version: Option<u64>) -> Value {
    let at = version.map(|v| format!("&version={v}")).unwrap_or_default();
    let (status, rows) = s.get(&format!("{T}/rows?order=id{at}"), token).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    rows
}

#[tokio::test]
async fn optimize_compacts_small_files_and_z_orders_without_changing_a_row() {
    let (s, ada) = acme_with_sample().await;
    let t = &ada.token;
    for id in 10..13 {
        assert_eq!(insert(&s, t, json!([{ "id": id, "name": "n", "country": "IT" }])).await.0, StatusCode::CREATED);
    }
    let rows = all_rows(&s, t, None).await;
    let version = s.get(T, t).await.1["version"].as_u64().unwrap();

    let job = optimize(&s, t, json!({ "dry_run": true })).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let planned = &job["result"];
    assert_eq!((planned["files"].as_u64(), planned["rows"].as_u64()), (Some(4), Some(6)), "{planned}");
    assert_eq!(planned["paths"].as_array().map(Vec::len), Some(4));
    assert_eq!((planned["version"].clone(), planned["files_added"].as_u64()), (Value::Null, Some(0)));
    assert_eq!(metrics(&s, t).await["active_files"], 4, "a dry run rewrites nothing");

    let job = optimize(&s, t, json!({})).await;
    let done = &job["result"];
    assert_eq!((done["files"].as_u64(), done["files_added"].as_u64()), (Some(4), Some(1)), "{done}");
    assert_eq!((done["version"].as_u64(), job["version"].as_u64()), (Some(version + 1), Some(version + 1)));
    assert_eq!(metrics(&s, t).await["active_files"], 1);
    assert_eq!(all_rows(&s, t, None).await, rows);
    assert_eq!(all_rows(&s, t, Some(version)).await, rows, "time travel to before it reads the same rows");
    let (_, history) = s.get(&format!("{T}/history"), t).await;
    assert_eq!(history[0]["operation"], "OPTIMIZE", "{history}");
    let (_, audit) = s.get("/v1/audit?action=table.optimized", t).await;
    assert_eq!(audit["events"][0]["details"]["files_removed"], 4, "{audit}");

    // One file is not worth compacting; Z-ordering rewrites it in the curve's order.
    let job = optimize(&s, t, json!({})).await;
    assert_eq!((job["result"]["files"].as_u64(), job["result"]["version"].clone()), (Some(0), Value::Null));
    let job = optimize(&s, t, json!({ "zorder_by": ["country", "id"] })).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!((job["result"]["files"].as_u64(), job["result"]["version"].as_u64()), (Some(1), Some(version + 2)));
    assert_eq!(all_rows(&s, t, None).await, rows);
    // Compaction goes on working after: inserts still land and keep their keys.
    let (status, body) = insert(&s, t, json!([{ "id": 10, "name": "again" }])).await;
    assert_eq!(status, StatusCode::CONFLICT, "the key is still known: {body}");
}

#[tokio::test]
async fn bad_optimize_requests_are_refused_and_change_nothing() {
    let (s, ada) = acme_with_sample().await;
    let t = &ada.token;
    let version = s.get(T, t).await.1["version"].clone();
    for (body, expected) in [
        (
            json!({ "target_size_bytes": 5 }),
            invalid("target_size_bytes", "must be 1048576 (1 MiB) to 1073741824 (1 GiB)"),
        ),
        (json!({ "zorder_by": ["id", "id"] }), invalid("zorder_by", "names `id` twice")),
        (
            json!({ "zorder_by": ["a", "b", "c", "d", "e", "f", "g", "h", "i"] }),
            invalid("zorder_by", "at most 8 columns"),
        ),
    ] {
        assert_eq!(
            s.post(&format!("{T}/optimize"), Some(t), body.clone()).await,
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    assert_eq!(s.post(&format!("{T}/optimize"), Some(t), json!({ "zorder": ["id"] })).await.0, StatusCode::BAD_REQUEST);
    let job = optimize(&s, t, json!({ "zorder_by": ["nope"] })).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["message"], "column `nope` not found", "{job}");
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    let answer = s.post(&format!("{T}/optimize"), Some(&viewer.token), json!({})).await;
    assert_eq!(answer, (StatusCode::FORBIDDEN, forbidden("tables:modify")));
    assert_eq!(s.get(T, t).await.1["version"], version);
}

/// Inserts racing a vacuum that keeps nothing older: every acknowledged row is there after,
/// and the latest version reads whole (a file it names that was removed would fail the read).
#[tokio::test]
async fn a_vacuum_racing_inserts_loses_no_file() {
    let (s, ada) = acme_with_sample().await;
    let t = &ada.token;
    let inserts = (100..120).map(|id| {
        let s = &s;
        async move { insert(s, t, json!([{ "id": id, "name": "racer" }])).await.0 }
    });
    let vacuums = (0..3).map(|_| vacuum(&s, t, json!({ "retention_hours": 0, "force": true })));
    let (statuses, jobs) = tokio::join!(futures::future::join_all(inserts), futures::future::join_all(vacuums));
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    assert!(jobs.iter().all(|j| j["status"] == "succeeded"), "{jobs:?}");
    let rows = all_rows(&s, t, None).await;
    assert_eq!(rows.as_array().map(Vec::len), Some(23), "3 + 20 rows");
    let after = metrics(&s, t).await;
    assert_eq!(after["vacuumable_files"], 0, "{after}");
    // Once more with nothing racing: only the active files stay.
    vacuum(&s, t, json!({ "retention_hours": 0, "force": true })).await;
    assert_eq!(all_rows(&s, t, None).await, rows);
}
