//! The job runner over HTTP: listing with filters and a cursor, following a job as
//! Server-Sent Events, cancelling a running import (nothing committed), who may cancel,
//! and other organisations' jobs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, insert, namespace, sample};
use crate::imports::{finished, form, upload};
use crate::support::{Tenant, TestServer, error, forbidden, invalid, missing, not_found};

/// `id,name,country` rows with increasing ids from 1000: big enough (some MB) that an
/// import of it is still running when a test cancels it.
fn big_csv(rows: usize) -> Vec<u8> {
    let mut csv = String::with_capacity(rows * 24);
    csv.push_str("id,name,country\n");
    for i in 0..rows {
        writeln!(csv, "{},name{i},{}", 1000 + i, ["DE", "FR", "BE"][i % 3]).unwrap();
    }
    csv.into_bytes()
}

const BIG: usize = 600_000;

/// Starts an import of `file` into `table` (of `main.crm`) and returns the 202's job.
async fn import(s: &TestServer, token: &str, table: &str, file: impl Into<Vec<u8>>) -> Value {
    let path = format!("/v1/tables/main/crm/{table}/import");
    let (status, job) = upload(s, token, &path, form(file, "f.csv", &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    job
}

/// Polls the job until its import is under way (running, rows read).
async fn under_way(s: &TestServer, token: &str, job: &Value) -> Value {
    let path = format!("/v1/jobs/{}", job["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, job) = s.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        assert!(job["status"] == "queued" || job["status"] == "running", "ended before it was cancelled: {job}");
        if job["status"] == "running" && job["progress"]["rows_read"].as_i64().unwrap() > 0 {
            return job;
        }
        assert!(Instant::now() < deadline, "not under way: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn cancel(s: &TestServer, token: &str, id: &str) -> (StatusCode, Value) {
    s.call(Method::DELETE, &format!("/v1/jobs/{id}"), Some(token), None).await
}

fn ids(jobs: &Value) -> Vec<&str> {
    jobs.as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// One Server-Sent Event: its name, its data (the job), and when it arrived.
#[derive(Debug)]
struct SseEvent {
    name: String,
    job: Value,
    at: Instant,
}

/// Opens a job's event stream; answers the response (status and headers read).
async fn open_events(s: &TestServer, token: &str, id: &str) -> reqwest::Response {
    s.client.get(s.url(&format!("/v1/jobs/{id}/events"))).bearer_auth(token).send().await.unwrap()
}

/// Reads an event stream until the server closes it.
async fn read_events(mut res: reqwest::Response) -> Vec<SseEvent> {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut buffer = Vec::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, res.chunk()).await.expect("the stream closes").unwrap();
        let Some(chunk) = chunk else { break };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8(buffer.drain(..end + 2).collect()).unwrap();
            let (mut name, mut data) = (None, String::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                } else {
                    assert!(line.is_empty() || line.starts_with(':'), "not an event line: {line:?}");
                }
            }
            if let Some(name) = name {
                events.push(SseEvent { name, job: serde_json::from_str(&data).unwrap(), at: Instant::now() });
            }
        }
    }
    assert!(buffer.iter().all(u8::is_ascii_whitespace), "a partial event at the end: {buffer:?}");
    events
}

#[tokio::test]
async fn jobs_are_listed_newest_first_with_filters_and_a_cursor() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    let bob = s.add_member(&ada, "bob@example.com", "editor").await;
    let file = "id,name\n1,a\n2,b\n";
    let j1 = finished(&s, t, &import(&s, t, "a", file).await).await;
    let j2 = finished(&s, &bob.token, &import(&s, &bob.token, "a", "id,name\n3,c\n").await).await;
    let j3 = finished(&s, t, &import(&s, t, "a", "id,name\nx,y\n").await).await;
    let j4 = finished(&s, t, &import(&s, t, "b", file).await).await;
    let [j1, j2, j3, j4] = [&j1, &j2, &j3, &j4].map(|j| j["id"].as_str().unwrap().to_owned());
    let [j1, j2, j3, j4] = [j1.as_str(), j2.as_str(), j3.as_str(), j4.as_str()];

    // A finished import, field by field.
    let (status, job) = s.get(&format!("/v1/jobs/{j1}"), t).await;
    assert_eq!(status, StatusCode::OK);
    let size = file.len();
    assert_eq!(
        job,
        json!({
            "id": j1, "kind": "import", "status": "succeeded", "target": "main.crm.a",
            "rows_read": 2, "rows_written": 2, "version": 1, "error": null,
            "created_by": ada.user_id, "instance_id": job["instance_id"],
            "progress": { "rows_read": 2, "rows_written": 2, "rows_total": null,
                          "bytes_read": size, "bytes_total": size, "steps_done": null, "steps_total": null },
            "result": { "version": 1, "rows_written": 2 },
            "created_at": job["created_at"], "started_at": job["started_at"],
            "updated_at": job["updated_at"], "finished_at": job["finished_at"],
            "cancel_requested_at": null
        })
    );
    assert!(uuid_like(&job["instance_id"]), "{job}");
    assert!(time(&job["created_at"]) <= time(&job["started_at"]), "{job}");
    assert!(time(&job["started_at"]) <= time(&job["finished_at"]), "{job}");
    assert_eq!(job["updated_at"], job["finished_at"]);
    let (_, failed) = s.get(&format!("/v1/jobs/{j3}"), t).await;
    assert_eq!(
        (&failed["status"], &failed["rows_written"], &failed["result"]),
        (&json!("failed"), &json!(0), &Value::Null)
    );
    assert_eq!(failed["error"]["statusCode"], 400, "{failed}");

    let list = |query: &'static str| {
        let s = &s;
        async move {
            let (status, body) = s.get(&format!("/v1/jobs{query}"), t).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            ids(&body).into_iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, [j4, j3, j2, j1]);
    assert_eq!(list("?status=failed").await, [j3]);
    assert_eq!(list("?status=succeeded").await, [j4, j2, j1]);
    assert!(list("?status=running").await.is_empty());
    assert_eq!(list("?kind=import").await, [j4, j3, j2, j1]);
    assert_eq!(list("?target=main.crm.a").await, [j3, j2, j1]);
    assert_eq!(list("?target=main.crm.b").await, [j4]);
    assert!(list("?target=main.crm.zzz").await.is_empty());
    let by_bob = s.get(&format!("/v1/jobs?created_by={}", bob.user_id), t).await;
    assert_eq!((by_bob.0, ids(&by_bob.1)), (StatusCode::OK, vec![j2]));
    assert_eq!(list("?status=succeeded&target=main.crm.a").await, [j2, j1]);
    // Pages: `before` is the last id of the page before.
    assert_eq!(list("?limit=3").await, [j4, j3, j2]);
    let page = |query: String| {
        let s = &s;
        async move {
            let (status, body) = s.get(&format!("/v1/jobs?{query}"), t).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            ids(&body).into_iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(format!("limit=3&before={j2}")).await, [j1]);
    assert_eq!(page(format!("limit=2&before={j4}")).await, [j3, j2]);
    assert!(page(format!("before={j1}")).await.is_empty());
    assert_eq!(page(format!("status=succeeded&limit=1&before={j4}")).await, [j2]);
    // A viewer reads the organisation's jobs too; another organisation sees none of them.
    let vic = s.add_member(&ada, "vic@example.com", "viewer").await;
    assert_eq!(ids(&s.get("/v1/jobs", &vic.token).await.1), [j4, j3, j2, j1]);
    let eve = s.onboard("Evil", "eve@example.com").await;
    assert_eq!(s.get("/v1/jobs", &eve.token).await, (StatusCode::OK, json!([])));

    // Bad values name their parameter.
    let statuses = "must be one of queued, running, succeeded, failed, cancelled";
    let table = "must be a table, `catalog.schema.table`";
    let uuid = "must be an id (a UUID)";
    let unknown_cursor = "no job of the organisation has this id";
    for (query, field, message) in [
        ("status=done".to_owned(), "status", statuses),
        ("status=".to_owned(), "status", statuses),
        ("kind=cloning".to_owned(), "kind", "must be one of import, discovery, clone, vacuum, compare, optimize"),
        ("target=main.crm".to_owned(), "target", table),
        ("target=main.crm.a.b".to_owned(), "target", table),
        ("target=main.crm.9x".to_owned(), "target", table),
        ("created_by=bob".to_owned(), "created_by", uuid),
        ("before=nope".to_owned(), "before", uuid),
        ("before=01900000-0000-7000-8000-000000000000".to_owned(), "before", unknown_cursor),
        ("limit=0".to_owned(), "limit", "must be between 1 and 500"),
        ("limit=501".to_owned(), "limit", "must be between 1 and 500"),
    ] {
        let (status, body) = s.get(&format!("/v1/jobs?{query}"), t).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid(field, message)), "{query}");
    }
    // Another organisation's job is no cursor either, exactly like an unknown id.
    let (status, body) = s.get(&format!("/v1/jobs?before={j1}"), &eve.token).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("before", unknown_cursor)));
    let (status, body) = s.get("/v1/jobs?limit=ten", t).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("limit")), "{body}");
    let (status, body) = s.get("/v1/jobs?colour=red", t).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("colour")), "{body}");
    let message = body["details"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("unknown parameter `colour`, expected one of `status`, `kind`"), "{message}");

    // A finished job cannot be cancelled: 409 naming how it ended.
    for (id, how) in [(j1, "succeeded"), (j3, "failed")] {
        let (status, body) = cancel(&s, t, id).await;
        let message = format!("the job has already ended: it is {how}");
        assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", &message)));
    }
}

