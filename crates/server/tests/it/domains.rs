//! Column domains over HTTP: every kind and endpoint, enforced on insert, upsert and
//! update, refused changes with the violating-row count, time travel and rollback.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, insert, namespace, rows, sample, upsert};
use crate::support::{Tenant, TestServer, error, forbidden, invalid, missing};

const D: &str = "/v1/tables/main/crm/customers/columns/country/domain";

async fn setup() -> (TestServer, Tenant) {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    customers(&s, &ada).await;
    let (status, _) = insert(&s, &ada.token, sample()).await;
    assert_eq!(status, StatusCode::CREATED);
    (s, ada)
}

async fn call(s: &TestServer, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    s.call(method, path, Some(token), body).await
}

fn values(domain: &Value) -> Vec<&str> {
    domain["allowed_values"].as_array().unwrap().iter().map(|v| v["value"].as_str().unwrap()).collect()
}

fn id_of<'a>(list: &'a Value, value: &str) -> &'a str {
    list.as_array().unwrap().iter().find(|v| v["value"] == value).unwrap()["id"].as_str().unwrap()
}

async fn version(s: &TestServer, token: &str) -> u64 {
    s.get(T, token).await.1["version"].as_u64().unwrap()
}

/// Creates `main.crm.<name>` with the given columns (all strings, `id` int64 key).
async fn table(s: &TestServer, token: &str, name: &str, columns: &[&str], rows: Value) {
    let mut cols = vec![json!({ "name": "id", "type": "int64", "nullable": false })];
    cols.extend(columns.iter().map(|c| json!({ "name": c, "type": "string" })));
    let path = format!("/v1/tables/main/crm/{name}");
    let (status, body) = s.post(&path, Some(token), json!({ "columns": cols, "primary_key": ["id"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.post(&format!("{path}/rows"), Some(token), rows).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn fixed_domains_are_enforced_on_every_write_path() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let (status, body) =
        call(&s, Method::PUT, &format!("{D}/fixed"), t, Some(json!({ "allowed_values": ["DE", "FR", "BE"] }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["column_name"].as_str(), body["domain"]["type"].as_str()), (Some("country"), Some("fixed")));
    assert_eq!(values(&body["domain"]), ["DE", "FR", "BE"]);
    let de_id = id_of(&body["domain"]["allowed_values"], "DE").to_owned();
    let v = version(&s, t).await;
    assert_eq!(body["version"], json!(v));

    // Insert: every bad value is named with its row; nothing is committed.
    let (status, body) = insert(
        &s,
        t,
        json!([
            { "id": 10, "country": "BE" },
            { "id": 11, "country": "XX" },
            { "id": 12 },
            { "id": 13, "country": "de" }
        ]),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "statusCode": 400, "error": "Bad Request", "message": "2 value(s) do not fit the table", "details": [
                { "field": "rows[1].country", "message": "`XX` is not an allowed value of `country`" },
                { "field": "rows[3].country", "message": "`de` is not an allowed value of `country`" },
            ]})
        )
    );
    // CSV and upsert go through the same rules.
    let res = s
        .client
        .post(s.url(&format!("{T}/rows")))
        .bearer_auth(t)
        .header("content-type", "text/csv")
        .body("id,country\n20,BE\n21,NL\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{ "field": "rows[1].country", "message": "`NL` is not an allowed value of `country`" }])
    );
    let (status, _) = upsert(&s, t, json!([{ "id": 1, "country": "US" }])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Update: the rows as they would become are checked.
    let (status, body) =
        call(&s, Method::PATCH, &format!("{T}/rows?id=eq.2"), t, Some(json!({ "country": "US" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"],
        json!([{ "field": "rows[0].country", "message": "`US` is not an allowed value of `country`" }])
    );
    assert_eq!(version(&s, t).await, v, "no refused write committed");
    let (status, _) = insert(&s, t, json!([{ "id": 10, "country": "BE" }, { "id": 12 }])).await;
    assert_eq!(status, StatusCode::CREATED, "allowed values and nulls pass");
    let (status, _) = call(&s, Method::PATCH, &format!("{T}/rows?id=eq.2"), t, Some(json!({ "country": "BE" }))).await;
    assert_eq!(status, StatusCode::OK);

    // Values: add, replace (ids kept), remove; a value in use needs force.
    let (status, body) = s.post(&format!("{D}/values"), Some(t), json!({ "value": "NL" })).await;
    assert_eq!((status, values(&body["domain"])), (StatusCode::OK, vec!["DE", "FR", "BE", "NL"]));
    let (status, body) = s.post(&format!("{D}/values"), Some(t), json!({ "value": "NL" })).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", "`NL` is already an allowed value")));
    let (status, body) =
        call(&s, Method::PUT, &format!("{D}/values"), t, Some(json!({ "values": ["BE", "DE", "NL"] }))).await;
    assert_eq!((status, values(&body["domain"])), (StatusCode::OK, vec!["BE", "DE", "NL"]));
    assert_eq!(id_of(&body["domain"]["allowed_values"], "DE"), de_id, "a kept value keeps its id");
    let (status, body) =
        s.post(&format!("{T}/enums/check"), Some(t), json!({ "fieldName": "country", "value": "DE" })).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "fieldName": "country", "value": "DE", "inUse": true, "rows": 2 }))
    );
    let (status, body) = call(&s, Method::DELETE, &format!("{D}/values/{de_id}"), t, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["violatingRows"], json!(2), "{body}");
    let (status, body) = call(&s, Method::DELETE, &format!("{D}/values/{de_id}?force=true"), t, None).await;
    assert_eq!(
        (status, values(&body["domain"]), &body["violating_rows"]),
        (StatusCode::OK, vec!["BE", "NL"], &json!(2))
    );
    let (status, body) = call(&s, Method::DELETE, &format!("{D}/values/nope"), t, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, error(404, "Not Found", "value `nope` not found in the domain of `country`"))
    );

    // The schema shows the domain, in its column metadata too.
    let (_, described) = s.get(T, t).await;
    let country = described["schema"]["fields"].as_array().unwrap().iter().find(|f| f["name"] == "country").unwrap();
    assert_eq!(values(&country["domain"]), ["BE", "NL"]);
    let stored: Value = serde_json::from_str(country["metadata"]["lakeward.domain"].as_str().unwrap()).unwrap();
    assert_eq!(stored, country["domain"]);

    // Removing the domain; then anything goes.
    let (status, body) = call(&s, Method::DELETE, D, t, None).await;
    assert_eq!((status, &body["domain"]), (StatusCode::OK, &Value::Null));
    let (status, _) = insert(&s, t, json!([{ "id": 30, "country": "XX" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&s, Method::DELETE, D, t, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, error(404, "Not Found", "column `country` has no domain")),
        "no domain to remove"
    );
}

#[tokio::test]
async fn changing_a_domain_that_rows_violate_is_refused_with_the_count() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let v = version(&s, t).await;
    let (status, body) =
        call(&s, Method::PUT, &format!("{D}/fixed"), t, Some(json!({ "allowed_values": ["FR"] }))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({ "statusCode": 409, "error": "Conflict", "violatingRows": 2, "message":
            "2 existing row(s) have values outside the new domain of `country`; repeat with force=true to apply it anyway" })
    );
    assert_eq!(version(&s, t).await, v, "nothing committed");
    let (status, body) =
        call(&s, Method::PUT, &format!("{D}/fixed?force=true"), t, Some(json!({ "allowed_values": ["FR"] }))).await;
    assert_eq!((status, &body["violating_rows"]), (StatusCode::OK, &json!(2)));

    // Bad requests change nothing.
    let v = version(&s, t).await;
    for (body, field, message) in [
        (json!({ "allowed_values": [] }), "allowed_values", "give at least one value"),
        (json!({ "allowed_values": ["A", "A"] }), "allowed_values[1]", "`A` is listed twice"),
        (json!({ "allowed_values": ["A"], "extra": 1 }), "extra", "unknown field `extra`, expected `allowed_values`"),
    ] {
        let (status, got) = call(&s, Method::PUT, &format!("{D}/fixed"), t, Some(body)).await;
        assert_eq!((status, got), (StatusCode::BAD_REQUEST, invalid(field, message)));
    }
    let (status, got) = call(
        &s,
        Method::PUT,
        "/v1/tables/main/crm/customers/columns/id/domain/fixed",
        t,
        Some(json!({ "allowed_values": ["one"] })),
    )
    .await;
    assert_eq!((status, got), (StatusCode::BAD_REQUEST, invalid("allowed_values[0]", "`one` is not an integer")));
    let (status, body) = call(
        &s,
        Method::PUT,
        "/v1/tables/main/crm/customers/columns/nope/domain/fixed",
        t,
        Some(json!({ "allowed_values": ["a"] })),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, missing("column `nope`")));
    assert_eq!(version(&s, t).await, v);
}

#[tokio::test]
async fn hierarchical_inline_domains_edit_parents_and_children() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    table(&s, t, "places", &["country", "city"], json!([{ "id": 1, "country": "BE", "city": "Ghent" }])).await;
    let p = "/v1/tables/main/crm/places/columns";
    let (status, body) =
        call(&s, Method::PUT, &format!("{p}/country/domain/fixed"), t, Some(json!({ "allowed_values": ["BE", "FR"] })))
            .await;
    assert_eq!(status, StatusCode::OK);
    let be_id = id_of(&body["domain"]["allowed_values"], "BE").to_owned();
    let (status, body) = call(
        &s,
        Method::PUT,
        &format!("{p}/city/domain/hierarchical/inline"),
        t,
        Some(json!({ "parent_column": "country", "mappings": { be_id.clone(): ["Brussels", "Ghent"], "FR": ["Paris"] } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["domain"]["type"], "hierarchical");
    assert_eq!(body["domain"]["parent_column"], "country");
    assert_eq!(body["domain"]["lookup"]["kind"], "inline");
    let parents = body["domain"]["lookup"]["parents"].as_array().unwrap();
    assert_eq!(
        parents.iter().find(|p| p["value"] == "BE").unwrap()["id"],
        json!(be_id),
        "parents keep the parent's ids"
    );

    let places = |rows: Value| {
        let s = &s;
        async move { s.post("/v1/tables/main/crm/places/rows", Some(t), rows).await }
    };
    let (status, body) = places(json!([
        { "id": 2, "country": "BE", "city": "Paris" },
        { "id": 3, "country": "FR", "city": "Paris" },
        { "id": 4, "city": "Ghent" }
    ]))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"],
        json!([
            { "field": "rows[0].city", "message": "`Paris` is not an allowed value of `city` when `country` is `BE`" },
            { "field": "rows[2].city", "message": "`Ghent` needs a value of its parent column `country`" },
        ])
    );
    let (status, body) = s.get(&format!("{p}/city/allowed-values?parent_value=BE"), t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["parent_value"], "BE");
    assert_eq!(
        body["allowed_values"].as_array().unwrap().iter().map(|v| &v["value"]).collect::<Vec<_>>(),
        ["Brussels", "Ghent"]
    );
    assert!(body["allowed_values"][0]["id"].is_string());

    // Parents and children.
    let (status, _) = s.post(&format!("{p}/city/domain/parents"), Some(t), json!({ "value": "NL" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        s.post(&format!("{p}/city/domain/parents/NL/children"), Some(t), json!({ "child": "Delft" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &s,
        Method::PUT,
        &format!("{p}/city/domain/parents/FR/children"),
        t,
        Some(json!({ "children": ["Lyon", "Paris"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let fr =
        body["domain"]["lookup"]["parents"].as_array().unwrap().iter().find(|p| p["value"] == "FR").unwrap().clone();
    assert_eq!(values(&json!({ "allowed_values": fr["children"] })), ["Lyon", "Paris"]);
    let (status, _) =
        call(&s, Method::DELETE, &format!("{p}/city/domain/parents/{be_id}/children/Ghent"), t, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "row 1 is (BE, Ghent)");
    let (status, _) = call(&s, Method::DELETE, &format!("{p}/city/domain/parents/BE/children/Brussels"), t, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&s, Method::DELETE, &format!("{p}/city/domain/parents/NL"), t, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&s, Method::DELETE, &format!("{p}/city/domain/parents/NL"), t, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, error(404, "Not Found", "parent `NL` not found in the domain of `city`"))
    );
    let (status, _) = places(json!([{ "id": 5, "country": "FR", "city": "Lyon" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s.get(&format!("{p}/city/allowed-values"), t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["allowed_values"].as_array().unwrap().iter().map(|v| &v["value"]).collect::<Vec<_>>(),
        ["Ghent", "Lyon", "Paris"]
    );
    // Fixed-domain edits do not apply to a hierarchy.
    let (status, body) = s.post(&format!("{p}/city/domain/values"), Some(t), json!({ "value": "X" })).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("domain", "column `city` has no fixed domain")));
}

#[tokio::test]
async fn derived_table_lookup_and_reference_domains_resolve_from_data() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    namespace(&s, &ada).await;
    table(
        &s,
        t,
        "places",
        &["country", "city"],
        json!([{ "id": 1, "country": "BE", "city": "Ghent" }, { "id": 2, "country": "FR", "city": "Paris" }]),
    )
    .await;
    table(
        &s,
        t,
        "geo",
        &["land", "town"],
        json!([{ "id": 1, "land": "BE", "town": "Ghent" }, { "id": 2, "land": "BE", "town": "Liege" }, { "id": 3, "land": "FR", "town": "Paris" }]),
    )
    .await;
    table(&s, t, "codes", &["code"], json!([{ "id": 1, "code": "BE" }, { "id": 2, "code": "FR" }])).await;
    let p = "/v1/tables/main/crm/places/columns";
    let places = |rows: Value| {
        let s = &s;
        async move { s.post("/v1/tables/main/crm/places/rows", Some(t), rows).await }
    };

    // Derived: a known parent keeps to the children already seen with it.
    let (status, body) = call(
        &s,
        Method::PUT,
        &format!("{p}/city/domain/hierarchical/derived"),
        t,
        Some(json!({ "parent_column": "country" })),
    )
    .await;
    assert_eq!((status, &body["domain"]["lookup"]), (StatusCode::OK, &json!({ "kind": "derived" })));
    let (status, body) =
        places(json!([{ "id": 3, "country": "BE", "city": "Paris" }, { "id": 4, "country": "DE", "city": "Berlin" }]))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"],
        json!([{ "field": "rows[0].city", "message": "`Paris` is not an allowed value of `city` when `country` is `BE`" }])
    );
    let (status, _) = places(json!([{ "id": 4, "country": "DE", "city": "Berlin" }])).await;
    assert_eq!(status, StatusCode::CREATED, "a new parent value starts a new branch");
    let (_, body) = s.get(&format!("{p}/city/allowed-values?parent_value=DE"), t).await;
    assert_eq!(body["allowed_values"], json!([{ "id": null, "value": "Berlin" }]));

    // Table lookup: pairs from another table.
    let lookup =
        json!({ "parent_column": "country", "table_name": "main.crm.geo", "parent_key": "land", "child_key": "town" });
    let (status, body) =
        call(&s, Method::PUT, &format!("{p}/city/domain/hierarchical/table"), t, Some(lookup.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "(DE, Berlin) is not in geo: {body}");
    assert_eq!(body["violatingRows"], 1);
    let (status, _) = call(&s, Method::DELETE, "/v1/tables/main/crm/places/rows?id=eq.4", t, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&s, Method::PUT, &format!("{p}/city/domain/hierarchical/table"), t, Some(lookup)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["domain"]["lookup"]["table_reference"],
        json!({ "catalog": "main", "schema": "crm", "table": "geo" })
    );
    let (status, _) = places(json!([{ "id": 5, "country": "BE", "city": "Liege" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = places(json!([{ "id": 6, "country": "FR", "city": "Liege" }])).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("rows[0].city")));
    // The lookup table's new pairs count at once.
    let (status, _) =
        s.post("/v1/tables/main/crm/geo/rows", Some(t), json!([{ "id": 4, "land": "FR", "town": "Liege" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = places(json!([{ "id": 6, "country": "FR", "city": "Liege" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    for (body, field, message) in [
        (
            json!({ "parent_column": "country", "table_name": "main.crm.nope", "parent_key": "land", "child_key": "town" }),
            "table_name",
            "no table `main.crm.nope` in this organisation",
        ),
        (
            json!({ "parent_column": "country", "table_name": "geo", "parent_key": "land", "child_key": "town" }),
            "table_name",
            "must be `catalog.schema.table`",
        ),
        (
            json!({ "parent_column": "country", "table_name": "main.crm.geo", "parent_key": "nope", "child_key": "town" }),
            "table_reference",
            "the table `main.crm.geo` has no column `nope`",
        ),
    ] {
        let (status, got) = call(&s, Method::PUT, &format!("{p}/city/domain/hierarchical/table"), t, Some(body)).await;
        assert_eq!((status, got), (StatusCode::BAD_REQUEST, invalid(field, message)));
    }

    // Reference: the values of another table's column.
    let (status, body) = call(
        &s,
        Method::PUT,
        &format!("{p}/country/domain/reference"),
        t,
        Some(json!({ "table_reference": { "catalog": "main", "schema": "crm", "table": "codes" }, "column": "code" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["domain"]["reference_source"]["column"], "code");
    let (_, body) = s.get(&format!("{p}/country/allowed-values"), t).await;
    assert_eq!(body["allowed_values"], json!([{ "id": null, "value": "BE" }, { "id": null, "value": "FR" }]));
    let (status, body) = places(json!([{ "id": 7, "country": "NL" }])).await;
    assert_eq!(
        (status, &body["details"]),
        (
            StatusCode::BAD_REQUEST,
            &json!([{ "field": "rows[0].country", "message": "`NL` is not an allowed value of `country`" }])
        )
    );
    // When the source column has a fixed domain, that domain is the reference.
    let (status, _) = call(
        &s,
        Method::PUT,
        "/v1/tables/main/crm/codes/columns/code/domain/fixed",
        t,
        Some(json!({ "allowed_values": ["BE", "FR", "NL"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = places(json!([{ "id": 7, "country": "NL" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = s.get(&format!("{p}/country/allowed-values"), t).await;
    assert!(body["allowed_values"][0]["id"].is_string(), "values of a fixed domain carry ids: {body}");
}

#[tokio::test]
async fn domains_time_travel_and_roll_back_with_the_table() {
    let (s, ada) = setup().await;
    let t = &ada.token;
    let before = version(&s, t).await;
    let (status, _) =
        call(&s, Method::PUT, &format!("{D}/fixed"), t, Some(json!({ "allowed_values": ["DE", "FR"] }))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = s.get(&format!("{D}?version={before}"), t).await;
    assert_eq!(body, json!({ "column_name": "country", "domain": null }));
    let (_, body) = s.get(D, t).await;
    assert_eq!(values(&body["domain"]), ["DE", "FR"]);
    let (status, _) = call(&s, Method::PUT, &format!("{T}/rollback/{before}"), t, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = s.get(D, t).await;
    assert_eq!(body["domain"], Value::Null, "the rollback restored the schema without the domain");
    let (status, _) = insert(&s, t, json!([{ "id": 9, "country": "XX" }])).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(rows(&s, t, "?id=eq.9").await.1[0]["country"], "XX");
}

#[tokio::test]
async fn domains_need_their_scopes_and_stay_in_the_organisation() {
    let (s, ada) = setup().await;
    let viewer = s.add_member(&ada, "vi@example.com", "viewer").await;
    let (status, _) = s.get(D, &viewer.token).await;
    assert_eq!(status, StatusCode::OK, "viewers read domains");
    let (status, body) =
        call(&s, Method::PUT, &format!("{D}/fixed"), &viewer.token, Some(json!({ "allowed_values": ["DE"] }))).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("domains:write")));
    let eve = s.onboard("Evil", "eve@example.com").await;
    // Eve's answer speaks of her own organisation only, whatever Ada's holds.
    let (status, body) = s.get(D, &eve.token).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, missing("catalog `main`")));
    // Another organisation's table cannot be a reference source: names resolve in the
    // caller's organisation only.
    table(&s, &ada.token, "codes", &["code"], json!([{ "id": 1, "code": "DE" }])).await;
    customers(&s, &eve).await;
    let (status, body) = call(
        &s,
        Method::PUT,
        &format!("{D}/reference"),
        &eve.token,
        Some(json!({ "table_reference": { "catalog": "main", "schema": "crm", "table": "codes" }, "column": "code" })),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("table_reference", "no table `main.crm.codes` in this organisation"))
    );
}
