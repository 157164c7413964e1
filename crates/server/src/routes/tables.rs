//! Tables: create, list, describe, drop; history, rollback, export and search.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lakeward_engine::ops;
use lakeward_engine::{EngineError, OutputFormat, TableMetadata, WriteRequest};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Privilege, PrivilegeSet, Resource, authorize, effective_privileges};
use lakeward_meta::store::Securable;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::SuccessResponse;
use crate::answer_format::{output_format, stream_response};
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::query::Query;
use crate::services;
use crate::state::SharedState;
use crate::table_access::{self, TablePath, new_ident, resolve, time_travel};
use crate::table_definition::{CreateTableRequest, table_spec};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(list_tables))
        .routes(routes!(create_table, get_table, drop_table))
        .routes(routes!(table_history))
        .routes(routes!(rollback))
        .routes(routes!(export_table))
        .routes(routes!(search_table))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldResponse {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub nullable: bool,
    pub comment: Option<String>,
    /// The column's domain (also in `metadata` as `lakeward.domain`), if any.
    #[schema(value_type = Option<Object>)]
    pub domain: Option<lakeward_engine::Domain>,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaFields {
    pub fields: Vec<FieldResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConstraintResponse {
    pub name: String,
    pub expr: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnStatisticsResponse {
    pub column: String,
    pub null_count: Option<u64>,
    /// Present when asked for with `?distinct=true` (it reads the data).
    pub distinct_count: Option<u64>,
    #[schema(value_type = Object)]
    pub min: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub max: Option<serde_json::Value>,
}

/// A table's description, from its Delta log and file statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableMetadataResponse {
    pub id: Uuid,
    pub catalog: String,
    pub schema_name: String,
    pub table_name: String,
    /// Always `DELTA`.
    pub table_type: &'static str,
    pub description: Option<String>,
    pub version: u64,
    pub num_rows: u64,
    pub num_files: u64,
    /// Bytes of data files.
    pub file_size: u64,
    pub schema: SchemaFields,
    pub primary_key: Vec<String>,
    pub partition_columns: Vec<String>,
    pub constraints: Vec<ConstraintResponse>,
    pub properties: HashMap<String, String>,
    pub column_statistics: Vec<ColumnStatisticsResponse>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    /// What the caller may do on this table: its role's privileges (narrowed by an API
    /// key's scopes) and those granted on the table, its schema or its catalog.
    #[schema(example = json!(["read", "query", "insert"]))]
    pub privileges: Vec<&'static str>,
}

fn metadata_response(
    entry: &lakeward_meta::store::TableEntry,
    m: TableMetadata,
    distinct: Option<HashMap<String, u64>>,
    privileges: PrivilegeSet,
) -> TableMetadataResponse {
    TableMetadataResponse {
        privileges: privileges.iter().map(Privilege::as_str).collect(),
        id: entry.id,
        catalog: entry.table.catalog.to_string(),
        schema_name: entry.table.schema.to_string(),
        table_name: entry.table.table.to_string(),
        table_type: "DELTA",
        description: m.description,
        version: m.version,
        num_rows: m.num_rows,
        num_files: m.num_files,
        file_size: m.file_size,
        schema: SchemaFields {
            fields: m
                .columns
                .into_iter()
                .map(|c| FieldResponse {
                    name: c.name,
                    column_type: c.column_type,
                    nullable: c.nullable,
                    comment: c.comment,
                    domain: c.domain,
                    metadata: c.metadata,
                })
                .collect(),
        },
        primary_key: m.primary_key,
        partition_columns: m.partition_columns,
        constraints: m.constraints.into_iter().map(|(name, expr)| ConstraintResponse { name, expr }).collect(),
        properties: m.properties,
        column_statistics: m
            .column_statistics
            .into_iter()
            .map(|s| ColumnStatisticsResponse {
                distinct_count: distinct.as_ref().and_then(|d| d.get(&s.column).copied()),
                column: s.column,
                null_count: s.null_count,
                min: s.min,
                max: s.max,
            })
            .collect(),
        created_at: m.created_at,
        last_modified: m.last_modified,
    }
}

/// Creates a Delta table at `<warehouse>/<org>/<catalog>/<schema>/<table>/` (`tables:create`).
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}", tag = "tables", security(("bearer" = [])),
    params(TablePath),
    request_body = CreateTableRequest, responses((status = 201, body = TableMetadataResponse), (status = 409, description = "Exists")))]
