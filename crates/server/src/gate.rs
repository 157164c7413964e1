//! The middleware every request passes: attribute it to a client address, resolve its
//! credential to a principal, and charge it to a rate-limit budget.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lakeward_meta::access::{Credential, Principal};

use crate::auth::{RequestMeta, resolve_bearer};
use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::metrics::Caller;
use crate::rate_limit::retry_after_secs;
use crate::state::SharedState;

/// What load balancers poll; never rate limited.
const HEALTH_PATH: &str = "/v1/health";
const READY_PATH: &str = "/v1/health/ready";
/// What scrapers poll; not rate limited when it is served without credentials.
const METRICS_PATH: &str = "/metrics";

pub async fn gate(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(peer.ip(), req.headers(), &state.config.trusted_proxies);
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    req.extensions_mut().insert(RequestMeta { client_ip: ip, request_id });
    let path = req.uri().path();
    let exempt = path == HEALTH_PATH
        || path == READY_PATH
        || (path == METRICS_PATH && state.config.metrics_public)
        || crate::console::is_console_path(path);
    let auth_endpoint = path.starts_with("/v1/auth/");
    let anonymous_key = format!("ip:{ip}");

    // Charges one request to `key`; the 429 to answer if its budget is spent. Failed
    // credentials are charged on exempt paths too, so that no path lets keys be guessed
    // without limit.
    let over_limit = |key: &str, caller: Caller, failed_credentials: bool| -> Option<Response> {
        if exempt && !failed_credentials {
            return None;
        }
        let wait = state.rate_limits.check(key, auth_endpoint).err()?;
        state.metrics.rate_limited(caller);
        Some(ApiError::too_many_requests(retry_after_secs(wait)).into_response())
    };
    // Failed credentials are charged to the address, so guessing keys is limited too.
    let refuse =
        |err: ApiError| over_limit(&anonymous_key, Caller::Anonymous, true).unwrap_or_else(|| err.into_response());

    let principal = match bearer_token(req.headers()) {
        Ok(None) => None,
        Ok(Some(token)) => match resolve_bearer(&state, token).await {
            Ok(principal) => Some(principal),
            Err(err) => return refuse(err),
        },
        Err(err) => return refuse(err),
    };
    let (key, caller) = match &principal {
        Some(Principal { credential: Credential::ApiKey { key_id, .. }, .. }) => {
            (format!("key:{key_id}"), Caller::ApiKey)
        }
        Some(Principal { user_id, .. }) => (format!("user:{user_id}"), Caller::User),
        None => (anonymous_key.clone(), Caller::Anonymous),
    };
    if let Some(response) = over_limit(&key, caller, false) {
        return response;
    }
    if let Some(principal) = principal {
        req.extensions_mut().insert(principal);
    }
    next.run(req).await
}

/// `Authorization: Bearer <token>`; `Ok(None)` without the header, `Err` if it is malformed.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || ApiError::unauthorized("Malformed Authorization header; expected `Bearer <token>`");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}
