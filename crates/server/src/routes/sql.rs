//! `POST /v1/sql`: read-only SQL over every table the caller may read, addressed as
//! `catalog.schema.table`; earlier states as `catalog.schema."table@v3"` or
//! `catalog.schema."table@2026-01-31T12:00:00Z"` (`services::sql`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use lakeward_engine::OutputFormat;
use lakeward_engine::ops;
use lakeward_meta::access::{Action, Resource, authorize};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::answer_format::{output_format, stream_response};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::services;
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(run_sql))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    #[schema(example = "SELECT country, count(*) FROM main.crm.customers GROUP BY country")]
    pub query: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SqlColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
}

/// The JSON answer (other formats stream the rows alone).
#[derive(Debug, Serialize, ToSchema)]
pub struct SqlResponse {
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Value>,
    pub columns: Vec<SqlColumn>,
    pub affected_tables: Vec<String>,
    pub runtime_seconds: f64,
}

/// Runs one read-only query (`tables:query`). DDL, DML, COPY, SET, PREPARE and the like
/// are refused with 400. Answers JSON `{rows, columns, affected_tables, runtime_seconds}`,
/// or streams NDJSON, CSV, Arrow IPC or Parquet by `Accept`.
#[utoipa::path(post, path = "/v1/sql", tag = "sql", security(("bearer" = [])), request_body = SqlRequest,
    responses((status = 200, body = SqlResponse), (status = 408, description = "Query timeout"),
    (status = 422, description = "Query needs more memory than the limit")))]
pub async fn run_sql(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    Json(body): Json<SqlRequest>,
) -> ApiResult<Response> {
    authorize(&principal, Action::TablesQuery, &Resource::Table { org_id: principal.org_id })?;
    let format = output_format(&headers)?;
    let tables = services::sql::tables_for(&state, &principal, &body.query).await?;
    let output = state.engine.run(ops::sql::Sql { tables, query: body.query.clone(), format, params: None }).await?;
    let affected = output.affected_tables.clone();
    if format != OutputFormat::Json {
        let mut response = stream_response(format, output.body, HeaderMap::new());
        if let Ok(v) = HeaderValue::from_str(&affected.join(",")) {
            response.headers_mut().insert("lakeward-affected-tables", v);
        }
        return Ok(response);
    }
    let columns: Vec<SqlColumn> =
        output.columns.iter().map(|(n, t)| SqlColumn { name: n.clone(), column_type: t.clone() }).collect();
    let head = format!(
        "{{\"columns\":{},\"affected_tables\":{},\"rows\":",
        serde_json::to_string(&columns).map_err(ApiError::internal)?,
        serde_json::to_string(&affected).map_err(ApiError::internal)?
    );
    let started = output.started;
    let tail = futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from(format!(",\"runtime_seconds\":{:.6}}}", started.elapsed().as_secs_f64())))
    });
    let rows = output.body.map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
    let stream =
        futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) }).chain(rows).chain(tail);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response())
}
