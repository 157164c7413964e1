//! `GET /metrics`: the operations metrics ([`crate::metrics`]) for a Prometheus scraper.
//! They are the whole server's, so they need an admin's `metrics:read`, unless the server
//! is configured to serve them publicly (`metrics_public`), for a scraper on a network
//! only operators reach; then they also skip the rate limit.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use lakeward_meta::access::{Action, Resource, authorize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Operations metrics: requests by route template, method and status, latency, requests
/// in flight, rate-limited requests, webhook deliveries, jobs. The Prometheus text format,
/// or OpenMetrics when `Accept` names `application/openmetrics-text`. Needs `metrics:read`
/// (admins) unless the server serves it publicly (`--metrics-public`).
#[utoipa::path(get, path = "/metrics", tag = "operations", security((), ("bearer" = [])),
    responses((status = 200, description = "The metrics in the text exposition format",
        content((String = "text/plain; version=0.0.4"), (String = "application/openmetrics-text; version=1.0.0")))))]
pub async fn metrics(
    State(state): State<SharedState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !state.config.metrics_public {
        let Auth(principal) = auth?;
        authorize(&principal, Action::MetricsRead, &Resource::Organisation { org_id: principal.org_id })?;
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    let body = state.metrics.render(&state.meta, &state.engine, openmetrics).await?;
    let content_type = if openmetrics { OPENMETRICS_CONTENT_TYPE } else { PROMETHEUS_CONTENT_TYPE };
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
