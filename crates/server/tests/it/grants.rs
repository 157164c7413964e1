//! Teams and grants: privileges on catalogs, schemas and tables for users and teams,
//! widening what their role allows there and nowhere else.
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Tenant, TestServer, error, forbidden, invalid, missing, not_found};

const TABLE: &str = r#"{"columns": [{"name": "id", "type": "int64", "nullable": false}, {"name": "name", "type": "string"}], "primary_key": ["id"]}"#;

async fn table(s: &TestServer, admin: &Tenant, catalog: &str, schema: &str, name: &str) {
    let _ = s.post("/v1/catalogs", Some(&admin.token), json!({ "name": catalog })).await;
    let _ = s.post(&format!("/v1/catalogs/{catalog}/schemas"), Some(&admin.token), json!({ "name": schema })).await;
    let body: Value = serde_json::from_str(TABLE).unwrap();
    let (status, created) = s.post(&format!("/v1/tables/{catalog}/{schema}/{name}"), Some(&admin.token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

async fn insert(s: &TestServer, who: &Tenant, table: &str, id: i64) -> (StatusCode, Value) {
    s.post(
        &format!("/v1/tables/{}/rows", table.replace('.', "/")),
        Some(&who.token),
        json!([{ "id": id, "name": "x" }]),
    )
    .await
}

async fn audit_actions(s: &TestServer, admin: &Tenant, pattern: &str) -> Vec<String> {
    let (_, page) = s.get(&format!("/v1/audit?action={pattern}&limit=100"), &admin.token).await;
    let mut actions: Vec<String> =
        page["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    actions.reverse();
    actions
}

#[tokio::test]
async fn admins_manage_teams_and_every_member_sees_them() {
    let s = TestServer::start().await;
    let admin = s.onboard("Acme", "ada@acme.test").await;
    let bob = s.add_member(&admin, "bob@acme.test", "viewer").await;
    let stranger = s.onboard("Other", "o@other.test").await;

    let (status, team) =
        s.post("/v1/teams", Some(&admin.token), json!({ "name": " stewards ", "description": "Master data" })).await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(
        (team["name"].clone(), team["member_count"].clone(), team["members"].clone()),
        (json!("stewards"), json!(0), json!([]))
    );
    let id = team["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.post("/v1/teams", Some(&admin.token), json!({ "name": "stewards" })).await,
        (StatusCode::CONFLICT, error(409, "Conflict", "a team named `stewards` already exists"))
    );
    assert_eq!(
        s.post("/v1/teams", Some(&bob.token), json!({ "name": "mine" })).await,
        (StatusCode::FORBIDDEN, forbidden("org:update"))
    );
    assert_eq!(
        s.post("/v1/teams", Some(&admin.token), json!({ "name": "" })).await,
        (StatusCode::BAD_REQUEST, invalid("name", "must be 1 to 100 characters"))
    );
    let (status, _) = s.post("/v1/teams", Some(&admin.token), json!({ "name": "x", "colour": "red" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let members = format!("/v1/teams/{id}/members");
    let (status, team) = s.post(&members, Some(&admin.token), json!({ "user_id": bob.user_id })).await;
    assert_eq!(
        (status, team["members"].clone(), team["member_count"].clone()),
        (StatusCode::OK, json!([bob.user_id]), json!(1))
    );
    assert_eq!(
        s.post(&members, Some(&admin.token), json!({ "user_id": stranger.user_id })).await,
        (StatusCode::NOT_FOUND, not_found())
    );
    // Another organisation sees no such team.
    assert_eq!(s.get(&format!("/v1/teams/{id}"), &stranger.token).await, (StatusCode::NOT_FOUND, not_found()));
    assert_eq!(s.get("/v1/teams/not-a-uuid", &admin.token).await, (StatusCode::NOT_FOUND, not_found()));
    let (status, listed) = s.get("/v1/teams", &bob.token).await;
    assert_eq!((status, listed.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert_eq!(s.get("/v1/teams", &stranger.token).await, (StatusCode::OK, json!([])));

    let (status, renamed) = s
        .call(
            Method::PATCH,
            &format!("/v1/teams/{id}"),
            Some(&admin.token),
            Some(json!({ "name": "data-stewards", "description": null })),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].clone(), renamed["description"].clone()),
        (StatusCode::OK, json!("data-stewards"), Value::Null)
    );
    let (status, team) = s.call(Method::DELETE, &format!("{members}/{}", bob.user_id), Some(&admin.token), None).await;
    assert_eq!((status, team["members"].clone()), (StatusCode::OK, json!([])));
    let (status, _) = s.call(Method::DELETE, &format!("/v1/teams/{id}"), Some(&admin.token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get(&format!("/v1/teams/{id}"), &admin.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        audit_actions(&s, &admin, "team.*").await,
        ["team.created", "team.member_added", "team.updated", "team.member_removed", "team.deleted"]
    );
}

#[tokio::test]
async fn a_grant_widens_the_role_on_its_object_and_below_and_nowhere_else() {
    let s = TestServer::start().await;
    let admin = s.onboard("Acme", "ada@acme.test").await;
    let bob = s.add_member(&admin, "bob@acme.test", "viewer").await;
    let carol = s.add_member(&admin, "carol@acme.test", "viewer").await;
    table(&s, &admin, "main", "crm", "customers").await;
    table(&s, &admin, "main", "crm", "orders").await;
    table(&s, &admin, "main", "hr", "pay").await;
    assert_eq!(insert(&s, &bob, "main.crm.customers", 1).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    assert_eq!(s.get("/v1/tables/main/crm/customers", &bob.token).await.1["privileges"], json!(["read", "query"]));

    // Insert on the schema, to a team bob is in.
    let (_, team) = s.post("/v1/teams", Some(&admin.token), json!({ "name": "stewards" })).await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    s.post(&format!("/v1/teams/{team_id}/members"), Some(&admin.token), json!({ "user_id": bob.user_id })).await;
    let (status, granted) = s
        .post(
            "/v1/grants",
            Some(&admin.token),
            json!({ "on": { "type": "schema", "name": "main.crm" },
               "grantee": { "type": "team", "id": team_id }, "privileges": ["insert"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    assert_eq!(granted["grants"][0]["privilege"], "insert");
    assert_eq!(granted["grants"][0]["on"], json!({ "type": "schema", "name": "main.crm" }));

    assert_eq!(insert(&s, &bob, "main.crm.customers", 1).await.0, StatusCode::CREATED);
    assert_eq!(insert(&s, &bob, "main.crm.orders", 1).await.0, StatusCode::CREATED);
    // The table's description says what the caller may do there.
    assert_eq!(
        s.get("/v1/tables/main/crm/customers", &bob.token).await.1["privileges"],
        json!(["read", "query", "insert"])
    );
    assert_eq!(s.get("/v1/tables/main/hr/pay", &bob.token).await.1["privileges"], json!(["read", "query"]));
    assert_eq!(s.get("/v1/tables/main/hr/pay", &admin.token).await.1["privileges"].as_array().unwrap().len(), 7);
    // Not another schema, not another privilege, not someone outside the team.
    assert_eq!(insert(&s, &bob, "main.hr.pay", 1).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    let (status, body) = s
        .call(
            Method::PATCH,
            "/v1/tables/main/crm/customers/rows?id=eq.1",
            Some(&bob.token),
            Some(json!({ "name": "y" })),
        )
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("rows:update")));
    assert_eq!(insert(&s, &carol, "main.crm.customers", 2).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    // A missing table is refused as before, not revealed.
    assert_eq!(insert(&s, &bob, "main.crm.nope", 1).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    // An API key stays within its scopes: a team member's read-only key gets nothing from the grant.
    let dave = s.add_member(&admin, "dave@acme.test", "builder").await;
    s.post(&format!("/v1/teams/{team_id}/members"), Some(&admin.token), json!({ "user_id": dave.user_id })).await;
    let (key, _) = s.create_key(&dave.token, json!({ "name": "k", "scopes": ["read"] })).await;
    let dave_key = Tenant { token: key, ..dave.clone() };
    assert_eq!(insert(&s, &dave_key, "main.crm.customers", 3).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    // GraphQL writes are decided the same way.
    let (status, answer) = s
        .post("/v1/graphql", Some(&bob.token), json!({ "query": "mutation { insert_main_crm_customers(objects: [{id: 5, name: \"g\"}]) { affected_rows } }" }))
        .await;
    assert_eq!(
        (status, answer["data"]["insert_main_crm_customers"]["affected_rows"].clone()),
        (StatusCode::OK, json!(1)),
        "{answer}"
    );

    let (_, rows) = s.get("/v1/tables/main/crm/customers/rows?order=id", &admin.token).await;
    assert_eq!(rows, json!([{ "id": 1, "name": "x" }, { "id": 5, "name": "g" }]));
    let (status, listed) = s.get("/v1/grants?on_type=table&on=main.crm.customers", &bob.token).await;
    assert_eq!((status, listed["grants"].as_array().unwrap().len()), (StatusCode::OK, 1));

    // Revoked, the role decides again.
    let grant_id = granted["grants"][0]["id"].as_str().unwrap();
    assert_eq!(
        s.call(Method::DELETE, &format!("/v1/grants/{grant_id}"), Some(&bob.token), None).await,
        (StatusCode::FORBIDDEN, forbidden("org:update"))
    );
    let (status, _) = s.call(Method::DELETE, &format!("/v1/grants/{grant_id}"), Some(&admin.token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(insert(&s, &bob, "main.crm.customers", 4).await, (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    assert_eq!(audit_actions(&s, &admin, "grant.*").await, ["grant.created", "grant.revoked"]);
}

#[tokio::test]
async fn a_grant_never_gives_more_than_its_granter_holds() {
    let s = TestServer::start().await;
    let admin = s.onboard("Acme", "ada@acme.test").await;
    let bob = s.add_member(&admin, "bob@acme.test", "viewer").await;
    let carol = s.add_member(&admin, "carol@acme.test", "viewer").await;
    table(&s, &admin, "main", "crm", "customers").await;
    let grant = |token: String, to: &str, privileges: Value| {
        let s = &s;
        let body = json!({ "on": { "type": "table", "name": "main.crm.customers" }, "grantee": { "type": "user", "id": to }, "privileges": privileges });
        async move { s.post("/v1/grants", Some(&token), body).await }
    };
    assert_eq!(
        grant(bob.token.clone(), &carol.user_id, json!(["read"])).await,
        (StatusCode::FORBIDDEN, forbidden("org:update"))
    );
    assert_eq!(grant(admin.token.clone(), &bob.user_id, json!(["manage", "insert"])).await.0, StatusCode::CREATED);
    // Bob may now pass on what he holds there (read and query by his role, insert by the grant).
    let (status, given) = grant(bob.token.clone(), &carol.user_id, json!(["insert", "read"])).await;
    assert_eq!((status, given["grants"].as_array().unwrap().len()), (StatusCode::CREATED, 2), "{given}");
    let (status, refused) = grant(bob.token.clone(), &carol.user_id, json!(["delete"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["message"], "you may grant only privileges you hold on `main.crm.customers`: not `delete`");
    assert_eq!(refused["requiredScope"], "rows:delete");
    assert_eq!(insert(&s, &carol, "main.crm.customers", 1).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_grants_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let admin = s.onboard("Acme", "ada@acme.test").await;
    let bob = s.add_member(&admin, "bob@acme.test", "viewer").await;
    let stranger = s.onboard("Other", "o@other.test").await;
    table(&s, &admin, "main", "crm", "customers").await;
    let body = |on_type: &str, on: &str, who: &str, privileges: Value| json!({ "on": { "type": on_type, "name": on }, "grantee": { "type": "user", "id": who }, "privileges": privileges });
    let cases = [
        (
            body("view", "main", &bob.user_id, json!(["read"])),
            StatusCode::BAD_REQUEST,
            invalid("on.type", "must be catalog, schema or table"),
        ),
        (
            body("table", "main.crm", &bob.user_id, json!(["read"])),
            StatusCode::BAD_REQUEST,
            invalid("on.name", "must be `catalog.schema.table` of identifiers"),
        ),
        (
            body("schema", "main.bad-name", &bob.user_id, json!(["read"])),
            StatusCode::BAD_REQUEST,
            invalid("on.name", "must be `catalog.schema` of identifiers"),
        ),
        (
            body("table", "main.crm.customers", &bob.user_id, json!(["own"])),
            StatusCode::BAD_REQUEST,
            invalid("privileges[0]", "must be read, query, insert, update, delete, modify or manage"),
        ),
        (
            body("table", "main.crm.customers", &bob.user_id, json!([])),
            StatusCode::BAD_REQUEST,
            invalid("privileges", "give at least one privilege"),
        ),
        (
            body("schema", "main.nope", &bob.user_id, json!(["read"])),
            StatusCode::NOT_FOUND,
            missing("schema `main.nope`"),
        ),
        (body("table", "main.crm.customers", &stranger.user_id, json!(["insert"])), StatusCode::NOT_FOUND, not_found()),
    ];
    for (request, status, answer) in cases {
        assert_eq!(s.post("/v1/grants", Some(&admin.token), request.clone()).await, (status, answer), "{request}");
    }
    // Another organisation's admin cannot grant on these objects: they are not found.
    let foreign = body("table", "main.crm.customers", &stranger.user_id, json!(["read"]));
    assert_eq!(
        s.post("/v1/grants", Some(&stranger.token), foreign).await,
        (StatusCode::NOT_FOUND, missing("catalog `main`"))
    );
    assert_eq!(s.get("/v1/grants", &admin.token).await, (StatusCode::OK, json!({ "grants": [] })));
    assert_eq!(
        s.call(Method::DELETE, &format!("/v1/grants/{}", uuid::Uuid::now_v7()), Some(&admin.token), None).await,
        (StatusCode::NOT_FOUND, not_found())
    );
    assert!(audit_actions(&s, &admin, "grant.*").await.is_empty());
}