pub async fn create_table(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<CreateTableRequest>,
) -> ApiResult<(StatusCode, axum::Json<TableMetadataResponse>)> {
    authorize(&principal, Action::TablesCreate, &Resource::Table { org_id: principal.org_id })?;
    let (catalog, schema) = table_access::schema_ref(&path.catalog, &path.schema)?;
    let reference = lakeward_model::TableRef { catalog, schema, table: new_ident("table", &path.table)? };
    let spec = table_spec(&body)?;
    let (entry, metadata) = services::tables::create_table(&state, &request, &principal, &reference, &spec).await?;
    let privileges = effective_privileges(&principal, PrivilegeSet::default());
    Ok((StatusCode::CREATED, axum::Json(metadata_response(&entry, metadata, None, privileges))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimeTravelQuery {
    /// Read the table as of this version.
    pub version: Option<u64>,
    /// Read the table as of this RFC 3339 time.
    pub as_of: Option<String>,
    /// Also count distinct values per column (reads the data).
    pub distinct: Option<bool>,
}

/// Describes a table from its Delta log and file statistics (`tables:read`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}", tag = "tables", security(("bearer" = [])),
    params(TablePath, TimeTravelQuery),
    responses((status = 200, body = TableMetadataResponse)))]
pub async fn get_table(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Query(query): Query<TimeTravelQuery>,
) -> ApiResult<axum::Json<TableMetadataResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesRead).await?;
    let at = time_travel(query.version, query.as_of.as_deref())?;
    let metadata = state.engine.run(ops::table::Describe { location: t.location.clone(), at }).await?;
    let distinct = if query.distinct == Some(true) {
        Some(state.engine.run(ops::table::DistinctCounts { location: t.location.clone(), at }).await?)
    } else {
        None
    };
    let granted = table_access::granted_on(&state, &principal, &Securable::Table(t.entry.table.to_string())).await?;
    Ok(axum::Json(metadata_response(&t.entry, metadata, distinct, effective_privileges(&principal, granted))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DropQuery {
    /// Must repeat the table's full name, `catalog.schema.table`, to confirm a drop that
    /// deletes data.
    pub confirm: Option<String>,
    /// For a table on a storage connection: also delete its data (with `confirm`).
    /// Without it, the table is only unregistered and its files stay in the store.
    #[serde(default)]
    pub purge: bool,
}

/// Drops a table and deletes its data (`tables:modify`). Needs `?confirm=<catalog.schema.table>`.
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}", tag = "tables", security(("bearer" = [])),
    params(TablePath, DropQuery),
    responses((status = 200, body = SuccessResponse)))]
