//! CHECK constraints over HTTP: stored as Delta constraints, enforced on every write
//! path with the rows and values at fault, refused when existing rows violate them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, customers, insert, sample, upsert};
use crate::support::{TestServer, error, forbidden, invalid, missing};

async fn version(s: &TestServer, token: &str) -> u64 {
    s.get(T, token).await.1["version"].as_u64().unwrap()
}

#[tokio::test]
async fn constraints_are_delta_constraints_enforced_on_every_write() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    let c = format!("{T}/constraints");
    // As in Delta: a row passes only when the expression is true, so NULL fails.
    let (status, body) = s
        .post(&c, Some(t), json!({ "constraints": [{ "name": "balance_not_negative", "expr": "balance >= 0" }] }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["violatingRows"], 1, "Cy has no balance: {body}");
    let (status, body) = s
        .post(
            &c,
            Some(t),
            json!({ "constraints": [
                { "name": "balance_not_negative", "expr": "balance IS NULL OR balance >= 0" },
                { "name": "id_positive", "expr": "id > 0 AND id < 1000000" }
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = version(&s, t).await;
    assert_eq!(body, json!({ "version": v }));
    let (_, described) = s.get(T, t).await;
    let constraints = described["constraints"].as_array().unwrap();
    assert_eq!(
        constraints.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["balance_not_negative", "id_positive"]
    );
    assert_eq!(described["properties"]["delta.constraints.balance_not_negative"], constraints[0]["expr"]);

    let (status, body) =
        insert(&s, t, json!([{ "id": 10, "balance": "-1.00" }, { "id": 11, "balance": 5 }, { "id": -4 }])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "2 value(s) do not fit the table");
    let details = body["details"].as_array().unwrap();
    assert_eq!(details[0]["field"], "rows[0]");
    assert!(
        details[0]["message"].as_str().unwrap().starts_with("violates CHECK constraint `balance_not_negative` (")
            && details[0]["message"].as_str().unwrap().ends_with("): balance = -1.00"),
        "{body}"
    );
    assert_eq!(details[1]["field"], "rows[2]");
    assert!(details[1]["message"].as_str().unwrap().contains("id = -4"), "{body}");
    let (status, _) =
        s.call(Method::PATCH, &format!("{T}/rows?id=eq.1"), Some(t), Some(json!({ "balance": -5 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = upsert(&s, t, json!([{ "id": 2, "balance": -3 }])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(version(&s, t).await, v, "nothing committed");
    let (status, _) = insert(&s, t, json!([{ "id": 10, "balance": "0.00" }, { "id": 12 }])).await;
    assert_eq!(status, StatusCode::CREATED, "zero and no balance pass");

    // Refusals change nothing.
    let v = version(&s, t).await;
    let (status, body) =
        s.post(&c, Some(t), json!({ "constraints": [{ "name": "rich", "expr": "balance > 5" }] })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["violatingRows"], 4, "3 with a balance of 5 or less, 1 without: {body}");
    let (status, body) =
        s.post(&c, Some(t), json!({ "constraints": [{ "name": "id_positive", "expr": "id > 1" }] })).await;
    assert_eq!(
        (status, body),
        (StatusCode::CONFLICT, error(409, "Conflict", "a constraint named `id_positive` already exists"))
    );
    for (body, field, message) in [
        (json!({ "constraints": [] }), "constraints", "give at least one constraint"),
        (
            json!({ "constraints": [{ "name": "1x", "expr": "id > 0" }] }),
            "constraints[0].name",
            "a constraint name is letters, digits and underscores, not starting with a digit",
        ),
        (json!({ "constraints": [{ "name": "x", "expr": " " }] }), "constraints[0].expr", "give a SQL expression"),
        (
            json!({ "constraints": [{ "name": "x", "expr": "id > 0", "enforced": true }] }),
            "constraints[0].enforced",
            "unknown field `enforced`, expected `name` or `expr`",
        ),
    ] {
        let (status, got) = s.post(&c, Some(t), body).await;
        assert_eq!((status, got), (StatusCode::BAD_REQUEST, invalid(field, message)));
    }
    for expr in ["nope > 1", "id >", "count(id) > 1"] {
        let (status, got) = s.post(&c, Some(t), json!({ "constraints": [{ "name": "x", "expr": expr }] })).await;
        assert_eq!(
            (status, &got["details"][0]["field"]),
            (StatusCode::BAD_REQUEST, &json!("constraints[0].expr")),
            "{expr}: {got}"
        );
    }
    assert_eq!(version(&s, t).await, v);

    // Permissions, drop.
    let editor = s.add_member(&ada, "ed@example.com", "editor").await;
    let (status, body) = s.call(Method::DELETE, &format!("{c}/id_positive"), Some(&editor.token), None).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("tables:modify")));
    let (status, body) = s.call(Method::DELETE, &format!("{c}/id_positive"), Some(t), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": v + 1 })));
    let (_, audit) = s.get(&format!("{T}/audit?action=constraint.dropped"), t).await;
    assert_eq!(audit["events"][0]["details"]["before"], constraints[1]["expr"], "the dropped expression is recorded");
    let (status, body) = s.call(Method::DELETE, &format!("{c}/id_positive"), Some(t), None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, missing("constraint `id_positive`")));
    assert_eq!(insert(&s, t, json!([{ "id": -1 }])).await.0, StatusCode::CREATED);
    let (_, history) = s.get(&format!("{T}/history?limit=2"), t).await;
    let ops: Vec<&Value> = history.as_array().unwrap().iter().map(|h| &h["operation"]).collect();
    assert_eq!(ops, ["WRITE", "DROP CONSTRAINT"]);
}

#[tokio::test]
async fn constraints_time_travel_and_roll_back_with_the_table() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    let before = version(&s, t).await;
    let (status, _) = s
        .post(&format!("{T}/constraints"), Some(t), json!({ "constraints": [{ "name": "pos", "expr": "id > 0" }] }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, old) = s.get(&format!("{T}?version={before}"), t).await;
    assert_eq!(old["constraints"], json!([]), "the earlier version has no constraint");
    let (_, now) = s.get(T, t).await;
    assert_eq!(now["constraints"][0]["name"], "pos");
    assert_eq!(insert(&s, t, json!([{ "id": -1 }])).await.0, StatusCode::BAD_REQUEST);
    let (status, _) = s.call(Method::PUT, &format!("{T}/rollback/{before}"), Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get(T, t).await.1["constraints"], json!([]), "rolled back with the table");
    assert_eq!(insert(&s, t, json!([{ "id": -1 }])).await.0, StatusCode::CREATED);
}
