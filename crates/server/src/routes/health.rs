use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// Liveness and version. Never rate limited, needs no credentials.
#[utoipa::path(get, path = "/v1/health", tag = "health", responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// How long each readiness check may take before it counts as failed.
const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyCheck {
    pub name: &'static str,
    pub ok: bool,
    /// Why it failed (the detail is in the server's log, not here: this is unauthenticated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    /// `ready`, or `unavailable` (answered with 503).
    pub status: &'static str,
    /// `metadata` (the metadata database answers) and `warehouse` (its folder or bucket does).
    pub checks: Vec<ReadyCheck>,
}

/// Readiness for load balancers: 200 when the metadata database and the warehouse answer,
/// else 503 naming the check that failed. Never rate limited, needs no credentials.
#[utoipa::path(get, path = "/v1/health/ready", tag = "health",
    responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
pub async fn ready(State(state): State<SharedState>) -> (StatusCode, Json<ReadyResponse>) {
    let metadata = tokio::time::timeout(READY_CHECK_TIMEOUT, state.meta.ping()).await;
    let metadata = match metadata {
        Ok(Ok(())) => ReadyCheck { name: "metadata", ok: true, reason: None },
        failed => {
            tracing::warn!(?failed, "readiness: the metadata database does not answer");
            ReadyCheck { name: "metadata", ok: false, reason: Some("the metadata database does not answer") }
        }
    };
    let check = lakeward_engine::ops::storage::CheckWarehouse { root: state.config.warehouse.root().clone() };
    let warehouse = match tokio::time::timeout(READY_CHECK_TIMEOUT, state.engine.run(check)).await {
        Ok(Ok(())) => ReadyCheck { name: "warehouse", ok: true, reason: None },
        failed => {
            tracing::warn!(?failed, "readiness: the warehouse does not answer");
            ReadyCheck { name: "warehouse", ok: false, reason: Some("the warehouse does not answer") }
        }
    };
    let ok = metadata.ok && warehouse.ok;
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(ReadyResponse { status: if ok { "ready" } else { "unavailable" }, checks: vec![metadata, warehouse] }),
    )
}
