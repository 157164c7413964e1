use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestServer, error, invalid, unauthorized};

#[tokio::test]
async fn onboarding_creates_the_organisation_and_an_admin_who_is_signed_in() {
    let s = TestServer::start().await;
    let (status, body) = s
        .post(
            "/v1/auth/onboard",
            None,
            json!({ "email": "Ada@Example.com", "password": PASSWORD, "organisation_name": " Acme " }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["organisation"]["name"], "Acme");
    assert_eq!(body["organisation"]["user_count"], 1);
    assert_eq!(body["organisation"]["owner"], body["user"]["id"]);
    assert_eq!(body["organisation"]["user_membership"]["role"], "admin");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["status"], "active");
    assert!(body["user"]["last_sign_in_at"].is_string());
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();

    let (status, me) = s.get("/v1/users/me", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], body["user"]["id"]);
    assert_eq!(me["organisation_id"], body["organisation"]["id"]);
    assert_eq!(me["auth"]["method"], "session");
    assert!(me["auth"]["scopes"].as_array().unwrap().contains(&json!("org:update")));
    assert!(body.to_string().find(PASSWORD).is_none(), "the password is never echoed");

    let (status, org) = s.get("/v1/organisations/me", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["id"], body["organisation"]["id"]);
}

#[tokio::test]
async fn further_organisations_need_allow_signup() {
    let closed = TestServer::start_with(|c| c.allow_signup = false).await;
    // A refused onboarding on an empty server creates nothing, so a good one still works.
    let (status, _) = closed
        .post("/v1/auth/onboard", None, json!({ "email": "bad", "password": PASSWORD, "organisation_name": "A" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    closed.onboard("First", "first@example.com").await;
    let (status, body) = closed
        .post(
            "/v1/auth/onboard",
            None,
            json!({ "email": "second@example.com", "password": PASSWORD, "organisation_name": "Second" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, error(403, "Forbidden", "Signup of new organisations is disabled on this server"));
    let (status, _) = closed.login("second@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the refused user does not exist");

    let open = TestServer::start().await;
    open.onboard("First", "first@example.com").await;
    open.onboard("Second", "second@example.com").await;
}

#[tokio::test]
async fn onboarding_validates_every_field_and_refuses_duplicate_emails() {
    let s = TestServer::start().await;
    let cases = [
        (
            json!({ "email": "nope", "password": PASSWORD, "organisation_name": "A" }),
            invalid("email", "must be a valid email address"),
        ),
        (
            json!({ "email": "a@b.co", "password": "short", "organisation_name": "A" }),
            invalid("password", "must be at least 8 characters"),
        ),
        (
            json!({ "email": "a@b.co", "password": PASSWORD, "organisation_name": "  " }),
            invalid("organisation_name", "organisation_name is required"),
        ),
        (
            json!({ "email": "a@b.co", "password": PASSWORD }),
            invalid("organisation_name", "missing field `organisation_name`"),
        ),
        (
            json!({ "email": 5, "password": PASSWORD, "organisation_name": "A" }),
            invalid("email", "invalid type: integer `5`, expected a string"),
        ),
    ];
    for (body, expected) in cases {
        let (status, got) = s.post("/v1/auth/onboard", None, body.clone()).await;
        assert_eq!((status, &got), (StatusCode::BAD_REQUEST, &expected), "{body}");
    }
    s.onboard("Acme", "ada@example.com").await;
    let (status, body) = s
        .post(
            "/v1/auth/onboard",
            None,
            json!({ "email": "ADA@example.com", "password": PASSWORD, "organisation_name": "Again" }),
        )
        .await;
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", "a user with this email already exists")));
}

#[tokio::test]
async fn login_and_logout() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let wrong = error(401, "Unauthorized", "Invalid email or password");
    assert_eq!(s.login("ada@example.com", "wrong password").await, (StatusCode::UNAUTHORIZED, wrong.clone()));
    assert_eq!(s.login("nobody@example.com", PASSWORD).await, (StatusCode::UNAUTHORIZED, wrong));

    let (status, body) = s.login("ADA@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], ada.user_id.as_str());
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(s.get("/v1/users/me", token).await.0, StatusCode::OK);

    let (status, body) = s.call(Method::POST, "/v1/auth/logout", Some(token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "success": true, "message": "Signed out" })));
    assert_eq!(s.get("/v1/users/me", token).await, (StatusCode::UNAUTHORIZED, unauthorized()));
    // The onboarding session is a different session and still works.
    assert_eq!(s.get("/v1/users/me", &ada.token).await.0, StatusCode::OK);
    // Logging out needs a session.
    let (status, _) = s.call(Method::POST, "/v1/auth/logout", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_tokens_expire() {
    let s = TestServer::start_with(|c| c.session_ttl = Duration::from_secs(1)).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    assert_eq!(s.get("/v1/users/me", &ada.token).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(s.get("/v1/users/me", &ada.token).await, (StatusCode::UNAUTHORIZED, unauthorized()));
}

#[tokio::test]
async fn forged_tampered_and_malformed_credentials_are_refused() {
    let s = TestServer::start().await;
    let other = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    // A token from another server (another secret) is worthless here.
    let foreign = other.onboard("Acme", "ada@example.com").await;
    assert_eq!(s.get("/v1/users/me", &foreign.token).await, (StatusCode::UNAUTHORIZED, unauthorized()));
    // Flip one character of the payload.
    let mut tampered: Vec<char> = ada.token.chars().collect();
    let i = ada.token.find('.').unwrap() + 5;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    assert_eq!(s.get("/v1/users/me", &tampered).await, (StatusCode::UNAUTHORIZED, unauthorized()));
    let fake_key = format!("lw_live_{}", "0".repeat(40));
    assert_eq!(s.get("/v1/users/me", &fake_key).await, (StatusCode::UNAUTHORIZED, unauthorized()));

    for header in ["Basic YWRhOnB3", "Bearer", "Bearer    ", &ada.token] {
        let res = s.client.get(s.url("/v1/users/me")).header("authorization", header).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            body,
            error(401, "Unauthorized", "Malformed Authorization header; expected `Bearer <token>`"),
            "{header}"
        );
    }
    let res = s.client.get(s.url("/v1/users/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        error(401, "Unauthorized", "Missing bearer token in the Authorization header")
    );
    // The scheme is case-insensitive.
    let res = s
        .client
        .get(s.url("/v1/users/me"))
        .header("authorization", format!("bearer {}", ada.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn invitations_are_accepted_once() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (status, invite) = s
        .post(
            &format!("/v1/organisations/{}/invite", ada.org_id),
            Some(&ada.token),
            json!({ "email": "bob@example.com", "role": "editor" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    assert_eq!(invite["user"]["status"], "invited");
    assert_eq!(invite["user"]["role"], "editor");
    let token = invite["invite_token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    // Invited users cannot sign in yet.
    assert_eq!(s.login("bob@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);

    let (status, body) = s.post("/v1/auth/accept-invite", None, json!({ "token": token, "password": "short" })).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("password", "must be at least 8 characters")));
    let (status, body) = s.post("/v1/auth/accept-invite", None, json!({ "token": token, "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["status"], "active");
    assert_eq!(s.get("/v1/users/me", body["access_token"].as_str().unwrap()).await.1["role"], "editor");

    let used = invalid("token", "invitation is invalid, expired or already used");
    let (status, body) =
        s.post("/v1/auth/accept-invite", None, json!({ "token": token, "password": "another password" })).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, used.clone()));
    let (status, body) =
        s.post("/v1/auth/accept-invite", None, json!({ "token": "0".repeat(64), "password": PASSWORD })).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, used));
    assert_eq!(s.login("bob@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(s.login("bob@example.com", "another password").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invitations_expire() {
    let s = TestServer::start_with(|c| c.invite_ttl = Duration::from_secs(1)).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (_, invite) = s
        .post(
            &format!("/v1/organisations/{}/invite", ada.org_id),
            Some(&ada.token),
            json!({ "email": "bob@example.com", "role": "viewer" }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) =
        s.post("/v1/auth/accept-invite", None, json!({ "token": invite["invite_token"], "password": PASSWORD })).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("token", "invitation is invalid, expired or already used"))
    );
}
