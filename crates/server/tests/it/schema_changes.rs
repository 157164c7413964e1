//! Schema changes over HTTP: each is one Delta commit in history; bad requests change
//! nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, insert, rows, sample};
use crate::support::{TestServer, invalid, not_found};

async fn described(s: &TestServer, token: &str) -> Value {
    s.get(T, token).await.1
}

fn field<'a>(described: &'a Value, name: &str) -> &'a Value {
    described["schema"]["fields"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap()
}

async fn last_operation(s: &TestServer, token: &str) -> Value {
    s.get(&format!("{T}/history?limit=1"), token).await.1[0]["operation"].clone()
}

#[tokio::test]
async fn columns_metadata_description_and_properties_change_one_commit_at_a_time() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    let v0 = described(&s, t).await["version"].as_u64().unwrap();

    // Add a column: existing rows read null; new rows can fill it.
    let (status, body) =
        s.post(&format!("{T}/columns"), Some(t), json!({ "name": "tier", "type": "int32", "comment": "1 to 3" })).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": v0 + 1 })));
    assert_eq!(last_operation(&s, t).await, "ADD COLUMN");
    let d = described(&s, t).await;
    assert_eq!((&field(&d, "tier")["type"], &field(&d, "tier")["comment"]), (&json!("int32"), &json!("1 to 3")));
    assert_eq!(insert(&s, t, json!([{ "id": 7, "tier": 2 }])).await.0, StatusCode::CREATED);
    assert_eq!(
        rows(&s, t, "?select=id,tier&order=id").await.1,
        json!([
            { "id": 1, "tier": null }, { "id": 2, "tier": null }, { "id": 3, "tier": null }, { "id": 7, "tier": 2 }
        ])
    );
    let (status, body) = s.post(&format!("{T}/columns"), Some(t), json!({ "name": "TIER", "type": "string" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) =
        s.post(&format!("{T}/columns"), Some(t), json!({ "name": "x", "type": "int64", "nullable": false })).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("nullable")));
    let (status, body) = s.post(&format!("{T}/columns"), Some(t), json!({ "name": "x", "type": "money" })).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("type")));
    let (status, body) = s.post(&format!("{T}/columns"), Some(t), json!({ "name": "a b", "type": "string" })).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("name")));

    // Nullability: NOT NULL is refused while rows hold nulls, with the count.
    let v = described(&s, t).await["version"].as_u64().unwrap();
    let (status, body) =
        s.call(Method::PATCH, &format!("{T}/columns/tier"), Some(t), Some(json!({ "nullable": false }))).await;
    assert_eq!((status, &body["violatingRows"]), (StatusCode::CONFLICT, &json!(3)), "{body}");
    let (status, _) =
        s.call(Method::PATCH, &format!("{T}/columns/name"), Some(t), Some(json!({ "nullable": false }))).await;
    assert_eq!(status, StatusCode::CONFLICT, "row 7 has no name");
    assert_eq!(described(&s, t).await["version"], json!(v), "refusals commit nothing");
    let (status, _) = s
        .call(
            Method::PATCH,
            &format!("{T}/columns/country"),
            Some(t),
            Some(json!({ "nullable": false, "comment": "ISO code" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "row 7 has no country");
    let (status, _) =
        s.call(Method::PATCH, &format!("{T}/rows?id=eq.7"), Some(t), Some(json!({ "country": "BE" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .call(
            Method::PATCH,
            &format!("{T}/columns/country"),
            Some(t),
            Some(json!({ "nullable": false, "comment": "ISO code" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last_operation(&s, t).await, "CHANGE COLUMN");
    let d = described(&s, t).await;
    assert_eq!(
        (&field(&d, "country")["nullable"], &field(&d, "country")["comment"]),
        (&json!(false), &json!("ISO code"))
    );
    let (status, body) = insert(&s, t, json!([{ "id": 8 }])).await;
    assert_eq!(
        (status, &body["details"][0]),
        (StatusCode::BAD_REQUEST, &json!({ "field": "rows[0].country", "message": "must not be null" }))
    );
    let (status, _) =
        s.call(Method::PATCH, &format!("{T}/columns/name"), Some(t), Some(json!({ "comment": null }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&described(&s, t).await, "name")["comment"], Value::Null);
    let (status, body) =
        s.call(Method::PATCH, &format!("{T}/columns/id"), Some(t), Some(json!({ "nullable": true }))).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("nullable", "a primary-key column cannot be nullable"))
    );
    let (status, body) =
        s.call(Method::PATCH, &format!("{T}/columns/nope"), Some(t), Some(json!({ "comment": "x" }))).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, not_found()));
    let (status, body) = s.call(Method::PATCH, &format!("{T}/columns/name"), Some(t), Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("body", "nothing to change: give nullable or comment"))
    );

    // Field metadata is merged; null removes a key; reserved keys are refused.
    let fm = format!("{T}/fields/metadata");
    let (status, _) = s
        .call(
            Method::PUT,
            &fm,
            Some(t),
            Some(json!({ "fieldName": "name", "metadata": { "pii": "true", "owner": "crm" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last_operation(&s, t).await, "UPDATE FIELD METADATA");
    let (status, _) = s
        .call(
            Method::PUT,
            &fm,
            Some(t),
            Some(json!({ "fieldName": "name", "metadata": { "owner": null, "level": 3 } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let d = described(&s, t).await;
    let metadata = &field(&d, "name")["metadata"];
    assert_eq!((&metadata["pii"], &metadata["owner"], &metadata["level"]), (&json!("true"), &Value::Null, &json!("3")));
    let v = described(&s, t).await["version"].as_u64().unwrap();
    for (body, field_name) in [
        (json!({ "fieldName": "name", "metadata": { "lakeward.domain": "{}" } }), "metadata.lakeward.domain"),
        (
            json!({ "fieldName": "name", "metadata": { "delta.columnMapping.id": 1 } }),
            "metadata.delta.columnMapping.id",
        ),
        (json!({ "fieldName": "nope", "metadata": { "a": "b" } }), "fieldName"),
        (json!({ "fieldName": "name", "metadata": {} }), "metadata"),
        (json!({ "fieldName": "name" }), "metadata"),
    ] {
        let (status, got) = s.call(Method::PUT, &fm, Some(t), Some(body)).await;
        assert_eq!((status, &got["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!(field_name)), "{got}");
    }
    assert_eq!(described(&s, t).await["version"], json!(v));

    // Description and properties.
    let (status, _) = s.call(Method::PATCH, T, Some(t), Some(json!({ "description": "All customers", "properties": { "team": "crm", "delta.logRetentionDuration": "interval 60 days" } }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last_operation(&s, t).await, "UPDATE TABLE METADATA");
    let d = described(&s, t).await;
    assert_eq!((&d["description"], &d["properties"]["team"]), (&json!("All customers"), &json!("crm")));
    assert_eq!(d["properties"]["delta.logRetentionDuration"], "interval 60 days");
    let (status, _) = s.call(Method::PATCH, T, Some(t), Some(json!({ "properties": { "team": null } }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last_operation(&s, t).await, "SET TBLPROPERTIES");
    assert_eq!(described(&s, t).await["properties"]["team"], Value::Null);
    for body in [
        json!({ "properties": { "delta.constraints.x": "id > 0" } }),
        json!({ "properties": { "lakeward.primaryKey": "name" } }),
        json!({ "properties": { "delta.appendOnly": "true" } }),
    ] {
        let (status, got) = s.call(Method::PATCH, T, Some(t), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    }
    let (status, got) = s.call(Method::PATCH, T, Some(t), Some(json!({}))).await;
    assert_eq!(
        (status, got),
        (StatusCode::BAD_REQUEST, invalid("body", "nothing to change: give a description or properties"))
    );

    // A viewer or editor cannot change the schema.
    let editor = s.add_member(&ada, "ed@example.com", "editor").await;
    let (status, _) =
        s.post(&format!("{T}/columns"), Some(&editor.token), json!({ "name": "y", "type": "string" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
