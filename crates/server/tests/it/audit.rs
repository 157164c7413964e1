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

    // Builders hold org:read but the trail is for admins; and an admin's key needs org:read.
    assert_eq!(s.get("/v1/audit", &bob.token).await, (StatusCode::FORBIDDEN, forbidden("org:read")));
    assert_eq!(s.get("/v1/audit", &bob_key_plain).await, (StatusCode::FORBIDDEN, forbidden("org:read")));
    let (ada_key, _) = s.create_key(&ada.token, json!({ "name": "tables", "scopes": ["tables:read"] })).await;
    assert_eq!(s.get("/v1/audit", &ada_key).await, (StatusCode::FORBIDDEN, forbidden("org:read")));
    let (ada_org_key, _) = s.create_key(&ada.token, json!({ "name": "org", "scopes": ["org:read"] })).await;
    let (status, via_key) = s.get("/v1/audit?action=apikey.created&limit=1", &ada_org_key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(via_key["events"][0]["details"]["name"], "org");
}
