use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, error, forbidden, invalid, not_found, unauthorized};

fn is_key(key: &str) -> bool {
    key.len() == 48
        && key.starts_with("lw_live_")
        && key[8..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test]
async fn a_key_is_shown_once_and_works_as_a_bearer_token() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (status, created) = s
        .post("/v1/api-keys", Some(&ada.token), json!({ "name": "ci", "scopes": ["read"], "expires_in": "30d" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap();
    assert!(is_key(key), "{key}");
    let api_key = &created["api_key"];
    assert_eq!(api_key["key_prefix"], &key[..16]);
    assert_eq!(api_key["name"], "ci");
    assert_eq!(api_key["is_revoked"], false);
    assert_eq!(api_key["last_used_at"], Value::Null);
    assert_eq!(
        api_key["scopes"],
        json!([
            "tables:query",
            "tables:read",
            "domains:read",
            "connections:read",
            "storage:read",
            "objects:read",
            "objects:download",
            "ai:query",
            "org:read"
        ])
    );
    let expires = chrono::DateTime::parse_from_rfc3339(api_key["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&Utc) - Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.0).contains(&days), "{days}");

    let (status, me) = s.get("/v1/users/me", key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], ada.user_id.as_str());
    assert_eq!(me["auth"]["method"], "api_key");
    assert_eq!(me["auth"]["api_key_id"], api_key["id"]);

    let id = api_key["id"].as_str().unwrap();
    let (status, listed) = s.get("/v1/api-keys", &ada.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["api_keys"].as_array().unwrap().len(), 1);
    assert!(listed.to_string().find(&key[16..]).is_none(), "the key is never shown again");
    let (status, got) = s.get(&format!("/v1/api-keys/{id}"), &ada.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got["last_used_at"].is_string(), "use is tracked: {got}");
    assert!(got.to_string().find(&key[16..]).is_none());
}

#[tokio::test]
async fn create_validates_name_scopes_and_expiry() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let future = (Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let cases = [
        (json!({ "name": "" }), invalid("name", "name is required")),
        (
            json!({ "name": "k", "scopes": ["tables:read", "rows:nuke"] }),
            invalid("scopes", "unknown scope `rows:nuke`"),
        ),
        (json!({ "name": "k", "scopes": [] }), invalid("scopes", "at least one scope is required")),
        (json!({ "name": "k", "expires_in": "2w" }), invalid("expires_in", "must be one of 7d, 30d, 90d, 1y, never")),
        (
            json!({ "name": "k", "expires_at": "tomorrow" }),
            invalid("expires_at", "must be an RFC 3339 timestamp, e.g. 2027-01-31T00:00:00Z"),
        ),
        (json!({ "name": "k", "expires_at": "2001-01-01T00:00:00Z" }), invalid("expires_at", "must be in the future")),
        (
            json!({ "name": "k", "expires_in": "7d", "expires_at": future }),
            invalid("expires_at", "give expires_in or expires_at, not both"),
        ),
    ];
    for (body, expected) in cases {
        let (status, got) = s.post("/v1/api-keys", Some(&ada.token), body.clone()).await;
        assert_eq!((status, &got), (StatusCode::BAD_REQUEST, &expected), "{body}");
    }
    assert_eq!(s.get("/v1/api-keys", &ada.token).await.1["api_keys"], json!([]), "nothing was created");

    let (_, created) = s.post("/v1/api-keys", Some(&ada.token), json!({ "name": "k", "expires_at": future })).await;
    assert_eq!(created["api_key"]["expires_at"].as_str().unwrap()[..19], future[..19]);
    assert_eq!(created["api_key"]["scopes"].as_array().unwrap().len(), 31, "defaults to every scope the admin holds");
    let (status, body) = s.post("/v1/api-keys", Some(&ada.token), json!({ "name": "k" })).await;
    assert_eq!(
        (status, body),
        (StatusCode::CONFLICT, error(409, "Conflict", "an API key with this name already exists"))
    );
}

#[tokio::test]
async fn keys_cannot_exceed_their_creators_role_or_scopes() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let builder = s.add_member(&ada, "bob@example.com", "builder").await;
    let viewer = s.add_member(&ada, "vic@example.com", "viewer").await;

    let (status, body) = s
        .post("/v1/api-keys", Some(&builder.token), json!({ "name": "k", "scopes": ["tables:read", "org:update"] }))
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
    let (status, body) =
        s.post("/v1/api-keys", Some(&builder.token), json!({ "name": "k", "scopes": ["admin"] })).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
    let (_, created) = s.post("/v1/api-keys", Some(&builder.token), json!({ "name": "k", "scopes": ["write"] })).await;
    assert_eq!(created["api_key"]["scopes"].as_array().unwrap().len(), 28);

    // Viewers hold no API-key scopes at all.
    let (status, body) = s.post("/v1/api-keys", Some(&viewer.token), json!({ "name": "k", "scopes": ["read"] })).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("apikeys:create")));

    // A key can mint keys only within its own scopes.
    let (minter, _) =
        s.create_key(&ada.token, json!({ "name": "minter", "scopes": ["apikeys:create", "tables:read"] })).await;
    let (status, body) = s
        .post("/v1/api-keys", Some(&minter), json!({ "name": "wider", "scopes": ["tables:read", "rows:insert"] }))
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("rows:insert")));
    let (status, narrow) =
        s.post("/v1/api-keys", Some(&minter), json!({ "name": "narrow", "scopes": ["tables:read"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{narrow}");
    let (status, body) = s.post("/v1/api-keys", Some(&minter), json!({ "name": "default" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["api_key"]["scopes"], json!(["tables:read", "apikeys:create"]), "defaults to the key's own scopes");
}

#[tokio::test]
async fn a_keys_effective_permission_is_its_scopes_intersected_with_the_role() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (read_key, _) = s.create_key(&ada.token, json!({ "name": "r", "scopes": ["read"] })).await;
    // The role allows it, the key's scopes do not: 403 naming the scope.
    assert_eq!(s.get("/v1/api-keys", &read_key).await, (StatusCode::FORBIDDEN, forbidden("apikeys:read")));
    let (status, body) = s
        .call(Method::PUT, &format!("/v1/organisations/{}", ada.org_id), Some(&read_key), Some(json!({ "name": "X" })))
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
    assert_eq!(s.get("/v1/organisations/me", &read_key).await.0, StatusCode::OK);

    // The scopes allow it, the (demoted) role does not.
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let (bob_key, _) = s.create_key(&bob.token, json!({ "name": "b", "scopes": ["apikeys:read", "org:read"] })).await;
    assert_eq!(s.get("/v1/api-keys", &bob_key).await.0, StatusCode::OK);
    let (status, _) = s
        .call(
            Method::PUT,
            &format!("/v1/organisations/{}/users/{}/role", ada.org_id, bob.user_id),
            Some(&ada.token),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get("/v1/api-keys", &bob_key).await, (StatusCode::FORBIDDEN, forbidden("apikeys:read")));
    assert_eq!(s.get("/v1/users/me", &bob_key).await.1["auth"]["scopes"], json!(["org:read"]));
}

#[tokio::test]
async fn update_and_revoke() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let (key, id) = s.create_key(&ada.token, json!({ "name": "ci", "scopes": ["read"], "expires_in": "7d" })).await;
    let path = format!("/v1/api-keys/{id}");
    let (status, updated) = s
        .call(
            Method::PATCH,
            &path,
            Some(&ada.token),
            Some(json!({ "name": "ci-2", "scopes": ["tables:read", "apikeys:read"], "expires_at": "" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "ci-2");
    assert_eq!(updated["scopes"], json!(["tables:read", "apikeys:read"]));
    assert_eq!(updated["expires_at"], Value::Null);
    assert_eq!(s.get("/v1/api-keys", &key).await.0, StatusCode::OK, "the new scope is in force");

    let (status, body) = s.call(Method::PATCH, &path, Some(&ada.token), Some(json!({ "scopes": ["nope"] }))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("scopes", "unknown scope `nope`")));
    let (status, body) =
        s.call(Method::PATCH, &path, Some(&ada.token), Some(json!({ "expires_at": "2000-01-01T00:00:00Z" }))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("expires_at", "must be in the future")));
    assert_eq!(s.get(&path, &ada.token).await.1["name"], "ci-2", "failed updates changed nothing");

    let (status, body) = s.call(Method::DELETE, &path, Some(&ada.token), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "success": true, "message": "API key revoked" })));
    assert_eq!(s.get("/v1/users/me", &key).await, (StatusCode::UNAUTHORIZED, unauthorized()));
    assert_eq!(s.get(&path, &ada.token).await.1["is_revoked"], true);
    let (status, body) = s.call(Method::DELETE, &path, Some(&ada.token), None).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", "the API key is already revoked")));
    let (status, body) = s.call(Method::PATCH, &path, Some(&ada.token), Some(json!({ "name": "back" }))).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, error(409, "Conflict", "a revoked API key cannot be changed")));
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let soon = (Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let (key, _) = s.create_key(&ada.token, json!({ "name": "short", "expires_at": soon })).await;
    assert_eq!(s.get("/v1/users/me", &key).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(s.get("/v1/users/me", &key).await, (StatusCode::UNAUTHORIZED, unauthorized()));
}

#[tokio::test]
async fn keys_are_private_to_their_owner_except_for_admins() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let bob = s.add_member(&ada, "bob@example.com", "builder").await;
    let carl = s.add_member(&ada, "carl@example.com", "builder").await;
    let (_, ada_key) = s.create_key(&ada.token, json!({ "name": "ada" })).await;
    let (bob_plain, bob_key) = s.create_key(&bob.token, json!({ "name": "bob" })).await;

    for (method, body) in [(Method::GET, None), (Method::PATCH, Some(json!({ "name": "x" }))), (Method::DELETE, None)] {
        let (status, got) =
            s.call(method.clone(), &format!("/v1/api-keys/{ada_key}"), Some(&carl.token), body.clone()).await;
        assert_eq!((status, got), (StatusCode::NOT_FOUND, not_found()), "{method}");
        let (status, got) = s.call(method.clone(), &format!("/v1/api-keys/{bob_key}"), Some(&carl.token), body).await;
        assert_eq!((status, got), (StatusCode::NOT_FOUND, not_found()), "{method}");
    }
    assert_eq!(s.get("/v1/api-keys", &carl.token).await.1["api_keys"], json!([]));
    // Admins manage every key of the organisation, e.g. a leaver's.
    assert_eq!(s.get(&format!("/v1/api-keys/{bob_key}"), &ada.token).await.1["name"], "bob");
    assert_eq!(
        s.call(Method::DELETE, &format!("/v1/api-keys/{bob_key}"), Some(&ada.token), None).await.0,
        StatusCode::OK
    );
    assert_eq!(s.get("/v1/users/me", &bob_plain).await.0, StatusCode::UNAUTHORIZED);
    // An admin cannot give a builder's key a scope the builder's role lacks.
    let (_, bob_key2) = s.create_key(&bob.token, json!({ "name": "bob2" })).await;
    let (status, body) = s
        .call(
            Method::PATCH,
            &format!("/v1/api-keys/{bob_key2}"),
            Some(&ada.token),
            Some(json!({ "scopes": ["org:update"] })),
        )
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("org:update")));
    // Ids that are not UUIDs name nothing.
    assert_eq!(s.get("/v1/api-keys/not-a-uuid", &ada.token).await, (StatusCode::NOT_FOUND, not_found()));
}