fn uuid_like(value: &Value) -> bool {
    value.as_str().is_some_and(|v| v.len() == 36 && v.split('-').count() == 5)
}

#[tokio::test]
async fn an_import_streams_its_progress_as_server_sent_events() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    let file = big_csv(BIG);
    let size = file.len() as i64;
    let job = import(&s, t, "big", file).await;
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(job["progress"]["bytes_total"], size);
    let id = job["id"].as_str().unwrap();
    let opened = Instant::now();
    let events = read_events(open_events(&s, t, id).await).await;
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    // First the state at once, then progress, and the end last.
    assert!(events[0].at - opened < Duration::from_secs(2), "the first event came late");
    assert!(names.len() >= 3, "{names:?}");
    assert!(names[..names.len() - 1].iter().all(|n| *n == "progress"), "{names:?}");
    assert_eq!(names.last(), Some(&"end"));
    let during = &events[..events.len() - 1];
    assert!(during.iter().all(|e| e.job["status"] == "queued" || e.job["status"] == "running"), "{during:?}");
    let midway = during.iter().filter(|e| {
        let read = e.job["progress"]["rows_read"].as_i64().unwrap();
        e.job["status"] == "running" && read > 0 && read < BIG as i64
    });
    assert!(midway.count() >= 1, "no progress while it ran: {during:?}");
    for pair in events.windows(2) {
        for counter in ["rows_read", "bytes_read"] {
            let (a, b) = (&pair[0].job["progress"][counter], &pair[1].job["progress"][counter]);
            assert!(a.as_i64().unwrap_or(0) <= b.as_i64().unwrap_or(0), "{counter} went back: {a} then {b}");
        }
    }
    assert!(during.iter().all(|e| e.job["progress"]["bytes_read"].as_i64().unwrap_or(0) <= size));
    let end = &events.last().unwrap().job;
    assert_eq!((&end["status"], &end["rows_written"]), (&json!("succeeded"), &json!(BIG)), "{end}");
    // Live states and the stored end tell the same times (to the millisecond).
    for e in during.iter().filter(|e| e.job["status"] == "running") {
        assert_eq!((&e.job["created_at"], &e.job["started_at"]), (&end["created_at"], &end["started_at"]));
    }
    assert_eq!(end["progress"]["bytes_read"], size);
    let (_, table) = s.get("/v1/tables/main/crm/big", t).await;
    assert_eq!(end["result"], json!({ "version": table["version"], "rows_written": BIG }));
    // The end as the job reads now; an ended job's stream is that one event.
    let (_, stored) = s.get(&format!("/v1/jobs/{id}"), t).await;
    assert_eq!(end, &stored);
    let again = read_events(open_events(&s, t, id).await).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].name.as_str(), &again[0].job), ("end", &stored));
}

