//! Row-level differences between two versions of a table.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use lakeward_engine::ops::table::Diff;
use lakeward_meta::access::Action;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::state::SharedState;
use crate::table_access::{self, TablePath};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(table_diff))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The earlier version (of this table, or with `against` of that table; default there:
    /// the latest).
    pub from_version: Option<u64>,
    /// Another table to compare this one against (`catalog.schema.table`, with the same
    /// primary key): its rows are the "before".
    pub against: Option<String>,
    /// The later version (default: the latest).
    pub to_version: Option<u64>,
    /// Differences per page, 1 to 10,000 (default 1,000).
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiffCounts {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiffResponse {
    pub from_version: u64,
    pub to_version: u64,
    /// The primary key rows were matched on; empty: whole rows were compared (a multiset).
    pub key: Vec<String>,
    /// `key` or `whole_rows`.
    pub compared_by: &'static str,
    /// Data files read (those only one of the versions has).
    pub files_read: u64,
    pub counts: DiffCounts,
    /// The page's differences, by key: `{"change": "added"|"removed", "key", "row"}` or
    /// `{"change": "changed", "key", "columns": {"<name>": {"old", "new"}}}`.
    #[schema(value_type = Vec<Object>)]
    pub differences: Vec<Box<serde_json::value::RawValue>>,
    pub limit: usize,
    pub offset: usize,
}

/// Added, removed and changed rows between two versions (`tables:read`), or from another
/// table (`against`) to this one, matched by primary key. `Accept: application/x-ndjson`
/// answers one difference per line instead; `Accept: text/csv` one changed value per line
/// (`change`, the key's columns, `column`, `old`, `new`; added and removed rows whole, as
/// JSON, in `new` or `old`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/diff", tag = "tables", security(("bearer" = [])),
    params(TablePath, DiffQuery), responses((status = 200, body = DiffResponse)))]
pub async fn table_diff(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Query(query): Query<DiffQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let limit = query.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 10000"));
    }
    let offset = query.offset.unwrap_or(0);
    use lakeward_engine::TimeTravel;
    let t = table_access::resolve(&state, &principal, &path, Action::TablesRead).await?;
    let at = |version: Option<u64>| version.map_or(TimeTravel::Latest, TimeTravel::Version);
    let from_location = match &query.against {
        Some(raw) => {
            let other = lakeward_model::TableRef::parse(raw)
                .ok_or_else(|| ApiError::invalid_field("against", "must be `catalog.schema.table`"))?;
            let other = TablePath::new(other.catalog.to_string(), other.schema.to_string(), other.table.to_string());
            table_access::resolve(&state, &principal, &other, Action::TablesRead).await?.location
        }
        None if query.from_version.is_none() => {
            return Err(ApiError::invalid_field("from_version", "is required unless `against` names another table"));
        }
        None => t.location.clone(),
    };
    let diff = Diff { from_location, from: at(query.from_version), location: t.location, to: at(query.to_version) };
    let mut d = state.engine.run(diff).await?;
    let page: Vec<Box<serde_json::value::RawValue>> =
        std::mem::take(&mut d.rows).into_iter().skip(offset).take(limit).collect();
    let accepts = |media: &str| {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        accept.split(',').any(|t| t.trim().starts_with(media))
    };
    if accepts("text/csv") {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], d.csv(&page)).into_response());
    }
    if accepts("application/x-ndjson") {
        let mut body = String::new();
        for row in &page {
            body.push_str(row.get());
            body.push('\n');
        }
        return Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response());
    }
    let compared_by = if d.key.is_empty() { "whole_rows" } else { "key" };
    Ok(axum::Json(DiffResponse {
        from_version: d.from_version,
        to_version: d.to_version,
        key: d.key,
        compared_by,
        files_read: d.files_read,
        counts: DiffCounts { added: d.added, removed: d.removed, changed: d.changed },
        differences: page,
        limit,
        offset,
    })
    .into_response())
}
