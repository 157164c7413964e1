use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, ids, insert, post_csv, rows, sample, upsert};
use crate::support::{TestServer, error, invalid};

async fn setup() -> (TestServer, String) {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let (status, body) = insert(&s, &ada.token, sample()).await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({ "version": 1, "rows": 3, "replayed": false })));
    (s, ada.token)
}

async fn version(s: &TestServer, token: &str) -> u64 {
    s.get(T, token).await.1["version"].as_u64().unwrap()
}

#[tokio::test]
async fn bad_rows_are_refused_whole_with_row_and_column() {
    let (s, token) = setup().await;
    let (status, body) = insert(
        &s,
        &token,
        json!([
            { "id": 10, "name": "ok" },
            { "id": 11, "balance": "lots" },
            { "name": "no id", "colour": "red" },
            { "id": 12, "joined": "31/12/2020" }
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "statusCode": 400, "error": "Bad Request", "message": "4 value(s) do not fit the table", "details": [
            { "field": "rows[2].colour", "message": "unknown column `colour`" },
            { "field": "rows[2].id", "message": "must not be null" },
            { "field": "rows[1].balance", "message": "`lots` is not a decimal(10,2)" },
            { "field": "rows[3].joined", "message": "`31/12/2020` is not a date (YYYY-MM-DD)" },
        ]})
    );
    assert_eq!(version(&s, &token).await, 1, "nothing committed");
    assert_eq!(ids(&rows(&s, &token, "").await.1), [1, 2, 3]);

    let (status, body) = insert(&s, &token, json!({ "oops": true })).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("rows[0].oops")));
    let (status, body) = insert(&s, &token, json!("text")).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("body", "expected a JSON array of row objects")));
}

#[tokio::test]
async fn primary_keys_are_unique() {
    let (s, token) = setup().await;
    let (status, body) = insert(&s, &token, json!([{ "id": 3, "name": "again" }, { "id": 4 }])).await;
    assert_eq!(
        (status, body),
        (StatusCode::CONFLICT, error(409, "Conflict", "duplicate primary key: (id=3) already exist(s)"))
    );
    let (status, body) = insert(&s, &token, json!([{ "id": 7 }, { "id": 7 }])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"][0],
        json!({ "field": "rows[0].id", "message": "primary key (id=7) appears more than once in the input" })
    );
    assert_eq!(version(&s, &token).await, 1);
}