/// A cancel stops a running import before its commit: the job ends `cancelled`, the table
/// it imports into keeps its version and rows, and a table the job created is gone.
#[tokio::test]
async fn a_cancelled_import_commits_nothing() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    let (_, before) = s.get(T, t).await;
    let (_, history) = s.get(&format!("{T}/history"), t).await;
    let file = big_csv(BIG);

    let job = import(&s, t, "customers", file.clone()).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let running = under_way(&s, t, &job).await;
    let (status, cancelled) = cancel(&s, t, &id).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(
        (
            &cancelled["status"],
            &cancelled["rows_written"],
            &cancelled["version"],
            &cancelled["error"],
            &cancelled["result"]
        ),
        (&json!("cancelled"), &json!(0), &Value::Null, &Value::Null, &Value::Null),
        "{cancelled}"
    );
    assert!(cancelled["rows_read"].as_i64().unwrap() >= running["rows_read"].as_i64().unwrap());
    assert!(time(&cancelled["cancel_requested_at"]) <= time(&cancelled["finished_at"]), "{cancelled}");
    assert_eq!(s.get(&format!("/v1/jobs/{id}"), t).await.1, cancelled);
    let (_, after) = s.get(T, t).await;
    assert_eq!(after["version"], before["version"], "no new version");
    assert_eq!(s.get(&format!("{T}/history"), t).await.1, history);
    let (status, rows) = s.get(&format!("{T}/rows?order=id&select=id"), t).await;
    assert_eq!((status, rows), (StatusCode::OK, json!([{ "id": 1 }, { "id": 2 }, { "id": 3 }])));
    // Its stream is its end; a second cancel is refused.
    let events = read_events(open_events(&s, t, &id).await).await;
    assert_eq!((events.len(), events[0].name.as_str(), &events[0].job), (1, "end", &cancelled));
    let (status, body) = cancel(&s, t, &id).await;
    let message = "the job has already ended: it is cancelled";
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", message)));

    // A job that created its table removes it when cancelled.
    let job = import(&s, t, "fresh", file).await;
    let fresh = job["id"].as_str().unwrap().to_owned();
    under_way(&s, t, &job).await;
    let (status, cancelled) = cancel(&s, t, &fresh).await;
    assert_eq!((status, &cancelled["status"]), (StatusCode::OK, &json!("cancelled")), "{cancelled}");
    let gone = s.get("/v1/tables/main/crm/fresh", t).await;
    assert_eq!(gone, (StatusCode::NOT_FOUND, missing("table `main.crm.fresh`")));
    let (_, tables) = s.get("/v1/tables", t).await;
    assert!(!tables.to_string().contains("fresh"), "{tables}");

    // Each cancel is one audit event.
    let (status, audit) = s.get("/v1/audit?action=job.cancelled", t).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let events: Vec<(&Value, &Value, &Value, &Value)> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["target_type"], &e["target_id"], &e["actor_id"], &e["details"]))
        .collect();
    let details = |table: &str| json!({ "kind": "import", "target": table, "status": "cancelled" });
    assert_eq!(
        events,
        [
            (&json!("job"), &json!(fresh), &json!(ada.user_id), &details("main.crm.fresh")),
            (&json!("job"), &json!(id), &json!(ada.user_id), &details("main.crm.customers")),
        ]
    );
}

