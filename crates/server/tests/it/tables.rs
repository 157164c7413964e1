use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::data::{T, customers, insert, namespace, sample, upsert};
use crate::support::{TestServer, error, forbidden, invalid, missing};

#[tokio::test]
async fn create_describe_list_and_drop() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, &ada.token, sample()).await.0, StatusCode::CREATED);

    let (status, m) = s.get(T, &ada.token).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(
        (m["catalog"].as_str(), m["schema_name"].as_str(), m["table_name"].as_str()),
        (Some("main"), Some("crm"), Some("customers"))
    );
    assert_eq!(m["table_type"], "DELTA");
    assert_eq!(m["description"], "Our customers");
    assert_eq!(m["version"], 1);
    assert_eq!(m["num_rows"], 3);
    assert_eq!(m["primary_key"], json!(["id"]));
    assert!(m["file_size"].as_u64().unwrap() > 0);
    let fields = m["schema"]["fields"].as_array().unwrap();
    assert_eq!(
        fields.iter().map(|f| f["type"].as_str().unwrap()).collect::<Vec<_>>(),
        ["int64", "string", "string", "decimal(10,2)", "date"]
    );
    assert_eq!(fields[0]["nullable"], false);
    assert_eq!(fields[1]["comment"], "display name");
    let stats = m["column_statistics"].as_array().unwrap();
    assert_eq!(
        stats[3],
        json!({ "column": "balance", "null_count": 1, "distinct_count": null, "min": 3.0, "max": 10.5 })
    );
    assert!(!m.to_string().contains("/warehouse/"), "no storage paths: {m}");

    let (_, with_distinct) = s.get(&format!("{T}?distinct=true"), &ada.token).await;
    assert_eq!(with_distinct["column_statistics"][2]["distinct_count"], 2);
    let (status, rows) = s.get(&format!("{T}/rows?select=id&order=id"), &ada.token).await;
    assert_eq!((status, rows), (StatusCode::OK, json!([{ "id": 1 }, { "id": 2 }, { "id": 3 }])));

    let (status, list) = s.get("/v1/tables?catalog=main", &ada.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    assert_eq!(list["tables"][0]["table_name"], "customers");

    let (status, body) = s.call(Method::DELETE, T, Some(&ada.token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "confirm");
    assert_eq!(s.get(T, &ada.token).await.0, StatusCode::OK, "an unconfirmed drop changes nothing");
    let (status, body) =
        s.call(Method::DELETE, &format!("{T}?confirm=main.crm.customers"), Some(&ada.token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "success": true, "message": "Table dropped" })));
    assert_eq!(s.get(T, &ada.token).await, (StatusCode::NOT_FOUND, missing("table `main.crm.customers`")));
    let leftover: Vec<_> = walk(&s.data_dir().join("warehouse"));
    assert!(leftover.is_empty(), "the table's files are deleted: {leftover:?}");
    // The name is free again, and the new table at the same place (at version 1 again, as
    // the old one was when read) shows its own rows only.
    customers_again(&s, &ada.token).await;
    assert_eq!(insert(&s, &ada.token, json!([{ "id": 7 }])).await.0, StatusCode::CREATED);
    let (status, rows) = s.get(&format!("{T}/rows"), &ada.token).await;
    assert_eq!((status, rows), (StatusCode::OK, json!([{ "id": 7 }])));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