pub async fn drop_table(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Query(query): Query<DropQuery>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    // Unregistering a table of a read-only connection writes nothing to the store.
    let t = table_access::resolve_registered(&state, &principal, &path, Action::TablesModify).await?;
    let name = t.entry.table.to_string();
    let on_connection = t.entry.connection_id.is_some();
    let purge = !on_connection || query.purge;
    if purge && query.confirm.as_deref() != Some(name.as_str()) {
        return Err(ApiError::invalid_field(
            "confirm",
            format!("dropping deletes all data: repeat the table's name, ?confirm={name}"),
        ));
    }
    if purge && on_connection {
        table_access::refuse_read_only(&state, &principal, &t.entry).await?;
    }
    state.meta.unregister_table(principal.org_id, &t.entry.table).await?;
    if purge {
        state.engine.run(ops::table::DropTable { location: t.location.clone() }).await?;
    }
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::TableDeleted)
            .target("table", &name)
            .details(serde_json::json!({ "data_deleted": purge })),
    )
    .await?;
    Ok(SuccessResponse::new(if purge { "Table dropped" } else { "Table unregistered; its data stays in the store" }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTablesQuery {
    pub catalog: Option<String>,
    pub schema: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableSummary {
    pub id: Uuid,
    pub catalog: String,
    pub schema_name: String,
    pub table_name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableListResponse {
    pub tables: Vec<TableSummary>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The organisation's tables, optionally of one catalog or schema (`tables:read`).
#[utoipa::path(get, path = "/v1/tables", tag = "tables", security(("bearer" = [])), params(ListTablesQuery),
    responses((status = 200, body = TableListResponse)))]
pub async fn list_tables(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(query): Query<ListTablesQuery>,
) -> ApiResult<axum::Json<TableListResponse>> {
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid_field("offset", "must not be negative"));
    }
    let catalog = query.catalog.as_deref().map(|c| new_ident("catalog", c)).transpose()?;
    let schema = query.schema.as_deref().map(|s| new_ident("schema", s)).transpose()?;
    let (tables, total) =
        state.meta.list_tables(principal.org_id, catalog.as_ref(), schema.as_ref(), limit, offset).await?;
    Ok(axum::Json(TableListResponse {
        tables: tables
            .into_iter()
            .map(|t| TableSummary {
                id: t.id,
                catalog: t.table.catalog.to_string(),
                schema_name: t.table.schema.to_string(),
                table_name: t.table.table.to_string(),
                created_at: t.created_at,
                created_by: t.created_by,
            })
            .collect(),
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// Only commits before this version (for paging back).
    pub before: Option<u64>,
}

/// One commit of a table.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableHistoryItem {
    pub version: u64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub operation: Option<String>,
    #[schema(value_type = Object)]
    pub operation_parameters: serde_json::Map<String, serde_json::Value>,
    pub engine_info: Option<String>,
    #[schema(value_type = Object)]
    pub info: serde_json::Map<String, serde_json::Value>,
    pub user_metadata: Option<String>,
}

/// The table's commits, newest first (`tables:read`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/history", tag = "tables", security(("bearer" = [])),
    params(TablePath, HistoryQuery),
    responses((status = 200, body = Vec<TableHistoryItem>)))]
pub async fn table_history(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<axum::Json<Vec<TableHistoryItem>>> {
    let t = resolve(&state, &principal, &path, Action::TablesRead).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let items =
        state.engine.run(ops::table::History { location: t.location.clone(), limit, before: query.before }).await?;
    Ok(axum::Json(
        items
            .into_iter()
            .map(|h| TableHistoryItem {
                version: h.version,
                timestamp: h.timestamp,
                user_id: h.user_id,
                user_name: h.user_name,
                operation: h.operation,
                operation_parameters: h.operation_parameters,
                engine_info: h.engine_info,
                info: h.info,
                user_metadata: h.user_metadata,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RollbackResponse {
    /// The version rolled back to.
    pub restored_version: u64,
    /// The new version the rollback committed.
    pub version: u64,
}

/// Rolls the table back to an earlier version, as a new commit (`tables:modify`).
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/rollback/{version}", tag = "tables", security(("bearer" = [])),
    params(("catalog" = String, Path), ("schema" = String, Path), ("table" = String, Path), ("version" = u64, Path)),
    responses((status = 200, body = RollbackResponse)))]
pub async fn rollback(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((catalog, schema, table, version)): Path<(String, String, String, String)>,
) -> ApiResult<axum::Json<RollbackResponse>> {
    let t = resolve(
        &state,
        &principal,
        &TablePath::new(catalog.clone(), schema.clone(), table.clone()),
        Action::TablesModify,
    )
    .await?;
    let version: u64 =
        version.parse().map_err(|_| ApiError::invalid_field("version", "must be a non-negative integer"))?;
    let write = WriteRequest {
        actor: table_access::actor(&state, &principal).await?,
        idempotency_key: None,
        return_rows: false,
    };
    let outcome =
        state.engine.run(ops::table::Restore { location: t.location.clone(), version, request: write }).await?;
    let new_version = outcome.version.ok_or_else(|| ApiError::internal("restore committed no version"))?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::TableRolledBack)
            .target("table", &t.entry.table)
            .details(json!({ "restored_version": version, "version": new_version })),
    )
    .await?;
    Ok(axum::Json(RollbackResponse { restored_version: version, version: new_version }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// csv, parquet, ndjson, arrow or json (default csv).
    pub format: Option<String>,
    /// Arrow and Parquet: keep `Utf8View`/`BinaryView` columns (default: `Utf8`/`Binary`).
    pub view_types: Option<bool>,
    pub version: Option<u64>,
    pub as_of: Option<String>,
}

/// Streams the whole table (or an earlier state of it) as a file (`tables:read`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/export", tag = "tables", security(("bearer" = [])),
    params(TablePath, ExportQuery),
    responses((status = 200, description = "The table's rows in the asked format")))]
pub async fn export_table(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let t = resolve(&state, &principal, &path, Action::TablesRead).await?;
    let name = query.format.as_deref().unwrap_or("csv");
    let format = OutputFormat::from_name(name)
        .ok_or_else(|| ApiError::invalid_field("format", "must be one of csv, parquet, ndjson, arrow, json"))?
        .with_view_types(query.view_types.unwrap_or(false));
    let at = time_travel(query.version, query.as_of.as_deref())?;
    let body = state.engine.run(ops::rows::Export { location: t.location.clone(), at, format }).await?;
    let mut headers = HeaderMap::new();
    let disposition = format!("attachment; filename=\"{}.{}\"", t.entry.table.table, format.extension());
    headers.insert(header::CONTENT_DISPOSITION, disposition.parse().map_err(ApiError::internal)?);
    Ok(stream_response(format, body, headers))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// 1 to 10000 (default 100).
    pub limit: Option<u64>,
    pub version: Option<u64>,
    pub as_of: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
}

/// The JSON answer of a search (other formats stream the rows alone).
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub name: String,
    pub description: Option<String>,
    pub columns: Vec<SearchColumn>,
    /// The rows found, best first.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Value>,
    pub number_of_rows: u64,
    /// More rows matched than `limit` let through.
    pub limit_reached: bool,
}

/// Finds rows by a term (`tables:read`): rows with a string cell that contains the term
/// (case-insensitively) come first, then rows with a cell within a few typos of it, each
/// ordered by similarity (see the README for the scoring), ties by primary key.
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/search/{term}", tag = "tables", security(("bearer" = [])),
    params(("catalog" = String, Path), ("schema" = String, Path), ("table" = String, Path), ("term" = String, Path), SearchQuery),
    responses((status = 200, body = SearchResponse, description = "Matching rows, best first; other formats by Accept stream the rows alone")))]
