//! Two organisations; every endpoint tried with one's credentials on the other's
//! resources answers 404 (never 403), and nothing of the other shows in any listing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, not_found};

#[tokio::test]
async fn another_organisations_resources_are_not_found_and_never_listed() {
    let s = TestServer::start().await;
    let acme = s.onboard("Acme", "ada@acme.test").await;
    let globex = s.onboard("Globex", "gus@globex.test").await;
    let globex_member = s.add_member(&globex, "gwen@globex.test", "builder").await;
    let (_, globex_key) = s.create_key(&globex.token, json!({ "name": "globex" })).await;
    let (acme_key, _) = s.create_key(&acme.token, json!({ "name": "acme", "scopes": ["admin"] })).await;

    let g = &globex.org_id;
    let m = &globex_member.user_id;
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/organisations/{g}"), None),
        (Method::PUT, format!("/v1/organisations/{g}"), Some(json!({ "name": "Pwned" }))),
        (Method::GET, format!("/v1/organisations/{g}/users"), None),
        (
            Method::POST,
            format!("/v1/organisations/{g}/invite"),
            Some(json!({ "email": "spy@acme.test", "role": "admin" })),
        ),
        (Method::PUT, format!("/v1/organisations/{g}/users/{m}/role"), Some(json!({ "role": "viewer" }))),
        (Method::DELETE, format!("/v1/organisations/{g}/users/{m}/deactivate"), None),
        (Method::DELETE, format!("/v1/organisations/{g}/users/{m}"), None),
        // Another organisation's member addressed under one's own organisation.
        (Method::PUT, format!("/v1/organisations/{}/users/{m}/role", acme.org_id), Some(json!({ "role": "viewer" }))),
        (Method::DELETE, format!("/v1/organisations/{}/users/{m}", acme.org_id), None),
        (Method::GET, format!("/v1/api-keys/{globex_key}"), None),
        (Method::PATCH, format!("/v1/api-keys/{globex_key}"), Some(json!({ "name": "x" }))),
        (Method::DELETE, format!("/v1/api-keys/{globex_key}"), None),
    ];
    for credential in [&acme.token, &acme_key] {
        for (method, path, body) in &requests {
            let (status, got) = s.call(method.clone(), path, Some(credential), body.clone()).await;
            assert_eq!((status, got), (StatusCode::NOT_FOUND, not_found()), "{method} {path}");
        }
    }

    // Nothing changed on Globex's side.
    let (_, org) = s.get(&format!("/v1/organisations/{g}"), &globex.token).await;
    assert_eq!(org["name"], "Globex");
    let (_, members) = s.get(&format!("/v1/organisations/{g}/users"), &globex.token).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    assert_eq!(members[1]["role"], "builder");
    assert_eq!(members[1]["status"], "active");
    assert_eq!(s.get(&format!("/v1/api-keys/{globex_key}"), &globex.token).await.1["is_revoked"], false);

    // No listing of Acme's shows anything of Globex's.
    for path in [
        "/v1/organisations/me",
        &format!("/v1/organisations/{}/users", acme.org_id),
        "/v1/api-keys",
        "/v1/audit?limit=500",
    ] {
        let (status, body) = s.get(path, &acme.token).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = body.to_string();
        for secret in [g.as_str(), "globex", m.as_str(), globex_key.as_str()] {
            assert!(!text.to_lowercase().contains(&secret.to_lowercase()), "{path} leaks {secret}: {text}");
        }
    }
}
