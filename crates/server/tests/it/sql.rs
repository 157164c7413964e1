use reqwest::StatusCode;
use serde_json::json;

use crate::data::{T, acme_with_sample, customers, insert, sql};
use crate::support::{TestServer, error};

async fn setup() -> (TestServer, String) {
    let (s, ada) = acme_with_sample().await;
    (s, ada.token)
}

#[tokio::test]
async fn queries_answer_rows_columns_and_tables() {
    let (s, token) = setup().await;
    let (status, body) =
        sql(&s, &token, "SELECT country, count(*) AS n FROM main.crm.customers GROUP BY country ORDER BY country")
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{ "country": "DE", "n": 2 }, { "country": "FR", "n": 1 }]));
    assert_eq!(body["columns"], json!([{ "name": "country", "type": "string" }, { "name": "n", "type": "int64" }]));
    assert_eq!(body["affected_tables"], json!(["main.crm.customers"]));
    assert!(body["runtime_seconds"].as_f64().unwrap() >= 0.0);

    let (_, joined) = sql(&s, &token, "SELECT a.id, b.id AS other FROM main.crm.customers a JOIN main.crm.customers b ON a.country = b.country AND a.id < b.id").await;
    assert_eq!(joined["rows"], json!([{ "id": 1, "other": 3 }]));
    let (_, series) = sql(&s, &token, "SELECT sum(value) AS s FROM generate_series(1, 10)").await;
    assert_eq!(series["rows"], json!([{ "s": 55 }]));

    let res = s
        .client
        .post(s.url("/v1/sql"))
        .bearer_auth(&token)
        .header("accept", "text/csv")
        .json(&json!({ "query": "SELECT id, name FROM main.crm.customers ORDER BY id" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["lakeward-affected-tables"], "main.crm.customers");
    assert_eq!(res.text().await.unwrap(), "id,name\n1,Ada\n2,Bob\n3,Cy\n");
    let res = s
        .client
        .post(s.url("/v1/sql"))
        .bearer_auth(&token)
        .header("accept", "application/x-ndjson")
        .json(&json!({ "query": "SELECT id FROM main.crm.customers ORDER BY id" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
}

/// Group-bys on a string column run through Lakeward's own partial aggregation (see
/// `engine/src/group_by.rs`): the same string from different files, nulls, the empty
/// string and strings longer than a view holds all make one group each.
#[tokio::test]
async fn group_by_a_string_column_meets_every_value_once() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let long = "Republic of Longlandia";
    let first = json!([
        { "id": 1, "name": "n1", "country": "DE" },
        { "id": 2, "name": "n2", "country": null },
        { "id": 3, "name": "n3", "country": "" },
        { "id": 4, "name": "n4", "country": long, "balance": "1.00" },
        { "id": 5, "name": "n5", "country": "DE" },
        { "id": 6, "name": "n6", "country": long }
    ]);
    let second = json!([
        { "id": 7, "name": "n7", "country": long, "balance": "2.00" },
        { "id": 8, "name": "n8", "country": null },
        { "id": 9, "name": "n9", "country": "DE", "balance": "3.00" }
    ]);
    for rows in [first, second] {
        let (status, body) = insert(&s, &ada.token, rows).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let query = "SELECT country, count(*) AS n, count(balance) AS with_balance, sum(id) AS ids, max(name) AS last \
                 FROM main.crm.customers WHERE id > 1 GROUP BY country ORDER BY country NULLS FIRST";
    let (status, body) = sql(&s, &ada.token, query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([
            { "country": null, "n": 2, "with_balance": 0, "ids": 10, "last": "n8" },
            { "country": "", "n": 1, "with_balance": 0, "ids": 3, "last": "n3" },
            { "country": "DE", "n": 2, "with_balance": 1, "ids": 14, "last": "n9" },
            { "country": long, "n": 3, "with_balance": 2, "ids": 17, "last": "n7" }
        ])
    );
    let (_, plan) = sql(&s, &ada.token, &format!("EXPLAIN {query}")).await;
    assert!(plan.to_string().contains("ViewGroupPartialExec"), "{plan}");
}

#[tokio::test]
async fn everything_but_queries_is_refused() {
    let (s, token) = setup().await;
    let refusals = [
        ("CREATE TABLE main.crm.x (a INT)", "DDL"),
        ("DROP TABLE main.crm.customers", "DDL"),
        ("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'", "DDL"),
        ("CREATE VIEW v AS SELECT 1", "DDL"),
        ("INSERT INTO main.crm.customers (id) VALUES (99)", "change data"),
        ("UPDATE main.crm.customers SET name = 'x'", "change data"),
        ("DELETE FROM main.crm.customers", "change data"),
        ("COPY (SELECT 1) TO '/tmp/lakeward-escape.csv'", "change data"),
        // Without a file type DataFusion cannot plan the COPY: still refused as a COPY.
        ("COPY (SELECT 1) TO '/tmp/lakeward-escape'", "change data"),
        ("COPY main.crm.customers TO '/tmp/lakeward-escape.parquet'", "change data"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/lakeward-escape2.csv'", "change data"),
        ("SET datafusion.execution.batch_size = 1", "session"),
        ("PREPARE p AS SELECT 1", "session"),
    ];
    for (query, kind) in refusals {
        let (status, body) = sql(&s, &token, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with("Only queries are allowed here"), "{query}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(match kind {
                "DDL" => "DDL statements",
                "change data" => "statements that change data",
                _ => "session statements",
            }),
            "{query}: {body}"
        );
    }
    for path in ["/tmp/lakeward-escape.csv", "/tmp/lakeward-escape.parquet", "/tmp/lakeward-escape2.csv"] {
        assert!(!std::path::Path::new(path).exists(), "{path} was written");
    }
    // Files and URLs are not tables, and file-reading functions do not exist.
    for query in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM information_schema.tables",
        "SELECT 1; SELECT 2",
    ] {
        let (status, body) = sql(&s, &token, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(!body.to_string().contains("root:"), "{query}");
    }
    assert_eq!(s.get(T, &token).await.1["num_rows"], 3, "nothing changed");
    let (status, body) = sql(&s, &token, "   ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn errors_and_plans_never_show_storage() {
    let (s, token) = setup().await;
    let (status, body) = sql(&s, &token, "EXPLAIN SELECT * FROM main.crm.customers WHERE id = 1").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.to_string();
    assert!(text.contains("<storage>"), "{text}");
    let dir = s.data_dir().display().to_string();
    assert!(!text.contains(dir.trim_start_matches('/')) && !text.contains("warehouse"), "{text}");
    let (status, body) = sql(&s, &token, "EXPLAIN ANALYZE SELECT * FROM main.crm.customers WHERE id = 1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.to_string().contains("warehouse"), "{body}");
    let (status, body) = sql(&s, &token, "SELECT nope FROM main.crm.customers").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains("warehouse"), "{body}");
}

#[tokio::test]
async fn other_organisations_tables_do_not_exist_in_sql() {
    let (s, token) = setup().await;
    let globex = s.onboard("Globex", "gus@globex.test").await;
    customers(&s, &globex).await;
    insert(&s, &globex.token, json!([{ "id": 77, "name": "Globex secret" }])).await;
    let (_, mine) = sql(&s, &token, "SELECT count(*) AS n FROM main.crm.customers").await;
    assert_eq!(mine["rows"], json!([{ "n": 3 }]));
    let (_, theirs) = sql(&s, &globex.token, "SELECT name FROM main.crm.customers").await;
    assert_eq!(theirs["rows"], json!([{ "name": "Globex secret" }]));
    // A fresh organisation sees no tables at all.
    let empty = s.onboard("Empty", "e@empty.test").await;
    let (status, body) = sql(&s, &empty.token, "SELECT * FROM main.crm.customers").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains("Globex") && !body.to_string().contains("Ada"), "{body}");
    assert_eq!(s.get("/v1/tables", &empty.token).await.1["total"], 0);
    assert_eq!(s.get(T, &empty.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("{T}/rows"), &empty.token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn runaway_queries_are_stopped() {
    let s = TestServer::start_with(|c| c.limits.query_timeout = std::time::Duration::from_secs(1)).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let started = std::time::Instant::now();
    let (status, body) = sql(&s, &ada.token, "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b WHERE a.value * b.value % 7 = 3").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::REQUEST_TIMEOUT,
            error(408, "Request Timeout", "the query ran longer than the configured timeout of 1 seconds")
        )
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let s = TestServer::start_with(|c| c.limits.memory_limit_bytes = 8 * 1024 * 1024).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (status, body) = sql(
        &s,
        &ada.token,
        "SELECT value % 1000000 AS k, array_agg(value) AS v FROM generate_series(1, 3000000) GROUP BY k ORDER BY k",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("the query needs more memory than the configured limit"),
        "{body}"
    );
    // The server is still answering.
    let (status, _) = sql(&s, &ada.token, "SELECT 1").await;
    assert_eq!(status, StatusCode::OK);
}

/// Reads use each file's statistics to skip files; answers never come from statistics
/// that are not exact (Delta truncates long strings in them).
#[tokio::test]
async fn file_statistics_skip_files_but_never_answer_alone() {
    let (s, token) = setup().await;
    let long = "z".repeat(40);
    assert_eq!(insert(&s, &token, json!([{ "id": 10, "name": long }])).await.0, StatusCode::CREATED);
    assert_eq!(insert(&s, &token, json!([{ "id": 20, "name": "Zoe" }])).await.0, StatusCode::CREATED);
    let q = |query: &'static str| {
        let (s, token) = (&s, &token);
        async move {
            let (status, body) = sql(s, token, query).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body["rows"].clone()
        }
    };
    assert_eq!(q("SELECT count(*) AS n FROM main.crm.customers").await, json!([{ "n": 5 }]));
    assert_eq!(q("SELECT count(*) AS n FROM main.crm.customers WHERE id > 2").await, json!([{ "n": 3 }]));
    assert_eq!(q("SELECT max(name) AS m FROM main.crm.customers").await, json!([{ "m": long }]));
    assert_eq!(q("SELECT min(id) AS lo, max(id) AS hi FROM main.crm.customers").await, json!([{ "lo": 1, "hi": 20 }]));
    assert_eq!(q("SELECT name FROM main.crm.customers WHERE id = 20").await, json!([{ "name": "Zoe" }]));
    assert_eq!(
        q("SELECT id FROM main.crm.customers WHERE name = 'Zoe' OR id = 2 ORDER BY id").await,
        json!([{ "id": 2 }, { "id": 20 }])
    );
    assert_eq!(q("SELECT count(*) AS n FROM main.crm.customers WHERE id = 15").await, json!([{ "n": 0 }]));
}

/// SQL errors speak of the query as written, not of DataFusion's session: a missing table
/// is named as written, with how tables are named (and the caller's table of that name,
/// if there is one); parse errors are plain sentences.
#[tokio::test]
async fn errors_name_what_is_wrong_in_the_query_as_written() {
    use crate::support::invalid;

    let (s, token) = setup().await;
    let how = "name tables as `catalog.schema.table`";
    for (query, message) in [
        ("SELECT * FROM customers", format!("table `customers` not found; {how}, e.g. `main.crm.customers`")),
        ("SELECT * FROM crm.customers", format!("table `crm.customers` not found; {how}, e.g. `main.crm.customers`")),
        ("SELECT * FROM suppliers", format!("table `suppliers` not found; {how}")),
        ("SELECT * FROM main.crm.suppliers", "table `main.crm.suppliers` not found".to_owned()),
        (
            "SELECT c.id FROM main.crm.customers c JOIN main.crm.orders o ON c.id = o.customer_id",
            "table `main.crm.orders` not found".to_owned(),
        ),
        ("SELEC 1", "not valid SQL: Expected: an SQL statement, found: SELEC at Line: 1, Column: 1".to_owned()),
        ("SELECT * FROM", "not valid SQL: Expected: identifier, found: EOF".to_owned()),
        ("SELECT 1; SELECT 2", "give one SQL statement; this query has several".to_owned()),
    ] {
        let (status, body) = sql(&s, &token, query).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("query", &message)), "{query}");
    }
    // A CTE is no table, and a table function is no table either.
    let (status, body) = sql(&s, &token, "WITH c AS (SELECT 1 AS x) SELECT x FROM c").await;
    assert_eq!((status, &body["rows"]), (StatusCode::OK, &json!([{ "x": 1 }])));
}

/// A query opens the tables it names and no other: an organisation's other tables cost
/// it nothing, and one whose storage is gone breaks only the queries that name it.
#[tokio::test]
async fn tables_a_query_does_not_name_are_never_opened() {
    let (s, ada) = acme_with_sample().await;
    let lost = json!({ "columns": [{ "name": "id", "type": "int64" }] });
    assert_eq!(s.post("/v1/tables/main/crm/lost", Some(&ada.token), lost).await.0, StatusCode::CREATED);
    // A restarted server has opened nothing yet; then the table's log disappears.
    let s = s.restart_with(|_| {}).await;
    let log = s.data_dir().join(format!("warehouse/{}/main/crm/lost/_delta_log", ada.org_id));
    std::fs::remove_dir_all(&log).unwrap();

    let (status, body) = sql(&s, &ada.token, "SELECT count(*) AS n FROM main.crm.customers").await;
    assert_eq!((status, &body["rows"]), (StatusCode::OK, &json!([{ "n": 3 }])), "{body}");
    let (status, body) = sql(&s, &ada.token, "SELECT count(*) AS n FROM main.crm.lost").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(!body.to_string().contains("warehouse"), "{body}");
    // A table that does not exist is still named as the query wrote it.
    let (status, body) = sql(&s, &ada.token, "SELECT * FROM customers").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"][0]["message"],
        "table `customers` not found; name tables as `catalog.schema.table`, e.g. `main.crm.customers`"
    );
}