/// Keys of every type are compared as values, whether read back from the table's files
/// (where strings are views) or arriving in a request, and named as written.
#[tokio::test]
async fn composite_keys_of_text_dates_and_decimals_are_unique() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    for (path, body) in
        [("/v1/catalogs", json!({ "name": "main" })), ("/v1/catalogs/main/schemas", json!({ "name": "crm" }))]
    {
        assert_eq!(s.post(path, Some(&ada.token), body).await.0, StatusCode::CREATED);
    }
    let table = "/v1/tables/main/crm/prices";
    let columns = json!([
        { "name": "code", "type": "string", "nullable": false }, { "name": "day", "type": "date", "nullable": false },
        { "name": "band", "type": "decimal(6,2)", "nullable": false }, { "name": "note", "type": "string" }
    ]);
    let definition = json!({ "columns": columns, "primary_key": ["code", "day", "band"] });
    assert_eq!(s.post(table, Some(&ada.token), definition).await.0, StatusCode::CREATED);
    let first = json!([
        { "code": "DE", "day": "2024-01-01", "band": "1.50" }, { "code": "DE", "day": "2024-01-02", "band": "1.50" },
        { "code": "FR", "day": "2024-01-01", "band": "1.50" }
    ]);
    assert_eq!(s.post(&format!("{table}/rows"), Some(&ada.token), first).await.0, StatusCode::CREATED);

    let clash =
        json!([{ "code": "IT", "day": "2024-01-01", "band": "2" }, { "code": "FR", "day": "2024-01-01", "band": 1.5 }]);
    let (status, body) = s.post(&format!("{table}/rows"), Some(&ada.token), clash).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CONFLICT,
            error(409, "Conflict", "duplicate primary key: (code=FR, day=2024-01-01, band=1.50) already exist(s)")
        )
    );
    let twice = json!([{ "code": "ES", "day": "2024-01-01", "band": "3" }, { "code": "ES", "day": "2024-01-01", "band": "3.00" }]);
    let (status, body) = s.post(&format!("{table}/rows"), Some(&ada.token), twice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"][0]["message"],
        "primary key (code=ES, day=2024-01-01, band=3.00) appears more than once in the input"
    );
    // Keys that differ in one part only are different keys.
    let near = json!([{ "code": "DE", "day": "2024-01-01", "band": "1.51" }, { "code": "de", "day": "2024-01-01", "band": "1.50" }]);
    assert_eq!(s.post(&format!("{table}/rows"), Some(&ada.token), near).await.0, StatusCode::CREATED);
    let (_, listed) = s.get(&format!("{table}/rows?select=code"), &ada.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn ndjson_and_csv_inserts() {
    let (s, token) = setup().await;
    let ndjson = "{\"id\": 4, \"name\": \"Di\"}\n\n{\"id\": 5, \"country\": \"IT\"}\n";
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let csv = "\u{feff}name,id,balance,joined\n\"Smith, Jo\",6,1.25,2021-03-04\n\"multi\nline\",7,,\n";
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    let (_, got, _) = rows(&s, &token, "?id=gte.6&order=id").await;
    assert_eq!(
        got,
        json!([
            { "id": 6, "name": "Smith, Jo", "country": null, "balance": 1.25, "joined": "2021-03-04" },
            { "id": 7, "name": "multi\nline", "country": null, "balance": null, "joined": null }
        ])
    );
    let bad_csv = "id,name\n8,ok\nnine,bad\n";
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(bad_csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "rows[1].id", "{body}");
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body("id,shoe\n1,x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["details"][0],
        json!({ "field": "rows[0].shoe", "message": "unknown column `shoe` in the CSV header" })
    );
    let bad_ndjson = "{\"id\": 8}\n{oops\n";
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("content-type", "application/x-ndjson")
        .body(bad_ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["details"][0]["field"], "rows[1]");
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("content-type", "application/xml")
        .body("<row/>")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(ids(&rows(&s, &token, "?order=id").await.1), [1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn the_postgrest_grammar() {
    let (s, token) = setup().await;
    insert(&s, &token, json!([{ "id": 4, "name": "ada lovelace", "country": null, "balance": "99.99" }])).await;
    let cases: &[(&str, &[i64])] = &[
        ("?country=eq.DE&order=id", &[1, 3]),
        ("?country=neq.DE&order=id", &[2]),
        ("?balance=gt.3&order=id", &[1, 4]),
        ("?balance=gte.3&order=id", &[1, 2, 4]),
        ("?balance=lt.10.5&order=id", &[2]),
        ("?balance=lte.10.5&order=id", &[1, 2]),
        ("?name=like.A*&order=id", &[1]),
        ("?name=ilike.a*&order=id", &[1, 4]),
        ("?id=in.(1,3,9)&order=id", &[1, 3]),
        ("?country=is.null&order=id", &[4]),
        ("?country=not.is.null&order=id", &[1, 2, 3]),
        ("?id=not.in.(1,2)&order=id", &[3, 4]),
        ("?or=(country.eq.FR,balance.gt.50)&order=id", &[2, 4]),
        ("?or=(id.eq.1,and(country.eq.DE,id.gt.2))&order=id", &[1, 3]),
        ("?not.or=(id.eq.1,id.eq.2)&order=id", &[3, 4]),
        ("?order=balance.desc.nullslast,id", &[4, 1, 2, 3]),
        ("?order=balance.asc.nullsfirst,id", &[3, 2, 1, 4]),
        ("?order=balance.desc", &[3, 4, 1, 2]),
        ("?order=id&limit=2&offset=1", &[2, 3]),
        ("?joined=eq.2020-01-01", &[1]),
    ];
    for (query, expected) in cases {
        let (status, got, _) = rows(&s, &token, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {got}");
        assert_eq!(ids(&got), *expected, "{query}");
    }
    let (_, got, _) = rows(&s, &token, "?select=name,id&id=eq.2").await;
    assert_eq!(got, json!([{ "name": "Bob", "id": 2 }]));
}

#[tokio::test]
async fn bad_filters_name_what_is_wrong() {
    let (s, token) = setup().await;
    let cases = [
        ("?shoe=eq.1", invalid("shoe", "unknown column `shoe`")),
        ("?id=eq.one", invalid("id", "`one` is not an integer")),
        ("?id=between.1", invalid("id", "unknown operator `between` (eq, neq, gt, gte, lt, lte, like, ilike, in, is)")),
        ("?select=id,shoe", invalid("shoe", "unknown column `shoe`")),
        ("?order=shoe", invalid("shoe", "unknown column `shoe`")),
        ("?id=like.1*", invalid("id", "`like` works only on string columns")),
        ("?limit=-5", invalid("limit", "must be a non-negative integer")),
        ("?version=abc", invalid("version", "must be a non-negative integer")),
        ("?version=99", invalid("version", "that version does not exist")),
        ("?version=1&as_of=2026-01-01T00:00:00Z", invalid("as_of", "give version or as_of, not both")),
    ];
    for (query, expected) in cases {
        let (status, got, _) = rows(&s, &token, query).await;
        assert_eq!((status, &got), (StatusCode::BAD_REQUEST, &expected), "{query}");
    }
}

#[tokio::test]
async fn ranges_counts_and_formats() {
    let (s, token) = setup().await;
    let res = s
        .client
        .get(s.url(&format!("{T}/rows?order=id")))
        .bearer_auth(&token)
        .header("range", "1-5")
        .header("prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-range"], "1-2/3");
    assert_eq!(ids(&res.json().await.unwrap()), [2, 3]);
    let (_, got, range) = rows(&s, &token, "?limit=2&order=id").await;
    assert_eq!((ids(&got), range.as_deref()), (vec![1, 2], Some("0-1/*")));
    let (_, got, range) = rows(&s, &token, "?id=gt.100&limit=5").await;
    assert_eq!((got, range.as_deref()), (json!([]), Some("*/*")));
    let res = s
        .client
        .get(s.url(&format!("{T}/rows?country=eq.DE")))
        .bearer_auth(&token)
        .header("prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-range"], "0-1/2");
    let res =
        s.client.get(s.url(&format!("{T}/rows"))).bearer_auth(&token).header("range", "5-1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let get = |accept: &'static str| {
        s.client.get(s.url(&format!("{T}/rows?order=id"))).bearer_auth(&token).header("accept", accept).send()
    };
    let res = get("application/x-ndjson").await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    assert_eq!(res.text().await.unwrap().lines().count(), 3);
    let res = get("text/csv").await.unwrap();
    assert_eq!(res.text().await.unwrap().lines().next(), Some("id,name,country,balance,joined"));
    let res = get("application/vnd.apache.parquet").await.unwrap();
    assert_eq!(&res.bytes().await.unwrap()[..4], b"PAR1");
    let res = get("application/vnd.apache.arrow.stream").await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/vnd.apache.arrow.stream");
    assert!(res.bytes().await.unwrap().len() > 100);
    let res = get("text/html").await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(res.json::<Value>().await.unwrap()["statusCode"], 406);
}

#[tokio::test]
async fn updates_and_deletes_by_filter() {
    let (s, token) = setup().await;
    let res = s
        .client
        .patch(s.url(&format!("{T}/rows?country=eq.DE")))
        .bearer_auth(&token)
        .header("prefer", "return=representation")
        .json(&json!({ "balance": "1.00" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["lakeward-table-version"], "2");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(ids(&updated), [1, 3]);
    assert!(updated.as_array().unwrap().iter().all(|r| r["balance"] == json!(1.0)));

    // An update that changes the filtered column still returns the rows it changed.
    let res = s
        .client
        .patch(s.url(&format!("{T}/rows?country=eq.FR")))
        .bearer_auth(&token)
        .header("prefer", "return=representation")
        .json(&json!({ "country": "BE" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!([{ "id": 2, "name": "Bob", "country": "BE", "balance": 3.0, "joined": null }])
    );

    let patch = async |query: &str, body: Value| {
        s.call(Method::PATCH, &format!("{T}/rows{query}"), Some(&token), Some(body)).await
    };
    assert_eq!(
        patch("?id=eq.1", json!({ "id": 5 })).await.1["details"][0],
        json!({ "field": "rows[0].id", "message": "primary-key columns cannot be updated" })
    );
    assert_eq!(
        patch("?id=eq.1", json!({ "shoe": 5 })).await.1["details"][0],
        json!({ "field": "rows[0].shoe", "message": "unknown column `shoe`" })
    );
    assert_eq!(patch("?id=eq.1", json!({ "balance": "x" })).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        patch("", json!({ "balance": 0 })).await,
        (
            StatusCode::BAD_REQUEST,
            invalid("query", "a write without filters would touch every row: add filters, or all=true to mean it")
        )
    );
    assert_eq!(
        patch("?id=eq.99", json!({ "balance": 0 })).await,
        (StatusCode::OK, json!({ "version": null, "rows": 0, "replayed": false }))
    );
    assert_eq!(version(&s, &token).await, 3, "refused and empty updates commit nothing");

    let (status, body) = s.call(Method::DELETE, &format!("{T}/rows"), Some(&token), None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            invalid("query", "a write without filters would touch every row: add filters, or all=true to mean it")
        )
    );
    let (status, body) = s.call(Method::DELETE, &format!("{T}/rows?id=eq.2"), Some(&token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 4, "rows": 1, "replayed": false })));
    assert_eq!(ids(&rows(&s, &token, "?order=id").await.1), [1, 3]);
    let (status, body) = s.call(Method::DELETE, &format!("{T}/rows?all=true"), Some(&token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 5, "rows": 2, "replayed": false })));
    assert_eq!(rows(&s, &token, "").await.1, json!([]));
}

#[tokio::test]
async fn upsert_merges_on_the_primary_key_in_one_commit() {
    let (s, token) = setup().await;
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("prefer", "resolution=merge-duplicates, return=representation")
        .json(&json!([{ "id": 2, "name": "Bobby", "country": "BE" }, { "id": 9, "name": "Nu" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(ids(&res.json().await.unwrap()), [2, 9]);
    assert_eq!(version(&s, &token).await, 2);
    let (_, got, _) = rows(&s, &token, "?order=id&select=id,name,country").await;
    assert_eq!(
        got,
        json!([
            { "id": 1, "name": "Ada", "country": "DE" },
            { "id": 2, "name": "Bobby", "country": "BE" },
            { "id": 3, "name": "Cy", "country": "DE" },
            { "id": 9, "name": "Nu", "country": null }
        ])
    );
}

#[tokio::test]
async fn return_representation_and_idempotency() {
    let (s, token) = setup().await;
    let send = |key: &'static str| {
        s.client
            .post(s.url(&format!("{T}/rows")))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .header("prefer", "return=representation")
            .json(&json!([{ "id": 20, "name": "Once" }]))
            .send()
    };
    let first = send("order-20").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!([{ "id": 20, "name": "Once", "country": null, "balance": null, "joined": null }])
    );
    let retry = send("order-20").await.unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    // The retry is answered with the original outcome: the version and rows it committed.
    assert_eq!(retry.json::<Value>().await.unwrap(), json!({ "version": 2, "rows": 1, "replayed": true }));
    assert_eq!(ids(&rows(&s, &token, "?id=eq.20").await.1), [20]);
    assert_eq!(version(&s, &token).await, 2);

    // Updates, deletes and upserts replay their original outcome too.
    let send_with =
        |method: Method, query: &str, key: &'static str, body: Option<Value>, prefer: Option<&'static str>| {
            let mut req = s
                .client
                .request(method, s.url(&format!("{T}/rows{query}")))
                .bearer_auth(&token)
                .header("idempotency-key", key);
            if let Some(prefer) = prefer {
                req = req.header("prefer", prefer);
            }
            if let Some(body) = body {
                req = req.json(&body);
            }
            req.send()
        };
    for round in 0..2 {
        let res = send_with(Method::PATCH, "?country=eq.DE", "rename-de", Some(json!({ "name": "German" })), None)
            .await
            .unwrap();
        let expected = json!({ "version": 3, "rows": 2, "replayed": round == 1 });
        assert_eq!(res.json::<Value>().await.unwrap(), expected, "PATCH round {round}");
        let upsert = Some(json!([{ "id": 20, "name": "Twice" }, { "id": 21, "name": "New" }]));
        let res = send_with(Method::POST, "", "merge-20", upsert, Some("resolution=merge-duplicates")).await.unwrap();
        let expected = json!({ "version": 4, "rows": 2, "replayed": round == 1 });
        assert_eq!(res.json::<Value>().await.unwrap(), expected, "upsert round {round}");
        let res = send_with(Method::DELETE, "?id=in.(20,21)", "drop-20", None, None).await.unwrap();
        let expected = json!({ "version": 5, "rows": 2, "replayed": round == 1 });
        assert_eq!(res.json::<Value>().await.unwrap(), expected, "DELETE round {round}");
    }
    assert_eq!(version(&s, &token).await, 5, "the replays committed nothing");
    let bad = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(&token)
        .header("idempotency-key", "has space")
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let (s, token) = setup().await;
    let clients = 8;
    let per_client = 5;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = s.client.clone();
        let url = s.url(&format!("{T}/rows"));
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per_client {
                let id = 1000 + c * 100 + k;
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!([{ "id": id, "name": format!("c{c}k{k}") }]))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
                // A request with a taken key fails alone; the others in its group commit.
                if k == 2 {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!([{ "id": 1, "name": "taken" }]))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), StatusCode::CONFLICT);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, got, _) = rows(&s, &token, "?id=gte.1000").await;
    assert_eq!(got.as_array().unwrap().len(), (clients * per_client) as usize);
    assert_eq!(rows(&s, &token, "?id=eq.1&select=name").await.1, json!([{ "name": "Ada" }]));
    let (_, history) = s.get(&format!("{T}/history?limit=1000"), &token).await;
    let versions: Vec<u64> = history.as_array().unwrap().iter().map(|h| h["version"].as_u64().unwrap()).collect();
    let latest = versions[0];
    assert_eq!(versions, (0..=latest).rev().collect::<Vec<_>>(), "a history without gaps");
    // Concurrent small inserts may share commits, never more than one per request.
    assert!(latest <= 1 + (clients * per_client) as u64, "{latest}");
}

/// A CSV body whose structure breaks on a later line (a ragged row, a stray quote,
/// invalid UTF-8) is refused naming that data row, whether the body is parsed in memory
/// or streamed (no Content-Length); nothing is committed.
#[tokio::test]
async fn csv_structure_errors_name_their_data_row() {
    let (s, token) = setup().await;
    let cases: [(&[u8], Value); 3] = [
        (
            b"id,name\n10,a\n11,b\n12,c,extra\n13,d\n",
            json!({ "field": "rows[2]", "message": "incorrect number of fields for line 4, expected 2 got 3" }),
        ),
        (
            b"id,name\n10,a\n11,\"b\n12,c\"d,e\n",
            json!({ "field": "rows[1]", "message": "incorrect number of fields for line 3, expected 2 got 3" }),
        ),
        (
            b"id,name\n10,a\n11,b\n12,c\xff\n",
            json!({ "field": "rows[2].name", "message": "Encountered invalid UTF-8 data for line 4 and field 2" }),
        ),
    ];
    for (csv, fault) in cases {
        let in_memory = reqwest::Body::from(csv.to_vec());
        let streamed = reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(csv.to_vec())]));
        for body in [in_memory, streamed] {
            let res = post_csv(&s, &token, body).await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            let expected = json!({ "statusCode": 400, "error": "Bad Request",
                "message": "1 value(s) do not fit the table", "details": [fault] });
            assert_eq!(res.json::<Value>().await.unwrap(), expected);
        }
    }
    assert_eq!(version(&s, &token).await, 1, "nothing committed");
}

