//! CSV inference and file imports over HTTP (multipart), with awkward CSVs, governed
//! tables, jobs that commit everything or nothing, and a Parquet round trip.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::data::{T, customers, fixed_domain, insert, namespace, rows, sample};
use crate::support::{TestServer, forbidden, invalid};

pub fn form(file: impl Into<Vec<u8>>, name: &str, fields: &[(&str, &str)]) -> Form {
    let mut form = Form::new().part("file", Part::bytes(file.into()).file_name(name.to_owned()));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form
}

pub async fn upload(s: &TestServer, token: &str, path: &str, form: Form) -> (StatusCode, Value) {
    let res = s.client.post(s.url(path)).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub async fn finished(s: &TestServer, token: &str, job: &Value) -> Value {
    let id = job["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, job) = s.get(&format!("/v1/jobs/{id}"), token).await;
        assert_eq!(status, StatusCode::OK);
        if job["status"] != "queued" && job["status"] != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "job still running: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const AWKWARD: &str = "\u{feff}id;name;city;score;joined;note\n\
    1;\"Smith; John\";Ghent;1.5;2024-01-31;\"two\nlines\"\n\
    2;\"O\"\"Brien\";Ghent;;2024-02-01;\n\
    3;Ada;Paris;3;2024-02-02;x\n\
    4;Bob;Paris;4.25;2024-02-03;7\n";

#[tokio::test]
async fn inference_reads_awkward_csvs_and_refuses_unreadable_ones() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    let (status, body) =
        upload(&s, t, "/v1/tables/infer", form(AWKWARD, "a.csv", &[("hasHeader", "true"), ("delimiter", ";")])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "schema": { "fields": [
                { "name": "id", "type": "int64", "nullable": false },
                { "name": "name", "type": "string", "nullable": false },
                { "name": "city", "type": "string", "nullable": false },
                { "name": "score", "type": "float64", "nullable": true },
                { "name": "joined", "type": "date", "nullable": false },
                { "name": "note", "type": "string", "nullable": true },
            ]},
            "fieldsWithDomains": { "city": ["Ghent", "Paris"] },
            "length": 4
        })
    );
    // The pass itself is timed apart from the upload.
    let res = s
        .client
        .post(s.url("/v1/tables/infer"))
        .bearer_auth(t)
        .multipart(form("a\n1\n", "x.csv", &[]))
        .send()
        .await
        .unwrap();
    let timing = res.headers()["server-timing"].to_str().unwrap().to_owned();
    assert!(timing.starts_with("infer;dur=") && timing[10..].parse::<f64>().is_ok(), "{timing}");
    let (status, body) = upload(&s, t, "/v1/tables/infer", form("", "e.csv", &[])).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("file", "the file is empty")));
    let (status, body) = upload(&s, t, "/v1/tables/infer", form("a,b\n1,2\n3\n", "r.csv", &[])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("file")));
    assert!(body["details"][0]["message"].as_str().unwrap().contains("expected 2"), "{body}");
    let (status, body) = upload(&s, t, "/v1/tables/infer", form("a\n1\n", "x.csv", &[("delimiter", "ab")])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("delimiter")));
    let (status, body) = upload(&s, t, "/v1/tables/infer", form("a\n1\n", "x.csv", &[("colour", "red")])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("colour")));
    let no_file = Form::new().text("hasHeader", "true");
    let (status, body) = upload(&s, t, "/v1/tables/infer", no_file).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("file", "the file part is missing")));
    let viewer = s.add_member(&ada, "vi@example.com", "viewer").await;
    let (status, body) = upload(&s, &viewer.token, "/v1/tables/infer", form("a\n1\n", "x.csv", &[])).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("tables:import")));
    let big = TestServer::start_with(|c| c.limits.max_upload_bytes = 1024).await;
    let bob = big.onboard("Big", "bob@example.com").await;
    let (status, body) = upload(&big, &bob.token, "/v1/tables/infer", form(vec![b'a'; 4096], "x.csv", &[])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

#[tokio::test]
async fn an_import_creates_the_table_with_proposed_domains_in_one_job() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    let path = "/v1/tables/main/crm/people/import";
    let fields = [("delimiter", ";"), ("primaryKey", "id"), ("applyDomains", "true")];
    let (status, job) = upload(&s, t, path, form(AWKWARD, "people.csv", &fields)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!((&job["kind"], &job["target"]), (&json!("import"), &json!("main.crm.people")));
    let job = finished(&s, t, &job).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!((&job["rows_read"], &job["rows_written"]), (&json!(4), &json!(4)));
    let (_, table) = s.get("/v1/tables/main/crm/people", t).await;
    assert_eq!(job["version"], table["version"]);
    assert_eq!(table["primary_key"], json!(["id"]));
    let city = table["schema"]["fields"].as_array().unwrap().iter().find(|f| f["name"] == "city").unwrap();
    assert_eq!(city["domain"]["allowed_values"].as_array().unwrap().len(), 2);
    let (_, people) = s.get("/v1/tables/main/crm/people/rows?order=id&select=id,name,note", t).await;
    assert_eq!(people[0], json!({ "id": 1, "name": "Smith; John", "note": "two\nlines" }));
    assert_eq!(people[1]["name"], "O\"Brien");
    let (_, history) = s.get("/v1/tables/main/crm/people/history", t).await;
    let ops: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["WRITE", "UPDATE FIELD METADATA", "CREATE TABLE"]);
    // The new table's domain now governs later writes.
    let (status, _) = s
        .post(
            "/v1/tables/main/crm/people/rows",
            Some(t),
            json!([{ "id": 9, "name": "Z", "city": "Rome", "joined": "2024-01-01" }]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, jobs) = s.get("/v1/jobs", t).await;
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    let eve = s.onboard("Evil", "eve@example.com").await;
    let (status, _) = s.get(&format!("/v1/jobs/{}", job["id"].as_str().unwrap()), &eve.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_import_into_a_governed_table_commits_everything_or_nothing() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    fixed_domain(&s, t, "country", &["DE", "FR", "BE"]).await;
    let (status, _) = s
        .post(&format!("{T}/constraints"), Some(t), json!({ "constraints": [{ "name": "pos", "expr": "id > 0" }] }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = s.get(T, t).await.1["version"].clone();
    let bad = "id,name,country\n10,a,BE\n11,b,XX\n-12,c,FR\n13,d,YY\n";
    let (status, job) = upload(&s, t, &format!("{T}/import"), form(bad, "bad.csv", &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = finished(&s, t, &job).await;
    assert_eq!((&job["status"], &job["rows_read"], &job["rows_written"]), (&json!("failed"), &json!(4), &json!(0)));
    assert_eq!(job["error"]["message"], "3 value(s) do not fit the table");
    assert_eq!(
        job["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect::<Vec<_>>(),
        ["rows[1].country", "rows[3].country", "rows[2]"]
    );
    assert_eq!(s.get(T, t).await.1["version"], before, "nothing committed");
    // A key already in the table refuses the whole import too.
    let (_, job) = upload(&s, t, &format!("{T}/import"), form("id,country\n20,BE\n3,DE\n", "dup.csv", &[])).await;
    let job = finished(&s, t, &job).await;
    assert_eq!((&job["status"], &job["error"]["statusCode"]), (&json!("failed"), &json!(409)), "{job}");
    // Table options only apply to new tables.
    let (status, _) =
        upload(&s, t, &format!("{T}/import"), form("id\n30\n", "x.csv", &[("applyDomains", "true")])).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(s.get(T, t).await.1["version"], before);

    let good: String = std::iter::once("id,name,country".to_owned())
        .chain((100..2100).map(|i| format!("{i},n{i},{}", ["DE", "FR", "BE"][i % 3])))
        .collect::<Vec<_>>()
        .join("\n");
    let (_, job) = upload(&s, t, &format!("{T}/import"), form(good, "good.csv", &[])).await;
    let job = finished(&s, t, &job).await;
    assert_eq!((&job["status"], &job["rows_written"]), (&json!("succeeded"), &json!(2000)), "{job}");
    assert_eq!(job["version"], json!(before.as_u64().unwrap() + 1), "one commit");
    let (status, _, range) = rows(&s, t, "?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    let _ = range;
    let res = s
        .client
        .get(s.url(&format!("{T}/rows?limit=1")))
        .bearer_auth(t)
        .header("prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-range"], "0-0/2003");
}

#[tokio::test]
async fn a_failed_import_removes_the_table_it_created_and_parquet_and_arrow_round_trip() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    let (_, job) =
        upload(&s, t, "/v1/tables/main/crm/fresh/import", form("id,x\n1,a\n1,b\n", "d.csv", &[("primaryKey", "id")]))
            .await;
    let job = finished(&s, t, &job).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["details"][0]["message"], "primary key (id=1) appears more than once in the input");
    let (status, _) = s.get("/v1/tables/main/crm/fresh", t).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the table the job created is gone");

    let parquet = s.client.get(s.url(&format!("{T}/export?format=parquet"))).bearer_auth(t).send().await.unwrap();
    assert_eq!(parquet.status(), StatusCode::OK);
    let bytes = parquet.bytes().await.unwrap().to_vec();
    let (status, job) = upload(&s, t, "/v1/tables/main/crm/copy/import", form(bytes, "customers.parquet", &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job = finished(&s, t, &job).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (_, copy) = s.get("/v1/tables/main/crm/copy/rows?order=id", t).await;
    let (_, original) = s.get(&format!("{T}/rows?order=id"), t).await;
    assert_eq!(copy, original);
    let (status, body) =
        upload(&s, t, "/v1/tables/main/crm/broken/import", form("not parquet", "x.parquet", &[])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("file")));

    // An Arrow IPC stream (the export's own) makes a table of its columns too.
    let arrow = s.client.get(s.url(&format!("{T}/export?format=arrow"))).bearer_auth(t).send().await.unwrap();
    let bytes = arrow.bytes().await.unwrap().to_vec();
    let (status, job) = upload(&s, t, "/v1/tables/main/crm/arrows/import", form(bytes, "c.arrows", &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(finished(&s, t, &job).await["status"], "succeeded");
    let (_, copy) = s.get("/v1/tables/main/crm/arrows/rows?order=id", t).await;
    assert_eq!(copy, original);
    let (_, table) = s.get("/v1/tables/main/crm/arrows", t).await;
    let types: Vec<&Value> = table["schema"]["fields"].as_array().unwrap().iter().map(|c| &c["type"]).collect();
    assert_eq!(types, [&json!("int64"), &json!("string"), &json!("string"), &json!("decimal(10,2)"), &json!("date")]);
    let (status, body) = upload(&s, t, "/v1/tables/main/crm/broken/import", form("nope", "x.arrows", &[])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("file")), "{body}");
    let (status, body) =
        upload(&s, t, "/v1/tables/main/crm/broken/import", form("a", "x.csv", &[("format", "xlsx")])).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("format", "must be csv, parquet or arrow")));
}

#[tokio::test]
async fn unreadable_imports_fail_with_the_reason_and_change_nothing() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    let before = s.get(T, t).await.1["version"].clone();
    // Into an existing table: the job fails with the reason.
    for (file, needle) in [
        ("id,name\n1,a\n2\n", "expected 2"),
        ("", "the file is empty"),
        ("id,colour\n1,red\n", "unknown column `colour` in the CSV header"),
    ] {
        let (status, job) = upload(&s, t, &format!("{T}/import"), form(file, "x.csv", &[])).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let job = finished(&s, t, &job).await;
        assert_eq!(job["status"], "failed", "{file:?}: {job}");
        assert_eq!(job["error"]["statusCode"], 400, "{file:?}: {job}");
        assert!(job["error"].to_string().contains(needle), "{file:?}: {job}");
    }
    assert_eq!(s.get(T, t).await.1["version"], before);
    // For a new table the schema is inferred first, so an unreadable file is refused at once.
    let (status, body) = upload(&s, t, "/v1/tables/main/crm/fresh/import", form("", "e.csv", &[])).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("file", "the file is empty")));
    let (status, body) = upload(&s, t, "/v1/tables/main/crm/fresh/import", form("a b,c\n1,2\n", "e.csv", &[])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("file")), "{body}");
    let (status, _) = s.get("/v1/tables/main/crm/fresh", t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A file whose structure breaks on a later line fails its job naming that data row.
#[tokio::test]
async fn csv_structure_errors_name_their_data_row() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    let before = s.get(T, t).await.1["version"].clone();
    for (file, fault) in [
        (
            &b"id,name,country\n1,a,DE\n2,b,FR\n3,c\n4,d,BE\n"[..],
            json!({ "field": "rows[2]", "message": "incorrect number of fields for line 4, expected 3 got 2" }),
        ),
        (
            &b"id,name,country\n1,a,DE\n2,\"b,FR\n3,c\",BE,x\n"[..],
            json!({ "field": "rows[1]", "message": "incorrect number of fields for line 3, expected 3 got 4" }),
        ),
        (
            &b"id,name,country\n1,a,DE\n2,b,FR\n3,c,\xffBE\n"[..],
            json!({ "field": "rows[2].country", "message": "Encountered invalid UTF-8 data for line 4 and field 3" }),
        ),
    ] {
        let (status, job) = upload(&s, t, &format!("{T}/import"), form(file, "x.csv", &[])).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let job = finished(&s, t, &job).await;
        assert_eq!(job["status"], "failed");
        let expected = json!({ "statusCode": 400, "error": "Bad Request",
            "message": "1 value(s) do not fit the table", "details": [fault] });
        assert_eq!(job["error"], expected);
    }
    assert_eq!(s.get(T, t).await.1["version"], before, "nothing committed");
}

/// The domains an import applies (`applyDomains`) are audit events like any other change
/// of a table's rules, with the version each committed.
#[tokio::test]
async fn domains_an_import_applies_are_audited() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    let fields = [("delimiter", ";"), ("applyDomains", "true")];
    let (status, job) = upload(&s, t, "/v1/tables/main/crm/people/import", form(AWKWARD, "p.csv", &fields)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(finished(&s, t, &job).await["status"], "succeeded");
    let (status, audit) = s.get("/v1/audit?action=domain.*", t).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    let event = &events[0];
    assert_eq!(
        (&event["action"], &event["target_type"], &event["target_id"], &event["actor_id"]),
        (&json!("domain.set"), &json!("table"), &json!("main.crm.people"), &json!(ada.user_id))
    );
    let (_, table) = s.get("/v1/tables/main/crm/people?version=1", t).await;
    let city = table["schema"]["fields"].as_array().unwrap().iter().find(|f| f["name"] == "city").unwrap();
    assert_eq!(
        event["details"],
        json!({ "column": "city", "version": 1, "before": null, "after": city["domain"], "violating_rows": 0 })
    );
    assert_eq!(s.get("/v1/tables/main/crm/people/audit?action=domain.set", t).await.1["total"], 1);
}
