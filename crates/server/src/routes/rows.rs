//! Rows of a table through the PostgREST grammar: read with filters, ordering, paging
//! (`Range`) and counts; insert (JSON, NDJSON, CSV, Arrow IPC), upsert on the primary
//! key, update and delete by filter. Each write is one Delta commit.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use lakeward_engine::ops;
use lakeward_engine::{ACCEPTED_CONTENT_TYPES, InputFormat, WriteOutcome, WriteRequest};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal};
use lakeward_model::query::RowQuery;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::answer_format::{output_format, stream_response};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::paging::{self, Span};
use crate::postgrest;
use crate::prefer::prefer;
use crate::services;
use crate::state::{AppState, SharedState};
use crate::table_access::{self, TablePath, resolve, time_travel};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(read_rows, insert_rows, update_rows, delete_rows))
}

fn pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn row_query(pairs: &[(String, String)]) -> ApiResult<RowQuery> {
    postgrest::parse(pairs).map_err(|e| ApiError::invalid_field(e.param, e.message))
}

fn version_param(pairs: &[(String, String)]) -> ApiResult<Option<u64>> {
    param(pairs, "version")
        .map(|v| v.parse().map_err(|_| ApiError::invalid_field("version", "must be a non-negative integer")))
        .transpose()
}

// The query parameters below are for the document only: column filters are named after
// the table's columns, so handlers parse the query string with `postgrest::parse`, which
// no derived deserializer could do; these types are never built.

/// The query of a row read.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReadQuery {
    /// Columns to return, comma-separated (`select=id,name`); every column when absent.
    select: Option<String>,
    /// One parameter per filtered column: `country=eq.DE`, `age=gte.18`, `name=like.A*`,
    /// `id=in.(1,2,3)`, `note=is.null`. Operators: `eq neq gt gte lt lte like ilike in is`,
    /// each negatable with `not.` (`country=not.eq.DE`).
    #[param(style = Form, explode)]
    filters: Option<HashMap<String, String>>,
    /// Any of these conditions: `or=(age.lt.18,country.eq.DE)`, nesting `and(...)`;
    /// `not.or` negates it.
    or: Option<String>,
    /// All of these conditions: `and=(age.gte.18,or(country.eq.DE,country.eq.FR))`;
    /// `not.and` negates it.
    and: Option<String>,
    /// Sort order: `order=name.desc.nullslast,id`.
    order: Option<String>,
    /// The most rows to return.
    limit: Option<u64>,
    /// Rows to skip first.
    offset: Option<u64>,
    /// Read the table as it was at this version.
    version: Option<u64>,
    /// Read the table as it was at this time (RFC 3339).
    as_of: Option<String>,
}

/// The rows an update or delete applies to.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct WriteQuery {
    /// One parameter per filtered column, as for reads: `country=eq.DE`, `id=in.(1,2)`.
    #[param(style = Form, explode)]
    filters: Option<HashMap<String, String>>,
    /// Any of these conditions, as for reads.
    or: Option<String>,
    /// All of these conditions, as for reads.
    and: Option<String>,
    /// `true` applies the write to every row; required when no filter is given.
    all: Option<bool>,
}

/// `Prefer: return=representation` on updates and deletes.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct PreferReturn {
    /// `return=representation` answers the changed rows instead of a summary.
    #[param(rename = "Prefer")]
    prefer: Option<String>,
}

async fn write_request(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    representation: bool,
) -> ApiResult<WriteRequest> {
    Ok(WriteRequest {
        actor: table_access::actor(state, principal).await?,
        idempotency_key: crate::idempotency::key(headers)?,
        return_rows: representation,
    })
}

