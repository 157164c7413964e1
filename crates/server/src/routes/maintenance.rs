//! Table maintenance: vacuum (as a job) and storage metrics.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use lakeward_engine::ops::table::StorageMetrics;
use lakeward_meta::access::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::jobs::view::JobResponse;
use crate::json::Json;
use crate::services;
use crate::state::SharedState;
use crate::table_access::{self, TablePath};

/// Delta's default retention: 7 days.
const DEFAULT_RETENTION_HOURS: u64 = 168;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(vacuum_table)).routes(routes!(storage_metrics))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VacuumRequest {
    /// Keep every file a version of the last this many hours needs (default 168).
    pub retention_hours: Option<u64>,
    /// List what would be removed; remove nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Allow a retention under the configured minimum.
    #[serde(default)]
    pub force: bool,
}

/// Removes the table's data files that no version within the retention needs, and files
/// no commit ever named once older than it (`tables:modify`), as a job; the result lists
/// the files (at most 1,000) with their count and bytes.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/vacuum", tag = "tables", security(("bearer" = [])),
    params(TablePath), request_body = VacuumRequest, responses((status = 202, body = JobResponse)))]
pub async fn vacuum_table(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<VacuumRequest>,
) -> ApiResult<(StatusCode, axum::Json<JobResponse>)> {
    let retention_hours = body.retention_hours.unwrap_or(DEFAULT_RETENTION_HOURS);
    let minimum = state.config.limits.vacuum_min_retention_hours;
    if retention_hours < minimum && !body.force {
        return Err(ApiError::invalid_field(
            "retention_hours",
            format!("must be at least {minimum} (the configured minimum); force=true allows less"),
        ));
    }
    let t = table_access::resolve(&state, &principal, &path, Action::TablesModify).await?;
    let job = services::maintenance::vacuum(&state, request, principal, t, retention_hours, body.dry_run).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job.into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageMetricsResponse {
    pub version: u64,
    pub active_files: u64,
    pub active_bytes: u64,
    /// Active files under 1 MiB.
    pub small_files: u64,
    /// What a vacuum with `retention_hours` would remove now.
    pub vacuumable_files: u64,
    pub vacuumable_bytes: u64,
    /// Files kept only for time travel to earlier versions.
    pub time_travel_files: u64,
    pub time_travel_bytes: u64,
    pub log_files: u64,
    pub log_bytes: u64,
    pub retention_hours: u64,
}

/// How the table's storage is used (`tables:read`): active, vacuumable and time-travel
/// files and bytes (at the default retention of 168 hours), small files, the log.
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/storage-metrics", tag = "tables", security(("bearer" = [])),
    params(TablePath), responses((status = 200, body = StorageMetricsResponse)))]
pub async fn storage_metrics(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
) -> ApiResult<axum::Json<StorageMetricsResponse>> {
    let t = table_access::resolve(&state, &principal, &path, Action::TablesRead).await?;
    let actor = table_access::actor(&state, &principal).await?;
    let retention_hours = DEFAULT_RETENTION_HOURS;
    let u = state.engine.run(StorageMetrics { location: t.location, retention_hours, actor }).await?;
    Ok(axum::Json(StorageMetricsResponse {
        version: u.version,
        active_files: u.active_files,
        active_bytes: u.active_bytes,
        small_files: u.small_files,
        vacuumable_files: u.vacuumable_files,
        vacuumable_bytes: u.vacuumable_bytes,
        time_travel_files: u.time_travel_files,
        time_travel_bytes: u.time_travel_bytes,
        log_files: u.log_files,
        log_bytes: u.log_bytes,
        retention_hours,
    }))
}
