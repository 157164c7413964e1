use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestServer;

fn limited(per_minute: u32, auth_per_minute: u32) -> impl FnOnce(&mut lakeward_server::ServerConfig) {
    move |c| {
        c.limits.rate_limit_per_minute = per_minute;
        c.limits.auth_rate_limit_per_minute = auth_per_minute;
    }
}

async fn assert_429(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "never 0");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "statusCode": 429, "error": "Too Many Requests", "message": "Rate limit exceeded", "retryAfter": retry_after })
    );
}

#[tokio::test]
async fn auth_endpoints_have_a_stricter_limit_per_address() {
    let s = TestServer::start_with(limited(100, 3)).await;
    for _ in 0..3 {
        let res = s
            .client
            .post(s.url("/v1/auth/login"))
            .json(&json!({ "email": "a@b.co", "password": "wrongwrong" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = s
        .client
        .post(s.url("/v1/auth/login"))
        .json(&json!({ "email": "a@b.co", "password": "wrongwrong" }))
        .send()
        .await
        .unwrap();
    assert_429(res).await;
    // Other endpoints still answer for the same address.
    assert_eq!(s.client.get(s.url("/openapi.json")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn authenticated_callers_are_limited_per_credential() {
    let s = TestServer::start_with(limited(8, 100)).await;
    let ada = s.onboard("Acme", "ada@example.com").await; // onboarding request: address budget
    let (key, _) = s.create_key(&ada.token, serde_json::json!({ "name": "k" })).await; // 1 of Ada's 8
    for _ in 0..7 {
        assert_eq!(s.get("/v1/users/me", &ada.token).await.0, StatusCode::OK);
    }
    assert_429(s.client.get(s.url("/v1/users/me")).bearer_auth(&ada.token).send().await.unwrap()).await;
    // The key has its own budget, and so does the anonymous address.
    assert_eq!(s.get("/v1/users/me", &key).await.0, StatusCode::OK);
    assert_eq!(s.client.get(s.url("/openapi.json")).send().await.unwrap().status(), StatusCode::OK);
    // Health is never limited.
    for _ in 0..20 {
        assert_eq!(s.client.get(s.url("/v1/health")).send().await.unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn failed_credentials_count_against_the_address() {
    let s = TestServer::start_with(limited(3, 100)).await;
    let bogus = format!("lw_live_{}", "a".repeat(40));
    for _ in 0..3 {
        assert_eq!(
            s.client.get(s.url("/v1/users/me")).bearer_auth(&bogus).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_429(s.client.get(s.url("/v1/users/me")).bearer_auth(&bogus).send().await.unwrap()).await;
}

#[tokio::test]
async fn forwarded_for_cannot_be_spoofed_to_escape_the_limit() {
    let s = TestServer::start_with(limited(100, 2)).await;
    for i in 0..2 {
        let res = s
            .client
            .post(s.url("/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({ "email": "a@b.co", "password": "wrongwrong" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = s
        .client
        .post(s.url("/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.99")
        .json(&json!({ "email": "a@b.co", "password": "wrongwrong" }))
        .send()
        .await
        .unwrap();
    assert_429(res).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let s = TestServer::start_with(|c| {
        limited(100, 1)(c);
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let login = |client_ip: &'static str| {
        s.client
            .post(s.url("/v1/auth/login"))
            // A client-supplied first hop, then the address the proxy saw.
            .header("x-forwarded-for", format!("6.6.6.6, {client_ip}"))
            .json(&json!({ "email": "a@b.co", "password": "wrongwrong" }))
            .send()
    };
    assert_eq!(login("198.51.100.1").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_429(login("198.51.100.1").await.unwrap()).await;
    assert_eq!(login("198.51.100.2").await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
