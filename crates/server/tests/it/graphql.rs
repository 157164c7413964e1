//! GraphQL over HTTP: the generated schema follows the tables, every field goes through
//! the one authorization function and the same engine operations as REST, and errors
//! carry the REST status and a stable code.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, acme_with_sample, customers, insert};
use crate::support::{TestServer, forbidden, unauthorized};

/// POSTs a GraphQL request; answers the status and the body.
async fn gql(s: &TestServer, token: &str, query: &str, variables: Value) -> (StatusCode, Value) {
    s.call(Method::POST, "/v1/graphql", Some(token), Some(json!({ "query": query, "variables": variables }))).await
}

fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

#[tokio::test]
async fn reads_filter_order_and_count_like_rest() {
    let (s, ada) = acme_with_sample().await;

    let (status, body) = gql(
        &s,
        &ada.token,
        r#"{ main_crm_customers(where: {country: {_eq: "DE"}}, order_by: [{id: desc}]) { id name joined } }"#,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Values as REST's JSON renders them (dates as `YYYY-MM-DD`).
    let (_, rest) = s.get(&format!("{T}/rows?country=eq.DE&order=id.desc&select=id,name,joined"), &ada.token).await;
    assert_eq!(body["data"]["main_crm_customers"], rest);
    assert_eq!(
        body["data"]["main_crm_customers"],
        json!([
            { "id": 3, "name": "Cy", "joined": null },
            { "id": 1, "name": "Ada", "joined": "2020-01-01" }
        ])
    );
    assert_eq!(body["extensions"]["engineReads"], 1);

    let (_, body) =
        gql(&s, &ada.token, "query($id: BigInt!) { main_crm_customers_by_pk(id: $id) { name } }", json!({ "id": 2 }))
            .await;
    assert_eq!(body["data"], json!({ "main_crm_customers_by_pk": { "name": "Bob" } }));
    let (_, body) = gql(&s, &ada.token, "{ main_crm_customers_by_pk(id: 99) { name } }", json!({})).await;
    assert_eq!(body["data"], json!({ "main_crm_customers_by_pk": null }));

    // A value that does not fit the column is the engine's message, as on REST.
    let (status, body) =
        gql(&s, &ada.token, r#"{ main_crm_customers(where: {id: {_eq: "x"}}) { id } }"#, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first_error(&body)["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(first_error(&body)["extensions"]["status"], 400);
}

#[tokio::test]
async fn the_schema_follows_the_tables_and_shows_only_the_callers() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let eve = s.onboard("Evil", "eve@example.com").await;
    customers(&s, &ada).await;
    let types = |body: &Value| -> Vec<String> {
        body["data"]["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .filter(|n| n.starts_with("main_"))
            .collect()
    };
    let introspect = "{ __schema { types { name } } }";
    let (_, body) = gql(&s, &ada.token, introspect, json!({})).await;
    assert!(types(&body).contains(&"main_crm_customers".to_owned()), "{body}");
    // Another organisation sees none of it, and cannot name it.
    let (_, body) = gql(&s, &eve.token, introspect, json!({})).await;
    assert_eq!(types(&body), Vec::<String>::new());
    let (_, body) = gql(&s, &eve.token, "{ main_crm_customers { id } }", json!({})).await;
    assert_eq!(first_error(&body)["message"], r#"Unknown field "main_crm_customers" on type "Query"."#);
    assert_eq!(body["data"], Value::Null);

    // A new column is a new field on the next request.
    let (status, added) =
        s.post(&format!("{T}/columns"), Some(&ada.token), json!({ "name": "tier", "type": "int32" })).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    insert(&s, &ada.token, json!([{ "id": 7, "tier": 2 }])).await;
    let (_, body) = gql(&s, &ada.token, "{ main_crm_customers { id tier } }", json!({})).await;
    assert_eq!(body["data"]["main_crm_customers"], json!([{ "id": 7, "tier": 2 }]));

    // A dropped table leaves the schema.
    let (status, _) = s.call(Method::DELETE, &format!("{T}?confirm=main.crm.customers"), Some(&ada.token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = gql(&s, &ada.token, introspect, json!({})).await;
    assert_eq!(types(&body), Vec::<String>::new());
}

#[tokio::test]
async fn mutations_are_governed_writes_refused_without_the_scope() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;
    let insert_one = r#"mutation { insert_main_crm_customers(objects: [{id: 1, name: "Ada"}]) { affected_rows } }"#;

    let (status, body) = gql(&s, &viewer.token, insert_one, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let expected = forbidden("rows:insert");
    assert_eq!(first_error(&body)["message"], expected["message"]);
    assert_eq!(first_error(&body)["extensions"]["code"], "FORBIDDEN");
    assert_eq!(first_error(&body)["extensions"]["requiredScope"], "rows:insert");
    let (_, rows) = s.get(&format!("{T}/rows"), &ada.token).await;
    assert_eq!(rows, json!([]));

    // The same mutation twice under one Idempotency-Key commits once.
    for _ in 0..2 {
        let res = s
            .client
            .post(s.url("/v1/graphql"))
            .bearer_auth(&ada.token)
            .header("idempotency-key", "gql-insert-1")
            .json(&json!({ "query": insert_one }))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"]["insert_main_crm_customers"]["affected_rows"], 1, "{body}");
    }
    let (_, rows) = s.get(&format!("{T}/rows?select=id,name"), &ada.token).await;
    assert_eq!(rows, json!([{ "id": 1, "name": "Ada" }]));
    let (_, table) = s.get(T, &ada.token).await;
    assert_eq!(table["version"], 1, "one commit for the create, one for the insert");

    // Each mutation is one audit event, as a REST write is.
    let (_, events) = s.get("/v1/audit?action=row.batch_inserted", &ada.token).await;
    assert_eq!(events["total"], 1, "{events}");
    assert_eq!(events["events"][0]["target_id"], "main.crm.customers");
}

#[tokio::test]
async fn relations_load_in_one_read_per_table_and_limits_hold() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let countries = "/v1/tables/main/crm/countries";
    let definition = json!({ "columns": [{ "name": "code", "type": "string", "nullable": false }, { "name": "label", "type": "string" }], "primary_key": ["code"] });
    assert_eq!(s.post(countries, Some(&ada.token), definition).await.0, StatusCode::CREATED);
    let codes = json!([{ "code": "DE", "label": "Germany" }, { "code": "FR", "label": "France" }]);
    assert_eq!(s.post(&format!("{countries}/rows"), Some(&ada.token), codes).await.0, StatusCode::CREATED);
    let reference =
        json!({ "table_reference": { "catalog": "main", "schema": "crm", "table": "countries" }, "column": "code" });
    let (status, body) =
        s.call(Method::PUT, &format!("{T}/columns/country/domain/reference"), Some(&ada.token), Some(reference)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows: Vec<Value> =
        (1..=100).map(|i| json!({ "id": i, "country": if i % 2 == 0 { "DE" } else { "FR" } })).collect();
    assert_eq!(insert(&s, &ada.token, Value::Array(rows)).await.0, StatusCode::CREATED);

    let (_, body) =
        gql(&s, &ada.token, "{ main_crm_customers(order_by: [{id: asc}]) { id country_ref { label } } }", json!({}))
            .await;
    let list = body["data"]["main_crm_customers"].as_array().unwrap();
    assert_eq!(list.len(), 100);
    assert_eq!(list[0], json!({ "id": 1, "country_ref": { "label": "France" } }));
    assert_eq!(list[1], json!({ "id": 2, "country_ref": { "label": "Germany" } }));
    assert_eq!(body["extensions"]["engineReads"], 2, "one read for the list, one for all its countries");

    let (_, body) = gql(
        &s,
        &ada.token,
        "{ main_crm_countries(order_by: [{code: asc}]) { code main_crm_customers_by_country { id } } }",
        json!({}),
    )
    .await;
    let germany = &body["data"]["main_crm_countries"][0];
    assert_eq!(germany["code"], "DE");
    assert_eq!(germany["main_crm_customers_by_country"].as_array().unwrap().len(), 50);
    assert_eq!(body["extensions"]["engineReads"], 2);

    // Nesting back and forth past the depth limit is refused before anything runs.
    let mut deep = "id".to_owned();
    for _ in 0..10 {
        deep = format!("country_ref {{ main_crm_customers_by_country {{ {deep} }} }}");
    }
    let (_, body) = gql(&s, &ada.token, &format!("{{ main_crm_customers {{ {deep} }} }}"), json!({})).await;
    assert_eq!(first_error(&body)["message"], "Query is nested too deep.");
    assert_eq!(body["extensions"]["engineReads"], 0);

    // A cursor that is not one is named.
    let (_, body) =
        gql(&s, &ada.token, r#"{ main_crm_customers_connection(first: 1, after: "nope") { totalCount } }"#, json!({}))
            .await;
    assert_eq!(
        first_error(&body)["extensions"]["details"],
        json!([{ "field": "after", "message": "not a cursor of this API" }])
    );
}

#[tokio::test]
async fn transport_errors_answer_the_rest_shape() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (status, body) = s.call(Method::POST, "/v1/graphql", None, Some(json!({ "query": "{ tables_count }" }))).await;
    let missing = json!({ "statusCode": 401, "error": "Unauthorized", "message": "Missing bearer token in the Authorization header" });
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, missing));
    let (status, body) = gql(&s, "lw_live_not-a-key", "{ tables_count }", json!({})).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    let res = s.client.post(s.url("/v1/graphql")).bearer_auth(&ada.token).body("not json").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["details"][0]["field"], "body");
    let (status, body) = gql(&s, &ada.token, "{ tables_count }", json!({})).await;
    assert_eq!((status, body["data"].clone()), (StatusCode::OK, json!({ "tables_count": 0 })));
}
