//! Clones over HTTP: deep and shallow, time travel, dry runs, what is kept, validation,
//! rollback and lineage; bad requests change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, fixed_domain, insert, namespace, sample};
use crate::imports::finished;
use crate::support::{Tenant, TestServer, forbidden, invalid, missing};

const COPY: &str = "/v1/tables/main/crm/copy";

/// Acme's customers at version 3: the sample (v1), a domain on country (v2), two more rows (v3);
/// a comment on name, a constraint.
pub(crate) async fn setup() -> (TestServer, Tenant) {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, &ada.token, sample()).await.0, StatusCode::CREATED);
    fixed_domain(&s, &ada.token, "country", &["DE", "FR", "IT"]).await;
    let rows = json!([{ "id": 10, "name": "Cy", "country": "IT" }, { "id": 11, "name": "Di", "country": "DE" }]);
    assert_eq!(insert(&s, &ada.token, rows).await.0, StatusCode::CREATED);
    let (status, body) = s
        .post(
            &format!("{T}/constraints"),
            Some(&ada.token),
            json!({ "constraints": [{ "name": "id_positive", "expr": "id > 0" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (s, ada)
}

pub(crate) async fn clone(s: &TestServer, token: &str, body: Value) -> Value {
    let (status, job) = s.post("/v1/clones", Some(token), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "clone");
    finished(s, token, &job).await
}

async fn ordered(s: &TestServer, token: &str, table: &str) -> Value {
    let (status, rows) = s.get(&format!("{table}/rows?order=id"), token).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    rows
}

/// The parts of a table's definition a clone keeps.
async fn definition(s: &TestServer, token: &str, table: &str) -> Value {
    let (_, t) = s.get(table, token).await;
    json!({ "schema": t["schema"], "primary_key": t["primary_key"], "description": t["description"], "constraints": t["constraints"] })
}

#[tokio::test]
async fn a_deep_clone_is_an_independent_table_with_the_same_rows_and_definition() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let job = clone(&s, t, json!({ "source": "main.crm.customers", "destination": "main.crm.copy" })).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!((result["source"].as_str(), result["source_version"].as_u64()), (Some("main.crm.customers"), Some(4)));
    assert_eq!((result["clone_type"].as_str(), result["plan"]["rows"].as_u64()), (Some("DEEP"), Some(5)));
    assert_eq!(result["plan"]["files_linked"], false);
    assert!(result["plan"]["files"].as_u64().unwrap() >= 2 && result["plan"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(job["progress"]["steps_done"], result["plan"]["files"], "{job}");

    assert_eq!(ordered(&s, t, COPY).await, ordered(&s, t, T).await);
    assert_eq!(definition(&s, t, COPY).await, definition(&s, t, T).await);
    let (_, history) = s.get(&format!("{COPY}/history"), t).await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "its own history, from version 0: {history}");
    // The rules came along: the key, the domain and the constraint hold on the clone.
    assert_eq!(insert(&s, t, json!([{ "id": 1 }])).await.0, StatusCode::CONFLICT);
    assert_eq!(insert(&s, t, json!([{ "id": 50, "country": "XX" }])).await.0, StatusCode::BAD_REQUEST);
    let into_copy = |rows: Value| {
        let s = &s;
        async move { s.post(&format!("{COPY}/rows"), Some(t), rows).await }
    };
    assert_eq!(into_copy(json!([{ "id": 1 }])).await.0, StatusCode::CONFLICT);
    assert_eq!(into_copy(json!([{ "id": 51, "country": "XX" }])).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(into_copy(json!([{ "id": -1 }])).await.0, StatusCode::BAD_REQUEST);
    // Writes to the clone leave the source alone, and the other way round.
    assert_eq!(into_copy(json!([{ "id": 99, "name": "only in the copy" }])).await.0, StatusCode::CREATED);
    let (status, _) = s.call(Method::DELETE, &format!("{T}/rows?id=eq.1"), Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    let ids = |rows: &Value| rows.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&ordered(&s, t, T).await), [2, 3, 10, 11]);
    assert_eq!(ids(&ordered(&s, t, COPY).await), [1, 2, 3, 10, 11, 99]);

    // Audited once, and the lineage names both ends.
    let (_, audit) = s.get("/v1/audit?action=table.cloned", t).await;
    assert_eq!(audit["events"].as_array().map(Vec::len), Some(1), "{audit}");
    assert_eq!(audit["events"][0]["target_id"], "main.crm.copy");
    let (status, lineage) = s.get(&format!("{COPY}/lineage"), t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lineage["cloned_from"][0]["source"], "main.crm.customers");
    assert_eq!((lineage["cloned_from"][0]["source_version"].as_i64(), &lineage["clones"]), (Some(4), &json!([])));
    assert_eq!(lineage["cloned_from"][0]["kind"], "clone.deep");
    let (_, lineage) = s.get(&format!("{T}/lineage"), t).await;
    assert_eq!(lineage["clones"][0]["destination"], "main.crm.copy");
    assert_eq!(lineage["clones"][0]["job_id"], job["id"]);
}

#[tokio::test]
async fn clones_of_earlier_versions_dry_runs_and_what_is_kept() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let job =
        clone(&s, t, json!({ "source": "main.crm.customers", "destination": "main.crm.copy", "as_of_version": 1 }))
            .await;
    assert_eq!((job["status"].as_str(), job["result"]["source_version"].as_u64()), (Some("succeeded"), Some(1)));
    let (_, at_1) = s.get(&format!("{T}/rows?order=id&version=1"), t).await;
    assert_eq!(ordered(&s, t, COPY).await, at_1);

    // A dry run answers the plan and writes nothing.
    let job =
        clone(&s, t, json!({ "source": "main.crm.customers", "destination": "main.crm.plan", "dry_run": true })).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!((job["result"]["dry_run"].as_bool(), job["result"]["plan"]["rows"].as_u64()), (Some(true), Some(5)));
    assert!(job["result"]["plan"]["estimated_seconds"].as_f64().unwrap() >= 0.0);
    let (status, _) = s.get("/v1/tables/main/crm/plan", t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let crm = s.data_dir().join("warehouse").join(&ada.org_id).join("main").join("crm");
    assert!(crm.join("copy").join("_delta_log").is_dir(), "where tables are written: {crm:?}");
    assert!(!crm.join("plan").exists(), "nothing written for the dry run");

    // Everything switched off: rows only.
    let off = json!({ "source": "main.crm.customers", "destination": "main.crm.bare", "copy_comments": false,
        "copy_domains": false, "copy_constraints": false, "copy_primary_key": false, "copy_properties": false });
    assert_eq!(clone(&s, t, off).await["status"], "succeeded");
    let bare = definition(&s, t, "/v1/tables/main/crm/bare").await;
    assert_eq!((&bare["primary_key"], &bare["constraints"]), (&json!([]), &json!([])), "{bare}");
    assert_eq!(
        (&bare["schema"]["fields"][1]["comment"], &bare["schema"]["fields"][2]["domain"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(ordered(&s, t, "/v1/tables/main/crm/bare").await, ordered(&s, t, T).await);
    let (status, _) = s.post("/v1/tables/main/crm/bare/rows", Some(t), json!([{ "id": 1, "country": "XX" }])).await;
    assert_eq!(status, StatusCode::CREATED, "no key, no domain");
}

#[tokio::test]
async fn a_shallow_clone_links_the_files_and_outlives_its_source() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let body = json!({ "source": "main.crm.customers", "destination": "main.crm.copy", "clone_type": "SHALLOW",
                       "validate_after_clone": true, "validate_checksum": true });
    let job = clone(&s, t, body).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        (job["result"]["clone_type"].as_str(), &job["result"]["plan"]["files_linked"]),
        (Some("SHALLOW"), &json!(true))
    );
    let validation = &job["result"]["validation"];
    assert_eq!((validation["matched"].as_bool(), validation["clone_rows"].as_u64()), (Some(true), Some(5)), "{job}");
    assert_eq!(validation["source_checksum"], validation["clone_checksum"]);
    assert_eq!(validation["source_checksum"].as_str().map(str::len), Some(16));
    let before = ordered(&s, t, T).await;
    assert_eq!(ordered(&s, t, COPY).await, before);
    // Writes to the clone never reach the source.
    let (status, _) = s.call(Method::DELETE, &format!("{COPY}/rows?id=in.(1,2)"), Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ordered(&s, t, T).await, before);
    // Dropping the source (its files deleted) leaves the clone readable.
    let (status, body) = s.call(Method::DELETE, &format!("{T}?confirm=main.crm.customers"), Some(t), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left = ordered(&s, t, COPY).await;
    assert_eq!(left.as_array().map(Vec::len), Some(3), "{left}");
    // The lineage outlives the dropped source.
    let (_, lineage) = s.get(&format!("{COPY}/lineage"), t).await;
    assert_eq!(lineage["cloned_from"][0]["kind"], "clone.shallow");
}

#[tokio::test]
async fn a_clone_rolls_back_to_nothing_and_touches_nothing_else() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let job = clone(&s, t, json!({ "source": "main.crm.customers", "destination": "main.crm.copy" })).await;
    let before = ordered(&s, t, T).await;
    let rollback = format!("/v1/clones/{}/rollback", job["id"].as_str().unwrap());
    let (status, body) = s.post(&rollback, Some(t), json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "removed": ["main.crm.copy"] })));
    assert_eq!(s.get(COPY, t).await.0, StatusCode::NOT_FOUND);
    assert_eq!(ordered(&s, t, T).await, before);
    // Again: nothing left to remove; a table made since under that name is not the clone's.
    let (status, _) =
        s.post("/v1/tables/main/crm/copy", Some(t), json!({ "columns": [{ "name": "id", "type": "int64" }] })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(s.post(&rollback, Some(t), json!({})).await, (StatusCode::OK, json!({ "removed": [] })));
    assert_eq!(s.get(COPY, t).await.0, StatusCode::OK);
    let (_, audit) = s.get("/v1/audit?action=clone.rolled_back", t).await;
    assert_eq!(audit["events"].as_array().map(Vec::len), Some(2), "{audit}");
    // Not a clone's job, or no job: 404.
    let (status, _) = s.post(&format!("/v1/clones/{}/rollback", uuid::Uuid::new_v4()), Some(t), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_clone_requests_are_refused_and_change_nothing() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let base = json!({ "source": "main.crm.customers", "destination": "main.crm.copy" });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let must = "must be `catalog.schema.table`, each part an identifier ([A-Za-z_][A-Za-z0-9_]*)";
    for (body, expected) in [
        (with("source", json!("customers")), invalid("source", must)),
        (with("destination", json!("main.crm.a b")), invalid("destination", must)),
        (with("source", json!("main.crm.nope")), missing("table `main.crm.nope`")),
        (with("destination", json!("main.nope.copy")), missing("schema `main.nope`")),
        (
            with("destination", json!("main.crm.customers")),
            crate::support::error(409, "Conflict", "table `main.crm.customers` already exists"),
        ),
        (with("validate_checksum", json!(true)), invalid("validate_checksum", "needs validate_after_clone")),
        (
            with("as_of_timestamp", json!("yesterday")),
            invalid("as_of_timestamp", "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z"),
        ),
    ] {
        let (status, answer) = s.post("/v1/clones", Some(t), body.clone()).await;
        assert_eq!((status.as_u16(), &answer), (expected["statusCode"].as_u64().unwrap() as u16, &expected), "{body}");
    }
    let (status, answer) = s.post("/v1/clones", Some(t), with("colour", json!("red"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = s.post("/v1/clones", Some(t), with("clone_type", json!("DEEPER"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // A version the table never had: the job fails, nothing is registered.
    let job = clone(&s, t, with("as_of_version", json!(40))).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(s.get(COPY, t).await.0, StatusCode::NOT_FOUND);

    // A viewer may read but not create; another organisation sees nothing.
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    assert_eq!(
        s.post("/v1/clones", Some(&viewer.token), base.clone()).await,
        (StatusCode::FORBIDDEN, forbidden("tables:create"))
    );
    let bob = s.onboard("Bobco", "bob@example.com").await;
    namespace(&s, &bob).await;
    let (status, answer) = s.post("/v1/clones", Some(&bob.token), base.clone()).await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, missing("table `main.crm.customers`")));
    assert_eq!(s.get("/v1/jobs", &bob.token).await, (StatusCode::OK, json!([])));
    assert_eq!(s.get(COPY, t).await.0, StatusCode::NOT_FOUND);
}

/// Next to `main.crm.customers`: `main.ops.orders` (2 rows), `main.ops.orders_tmp` and
/// `main.scratch.junk` (empty).
pub(crate) async fn catalog_of_four(s: &TestServer, t: &str) {
    for schema in ["ops", "scratch"] {
        let (status, body) = s.post("/v1/catalogs/main/schemas", Some(t), json!({ "name": schema })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let columns = json!({ "columns": [{ "name": "id", "type": "int64", "nullable": false }], "primary_key": ["id"] });
    for table in ["ops/orders", "ops/orders_tmp", "scratch/junk"] {
        let (status, body) = s.post(&format!("/v1/tables/main/{table}"), Some(t), columns.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = s.post("/v1/tables/main/ops/orders/rows", Some(t), json!([{ "id": 1 }, { "id": 2 }])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn names(s: &TestServer, t: &str, path: &str) -> Vec<String> {
    let (status, listed) = s.get(path, t).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed.get("tables").unwrap_or(&listed).as_array().unwrap().clone();
    let name = |v: &Value| match v.get("table_name") {
        Some(table) => format!(
            "{}.{}.{}",
            v["catalog"].as_str().unwrap(),
            v["schema_name"].as_str().unwrap(),
            table.as_str().unwrap()
        ),
        None => v["name"].as_str().unwrap().to_owned(),
    };
    listed.iter().map(name).collect()
}

#[tokio::test]
async fn a_catalog_clone_takes_the_selected_tables_in_parallel_and_rolls_back_to_nothing() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    catalog_of_four(&s, t).await;
    let body = json!({ "source": "main", "destination": "stage", "exclude_schemas": ["scratch"],
                       "exclude_tables_regex": "_tmp$", "parallel_tables": 2, "validate_after_clone": true });
    let job = clone(&s, t, body).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let result = &job["result"];
    let pairs: Vec<(&str, &str)> = result["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["source"].as_str().unwrap(), t["destination"].as_str().unwrap()))
        .collect();
    assert_eq!(pairs, [("main.crm.customers", "stage.crm.customers"), ("main.ops.orders", "stage.ops.orders")]);
    assert_eq!(result["created_catalog"], "stage");
    assert_eq!(result["created_schemas"], json!(["stage.crm", "stage.ops"]));
    assert_eq!((result["rows"].as_u64(), result["parallel_tables"].as_u64()), (Some(7), Some(2)));
    assert_eq!(result["tables"][1]["validation"]["clone_rows"], 2);
    let progress = &job["progress"];
    assert_eq!(progress["steps_done"], progress["steps_total"], "{job}");
    assert_eq!(progress["bytes_read"], progress["bytes_total"]);
    assert!(progress["steps_total"].as_u64().unwrap() >= 3, "{job}");
    assert_eq!(names(&s, t, "/v1/catalogs/stage/schemas").await, ["crm", "ops"]);
    assert_eq!(ordered(&s, t, "/v1/tables/stage/ops/orders").await, ordered(&s, t, "/v1/tables/main/ops/orders").await);
    assert_eq!(ordered(&s, t, "/v1/tables/stage/crm/customers").await, ordered(&s, t, T).await);
    let (_, lineage) = s.get("/v1/tables/stage/ops/orders/lineage", t).await;
    assert_eq!(lineage["cloned_from"][0]["source"], "main.ops.orders", "{lineage}");
    let (_, audit) = s.get("/v1/audit?action=table.cloned", t).await;
    assert_eq!(audit["events"].as_array().map(Vec::len), Some(2), "{audit}");

    // Cloning again finds the tables there: refused, nothing started.
    let (status, answer) = s.post("/v1/clones", Some(t), json!({ "source": "main", "destination": "stage" })).await;
    let message = "2 destination table(s) exist already: `stage.crm.customers`, `stage.ops.orders`";
    assert_eq!((status, answer), (StatusCode::CONFLICT, crate::support::error(409, "Conflict", message)));

    // A rollback removes the tables, then the schemas and catalog it made.
    let rollback = format!("/v1/clones/{}/rollback", job["id"].as_str().unwrap());
    let (status, body) = s.post(&rollback, Some(t), json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "removed": ["stage.crm.customers", "stage.ops.orders"] })));
    assert_eq!(names(&s, t, "/v1/catalogs").await, ["main"]);
    assert_eq!(ordered(&s, t, "/v1/tables/main/ops/orders").await.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_schema_clone_dry_run_plans_and_writes_nothing_and_a_failed_one_leaves_nothing() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    catalog_of_four(&s, t).await;
    let job = clone(&s, t, json!({ "source": "main.ops", "destination": "main.ops2", "dry_run": true })).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let result = &job["result"];
    let planned: Vec<&str> =
        result["tables"].as_array().unwrap().iter().map(|t| t["destination"].as_str().unwrap()).collect();
    assert_eq!(planned, ["main.ops2.orders", "main.ops2.orders_tmp"]);
    assert_eq!((result["dry_run"].as_bool(), result["rows"].as_u64()), (Some(true), Some(2)));
    assert_eq!(result["creates_schemas"], json!(["main.ops2"]));
    assert_eq!(result["creates_catalog"], Value::Null);
    assert_eq!(job["progress"]["steps_total"].as_u64(), result["files"].as_u64());
    assert_eq!(names(&s, t, "/v1/catalogs/main/schemas").await, ["crm", "ops", "scratch"]);

    // A version one table never had: the job fails, no schema or table is left.
    let job = clone(&s, t, json!({ "source": "main.ops", "destination": "main.ops2", "as_of_version": 1 })).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["error"]["message"].as_str().unwrap().starts_with("main.ops.orders_tmp: "), "{job}");
    assert_eq!(names(&s, t, "/v1/catalogs/main/schemas").await, ["crm", "ops", "scratch"]);

    // Into an existing schema, with an include pattern: only that table, no schema created.
    let job = clone(
        &s,
        t,
        json!({ "source": "main.ops", "destination": "main.scratch", "include_tables_regex": "^orders$" }),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["created_schemas"], json!([]));
    assert_eq!(
        names(&s, t, "/v1/tables?catalog=main&schema=scratch").await,
        ["main.scratch.junk", "main.scratch.orders"]
    );
}

#[tokio::test]
async fn bad_scope_clone_requests_are_refused_and_change_nothing() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    catalog_of_four(&s, t).await;
    let scope = "must be `catalog` or `catalog.schema`, each an identifier ([A-Za-z_][A-Za-z0-9_]*)";
    for (body, expected) in [
        (
            json!({ "source": "main", "destination": "stage.crm" }),
            invalid("destination", "must name what the source names: a schema for a schema, a catalog for a catalog"),
        ),
        (json!({ "source": "main", "destination": "main" }), invalid("destination", "must differ from the source")),
        (json!({ "source": "main", "destination": "a-b" }), invalid("destination", scope)),
        (
            json!({ "source": "main", "destination": "stage", "parallel_tables": 0 }),
            invalid("parallel_tables", "must be 1 to 16"),
        ),
        (
            json!({ "source": "main", "destination": "stage", "parallel_tables": 17 }),
            invalid("parallel_tables", "must be 1 to 16"),
        ),
        (
            json!({ "source": "main", "destination": "stage", "include_tables_regex": "(" }),
            invalid(
                "include_tables_regex",
                "is not a valid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
            ),
        ),
        (
            json!({ "source": "main", "destination": "stage", "exclude_schemas": ["no way"] }),
            invalid("exclude_schemas", "`no way` is not an identifier"),
        ),
        (
            json!({ "source": "main.ops", "destination": "main.x", "include_schemas": ["ops"] }),
            invalid("include_schemas", "schema filters apply to catalog clones"),
        ),
        (
            json!({ "source": "main.crm.customers", "destination": "main.crm.copy", "exclude_tables_regex": "x" }),
            invalid("source", "schema and table filters apply to schema and catalog clones"),
        ),
        (json!({ "source": "nope", "destination": "stage" }), missing("catalog `nope`")),
        (json!({ "source": "main.nope", "destination": "main.x" }), missing("schema `main.nope`")),
    ] {
        let (status, answer) = s.post("/v1/clones", Some(t), body.clone()).await;
        assert_eq!((status.as_u16(), &answer), (expected["statusCode"].as_u64().unwrap() as u16, &expected), "{body}");
    }
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    let body = json!({ "source": "main", "destination": "stage" });
    assert_eq!(
        s.post("/v1/clones", Some(&viewer.token), body).await,
        (StatusCode::FORBIDDEN, forbidden("tables:create"))
    );
    assert_eq!(names(&s, t, "/v1/catalogs").await, ["main"]);
    assert_eq!(s.get("/v1/jobs", t).await.1.as_array().map(Vec::len), Some(0));
}

/// A catalog clone cancelled right after it started: the job ends cancelled and nothing of
/// it is left, neither tables nor the catalog it made.
#[tokio::test]
async fn a_cancelled_catalog_clone_leaves_nothing() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    let columns = json!({ "columns": [{ "name": "id", "type": "int64", "nullable": false }] });
    for i in 0..30 {
        let table = format!("/v1/tables/main/crm/t{i:02}");
        assert_eq!(s.post(&table, Some(t), columns.clone()).await.0, StatusCode::CREATED);
        assert_eq!(s.post(&format!("{table}/rows"), Some(t), json!([{ "id": i }])).await.0, StatusCode::CREATED);
    }
    let body = json!({ "source": "main", "destination": "stage", "parallel_tables": 1 });
    let (status, job) = s.post("/v1/clones", Some(t), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap();
    let (status, _) = s.call(Method::DELETE, &format!("/v1/jobs/{id}"), Some(t), None).await;
    assert!(status.is_success(), "{status}");
    let job = finished(&s, t, &job).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert_eq!(names(&s, t, "/v1/catalogs").await, ["main"]);
    let (_, listed) = s.get("/v1/tables", t).await;
    assert_eq!(listed["total"], 30, "only the sources: {listed}");
    let warehouse = s.data_dir().join("warehouse").join(&ada.org_id);
    assert!(
        !warehouse.join("stage").exists()
            || std::fs::read_dir(warehouse.join("stage")).unwrap().flatten().all(|schema| {
                std::fs::read_dir(schema.path()).map(|mut tables| tables.next().is_none()).unwrap_or(true)
            }),
        "no table folder left"
    );
}