async fn customers_again(s: &TestServer, token: &str) {
    let (status, body) = s.post(T, Some(token), json!({ "columns": [{ "name": "id", "type": "int64" }] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn create_validates_the_definition() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    namespace(&s, &ada).await;
    let cases = [
        (json!({ "columns": [] }), invalid("columns", "a table needs at least one column")),
        (
            json!({ "columns": [{ "name": "a", "type": "varchar" }] }),
            invalid(
                "columns[0].type",
                "unknown type `varchar` (known: string, boolean, int32, int64, float32, float64, decimal(p,s), date, timestamp, binary, json)",
            ),
        ),
        (
            json!({ "columns": [{ "name": "a b", "type": "string" }] }),
            invalid(
                "columns[0].name",
                "identifier must start with a letter or underscore and contain only letters, digits and underscores",
            ),
        ),
        (
            json!({ "columns": [{ "name": "a", "type": "string" }, { "name": "A", "type": "int64" }] }),
            invalid("columns[1].name", "duplicate column `A`"),
        ),
        (
            json!({ "columns": [{ "name": "a", "type": "string" }], "primary_key": ["b"] }),
            invalid("primary_key[0]", "unknown column `b`"),
        ),
        (
            json!({ "columns": [{ "name": "a", "type": "string" }], "primary_key": ["a"] }),
            invalid("primary_key[0]", "primary-key column `a` must not be nullable"),
        ),
        (
            json!({ "columns": [{ "name": "a", "type": "string" }], "partition_by": ["a"] }),
            invalid("partition_by", "at least one column must not be a partition column"),
        ),
        (
            json!({ "columns": [{ "name": "a", "type": "decimal(40,2)" }] }),
            invalid("columns[0].type", "decimal precision must be 1..=38 and scale 0..=precision; got `decimal(40,2)`"),
        ),
        (
            json!({ "columns": [{ "name": "a", "type": "string", "default": 1 }] }),
            invalid(
                "columns[0].default",
                "unknown field `default`, expected one of `name`, `type`, `nullable`, `comment`",
            ),
        ),
    ];
    for (body, expected) in cases {
        let (status, got) = s.post(T, Some(&ada.token), body.clone()).await;
        assert_eq!((status, &got), (StatusCode::BAD_REQUEST, &expected), "{body}");
    }
    let (status, body) = s
        .post(
            "/v1/tables/main/crm/bad%2Fname",
            Some(&ada.token),
            json!({ "columns": [{ "name": "a", "type": "string" }] }),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            invalid(
                "table",
                "identifier must start with a letter or underscore and contain only letters, digits and underscores"
            )
        )
    );
    assert_eq!(
        s.post("/v1/tables/main/nope/t", Some(&ada.token), json!({ "columns": [{ "name": "a", "type": "string" }] }))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.get("/v1/tables", &ada.token).await.1["total"], 0, "nothing was created");
    assert!(walk(&s.data_dir().join("warehouse")).is_empty());

    customers_again(&s, &ada.token).await;
    let (status, body) = s.post(T, Some(&ada.token), json!({ "columns": [{ "name": "id", "type": "int64" }] })).await;
    assert_eq!(
        (status, body),
        (StatusCode::CONFLICT, error(409, "Conflict", "table `main.crm.customers` already exists"))
    );
}

#[tokio::test]
async fn catalogs_and_schemas_refuse_to_drop_while_not_empty() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let (status, body) = s.post("/v1/catalogs", Some(&ada.token), json!({ "name": "main" })).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", "catalog `main` already exists")));
    let (status, body) = s.call(Method::DELETE, "/v1/catalogs/main/schemas/crm", Some(&ada.token), None).await;
    assert_eq!(
        (status, body),
        (StatusCode::CONFLICT, error(409, "Conflict", "schema `main.crm` is not empty: drop its 1 table(s) first"))
    );
    let (status, body) = s.call(Method::DELETE, "/v1/catalogs/main", Some(&ada.token), None).await;
    assert_eq!(
        (status, body),
        (StatusCode::CONFLICT, error(409, "Conflict", "catalog `main` is not empty: drop its 1 schema(s) first"))
    );
    let (_, schemas) = s.get("/v1/catalogs/main/schemas", &ada.token).await;
    assert_eq!(schemas[0]["name"], "crm");
    s.call(Method::DELETE, &format!("{T}?confirm=main.crm.customers"), Some(&ada.token), None).await;
    assert_eq!(s.call(Method::DELETE, "/v1/catalogs/main/schemas/crm", Some(&ada.token), None).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::DELETE, "/v1/catalogs/main", Some(&ada.token), None).await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/catalogs", &ada.token).await.1, json!([]));
}

#[tokio::test]
async fn table_permissions_follow_roles_and_scopes() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    let editor = s.add_member(&ada, "eve@example.com", "editor").await;
    let body = json!({ "columns": [{ "name": "a", "type": "string" }] });
    assert_eq!(
        s.post("/v1/tables/main/crm/x", Some(&editor.token), body.clone()).await,
        (StatusCode::FORBIDDEN, forbidden("tables:create"))
    );
    assert_eq!(insert(&s, &viewer.token, sample()).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    assert_eq!(insert(&s, &editor.token, sample()).await.0, StatusCode::CREATED);
    assert_eq!(s.get(T, &viewer.token).await.0, StatusCode::OK);
    let (status, got) =
        s.call(Method::DELETE, &format!("{T}?confirm=main.crm.customers"), Some(&editor.token), None).await;
    assert_eq!((status, got), (StatusCode::FORBIDDEN, forbidden("tables:modify")));
    let (status, got) = s.call(Method::PUT, &format!("{T}/rollback/0"), Some(&editor.token), None).await;
    assert_eq!((status, got), (StatusCode::FORBIDDEN, forbidden("tables:modify")));
    // A key narrowed to reading may not write, even for an admin.
    let (reader, _) = s.create_key(&ada.token, json!({ "name": "r", "scopes": ["tables:read"] })).await;
    assert_eq!(s.get(&format!("{T}/rows"), &reader).await.0, StatusCode::OK);
    assert_eq!(insert(&s, &reader, sample()).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    assert_eq!(
        s.post("/v1/sql", Some(&reader), json!({ "query": "SELECT 1" })).await,
        (StatusCode::FORBIDDEN, forbidden("tables:query"))
    );
    // Upserting also needs rows:update.
    let (inserter, _) = s.create_key(&ada.token, json!({ "name": "i", "scopes": ["rows:insert"] })).await;
    let (status, body) = upsert(&s, &inserter, json!([{ "id": 1, "name": "x" }])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, forbidden("rows:update"));
}

#[tokio::test]
async fn partitioned_tables_are_written_by_partition() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    namespace(&s, &ada).await;
    let (status, body) = s
        .post(
            "/v1/tables/main/crm/events",
            Some(&ada.token),
            json!({ "columns": [{ "name": "id", "type": "int64", "nullable": false }, { "name": "day", "type": "date" }, { "name": "v", "type": "float64" }],
                    "primary_key": ["id"], "partition_by": ["day"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["partition_columns"], json!(["day"]));
    let rows = json!([{ "id": 1, "day": "2026-01-01", "v": 1.0 }, { "id": 2, "day": "2026-01-02", "v": 2.0 }, { "id": 3, "day": "2026-01-01", "v": 3.0 }]);
    let (status, body) = s.call(Method::POST, "/v1/tables/main/crm/events/rows", Some(&ada.token), Some(rows)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, got) = s.get("/v1/tables/main/crm/events/rows?day=eq.2026-01-01&order=id&select=id,v", &ada.token).await;
    assert_eq!(got, json!([{ "id": 1, "v": 1.0 }, { "id": 3, "v": 3.0 }]));
    let dirs: Vec<String> = walk(&s.data_dir().join("warehouse"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(dirs.contains(&"day=2026-01-01".to_owned()) && dirs.contains(&"day=2026-01-02".to_owned()), "{dirs:?}");
}
