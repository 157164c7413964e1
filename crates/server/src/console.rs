//! The web console: the single-page app built from `console/` (see its `build.mjs`) into
//! `crates/server/assets/console/`, embedded in the binary. `/` is its page; `/assets/*`
//! its scripts and styles, whose names carry a content hash, so browsers keep them for
//! good. The build writes each asset gzipped beside it, sent to browsers that accept it.
//! Each page gets a fresh style nonce (in its CSP and in a `<meta>` the SQL editor reads):
//! the editor's styles are a `<style>` element, the only inline style allowed.
//! The console is a client of the public API only; these routes serve files, nothing else.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "assets/console/"]
struct Assets;

/// Scripts from this origin only (no inline script, no eval), style sheets from this origin
/// and the page's nonce, no frames, no plugins; requests only to this origin (the API).
/// Style attributes are allowed: the browser's own editing of the SQL editor's
/// contenteditable writes them (replacing a selection keeps its typing style), and
/// refusing them only logs errors; they can run nothing, and load nothing from elsewhere.
fn csp(style_nonce: Option<&str>) -> String {
    let nonce = style_nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'{nonce}; style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

const NONCE_PLACEHOLDER: &str = "__STYLE_NONCE__";

/// Paths the gate does not rate limit (without credentials): static files, cheap to serve.
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path.starts_with("/assets/")
}

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(page)).route("/assets/{file}", get(asset))
}

/// The page, with this response's nonce. It names the current assets, so browsers
/// always check it again.
async fn page() -> Response {
    let Some(file) = Assets::get("index.html") else { return not_found().into_response() };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let html = String::from_utf8_lossy(&file.data).replace(NONCE_PLACEHOLDER, &nonce);
    let mut response = html.into_response();
    secure(&mut response, "text/html; charset=utf-8", "no-cache", Some(&nonce));
    response
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let name = format!("assets/{file}");
    let (Some(content_type), Some(plain)) = (content_type(&name), Assets::get(&name)) else {
        return not_found().into_response();
    };
    let gzip = accepts_gzip(&headers).then(|| Assets::get(&format!("{name}.gz"))).flatten();
    let mut response = match &gzip {
        Some(compressed) => compressed.data.clone().into_owned().into_response(),
        None => plain.data.into_owned().into_response(),
    };
    if gzip.is_some() {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    secure(&mut response, content_type, "public, max-age=31536000, immutable", None);
    response
}

/// The headers of every console response: its type and caching, and what the browser
/// may do with it.
fn secure(response: &mut Response, content_type: &'static str, cache: &'static str, style_nonce: Option<&str>) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp(style_nonce)).expect("a CSP is ASCII"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
}

fn not_found() -> ApiError {
    ApiError::missing("console asset")
}

fn content_type(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        _ => return None,
    })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused =
                parts.any(|p| matches!(p.trim().replace(' ', "").as_str(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}
