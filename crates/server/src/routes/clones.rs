//! Clones of tables (as jobs), their rollback, and tables' lineage.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lakeward_engine::CloneKeep;
use lakeward_meta::access::{Action, Resource, authorize};
use lakeward_meta::store::Lineage;
use lakeward_model::TableRef;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::jobs::view::JobResponse;
use crate::json::Json;
use crate::services::clones::{self, CloneOptions};
use crate::services::scope::{self, Scope, TableFilter};
use crate::state::SharedState;
use crate::table_access::{self, TablePath};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(clone_table)).routes(routes!(rollback_clone)).routes(routes!(table_lineage))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum CloneType {
    /// The data files are copied: an independent table.
    #[default]
    Deep,
    /// The data files are linked (local storage) or copied (object stores); see the README.
    Shallow,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneRequest {
    /// What to clone: a table `catalog.schema.table`, a schema `catalog.schema` or a
    /// catalog `catalog`.
    pub source: String,
    /// The new name, of the same kind. A table's schema must exist; a schema or catalog
    /// clone makes the destination catalog and schemas it needs.
    pub destination: String,
    #[serde(default)]
    pub clone_type: CloneType,
    /// Clone every table as it was at this version...
    pub as_of_version: Option<u64>,
    /// ... or at this time (RFC 3339); not both.
    pub as_of_timestamp: Option<String>,
    /// Answer the plan (tables, files, bytes, rows, estimated time) and write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The description and column comments (default true).
    pub copy_comments: Option<bool>,
    /// Table properties other than constraints and the primary key (default true).
    pub copy_properties: Option<bool>,
    pub copy_domains: Option<bool>,
    pub copy_constraints: Option<bool>,
    pub copy_primary_key: Option<bool>,
    /// Count both tables' rows by reading them afterwards; a mismatch removes the clone.
    #[serde(default)]
    pub validate_after_clone: bool,
    /// With `validate_after_clone`: also compare checksums of every row's values
    /// (independent of file layout and row order).
    #[serde(default)]
    pub validate_checksum: bool,
    /// Catalog clones: only these schemas (all when empty).
    #[serde(default)]
    pub include_schemas: Vec<String>,
    /// Catalog clones: not these schemas.
    #[serde(default)]
    pub exclude_schemas: Vec<String>,
    /// Schema and catalog clones: only tables whose name matches (unanchored regex).
    pub include_tables_regex: Option<String>,
    /// Schema and catalog clones: not tables whose name matches.
    pub exclude_tables_regex: Option<String>,
    /// Schema and catalog clones: how many tables are cloned at once (1 to 16, default 4).
    pub parallel_tables: Option<usize>,
}

fn table_ref(field: &str, raw: &str) -> ApiResult<TableRef> {
    TableRef::parse(raw).ok_or_else(|| {
        ApiError::invalid_field(
            field,
            "must be `catalog.schema.table`, each part an identifier ([A-Za-z_][A-Za-z0-9_]*)",
        )
    })
}

/// Clones a table, a schema or a catalog, as a job (`tables:read` on the sources,
/// `tables:create`). The job's result is the plan and, unless a dry run, each table's clone
/// and validation.
#[utoipa::path(post, path = "/v1/clones", tag = "clones", security(("bearer" = [])), request_body = CloneRequest,
    responses((status = 202, body = JobResponse), (status = 404, description = "No such source, or no destination schema for a table"),
        (status = 409, description = "A destination table exists")))]
