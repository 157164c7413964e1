use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestServer, forbidden};

fn actions(page: &Value) -> Vec<String> {
    page["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn identity_changes_are_audited_with_actor_target_origin_and_no_secrets() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    assert_eq!(s.login("ada@example.com", "wrong password").await.0, StatusCode::UNAUTHORIZED);
    let (status, invite) = s
        .post(
            &format!("/v1/organisations/{}/invite", ada.org_id),
            Some(&ada.token),
            json!({ "email": "bob@example.com", "role": "viewer" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let invite_token = invite["invite_token"].as_str().unwrap().to_owned();
    let (_, accepted) =
        s.post("/v1/auth/accept-invite", None, json!({ "token": invite_token, "password": PASSWORD })).await;
    let bob_id = accepted["user"]["id"].as_str().unwrap().to_owned();
    let role_path = format!("/v1/organisations/{}/users/{bob_id}/role", ada.org_id);
    let res = s
        .client
        .put(s.url(&role_path))
        .bearer_auth(&ada.token)
        .header("x-request-id", "req-role-change")
        .json(&json!({ "role": "editor" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (key, key_id) = s.create_key(&ada.token, json!({ "name": "ci" })).await;
    assert_eq!(
        s.call(Method::DELETE, &format!("/v1/api-keys/{key_id}"), Some(&ada.token), None).await.0,
        StatusCode::OK
    );

    let (status, page) = s.get("/v1/audit", &ada.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        actions(&page),
        [
            "apikey.revoked",
            "apikey.created",
            "member.role_changed",
            "member.invite_accepted",
            "member.invited",
            "auth.login_failed",
            "auth.onboard"
        ]
    );
    assert_eq!(page["total"], 7);
    let events = page["events"].as_array().unwrap();
    let role_change = &events[2];
    assert_eq!(role_change["actor_type"], "user");
    assert_eq!(role_change["actor_id"], ada.user_id.as_str());
    assert_eq!(role_change["target_type"], "user");
    assert_eq!(role_change["target_id"], bob_id.as_str());
    assert_eq!(role_change["client_ip"], "127.0.0.1");
    assert_eq!(role_change["request_id"], "req-role-change");
    assert_eq!(role_change["details"], json!({ "before": { "role": "viewer" }, "after": { "role": "editor" } }));
    let failed = &events[5];
    assert_eq!(failed["actor_type"], "anonymous");
    assert_eq!(failed["target_id"], ada.user_id.as_str());
    assert_eq!(failed["details"], json!({ "email": "ada@example.com" }));

    let text = page.to_string();
    for secret in [PASSWORD, "wrong password", invite_token.as_str(), &key[8..], &ada.token] {
        assert!(!text.contains(secret), "the audit trail leaks {secret}");
    }
}

#[tokio::test]
async fn audit_filters_paginate_and_need_an_admin() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    for name in ["a", "b", "c"] {
        s.create_key(&ada.token, json!({ "name": name })).await;
    }
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let (bob_key_plain, bob_key) = s.create_key(&bob.token, json!({ "name": "bob" })).await;

    let (_, created) = s.get("/v1/audit?action=apikey.created&limit=2", &ada.token).await;
    assert_eq!(created["total"], 4);
    assert_eq!(created["events"].as_array().unwrap().len(), 2);
    assert_eq!(created["events"][0]["target_id"], bob_key.as_str());
    let (_, rest) = s.get("/v1/audit?action=apikey.created&limit=2&offset=2", &ada.token).await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 2);
    assert_eq!(rest["offset"], 2);

    let (_, members) = s.get("/v1/audit?action=member.*", &ada.token).await;
    assert_eq!(actions(&members), ["member.invite_accepted", "member.invited"]);
    let (_, by_bob) = s.get(&format!("/v1/audit?actor_id={}", bob.user_id), &ada.token).await;
    assert_eq!(actions(&by_bob), ["apikey.created", "member.invite_accepted"]);
    let (_, by_target) = s.get(&format!("/v1/audit?target_type=api_key&target_id={bob_key}"), &ada.token).await;
    assert_eq!(by_target["total"], 1);
    let (_, future) = s.get("/v1/audit?since=2999-01-01T00:00:00Z", &ada.token).await;
    assert_eq!(future["total"], 0);
    let (_, past) = s.get("/v1/audit?until=2000-01-01T00:00:00Z", &ada.token).await;
    assert_eq!(past["total"], 0);

    // The trail needs audit:read, which only admins hold; an admin's key needs it too.
    assert_eq!(s.get("/v1/audit", &bob.token).await, (StatusCode::FORBIDDEN, forbidden("audit:read")));
    assert_eq!(s.get("/v1/audit", &bob_key_plain).await, (StatusCode::FORBIDDEN, forbidden("audit:read")));
    let (ada_key, _) = s.create_key(&ada.token, json!({ "name": "org", "scopes": ["org:read"] })).await;
    assert_eq!(s.get("/v1/audit", &ada_key).await, (StatusCode::FORBIDDEN, forbidden("audit:read")));
    let (ada_audit_key, _) = s.create_key(&ada.token, json!({ "name": "audit", "scopes": ["audit:read"] })).await;
    let (status, via_key) = s.get("/v1/audit?action=apikey.created&limit=1", &ada_audit_key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(via_key["events"][0]["details"]["name"], "audit");
}

#[tokio::test]
async fn a_builder_refused_the_trail_is_told_what_it_lacks_and_an_admin_reads_it() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let (status, body) = s.get("/v1/audit", &bob.token).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({
                "statusCode": 403,
                "error": "Forbidden",
                "message": "Insufficient permissions: requires `audit:read`, held by admins",
                "requiredScope": "audit:read"
            })
        )
    );
    let (status, body) = s.get("/v1/audit?action=member.*", &ada.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(actions(&body), ["member.invite_accepted", "member.invited"]);
}

#[tokio::test]
async fn a_tables_audit_lists_every_change_to_it_with_versions() {
    use crate::data::{T, customers, fixed_domain, insert, sample};
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    fixed_domain(&s, t, "country", &["DE", "FR"]).await;
    let (status, _) = s
        .post(&format!("{T}/constraints"), Some(t), json!({ "constraints": [{ "name": "pos", "expr": "id > 0" }] }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        s.call(Method::PATCH, &format!("{T}/rows?id=eq.1"), Some(t), Some(json!({ "name": "Ada L." }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.post(&format!("{T}/columns"), Some(t), json!({ "name": "tier", "type": "int32" })).await;
    assert_eq!(status, StatusCode::OK);
    // Another table's events stay out of this one's audit.
    let (status, _) =
        s.post("/v1/tables/main/crm/other", Some(t), json!({ "columns": [{ "name": "x", "type": "string" }] })).await;
    assert_eq!(status, StatusCode::CREATED);

    let viewer = s.add_member(&ada, "vi@example.com", "viewer").await;
    let (status, body) = s.get(&format!("{T}/audit"), &viewer.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = body["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["table.updated", "rows.updated", "constraint.added", "domain.set", "row.batch_inserted", "table.created"]
    );
    assert_eq!(body["total"], 6);
    assert!(events.iter().all(|e| e["target_id"] == "main.crm.customers" && e["actor_id"] == json!(ada.user_id)));
    let versions: Vec<&Value> = events.iter().map(|e| &e["details"]["version"]).collect();
    assert_eq!(versions[..5], [&json!(5), &json!(4), &json!(3), &json!(2), &json!(1)]);
    assert_eq!(events[3]["details"]["before"], Value::Null);
    assert_eq!(events[3]["details"]["after"]["type"], "fixed");
    let (_, body) = s.get(&format!("{T}/audit?action=domain.*"), t).await;
    assert_eq!(body["total"], 1);
    let (_, body) = s.get(&format!("{T}/audit?limit=2&offset=1"), t).await;
    assert_eq!(body["events"][0]["action"], "rows.updated");
    let (status, body) = s.get(&format!("{T}/audit?target_id=x"), t).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("target_id")));
    let eve = s.onboard("Evil", "eve@example.com").await;
    let (status, _) = s.get(&format!("{T}/audit"), &eve.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