/// A job may be cancelled by its creator or an admin; anyone else who may read it is
/// refused with 403 naming `org:update` (the admins' scope), not 404: they can see it.
#[tokio::test]
async fn only_the_creator_or_an_admin_cancels_a_job() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let bob = s.add_member(&ada, "bob@example.com", "editor").await;
    let carol = s.add_member(&ada, "carol@example.com", "editor").await;
    let vic = s.add_member(&ada, "vic@example.com", "viewer").await;
    let (ada_reader, _) = s.create_key(&ada.token, json!({ "name": "r", "scopes": ["tables:read"] })).await;
    let file = big_csv(BIG);

    let job = import(&s, &bob.token, "customers", file.clone()).await;
    let id = job["id"].as_str().unwrap().to_owned();
    under_way(&s, &bob.token, &job).await;
    assert_eq!(s.get(&format!("/v1/jobs/{id}"), &vic.token).await.0, StatusCode::OK, "a viewer reads it");
    for who in [&vic.token, &carol.token, &ada_reader] {
        assert_eq!(cancel(&s, who, &id).await, (StatusCode::FORBIDDEN, forbidden("org:update")));
    }
    let (status, job) = cancel(&s, &bob.token, &id).await;
    assert_eq!((status, &job["status"]), (StatusCode::OK, &json!("cancelled")), "{job}");

    let job = import(&s, &bob.token, "customers", file).await;
    let id = job["id"].as_str().unwrap().to_owned();
    under_way(&s, &bob.token, &job).await;
    let (status, job) = cancel(&s, &ada.token, &id).await;
    assert_eq!((status, &job["status"]), (StatusCode::OK, &json!("cancelled")), "{job}");
    let (_, audit) = s.get("/v1/audit?action=job.cancelled", &ada.token).await;
    let actors: Vec<&Value> = audit["events"].as_array().unwrap().iter().map(|e| &e["actor_id"]).collect();
    assert_eq!(actors, [&json!(ada.user_id), &json!(bob.user_id)]);
}

