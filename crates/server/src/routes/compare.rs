//! Comparisons of two catalogs or schemas (missing, extra and matching schemas and tables,
//! schema drift, row counts and checksums), as jobs.

use axum::extract::State;
use axum::http::StatusCode;
use lakeward_meta::access::{Action, Resource, authorize};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::jobs::view::JobResponse;
use crate::json::Json;
use crate::services::compare::{self, CompareOptions};
use crate::services::scope::{self, Scope, TableFilter};
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(compare_scopes))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareRequest {
    /// A catalog `catalog` or a schema `catalog.schema`.
    pub source: String,
    /// What to compare it with, of the same kind.
    pub destination: String,
    /// Catalogs: only these schemas (all when empty), on both sides.
    #[serde(default)]
    pub include_schemas: Vec<String>,
    /// Catalogs: not these schemas.
    #[serde(default)]
    pub exclude_schemas: Vec<String>,
    /// Only tables whose name matches (unanchored regex).
    pub include_tables_regex: Option<String>,
    /// Not tables whose name matches.
    pub exclude_tables_regex: Option<String>,
    /// Count both sides' rows by reading them (default true; false compares definitions only).
    pub row_counts: Option<bool>,
    /// Also compare checksums of every row's values, independent of file layout and row order.
    #[serde(default)]
    pub checksums: bool,
    /// Tables compared at once (1 to 16, default 4).
    pub parallel_tables: Option<usize>,
}

/// Compares two catalogs or two schemas, as a job (`tables:read`). The result names the
/// missing (in the source only), extra (in the destination only) and matching schemas and
/// tables; for each matching table its definition's drift (columns missing or extra, type,
/// nullability, position, comment, domain; primary key, partitioning, constraints,
/// description), row counts and checksums; and whether everything is identical.
#[utoipa::path(post, path = "/v1/compare", tag = "clones", security(("bearer" = [])), request_body = CompareRequest,
    responses((status = 202, body = JobResponse), (status = 404, description = "No such catalog or schema")))]
pub async fn compare_scopes(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Json(body): Json<CompareRequest>,
) -> ApiResult<(StatusCode, axum::Json<JobResponse>)> {
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let source = Scope::field("source", &body.source)?;
    let destination = Scope::field("destination", &body.destination)?;
    if source.schema.is_some() != destination.schema.is_some() {
        return Err(ApiError::invalid_field(
            "destination",
            "must name what the source names: a schema for a schema, a catalog for a catalog",
        ));
    }
    let filter = TableFilter::new(
        &body.include_schemas,
        &body.exclude_schemas,
        body.include_tables_regex.as_deref(),
        body.exclude_tables_regex.as_deref(),
    )?;
    if source.schema.is_some() && filter.names_schemas() {
        return Err(ApiError::invalid_field("include_schemas", "schema filters apply to catalogs"));
    }
    let parallel = scope::parallel_tables(body.parallel_tables)?;
    let options = CompareOptions { row_counts: body.row_counts.unwrap_or(true), checksums: body.checksums, parallel };
    let job = compare::start(&state, &principal, source, destination, &filter, options).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job.into())))
}
