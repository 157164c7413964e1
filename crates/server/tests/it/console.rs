//! The web console's page and assets as the binary serves them (what it does in a
//! browser is tested by console/e2e in headless Chromium).
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::TestServer;

fn header(res: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> &str {
    res.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// The `/assets/...` paths the page names.
fn asset_paths(html: &str) -> Vec<String> {
    html.split('"').filter(|part| part.starts_with("/assets/")).map(str::to_owned).collect()
}

#[tokio::test]
async fn the_page_has_a_strict_policy_and_a_fresh_style_nonce_each_time() {
    let s = TestServer::start().await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let res = s.client.get(s.url("/")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header(&res, CACHE_CONTROL), "no-cache");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer");
        let csp = header(&res, CONTENT_SECURITY_POLICY).to_owned();
        let html = res.text().await.unwrap();
        let nonce = html.split("name=\"lakeward-style-nonce\" content=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(nonce.len(), 32);
        assert_eq!(
            csp,
            format!(
                "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline'; \
                 img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                 form-action 'self'"
            )
        );
        assert!(!html.contains("<script>") && !html.contains("http://") && !html.contains("https://"), "{html}");
        nonces.push(nonce.to_owned());
    }
    assert_ne!(nonces[0], nonces[1]);
}

#[tokio::test]
async fn assets_are_gzipped_when_accepted_and_cached_for_good() {
    let s = TestServer::start().await;
    let html = s.client.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    let assets = asset_paths(&html);
    assert_eq!(assets.len(), 2, "a stylesheet and a script: {html}");
    for path in assets {
        let plain = s.client.get(s.url(&path)).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&plain, CONTENT_ENCODING), "");
        assert_eq!(header(&plain, CACHE_CONTROL), "public, max-age=31536000, immutable");
        let expected = if path.ends_with(".js") { "text/javascript; charset=utf-8" } else { "text/css; charset=utf-8" };
        assert_eq!(header(&plain, CONTENT_TYPE), expected);
        let plain_len = plain.bytes().await.unwrap().len();

        let gzipped = s.client.get(s.url(&path)).header(ACCEPT_ENCODING, "br, gzip;q=0.8").send().await.unwrap();
        assert_eq!(header(&gzipped, CONTENT_ENCODING), "gzip");
        assert_eq!(header(&gzipped, "vary"), "accept-encoding");
        let body = gzipped.bytes().await.unwrap();
        assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
        assert!(body.len() < plain_len, "{path}: {} gzipped, {plain_len} plain", body.len());

        let refused = s.client.get(s.url(&path)).header(ACCEPT_ENCODING, "gzip;q=0").send().await.unwrap();
        assert_eq!(header(&refused, CONTENT_ENCODING), "");
    }
}

#[tokio::test]
async fn unknown_assets_and_odd_paths_are_404s_in_the_error_shape() {
    let s = TestServer::start().await;
    for path in ["/assets/nope.js", "/assets/..%2Findex.html", "/assets/index.html", "/assets/%00.js", "/index.html"] {
        let res = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["statusCode"], json!(404), "{path}");
    }
}

#[tokio::test]
async fn the_console_is_not_charged_to_an_addresss_rate_limit() {
    let s = TestServer::start_with(|c| c.limits.rate_limit_per_minute = 2).await;
    let html = s.client.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    for _ in 0..5 {
        assert_eq!(s.client.get(s.url("/")).send().await.unwrap().status(), StatusCode::OK);
        for path in asset_paths(&html) {
            assert_eq!(s.client.get(s.url(&path)).send().await.unwrap().status(), StatusCode::OK);
        }
    }
    // The API still is: two anonymous requests, then 429.
    let statuses = anonymous_api_statuses(&s, 3).await;
    assert_eq!(statuses, [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]);
}

/// The statuses of `n` requests to the API without credentials, one after another.
async fn anonymous_api_statuses(s: &TestServer, n: usize) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(s.client.get(s.url("/v1/users/me")).send().await.unwrap().status());
    }
    out
}