#[tokio::test]
async fn other_organisations_jobs_and_malformed_ids_are_not_found() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    let job = finished(&s, t, &import(&s, t, "a", "id\n1\n").await).await;
    let id = job["id"].as_str().unwrap();
    let eve: Tenant = s.onboard("Evil", "eve@example.com").await;
    for who in [&eve.token, t] {
        let ids: Vec<&str> =
            if who == t { vec!["nope", "01900000-0000-7000-8000-000000000000"] } else { vec![id, "nope"] };
        for id in ids {
            assert_eq!(s.get(&format!("/v1/jobs/{id}"), who).await, (StatusCode::NOT_FOUND, not_found()), "{id}");
            let res = open_events(&s, who, id).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
            assert_eq!(res.json::<Value>().await.unwrap(), not_found());
            assert_eq!(cancel(&s, who, id).await, (StatusCode::NOT_FOUND, not_found()), "{id}");
        }
    }
    // Eve learnt nothing, and Ada's job is as it was.
    assert_eq!(s.get(&format!("/v1/jobs/{id}"), t).await, (StatusCode::OK, job));
}

/// Jobs left queued or running by a server that stopped renewing their lease are marked
/// failed when a server starts on the same database; a job whose lease another live
/// server keeps renewing is left running.
#[tokio::test]
async fn a_starting_server_fails_only_the_jobs_whose_lease_expired() {
    use sqlx::Connection as _;
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let csv = "id,name,country\n100,Ann,DE\n";
    let mut ids = Vec::new();
    for table in ["a", "b"] {
        let job = finished(&s, &ada.token, &import(&s, &ada.token, table, csv).await).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        ids.push(job["id"].as_str().unwrap().to_owned());
    }
    // As two other servers would have left them: one long stopped, one alive and renewing.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&s.config.database_url).await.unwrap();
    let now = Utc::now().timestamp_millis();
    for (id, lease) in [(&ids[0], now - 1_000), (&ids[1], now + 60_000)] {
        sqlx::query("UPDATE jobs SET status = 'running', finished_at = NULL, instance_id = $1, lease_expires_at = $2 WHERE id = $3")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(lease)
            .bind(id.as_str())
            .execute(&mut db)
            .await
            .unwrap();
    }
    db.close().await.unwrap();
    let s = s.restart_with(|_| {}).await;
    let status = |id: &str| {
        let (s, t) = (&s, &ada.token);
        let id = id.to_owned();
        async move { s.get(&format!("/v1/jobs/{id}"), t).await.1 }
    };
    let abandoned = status(&ids[0]).await;
    assert_eq!(abandoned["status"], "failed", "{abandoned}");
    assert_eq!(abandoned["error"]["message"], "the server running the job stopped; nothing was committed by it");
    assert_eq!(status(&ids[1]).await["status"], "running", "another server's job within its lease");
}

/// A server that stops while it runs a job hands the job's lease back: the job is failed
/// at once (not only when its lease would have run out), as a new start of the server sees.
#[tokio::test]
async fn a_stopping_server_hands_back_the_leases_of_its_running_jobs() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let job = import(&s, &ada.token, "big", big_csv(BIG)).await;
    under_way(&s, &ada.token, &job).await;
    let s = s.restart_with(|_| {}).await;
    let (_, job) = s.get(&format!("/v1/jobs/{}", job["id"].as_str().unwrap()), &ada.token).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["message"], "the server running the job stopped; nothing was committed by it");
}
