//! Schema changes over HTTP: each is one Delta commit in history; bad requests change
//! nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, fixed_domain, insert, rows, sample};
use crate::support::{TestServer, invalid, missing};

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
    assert_eq!((status, body), (StatusCode::NOT_FOUND, missing("column `nope`")));
    let (status, body) = s.call(Method::PATCH, &format!("{T}/columns/name"), Some(t), Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("body", "nothing to change: give name, type, nullable or comment"))
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

#[tokio::test]
async fn rename_widen_and_drop_rewrite_the_data_in_one_commit_keeping_the_rules() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    fixed_domain(&s, t, "country", &["DE", "FR"]).await;
    let (status, _) = s
        .post(
            &format!("{T}/constraints"),
            Some(t),
            json!({ "constraints": [{ "name": "pos", "expr": "balance IS NULL OR balance >= 0" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let v0 = described(&s, t).await["version"].as_u64().unwrap();
    let col = |c: &str| format!("{T}/columns/{c}");

    let (status, body) = s.call(Method::PATCH, &col("name"), Some(t), Some(json!({ "name": "full_name" }))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": v0 + 1 })));
    let d = described(&s, t).await;
    assert_eq!(field(&d, "full_name")["comment"], "display name", "metadata follows the column");
    assert_eq!(field(&d, "country")["domain"]["type"], "fixed", "other columns keep their domains");
    assert_eq!((&d["primary_key"], d["constraints"].as_array().unwrap().len()), (&json!(["id"]), 1));
    assert_eq!(d["num_rows"], 3);
    assert_eq!(
        rows(&s, t, "?select=id,full_name&order=id").await.1,
        json!([
            { "id": 1, "full_name": "Ada" }, { "id": 2, "full_name": "Bob" }, { "id": 3, "full_name": "Cy" }
        ])
    );
    let (_, old) = s.get(&format!("{T}/rows?version={v0}&select=name&id=eq.1"), t).await;
    assert_eq!(old, json!([{ "name": "Ada" }]), "earlier versions keep the old name");
    assert_eq!(
        insert(&s, t, json!([{ "id": 4, "country": "XX" }])).await.0,
        StatusCode::BAD_REQUEST,
        "rules still hold"
    );

    let (status, _) = s.call(Method::PATCH, &col("balance"), Some(t), Some(json!({ "type": "decimal(14,3)" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.call(Method::PATCH, &col("joined"), Some(t), Some(json!({ "type": "timestamp" }))).await;
    assert_eq!(status, StatusCode::OK);
    let d = described(&s, t).await;
    assert_eq!(
        (&field(&d, "balance")["type"], &field(&d, "joined")["type"]),
        (&json!("decimal(14,3)"), &json!("timestamp"))
    );
    let ada_row = &rows(&s, t, "?id=eq.1").await.1[0];
    assert_eq!(ada_row["balance"], json!(10.5));
    assert!(ada_row["joined"].as_str().unwrap().starts_with("2020-01-01T00:00:00"), "{ada_row}");

    let (status, _) = s.call(Method::DELETE, &col("joined"), Some(t), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "needs confirmation");
    let (status, _) = s.call(Method::DELETE, &format!("{}?confirm=joined", col("joined")), Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    let d = described(&s, t).await;
    assert!(d["schema"]["fields"].as_array().unwrap().iter().all(|f| f["name"] != "joined"));
    assert_eq!(d["version"], json!(v0 + 4), "one commit per change");

    // Refusals change nothing.
    for (method, path, body, status) in [
        (Method::PATCH, col("full_name"), Some(json!({ "name": "ID" })), StatusCode::CONFLICT),
        (Method::PATCH, col("id"), Some(json!({ "name": "key" })), StatusCode::BAD_REQUEST),
        (Method::PATCH, col("balance"), Some(json!({ "name": "amount" })), StatusCode::BAD_REQUEST),
        (Method::PATCH, col("full_name"), Some(json!({ "type": "int64" })), StatusCode::BAD_REQUEST),
        (Method::PATCH, col("balance"), Some(json!({ "type": "decimal(4,1)" })), StatusCode::BAD_REQUEST),
        (Method::PATCH, col("country"), Some(json!({ "name": "land", "comment": "x" })), StatusCode::BAD_REQUEST),
        (Method::PATCH, col("full_name"), Some(json!({ "name": "bad name" })), StatusCode::BAD_REQUEST),
        (Method::DELETE, format!("{}?confirm=id", col("id")), None, StatusCode::BAD_REQUEST),
        (Method::DELETE, format!("{}?confirm=nope", col("nope")), None, StatusCode::NOT_FOUND),
    ] {
        let (got, body) = s.call(method.clone(), &path, Some(t), body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
    }
    assert_eq!(described(&s, t).await["version"], json!(v0 + 4));
    let (_, body) = s.call(Method::PATCH, &col("balance"), Some(t), Some(json!({ "name": "amount" }))).await;
    assert_eq!(body, invalid("column", "column `balance` is used by CHECK constraint `pos`; drop it first"));
}