pub async fn clone_table(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Json(body): Json<CloneRequest>,
) -> ApiResult<(StatusCode, axum::Json<JobResponse>)> {
    if body.validate_checksum && !body.validate_after_clone {
        return Err(ApiError::invalid_field("validate_checksum", "needs validate_after_clone"));
    }
    if body.as_of_version.is_some() && body.as_of_timestamp.is_some() {
        return Err(ApiError::invalid_field("as_of_timestamp", "give as_of_version or as_of_timestamp, not both"));
    }
    let at = table_access::time_travel(body.as_of_version, body.as_of_timestamp.as_deref()).map_err(|mut e| {
        e.details.iter_mut().for_each(|d| d.field = "as_of_timestamp".into());
        e
    })?;
    let parallel = scope::parallel_tables(body.parallel_tables)?;
    let filter = TableFilter::new(
        &body.include_schemas,
        &body.exclude_schemas,
        body.include_tables_regex.as_deref(),
        body.exclude_tables_regex.as_deref(),
    )?;
    // A table when either side names one (the other must then too).
    let is_table = [&body.source, &body.destination].iter().any(|name| name.split('.').count() >= 3);
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    if !body.dry_run {
        authorize(&principal, Action::TablesCreate, &Resource::Table { org_id: principal.org_id })?;
    }
    let set = if is_table {
        if filter.names_schemas() || body.include_tables_regex.is_some() || body.exclude_tables_regex.is_some() {
            return Err(ApiError::invalid_field(
                "source",
                "schema and table filters apply to schema and catalog clones",
            ));
        }
        let source = table_ref("source", &body.source)?;
        let destination = table_ref("destination", &body.destination)?;
        let path = TablePath::new(source.catalog.to_string(), source.schema.to_string(), source.table.to_string());
        let resolved = table_access::resolve(&state, &principal, &path, Action::TablesRead).await?;
        clones::table_set(&state, &principal, resolved, destination).await?
    } else {
        let source = Scope::field("source", &body.source)?;
        let destination = Scope::field("destination", &body.destination)?;
        if source.schema.is_some() != destination.schema.is_some() {
            return Err(ApiError::invalid_field(
                "destination",
                "must name what the source names: a schema for a schema, a catalog for a catalog",
            ));
        }
        if source == destination {
            return Err(ApiError::invalid_field("destination", "must differ from the source"));
        }
        if source.schema.is_some() && filter.names_schemas() {
            return Err(ApiError::invalid_field("include_schemas", "schema filters apply to catalog clones"));
        }
        clones::scope_set(&state, &principal, source, destination, &filter).await?
    };
    let on = |flag: Option<bool>| flag.unwrap_or(true);
    let keep = CloneKeep {
        comments: on(body.copy_comments),
        properties: on(body.copy_properties),
        domains: on(body.copy_domains),
        constraints: on(body.copy_constraints),
        primary_key: on(body.copy_primary_key),
    };
    let options = CloneOptions {
        shallow: body.clone_type == CloneType::Shallow,
        at,
        dry_run: body.dry_run,
        keep,
        validate: body.validate_after_clone,
        checksum: body.validate_checksum,
        parallel,
        echo: serde_json::to_value(&body).map_err(ApiError::internal)?,
    };
    let accepted = clones::start(&state, request, principal, set, options).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(accepted.into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RollbackResponse {
    /// The tables removed: those the clone made that still are the tables it made.
    pub removed: Vec<String>,
}

/// Rolls a finished clone back: the tables it made are removed, then the schemas and the
/// catalog it created if empty (`tables:modify`); tables made since under the same names,
/// and everything else, stay.
#[utoipa::path(post, path = "/v1/clones/{job_id}/rollback", tag = "clones", security(("bearer" = [])),
    params(("job_id" = Uuid, Path, description = "The clone's job")),
    responses((status = 200, body = RollbackResponse), (status = 409, description = "The clone is still running")))]
pub async fn rollback_clone(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(job_id): Path<String>,
) -> ApiResult<axum::Json<RollbackResponse>> {
    authorize(&principal, Action::TablesModify, &Resource::Table { org_id: principal.org_id })?;
    let id = super::parse_id(&job_id)?;
    let job = state.jobs.get(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    let removed = clones::rollback(&state, &request, &principal, &job).await?;
    Ok(axum::Json(RollbackResponse { removed }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineageEntry {
    pub source: String,
    pub source_version: i64,
    pub destination: String,
    /// `clone.deep` or `clone.shallow`.
    pub kind: String,
    /// The request's options.
    pub options: serde_json::Value,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl From<Lineage> for LineageEntry {
    fn from(l: Lineage) -> Self {
        Self {
            source: l.source_name,
            source_version: l.source_version,
            destination: l.target_name,
            kind: l.kind,
            options: l.options,
            job_id: l.job_id,
            created_at: l.created_at,
            created_by: l.created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineageResponse {
    pub table: String,
    /// What the table was made from.
    pub cloned_from: Vec<LineageEntry>,
    /// What was made from it (tables since dropped included).
    pub clones: Vec<LineageEntry>,
}

/// Where the table came from and what was made from it (`tables:read`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/lineage", tag = "clones", security(("bearer" = [])),
    params(TablePath), responses((status = 200, body = LineageResponse)))]
pub async fn table_lineage(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
) -> ApiResult<axum::Json<LineageResponse>> {
    let t = table_access::resolve(&state, &principal, &path, Action::TablesRead).await?;
    let (org_id, id) = (principal.org_id, t.entry.id);
    let cloned_from = state.meta.lineage_of(org_id, id, true).await?.into_iter().map(Into::into).collect();
    let clones = state.meta.lineage_of(org_id, id, false).await?.into_iter().map(Into::into).collect();
    Ok(axum::Json(LineageResponse { table: t.entry.table.to_string(), cloned_from, clones }))
}