/// Reads rows (`tables:read`). Query: `select`, column filters (`eq neq gt gte lt lte like
/// ilike in is`, `not.`), `or=(...)`, `and=(...)`, `order`, `limit`, `offset`, `version`,
/// `as_of`. Headers: `Range`/`Range-Unit: items`, `Prefer: count=exact`, `Accept`.
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/rows", tag = "rows", security(("bearer" = [])),
    params(TablePath, ReadQuery,
        ("Range" = Option<String>, Header,
            description = "Rows by position, `first-last` from 0 (`0-24`); ignored when `limit` or `offset` is given"),
        ("Range-Unit" = Option<String>, Header, description = "`items`, the only unit"),
        ("Prefer" = Option<String>, Header,
            description = "`count=exact` counts the matching rows into the total of `Content-Range`")),
    responses(
        (status = 200, description = "The rows, in the format the `Accept` header asks for (JSON by default)",
            content((Vec<Object> = "application/json"), (String = "application/x-ndjson"), (String = "text/csv"),
                ("application/vnd.apache.arrow.stream"), ("application/vnd.apache.parquet")),
            headers(("Content-Range" = String, description = "`first-last/total` of the rows returned; the total is `*` unless counted"))),
        (status = 406, description = "`Accept` names no format offered", body = crate::error::ErrorBody)))]
pub async fn read_rows(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    uri: Uri,
    Path(path): Path<TablePath>,
) -> ApiResult<Response> {
    let t = resolve(&state, &principal, &path, Action::TablesRead).await?;
    let pairs = pairs(&uri);
    let mut query = row_query(&pairs)?;
    let requested = paging::intersect(Span { offset: query.offset, limit: query.limit }, range_header(&headers)?)?;
    (query.offset, query.limit) = (requested.offset, requested.limit);
    let format = output_format(&headers)?;
    let at = time_travel(version_param(&pairs)?, param(&pairs, "as_of"))?;
    let page = state
        .engine
        .run(ops::rows::ReadRows {
            location: t.location.clone(),
            at,
            query,
            format,
            count: prefer(&headers).count_exact,
        })
        .await?;
    let mut extra = HeaderMap::new();
    if let Some(range) = paging::content_range(requested, page.returned, page.total) {
        extra.insert(header::CONTENT_RANGE, HeaderValue::from_str(&range).map_err(ApiError::internal)?);
    }
    Ok(stream_response(format, page.body, extra))
}

/// The `Range` header (with `Range-Unit: items`, the only unit) as a span of rows.
fn range_header(headers: &HeaderMap) -> ApiResult<Option<Span>> {
    let Some(range) = headers.get("range") else { return Ok(None) };
    let range = range.to_str().map_err(|_| ApiError::invalid_field("Range", "must be printable ASCII"))?;
    let unit = headers.get("range-unit").and_then(|v| v.to_str().ok()).unwrap_or("items");
    if unit != "items" {
        return Err(ApiError::invalid_field("Range-Unit", "only `items` is supported"));
    }
    let (offset, limit) = postgrest::parse_range(range).map_err(|e| ApiError::invalid_field(e.param, e.message))?;
    Ok(Some(Span { offset, limit }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WriteSummary {
    /// The table version the write committed; null when nothing changed.
    pub version: Option<u64>,
    /// Rows written, updated or deleted.
    pub rows: u64,
    /// True when the Idempotency-Key had already been written: nothing was written again.
    pub replayed: bool,
}

fn write_response(status: StatusCode, outcome: WriteOutcome) -> Response {
    let mut response = match outcome.returned {
        Some(rows) if !outcome.replayed => (status, axum::Json(rows)).into_response(),
        _ => (
            if outcome.replayed { StatusCode::OK } else { status },
            axum::Json(WriteSummary { version: outcome.version, rows: outcome.rows, replayed: outcome.replayed }),
        )
            .into_response(),
    };
    if let Some(version) = outcome.version {
        response.headers_mut().insert("lakeward-table-version", HeaderValue::from(version));
    }
    response
}

/// Inserts rows (`rows:insert`): a JSON array, NDJSON, CSV with a header, or an Arrow IPC
/// stream, cast to the table's types, as one commit. `Prefer: resolution=merge-duplicates`
/// upserts on the primary key (also needs `rows:update`); `Prefer: return=representation`
/// returns the rows; an `Idempotency-Key` header makes a retry write nothing twice.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/rows", tag = "rows", security(("bearer" = [])),
    params(TablePath,
        ("Prefer" = Option<String>, Header, description = "`resolution=merge-duplicates` upserts on the primary key; \
            `return=representation` answers the written rows instead of a summary"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "1 to 255 printable characters; a retry with the same key writes nothing again")),
    request_body(description = "The rows, in the format `Content-Type` names: a JSON array of objects, \
        NDJSON (one object a line), CSV with a header line, or an Arrow IPC stream",
        content((Vec<Object> = "application/json"), (String = "application/x-ndjson"), (String = "text/csv"),
            ("application/vnd.apache.arrow.stream"))),
    responses((status = 201, body = WriteSummary), (status = 409, description = "Duplicate primary key or concurrent change")))]
pub async fn insert_rows(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    headers: HeaderMap,
    Path(path): Path<TablePath>,
    body: Body,
) -> ApiResult<Response> {
    let t = resolve(&state, &principal, &path, Action::RowsInsert).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = InputFormat::from_content_type(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Content-Type `{content_type}`; accepted: {ACCEPTED_CONTENT_TYPES}"),
        )
    })?;
    let prefs = prefer(&headers);
    let write = write_request(&state, &principal, &headers, prefs.representation).await?;
    let length: Option<u64> =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if prefs.merge_duplicates {
        table_access::authorize_on_table(&state, &principal, Action::RowsUpdate, &t.entry.table).await?;
    }
    let how = services::rows::InsertWith { format, merge_duplicates: prefs.merge_duplicates, length };
    let (outcome, action) = services::rows::insert(&state, &t.location, how, body, write).await?;
    services::rows::audit_write(&state, &request, &principal, &t.entry.table, action, &outcome).await?;
    Ok(write_response(StatusCode::CREATED, outcome))
}