#[tokio::test]
async fn large_and_chunked_csv_bodies_stream_into_one_commit() {
    let (s, token) = setup().await;
    let csv = |from: i64, to: i64| -> String {
        let mut text = String::from("id,name,country,balance\n");
        for i in from..to {
            text.push_str(&format!("{i},customer number {i} with a longish name,DE,{}.25\n", i % 1000));
        }
        text
    };
    let big = csv(10, 40_010);
    assert!(big.len() > 2 << 20, "over the streaming threshold");
    let res = post_csv(&s, &token, big.into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "version": 2, "rows": 40_000, "replayed": false }));

    // No Content-Length: streamed too.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok("id,name\n".into()), Ok("50000,a\n50001,b\n".into())];
    let res = post_csv(&s, &token, reqwest::Body::wrap_stream(futures::stream::iter(chunks))).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["rows"], 2);

    // A bad value deep in a large body: named by row, nothing committed.
    let mut bad = csv(60_000, 90_000);
    bad.push_str("90000,x,DE,not money\n");
    let res = post_csv(&s, &token, bad.into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "rows[30000].balance", "{body}");
    // A key already in the table: 409, nothing committed.
    let res = post_csv(&s, &token, csv(40_000, 40_100).into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(version(&s, &token).await, 3);
    let res = s
        .client
        .get(s.url(&format!("{T}/rows?limit=1")))
        .bearer_auth(&token)
        .header("prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-range"], "0-0/40005");
}

