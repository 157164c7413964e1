use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Served, lakeward, wait};

/// `lakeward serve` on its embedded default answers, and exits cleanly on SIGTERM.
#[tokio::test]
async fn serve_runs_on_the_embedded_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[]);
    let health = reqwest::get(served.url("/v1/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    assert!(dir.path().join("lakeward-data/lakeward.db").exists());
    assert!(dir.path().join("lakeward-data/warehouse").is_dir());
    // The port is not asked again: once the process has exited it is free for anyone.
    let (exit, log) = served.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(log.contains("shutting down: draining in-flight requests"), "{log}");
}

/// A warehouse the server cannot use stops start-up with a clear message: a scheme it
/// does not know, or an object store without a bucket.
#[test]
fn an_unusable_warehouse_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for (warehouse, expected) in [
        (
            "abfss://c@acct.dfs.core.windows.net/lake",
            "Error: unsupported warehouse scheme `abfss` (supported: file, s3, az, gs)",
        ),
        ("s3:///lake", "Error: an object-store warehouse names its bucket or container: `s3://<bucket>/<prefix>`"),
        ("http://example.com/lake", "Error: unsupported warehouse scheme `http` (supported: file, s3, az, gs)"),
    ] {
        let mut child = lakeward(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--warehouse", warehouse])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let Some(exit) = wait(&mut child, Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!("the server started on {warehouse}");
        };
        assert!(!exit.success(), "{warehouse}: {exit:?}");
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        // The first line (a backtrace may follow when RUST_BACKTRACE is set).
        assert_eq!(stderr.lines().next(), Some(expected), "{warehouse}: {stderr}");
    }
}

/// A table whose storage the server cannot reach (here a table registered at an object
/// store no connection serves) answers 500 with the cause in the log: never a 404, which would tell the user
/// the table does not exist.
#[tokio::test]
async fn a_storage_failure_is_a_logged_500_not_a_404() {
    use lakeward_model::{Ident, TableRef};

    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let onboarded: Value = client
        .post(served.url("/v1/auth/onboard"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse", "organisation_name": "Acme" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = onboarded["access_token"].as_str().unwrap();
    for (path, name) in [("/v1/catalogs", "main"), ("/v1/catalogs/main/schemas", "crm")] {
        let res = client.post(served.url(path)).bearer_auth(token).json(&json!({ "name": name })).send().await.unwrap();
        assert_eq!(res.status(), 201);
    }
    let meta = lakeward_meta::MetaStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("lakeward-data/lakeward.db").display()
    ))
    .await
    .unwrap();
    let org: uuid::Uuid = onboarded["organisation"]["id"].as_str().unwrap().parse().unwrap();
    let user: uuid::Uuid = onboarded["user"]["id"].as_str().unwrap().parse().unwrap();
    let table = TableRef {
        catalog: Ident::new("main").unwrap(),
        schema: Ident::new("crm").unwrap(),
        table: Ident::new("lost").unwrap(),
    };
    meta.register_table(org, &table, "s3://lakeward-test/lake/lost/", user).await.unwrap();

    for path in ["/v1/tables/main/crm/lost", "/v1/tables/main/crm/lost/rows"] {
        let res = client.get(served.url(path)).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 500, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({ "statusCode": 500, "error": "Internal Server Error", "message": "An unexpected error occurred" })
        );
        let logged = served.wait_for("internal error");
        assert!(logged.contains("storage: no storage connection serves this location"), "{logged}");
    }
    let (exit, _) = served.stop();
    assert!(exit.success());
}

/// At the default level the log holds Lakeward's own lines: the start-up lines, and no
/// line per request or per file from the storage layer (delta-rs and the object store log
/// each file they touch at `info`, with its full URI). `LAKEWARD_LOG` still shows them.
#[tokio::test]
async fn the_default_log_has_lakewards_lines_and_no_dependencys() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start_logging(dir.path(), &[], None);
    let client = reqwest::Client::new();
    let onboarded: Value = client
        .post(served.url("/v1/auth/onboard"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse", "organisation_name": "Acme" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = onboarded["access_token"].as_str().unwrap();
    let table = json!({ "columns": [{ "name": "id", "type": "int64", "nullable": false }, { "name": "name", "type": "string" }],
                        "primary_key": ["id"] });
    for (path, body) in [
        ("/v1/catalogs", json!({ "name": "main" })),
        ("/v1/catalogs/main/schemas", json!({ "name": "crm" })),
        ("/v1/tables/main/crm/people", table),
        ("/v1/tables/main/crm/people/rows", json!([{ "id": 1, "name": "Ada" }, { "id": 2, "name": "Bob" }])),
        ("/v1/tables/main/crm/people/rows", json!([{ "id": 3, "name": "Cy" }])),
        ("/v1/sql", json!({ "query": "SELECT count(*) AS n FROM main.crm.people" })),
    ] {
        let res = client.post(served.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.text().await.unwrap());
    }
    for path in
        ["/v1/tables/main/crm/people/rows?id=eq.2", "/v1/tables/main/crm/people", "/v1/tables/main/crm/people/history"]
    {
        let res = client.get(served.url(path)).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.bytes().await.unwrap();
    }
    let res = client.patch(served.url("/v1/tables/main/crm/people/rows?id=eq.1")).bearer_auth(token);
    assert_eq!(res.json(&json!({ "name": "Ada L." })).send().await.unwrap().status(), 200);

    let (exit, log) = served.stop();
    assert!(exit.success(), "{exit:?}");
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.iter().any(|l| l.contains(" lakeward: starting")), "{log}");
    assert!(lines.iter().any(|l| l.contains(" lakeward_server: lakeward listening")), "{log}");
    for line in &lines {
        // `<time>  <LEVEL> <target>: <message>`
        let target = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(target.starts_with("lakeward"), "a line from a dependency: {line}\n{log}");
        // Only the start-up line names the warehouse.
        assert!(!line.contains("file://") || line.contains(" lakeward: starting"), "{line}\n{log}");
    }
    assert!(lines.len() <= 4, "a line per request or per write: {log}");

    // `LAKEWARD_LOG` replaces the filter: requests are logged at `debug`, as tower-http spans.
    let served = Served::start_logging(dir.path(), &[], Some("info,tower_http=debug"));
    assert_eq!(reqwest::get(served.url("/v1/health")).await.unwrap().status(), 200);
    let (_, log) = served.stop();
    assert!(log.lines().any(|l| l.contains("DEBUG") && l.contains("tower_http::trace")), "{log}");
}