/// Filters of a write request; a write with none must say `all=true`.
fn write_filter(pairs: &[(String, String)]) -> ApiResult<Option<lakeward_model::query::Filter>> {
    let query = row_query(pairs)?;
    if query.select.is_some() || !query.order.is_empty() || query.limit.is_some() || query.offset > 0 {
        return Err(ApiError::invalid_field("query", "select, order, limit and offset do not apply to writes"));
    }
    match (query.filter, param(pairs, "all")) {
        (Some(_), Some(_)) => Err(ApiError::invalid_field("all", "give filters or all=true, not both")),
        (Some(f), None) => Ok(Some(f)),
        (None, Some("true")) => Ok(None),
        (None, _) => Err(ApiError::invalid_field(
            "query",
            "a write without filters would touch every row: add filters, or all=true to mean it",
        )),
    }
}

/// Updates the rows matching the filters (`rows:update`) with the body's column values.
#[utoipa::path(patch, path = "/v1/tables/{catalog}/{schema}/{table}/rows", tag = "rows", security(("bearer" = [])),
    params(TablePath, WriteQuery, PreferReturn),
    request_body(content = Object, description = "Column values to set"), responses((status = 200, body = WriteSummary)))]
pub async fn update_rows(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    headers: HeaderMap,
    uri: Uri,
    Path(path): Path<TablePath>,
    crate::json::Json(set): crate::json::Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    let t = resolve(&state, &principal, &path, Action::RowsUpdate).await?;
    let filter = write_filter(&pairs(&uri))?;
    let write = write_request(&state, &principal, &headers, prefer(&headers).representation).await?;
    let outcome =
        state.engine.run(ops::rows::UpdateRows { location: t.location.clone(), filter, set, request: write }).await?;
    services::rows::audit_write(&state, &request, &principal, &t.entry.table, EventKind::RowsUpdated, &outcome).await?;
    Ok(write_response(StatusCode::OK, outcome))
}

/// Deletes the rows matching the filters (`rows:delete`); with no filter only if `all=true`.
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}/rows", tag = "rows", security(("bearer" = [])),
    params(TablePath, WriteQuery, PreferReturn),
    responses((status = 200, body = WriteSummary)))]
pub async fn delete_rows(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    headers: HeaderMap,
    uri: Uri,
    Path(path): Path<TablePath>,
) -> ApiResult<Response> {
    let t = resolve(&state, &principal, &path, Action::RowsDelete).await?;
    let filter = write_filter(&pairs(&uri))?;
    let write = write_request(&state, &principal, &headers, prefer(&headers).representation).await?;
    let outcome =
        state.engine.run(ops::rows::DeleteRows { location: t.location.clone(), filter, request: write }).await?;
    services::rows::audit_write(&state, &request, &principal, &t.entry.table, EventKind::RowsDeleted, &outcome).await?;
    Ok(write_response(StatusCode::OK, outcome))
}