pub async fn search_table(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    Path((catalog, schema, table, term)): Path<(String, String, String, String)>,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Response> {
    let t = resolve(
        &state,
        &principal,
        &TablePath::new(catalog.clone(), schema.clone(), table.clone()),
        Action::TablesRead,
    )
    .await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 10000"));
    }
    let format = output_format(&headers)?;
    let at = time_travel(query.version, query.as_of.as_deref())?;
    let found = state
        .engine
        .run(ops::rows::Search { location: t.location.clone(), at, term: term.clone(), limit, format })
        .await?;
    if format != OutputFormat::Json {
        return Ok(stream_response(format, found.body, HeaderMap::new()));
    }
    // The rows are already JSON text; they are wrapped, not parsed again.
    let columns: Vec<SearchColumn> =
        found.columns.iter().map(|(n, t)| SearchColumn { name: n.clone(), column_type: t.clone() }).collect();
    let head = format!(
        "{{\"name\":{},\"description\":{},\"columns\":{},\"rows\":",
        serde_json::to_string(t.entry.table.table.as_str()).map_err(ApiError::internal)?,
        serde_json::to_string(&found.description).map_err(ApiError::internal)?,
        serde_json::to_string(&columns).map_err(ApiError::internal)?,
    );
    let tail = format!(",\"number_of_rows\":{},\"limit_reached\":{}}}", found.rows, found.limit_reached);
    let stream = futures::stream::once(async move { Ok::<_, EngineError>(Bytes::from(head)) })
        .chain(found.body)
        .chain(futures::stream::once(async move { Ok(Bytes::from(tail)) }));
    Ok(stream_response(format, stream.boxed(), HeaderMap::new()))
}
