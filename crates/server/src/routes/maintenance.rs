//! Table maintenance: vacuum and optimize (as jobs) and storage metrics.

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
    OpenApiRouter::new().routes(routes!(vacuum_table)).routes(routes!(optimize_table)).routes(routes!(storage_metrics))
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

/// The target size of an optimize's files: the table's own by default (3 MiB), 1 MiB to 1 GiB.
const DEFAULT_TARGET_SIZE: u64 = 3 << 20;
const TARGET_SIZES: std::ops::RangeInclusive<u64> = (1 << 20)..=(1 << 30);
const MAX_ZORDER_COLUMNS: usize = 8;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    /// Files under this size are compacted into files of about it (bytes, 1 MiB to 1 GiB;
    /// default 3 MiB, the size Lakeward writes).
    pub target_size_bytes: Option<u64>,
    /// Rewrite every file with rows ordered along a Z-order curve of these columns (1 to 8),
    /// so lookups on any of them skip most files.
    #[serde(default)]
    pub zorder_by: Vec<String>,
    /// Answer what would be rewritten (files, bytes, rows, paths); rewrite nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Rewrites the table's small files into files of the target size, or with `zorder_by`
/// all its files Z-ordered (`tables:modify`), as a job; no row changes, history and time
/// travel stay. Writes to the table wait while it runs. The result counts the files,
/// bytes and rows rewritten and the files written.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/optimize", tag = "tables", security(("bearer" = [])),
    params(TablePath), request_body = OptimizeRequest, responses((status = 202, body = JobResponse),
        (status = 409, description = "A partitioned, column-mapped or deletion-vector table")))]
pub async fn optimize_table(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<OptimizeRequest>,
) -> ApiResult<(StatusCode, axum::Json<JobResponse>)> {
    let target_size = body.target_size_bytes.unwrap_or(DEFAULT_TARGET_SIZE);
    if !TARGET_SIZES.contains(&target_size) {
        return Err(ApiError::invalid_field("target_size_bytes", "must be 1048576 (1 MiB) to 1073741824 (1 GiB)"));
    }
    if body.zorder_by.len() > MAX_ZORDER_COLUMNS {
        return Err(ApiError::invalid_field("zorder_by", format!("at most {MAX_ZORDER_COLUMNS} columns")));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = body.zorder_by.iter().find(|c| !seen.insert(c.as_str())) {
        return Err(ApiError::invalid_field("zorder_by", format!("names `{twice}` twice")));
    }
    let t = table_access::resolve(&state, &principal, &path, Action::TablesModify).await?;
    let options =
        services::maintenance::OptimizeOptions { target_size, zorder_by: body.zorder_by, dry_run: body.dry_run };
    let job = services::maintenance::optimize(&state, request, principal, t, options).await?;
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
