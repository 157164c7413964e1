//! The one small API client every command goes through: the server's base URL and the
//! bearer credential; answers other than 2xx become a [`ServerError`] carrying the
//! server's own JSON error (`{"statusCode","error","message","details"}`).

use std::time::Duration;

use anyhow::Context as _;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

/// A non-2xx answer, as the server put it.
#[derive(Debug)]
pub struct ServerError {
    pub status: StatusCode,
    pub message: String,
    /// `details[]`: `(field, message)`.
    pub details: Vec<(String, String)>,
    /// The body as JSON when it was JSON (for `--json`).
    pub body: Option<Value>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {})", self.message, self.status.as_u16())
    }
}

impl std::error::Error for ServerError {}

impl ServerError {
    /// Reads the error body of `response`. A body that is not the error shape (a proxy's
    /// page) still gives its status and first line.
    async fn from_response(response: Response) -> Self {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Option<Value> = serde_json::from_str(&text).ok();
        let message = body
            .as_ref()
            .and_then(|b| b.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
        let details = body
            .as_ref()
            .and_then(|b| b.get("details"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|d| {
                        let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                        (text("field"), text("message"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { status, message, details, body }
    }
}

/// A request that did not get an answer: which server could not be reached, and why.
#[derive(Debug)]
pub struct Unreachable {
    pub url: String,
    pub cause: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot reach the server at {}: {}", self.url, self.cause)
    }
}

impl std::error::Error for Unreachable {}

#[derive(Debug, Clone)]
pub struct Api {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> anyhow::Result<Self> {
        let mut base = Url::parse(server.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .with_context(|| format!("`{server}` is not a server URL: give http://host:port"))?;
        // A base with a path prefix (behind a proxy) keeps it: segments are pushed after it.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            // No overall timeout: exports, uploads and event streams last as long as they need.
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("lakeward-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { base, token, http })
    }

    /// The server's URL as given (without the trailing slash), for messages and profiles.
    pub fn server(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `segments` appended to the base, each percent-encoded (a table name is one segment
    /// whatever the user typed).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("http URLs have paths").pop_if_empty().extend(segments);
        url
    }

    pub fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let builder = self.http.request(method, self.url(segments));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub fn get(&self, segments: &[&str]) -> RequestBuilder {
        self.request(Method::GET, segments)
    }

    pub fn post(&self, segments: &[&str]) -> RequestBuilder {
        self.request(Method::POST, segments)
    }

    /// Sends the request; a non-2xx answer is a [`ServerError`], no answer [`Unreachable`].
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(ServerError::from_response(response).await.into())
        }
    }

    /// Sends the request and reads a JSON answer.
    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let response = self.send(request).await?;
        let url = response.url().clone();
        let bytes = response.bytes().await.with_context(|| format!("the answer of {url} broke off"))?;
        serde_json::from_slice(&bytes).with_context(|| format!("the answer of {url} is not the JSON expected"))
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        // reqwest's own message is "error sending request for url (...)"; the cause is
        // what a user can act on (connection refused, DNS, TLS).
        let mut cause = String::new();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            cause = inner.to_string();
            source = inner.source();
        }
        if cause.is_empty() {
            cause = error.to_string();
        }
        Unreachable { url: self.server(), cause }.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_after_the_base_path() {
        let api = Api::new("http://localhost:8080", None).unwrap();
        assert_eq!(api.url(&["v1", "tables", "a b", "c/d"]).as_str(), "http://localhost:8080/v1/tables/a%20b/c%2Fd");
        let api = Api::new("https://example.com/lakeward", None).unwrap();
        assert_eq!(api.url(&["v1", "sql"]).as_str(), "https://example.com/lakeward/v1/sql");
        assert_eq!(api.server(), "https://example.com/lakeward");
        assert!(Api::new("localhost:8080", None).is_err());
        assert!(Api::new("ftp://x", None).is_err());
    }
}
