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

/// A constraint is stored as written (after it is validated), in Spark-style SQL that
/// every Delta engine parses, not as DataFusion re-prints it
/// (`balance >= '0.00'::decimal(10, 2)`): in the API, in the Delta log, and still enforced.
#[tokio::test]
async fn constraints_are_stored_as_written() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    let row = json!([{ "id": 1, "name": "Ada", "country": "DE", "balance": "10.50" }]);
    assert_eq!(insert(&s, t, row).await.0, StatusCode::CREATED);
    let written = [("valid_balance", "balance >= 0 AND country IN ('DE','FR')"), ("named", "length(name) > 0")];
    let constraints: Vec<Value> = written.iter().map(|(name, expr)| json!({ "name": name, "expr": expr })).collect();
    let (status, body) = s.post(&format!("{T}/constraints"), Some(t), json!({ "constraints": constraints })).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 2 })));

    let (_, described) = s.get(T, t).await;
    assert_eq!(
        described["constraints"],
        json!([
            { "name": "named", "expr": "length(name) > 0" },
            { "name": "valid_balance", "expr": "balance >= 0 AND country IN ('DE','FR')" }
        ])
    );
    // The Delta log holds the same text, and the protocol other writers check it by.
    let log = log_actions(&s, &ada.org_id, 2);
    let configuration = &log.iter().find(|a| a.get("metaData").is_some()).unwrap()["metaData"]["configuration"];
    for (name, expr) in written {
        assert_eq!(configuration[format!("delta.constraints.{name}")], expr);
    }
    let protocol = &log.iter().find(|a| a.get("protocol").is_some()).unwrap()["protocol"];
    assert!(protocol["minWriterVersion"].as_i64().unwrap() >= 3, "{protocol}");
    let commit = &log.iter().find(|a| a.get("commitInfo").is_some()).unwrap()["commitInfo"];
    assert_eq!(commit["operation"], "ADD CONSTRAINT");

    // Still enforced, named as written.
    let bad = json!([
        { "id": 2, "name": "", "country": "DE", "balance": 1 },
        { "id": 3, "name": "Cy", "country": "BE", "balance": 1 }
    ]);
    let (status, body) = insert(&s, t, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"],
        json!([
            { "field": "rows[0]", "message": "violates CHECK constraint `named` (length(name) > 0): name = " },
            { "field": "rows[1]", "message":
                "violates CHECK constraint `valid_balance` (balance >= 0 AND country IN ('DE','FR')): country = BE, balance = 1.00" }
        ])
    );
    assert_eq!(version(&s, t).await, 2, "nothing committed");
    // What is not a condition is refused, naming the constraint's expression.
    let (status, body) = s
        .post(&format!("{T}/constraints"), Some(t), json!({ "constraints": [{ "name": "x", "expr": "length(name)" }] }))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            invalid("constraints[0].expr", "must be a condition (true or false), not a value of type int32")
        )
    );
}

/// The actions of one commit of the table `main.crm.customers`, from its `_delta_log`.
fn log_actions(s: &TestServer, org_id: &str, version: u64) -> Vec<Value> {
    let path = s.data_dir().join(format!("warehouse/{org_id}/main/crm/customers/_delta_log/{version:020}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}