#[tokio::test]
async fn the_key_check_follows_every_kind_of_commit() {
    let (s, token) = setup().await;
    // Each write below moves the table past what the previous insert saw.
    let (status, _) = s.call(Method::DELETE, &format!("{T}/rows?id=eq.3"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(insert(&s, &token, json!([{ "id": 3, "name": "back" }])).await.0, StatusCode::CREATED, "3 was deleted");
    let (status, _) = upsert(&s, &token, json!([{ "id": 7, "name": "upserted" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(insert(&s, &token, json!([{ "id": 7 }])).await.0, StatusCode::CONFLICT, "7 came by upsert");
    let (status, _) = s.call(Method::PUT, &format!("{T}/rollback/1"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(insert(&s, &token, json!([{ "id": 7 }])).await.0, StatusCode::CREATED, "the rollback removed 7");
    assert_eq!(insert(&s, &token, json!([{ "id": 8 }, { "id": 9 }])).await.0, StatusCode::CREATED);
    assert_eq!(insert(&s, &token, json!([{ "id": 9 }])).await.0, StatusCode::CONFLICT, "9 came by the previous insert");
}

#[tokio::test]
async fn small_files_are_compacted_without_changing_what_anyone_reads() {
    let (s, token) = setup().await;
    // One request at a time: one commit, one small file each. The 32nd small file
    // triggers a compaction.
    for k in 0..35 {
        let (status, body) = insert(&s, &token, json!([{ "id": 100 + k, "name": format!("n{k}") }])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, history) = s.get(&format!("{T}/history?limit=1000"), &token).await;
    let history = history.as_array().unwrap();
    let optimize: Vec<&Value> = history.iter().filter(|h| h["operation"] == "OPTIMIZE").collect();
    assert_eq!(optimize.len(), 1, "one compaction: {history:?}");
    assert_eq!(optimize[0]["userName"], "lakeward (compaction)");
    let compacted_at = optimize[0]["version"].as_u64().unwrap();
    let versions: Vec<u64> = history.iter().map(|h| h["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (0..=versions[0]).rev().collect::<Vec<_>>(), "a history without gaps");

    let (_, table) = s.get(T, &token).await;
    assert_eq!(table["num_rows"], 38);
    assert!(table["num_files"].as_u64().unwrap() <= 5, "{}", table["num_files"]);
    let (_, before) = s.get(&format!("{T}?version={}", compacted_at - 1), &token).await;
    let (_, after) = s.get(&format!("{T}?version={compacted_at}"), &token).await;
    assert_eq!(before["num_rows"], after["num_rows"], "compaction adds and removes no rows");
    assert_eq!(before["num_files"], 32);
    assert_eq!(after["num_files"], 1);
    let (_, got, _) = rows(&s, &token, "?order=id").await;
    assert_eq!(ids(&got), [1, 2, 3].into_iter().chain(100..135).collect::<Vec<i64>>());
    // The key check still knows every key, and inserts go on.
    assert_eq!(insert(&s, &token, json!([{ "id": 120 }])).await.0, StatusCode::CONFLICT);
    assert_eq!(insert(&s, &token, json!([{ "id": 200 }])).await.0, StatusCode::CREATED);
}

/// The same idempotency key sent twice at once (the two may share a group commit): one
/// request writes, the other is answered with that write's outcome.
#[tokio::test]
async fn simultaneous_retries_write_once_and_share_the_outcome() {
    let (s, token) = setup().await;
    let send = || {
        s.client
            .post(s.url(&format!("{T}/rows")))
            .bearer_auth(&token)
            .header("idempotency-key", "order-30")
            .json(&json!([{ "id": 30, "name": "Once" }]))
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let mut answers = Vec::new();
    for res in [a.unwrap(), b.unwrap()] {
        answers.push((res.status(), res.json::<Value>().await.unwrap()));
    }
    answers.sort_by_key(|(status, _)| *status);
    assert_eq!(
        answers,
        [
            (StatusCode::OK, json!({ "version": 2, "rows": 1, "replayed": true })),
            (StatusCode::CREATED, json!({ "version": 2, "rows": 1, "replayed": false })),
        ]
    );
    assert_eq!(ids(&rows(&s, &token, "?id=eq.30").await.1), [30]);
    assert_eq!(version(&s, &token).await, 2);
}

/// An Arrow IPC stream of customers `ids` (`id`, `name`, `country`), in batches of 10,000.
fn arrow_body(ids: &[Option<i64>], extra_column: bool) -> Vec<u8> {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let mut fields = vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("country", DataType::Utf8, true),
    ];
    if extra_column {
        fields.push(Field::new("nickname", DataType::Utf8, true));
    }
    let schema = std::sync::Arc::new(Schema::new(fields));
    let mut out = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &schema).unwrap();
    for chunk in ids.chunks(10_000) {
        let names: Vec<String> = chunk.iter().map(|i| format!("customer number {i:?} with a longish name")).collect();
        let mut columns: Vec<ArrayRef> = vec![
            std::sync::Arc::new(Int64Array::from(chunk.to_vec())),
            std::sync::Arc::new(StringArray::from(names)),
            std::sync::Arc::new(StringArray::from(vec!["DE"; chunk.len()])),
        ];
        if extra_column {
            columns.push(std::sync::Arc::new(StringArray::from(vec!["x"; chunk.len()])));
        }
        writer.write(&arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).unwrap()).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    out
}

async fn post_arrow(s: &TestServer, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(token)
        .header("content-type", "application/vnd.apache.arrow.stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Large Arrow bodies stream through a file into one commit; a bad row anywhere, or a key
/// that exists in any file of the table, refuses the whole body and commits nothing.
#[tokio::test]
async fn large_arrow_bodies_stream_into_one_commit_or_none() {
    let (s, token) = setup().await;
    let ids = |from: i64, to: i64| (from..to).map(Some).collect::<Vec<_>>();
    let big = arrow_body(&ids(10, 40_010), false);
    assert!(big.len() > 2 << 20, "over the streaming threshold");
    let (status, body) = post_arrow(&s, &token, big).await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({ "version": 2, "rows": 40_000, "replayed": false })));
    let (status, body) = post_arrow(&s, &token, arrow_body(&ids(50_000, 90_000), false)).await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({ "version": 3, "rows": 40_000, "replayed": false })));

    // A missing key deep in the body: named by its row.
    let mut missing = ids(100_000, 130_000);
    missing[25_000] = None;
    let (status, body) = post_arrow(&s, &token, arrow_body(&missing, false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "rows[25000].id", "{body}");
    // A column the table does not have.
    let (status, body) = post_arrow(&s, &token, arrow_body(&ids(100_000, 130_000), true)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["message"], "unknown column `nickname`", "{body}");
    // New keys but one in the first file, one in the second, one the sample wrote.
    for clash in [20_000, 60_000, 2] {
        let mut keys = ids(100_000, 130_000);
        keys.push(Some(clash));
        let (status, body) = post_arrow(&s, &token, arrow_body(&keys, false)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["message"], format!("duplicate primary key: (id={clash}) already exist(s)"), "{body}");
    }
    // A key twice in the body, far apart.
    let mut twice = ids(100_000, 130_000);
    twice.push(Some(100_005));
    let (status, body) = post_arrow(&s, &token, arrow_body(&twice, false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["message"], "primary key (id=100005) appears more than once in the input");
    // Not an Arrow stream at all.
    let (status, body) = post_arrow(&s, &token, vec![7u8; 3 << 20]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    assert_eq!(version(&s, &token).await, 3, "nothing committed by the refused bodies");
    let res =
        s.client.get(s.url(&format!("{T}/rows?limit=1"))).bearer_auth(&token).header("prefer", "count=exact").send();
    assert_eq!(res.await.unwrap().headers()["content-range"], "0-0/80003");
}
