use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestServer, error, forbidden, invalid, not_found, unauthorized};

const LAST_ADMIN: &str = "An organisation must keep at least one active admin";

#[tokio::test]
async fn admins_rename_the_organisation_and_others_may_not() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let path = format!("/v1/organisations/{}", ada.org_id);

    let (status, body) = s.call(Method::PUT, &path, Some(&bob.token), Some(json!({ "name": "Bobco" }))).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
    let (status, body) = s.call(Method::PUT, &path, Some(&ada.token), Some(json!({ "name": "" }))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("name", "name is required")));
    assert_eq!(s.get(&path, &bob.token).await.1["name"], "Acme");

    let (status, body) = s.call(Method::PUT, &path, Some(&ada.token), Some(json!({ "name": "Acme Corp" }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Acme Corp");
    assert_eq!(body["user_count"], 2);
    let (_, seen_by_bob) = s.get(&path, &bob.token).await;
    assert_eq!(seen_by_bob["name"], "Acme Corp");
    assert_eq!(seen_by_bob["user_membership"]["role"], "builder");
}

#[tokio::test]
async fn every_role_sees_members_and_only_admins_manage_them() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let members = [
        s.add_member(&ada, "vic@example.com", "viewer").await,
        s.add_member(&ada, "eve@example.com", "editor").await,
        s.add_member(&ada, "bob@example.com", "builder").await,
    ];
    let users_path = format!("/v1/organisations/{}/users", ada.org_id);
    for m in &members {
        let (status, list) = s.get(&users_path, &m.token).await;
        assert_eq!(status, StatusCode::OK);
        let emails: Vec<_> = list.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect();
        assert_eq!(emails, ["ada@example.com", "vic@example.com", "eve@example.com", "bob@example.com"]);
        let (status, body) = s
            .post(
                &format!("/v1/organisations/{}/invite", ada.org_id),
                Some(&m.token),
                json!({ "email": "x@example.com", "role": "viewer" }),
            )
            .await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
        let role_path = format!("/v1/organisations/{}/users/{}/role", ada.org_id, ada.user_id);
        let (status, body) = s.call(Method::PUT, &role_path, Some(&m.token), Some(json!({ "role": "viewer" }))).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
        for path in [format!("{users_path}/{}/deactivate", ada.user_id), format!("{users_path}/{}", ada.user_id)] {
            assert_eq!(
                s.call(Method::DELETE, &path, Some(&m.token), None).await,
                (StatusCode::FORBIDDEN, forbidden("org:update"))
            );
        }
    }
    assert_eq!(s.get(&users_path, &ada.token).await.1.as_array().unwrap().len(), 4, "nothing changed");
}

#[tokio::test]
async fn invite_validates_and_refuses_known_emails() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let path = format!("/v1/organisations/{}/invite", ada.org_id);
    let (status, body) = s.post(&path, Some(&ada.token), json!({ "email": "x@example.com", "role": "owner" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "role");
    assert_eq!(
        body["details"][0]["message"],
        "unknown variant `owner`, expected one of `viewer`, `editor`, `builder`, `admin`"
    );
    let (status, body) = s.post(&path, Some(&ada.token), json!({ "email": "x", "role": "viewer" })).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("email", "must be a valid email address")));
    let (status, body) = s.post(&path, Some(&ada.token), json!({ "email": "ADA@example.com", "role": "viewer" })).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", "a user with this email already exists")));
    assert_eq!(
        s.get(&format!("/v1/organisations/{}/users", ada.org_id), &ada.token).await.1.as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn roles_change_and_the_last_admin_stays() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let base = format!("/v1/organisations/{}/users", ada.org_id);
    let last_admin = (StatusCode::CONFLICT, error(409, "Conflict", LAST_ADMIN));

    let (status, body) = s
        .call(
            Method::PUT,
            &format!("{base}/{}/role", ada.user_id),
            Some(&ada.token),
            Some(json!({ "role": "builder" })),
        )
        .await;
    assert_eq!((status, body), last_admin.clone());
    assert_eq!(
        s.call(Method::DELETE, &format!("{base}/{}/deactivate", ada.user_id), Some(&ada.token), None).await,
        last_admin.clone()
    );
    assert_eq!(
        s.call(Method::DELETE, &format!("{base}/{}", ada.user_id), Some(&ada.token), None).await,
        last_admin.clone()
    );

    let bob = s.add_member(&ada, "bob@example.com", "viewer").await;
    let (status, body) = s
        .call(Method::PUT, &format!("{base}/{}/role", bob.user_id), Some(&ada.token), Some(json!({ "role": "admin" })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["role"], "admin");
    // With two admins, Ada may step down; then Bob is the last one.
    let (status, body) = s
        .call(Method::PUT, &format!("{base}/{}/role", ada.user_id), Some(&ada.token), Some(json!({ "role": "editor" })))
        .await;
    assert_eq!((status, &body["role"]), (StatusCode::OK, &json!("editor")));
    assert_eq!(s.get("/v1/users/me", &ada.token).await.1["role"], "editor", "a role change applies at once");
    assert_eq!(s.call(Method::DELETE, &format!("{base}/{}", bob.user_id), Some(&bob.token), None).await, last_admin);
}

#[tokio::test]
async fn deactivated_members_lose_sessions_keys_and_sign_in() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let (bob_key, _) = s.create_key(&bob.token, json!({ "name": "bob" })).await;
    let (status, body) = s
        .call(
            Method::DELETE,
            &format!("/v1/organisations/{}/users/{}/deactivate", ada.org_id, bob.user_id),
            Some(&ada.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "deactivated");
    assert!(body["deactivated_at"].is_string());
    assert_eq!(s.get("/v1/users/me", &bob.token).await, (StatusCode::UNAUTHORIZED, unauthorized()));
    assert_eq!(s.get("/v1/users/me", &bob_key).await, (StatusCode::UNAUTHORIZED, unauthorized()));
    assert_eq!(s.login("bob@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    // Still listed, for the record.
    let (_, list) = s.get(&format!("/v1/organisations/{}/users", ada.org_id), &ada.token).await;
    assert_eq!(list[1]["status"], "deactivated");
}

#[tokio::test]
async fn deleted_members_are_gone_with_their_keys() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let (bob_key, key_id) = s.create_key(&bob.token, json!({ "name": "bob" })).await;
    let path = format!("/v1/organisations/{}/users/{}", ada.org_id, bob.user_id);
    let (status, body) = s.call(Method::DELETE, &path, Some(&ada.token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "success": true, "message": "Member deleted" })));
    assert_eq!(s.get("/v1/users/me", &bob_key).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get(&format!("/v1/api-keys/{key_id}"), &ada.token).await, (StatusCode::NOT_FOUND, not_found()));
    assert_eq!(s.call(Method::DELETE, &path, Some(&ada.token), None).await, (StatusCode::NOT_FOUND, not_found()));
    assert_eq!(
        s.get(&format!("/v1/organisations/{}/users", ada.org_id), &ada.token).await.1.as_array().unwrap().len(),
        1
    );
    // The email is free again.
    s.add_member(&ada, "bob@example.com", "viewer").await;
}
