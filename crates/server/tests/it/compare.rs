//! Comparisons of catalogs and schemas (missing, extra, matching; drift, row counts,
//! checksums), catalog statistics and name search, over HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::clones::{catalog_of_four, clone, setup};
use crate::imports::finished;
use crate::support::{TestServer, invalid, missing};

async fn compare(s: &TestServer, token: &str, body: Value) -> Value {
    let (status, job) = s.post("/v1/compare", Some(token), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "compare");
    let job = finished(s, token, &job).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job
}

/// `main` (see [`catalog_of_four`]) and its deep clone `stage`.
async fn two_catalogs() -> (TestServer, crate::support::Tenant) {
    let (s, ada) = setup().await;
    catalog_of_four(&s, &ada.token).await;
    let job = clone(&s, &ada.token, json!({ "source": "main", "destination": "stage" })).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    (s, ada)
}

#[tokio::test]
async fn a_clone_compares_identical_and_every_change_after_shows() {
    let (s, ada) = two_catalogs().await;
    let t = &ada.token;
    let job = compare(&s, t, json!({ "source": "main", "destination": "stage", "checksums": true })).await;
    let result = &job["result"];
    assert_eq!(result["identical"], true, "{result}");
    assert_eq!(result["schemas"], json!({ "missing": [], "extra": [], "matching": ["crm", "ops", "scratch"] }));
    let matching = json!(["crm.customers", "ops.orders", "ops.orders_tmp", "scratch.junk"]);
    assert_eq!(result["tables"], json!({ "missing": [], "extra": [], "matching": matching }));
    let customers = &result["compared"][0];
    assert_eq!(customers["table"], "crm.customers");
    assert_eq!((customers["source_rows"].as_u64(), customers["destination_rows"].as_u64()), (Some(5), Some(5)));
    assert_eq!(customers["source_checksum"], customers["destination_checksum"]);
    assert!(customers["source_checksum"].is_string(), "{customers}");
    assert_eq!(customers["drift"], json!([]));
    assert_eq!((job["progress"]["steps_done"].as_u64(), job["progress"]["steps_total"].as_u64()), (Some(4), Some(4)));
    assert_eq!(job["progress"]["rows_read"], 14);

    // Drift: a column added to one side, a row more, a table and a schema only on one side.
    let (status, body) =
        s.post("/v1/tables/stage/crm/customers/columns", Some(t), json!({ "name": "tier", "type": "int32" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.post("/v1/tables/stage/ops/orders/rows", Some(t), json!([{ "id": 3 }])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        s.post("/v1/tables/stage/ops/extra", Some(t), json!({ "columns": [{ "name": "id", "type": "int64" }] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.post("/v1/catalogs/main/schemas", Some(t), json!({ "name": "only_main" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = compare(&s, t, json!({ "source": "main", "destination": "stage", "checksums": true })).await;
    let result = &job["result"];
    assert_eq!(result["identical"], false);
    assert_eq!(result["schemas"]["missing"], json!(["only_main"]));
    assert_eq!(result["tables"]["extra"], json!(["ops.extra"]));
    let customers = &result["compared"][0];
    assert_eq!(
        customers["drift"],
        json!([{ "kind": "column_extra", "column": "tier", "source": null, "destination": "int32" }])
    );
    assert_eq!((customers["rows_match"].as_bool(), customers["identical"].as_bool()), (Some(true), Some(false)));
    // The checksum covers every column's value: the new (empty) column is one more value.
    assert_eq!(customers["checksums_match"], false);
    let orders = &result["compared"][1];
    assert_eq!((orders["source_rows"].as_u64(), orders["destination_rows"].as_u64()), (Some(2), Some(3)));
    assert_eq!((orders["rows_match"].as_bool(), orders["checksums_match"].as_bool()), (Some(false), Some(false)));
    let summary = json!({ "missing_tables": 0, "extra_tables": 1, "matching_tables": 4, "tables_with_drift": 1,
                          "row_count_mismatches": 1, "checksum_mismatches": 2 });
    assert_eq!(result["summary"], summary);

    // Definitions only, one schema against another, filtered.
    let body = json!({ "source": "main.ops", "destination": "stage.ops", "row_counts": false, "exclude_tables_regex": "_tmp$" });
    let result = compare(&s, t, body).await["result"].clone();
    assert_eq!(result["tables"], json!({ "missing": [], "extra": ["extra"], "matching": ["orders"] }));
    assert_eq!(result["compared"], json!([{ "table": "orders", "drift": [], "identical": true }]));
    assert!(result.get("schemas").is_none(), "{result}");
}

#[tokio::test]
async fn bad_comparisons_are_refused() {
    let (s, ada) = two_catalogs().await;
    let t = &ada.token;
    for (body, expected) in [
        (json!({ "source": "nope", "destination": "stage" }), missing("catalog `nope`")),
        (
            json!({ "source": "main", "destination": "stage.ops" }),
            invalid("destination", "must name what the source names: a schema for a schema, a catalog for a catalog"),
        ),
        (
            json!({ "source": "main.ops", "destination": "stage.ops", "include_schemas": ["ops"] }),
            invalid("include_schemas", "schema filters apply to catalogs"),
        ),
        (
            json!({ "source": "main", "destination": "stage", "parallel_tables": 0 }),
            invalid("parallel_tables", "must be 1 to 16"),
        ),
        (
            json!({ "source": "main.a.b", "destination": "stage" }),
            invalid("source", "must be `catalog` or `catalog.schema`, each an identifier ([A-Za-z_][A-Za-z0-9_]*)"),
        ),
    ] {
        let (status, answer) = s.post("/v1/compare", Some(t), body.clone()).await;
        assert_eq!((status.as_u16(), &answer), (expected["statusCode"].as_u64().unwrap() as u16, &expected), "{body}");
    }
    let (status, _) = s.post("/v1/compare", Some(t), json!({ "source": "main", "destination": "stage", "x": 1 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A viewer may compare; another organisation finds neither catalog.
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    compare(&s, &viewer.token, json!({ "source": "main", "destination": "stage", "row_counts": false })).await;
    let bob = s.onboard("Bobco", "bob@example.com").await;
    let (status, answer) =
        s.post("/v1/compare", Some(&bob.token), json!({ "source": "main", "destination": "stage" })).await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, missing("catalog `main`")));
}

#[tokio::test]
async fn catalog_statistics_sum_the_tables_and_list_the_largest() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    catalog_of_four(&s, t).await;
    let (status, stats) = s.get("/v1/catalogs/main/stats?top=2", t).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!((stats["tables"].as_u64(), stats["rows"].as_u64()), (Some(4), Some(7)), "{stats}");
    let per_schema: Vec<(&str, u64, u64)> = stats["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["schema"].as_str().unwrap(), s["tables"].as_u64().unwrap(), s["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(per_schema, [("crm", 1, 5), ("ops", 2, 2), ("scratch", 1, 0)]);
    let top = stats["top_tables"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    assert!(top[0]["bytes"].as_u64() >= top[1]["bytes"].as_u64(), "{stats}");
    assert_eq!(top[0]["table"], "crm.customers", "the most files and bytes: {stats}");
    let files: u64 = stats["schemas"].as_array().unwrap().iter().map(|s| s["files"].as_u64().unwrap()).sum();
    assert_eq!(stats["files"].as_u64(), Some(files));
    assert_eq!(stats["small_files"], stats["files"], "every file here is small");

    let (_, stats) = s.get("/v1/catalogs/main/stats?exclude_schemas=scratch,ops", t).await;
    assert_eq!((stats["tables"].as_u64(), stats["schemas"].as_array().map(Vec::len)), (Some(1), Some(1)));
    assert_eq!(s.get("/v1/catalogs/nope/stats", t).await, (StatusCode::NOT_FOUND, missing("catalog `nope`")));
    assert_eq!(
        s.get("/v1/catalogs/main/stats?top=0", t).await,
        (StatusCode::BAD_REQUEST, invalid("top", "must be 1 to 1000"))
    );
    assert_eq!(s.get("/v1/catalogs/main/stats?colour=red", t).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn search_finds_tables_and_columns_by_pattern() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    catalog_of_four(&s, t).await;
    let (status, found) = s.get("/v1/catalogs/main/search?pattern=%5Eord", t).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found,
        json!({ "catalog": "main", "pattern": "^ord", "tables": ["ops.orders", "ops.orders_tmp"], "columns": [] })
    );
    let (_, found) = s.get("/v1/catalogs/main/search?pattern=(%3Fi)%5ENAME%24&search_columns=true", t).await;
    assert_eq!(found["tables"], json!([]));
    assert_eq!(found["columns"], json!([{ "table": "crm.customers", "column": "name", "type": "string" }]));
    let (_, found) =
        s.get("/v1/catalogs/main/search?pattern=id&search_columns=true&exclude_schemas=crm,scratch", t).await;
    let tables: Vec<&str> = found["columns"].as_array().unwrap().iter().map(|c| c["table"].as_str().unwrap()).collect();
    assert_eq!(tables, ["ops.orders", "ops.orders_tmp"]);
    let (status, answer) = s.get("/v1/catalogs/main/search?pattern=(", t).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["details"][0]["field"], "pattern");
    assert_eq!(s.get("/v1/catalogs/main/search", t).await.0, StatusCode::BAD_REQUEST);
    let bob = s.onboard("Bobco", "bob@example.com").await;
    assert_eq!(
        s.get("/v1/catalogs/main/search?pattern=x", &bob.token).await,
        (StatusCode::NOT_FOUND, missing("catalog `main`"))
    );
}
