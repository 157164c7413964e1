//! `POST /v1/sql`: read-only SQL over every table the caller may read, addressed as
//! `catalog.schema.table`; earlier states as `catalog.schema."table@v3"` or
//! `catalog.schema."table@2026-01-31T12:00:00Z"`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use lakeward_engine::ops;
use lakeward_engine::{OutputFormat, SqlTable, TimeTravel};
use lakeward_meta::access::{Action, Resource, authorize};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::answer_format::{output_format, stream_response};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
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

/// `"name@v3"` or `"name@<RFC 3339>"` quoted identifiers in the query.
fn time_travel_names(query: &str) -> Vec<(String, String, TimeTravel)> {
    let mut found = Vec::new();
    for (i, quoted) in query.split('"').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let Some((base, at)) = quoted.split_once('@') else { continue };
        let travel = if let Some(v) = at.strip_prefix('v').and_then(|v| v.parse().ok()) {
            TimeTravel::Version(v)
        } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
            TimeTravel::AsOf(t.with_timezone(&chrono::Utc))
        } else {
            continue;
        };
        found.push((quoted.to_owned(), base.to_owned(), travel));
    }
    found
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
    if body.query.trim().is_empty() {
        return Err(ApiError::invalid_field("query", "query is required"));
    }
    let format = output_format(&headers)?;
    let entries = state.meta.all_tables(principal.org_id).await?;
    let travels = time_travel_names(&body.query);
    let mut tables = Vec::with_capacity(entries.len());
    for entry in &entries {
        let location = Url::parse(&entry.location).map_err(ApiError::internal)?;
        let base = SqlTable {
            catalog: entry.table.catalog.clone(),
            schema: entry.table.schema.clone(),
            name: entry.table.table.to_string(),
            location,
            at: TimeTravel::Latest,
        };
        for (name, _, at) in travels.iter().filter(|(_, b, _)| b == entry.table.table.as_str()) {
            tables.push(SqlTable { name: name.clone(), at: *at, ..base.clone() });
        }
        tables.push(base);
    }
    let output = state.engine.run(ops::sql::Sql { tables, query: body.query.clone(), format }).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_time_travel_names() {
        let found =
            time_travel_names(r#"SELECT * FROM a.b."t@v3" JOIN a.b."u@2026-01-01T00:00:00Z" ON 1=1 WHERE x = "plain""#);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].0.as_str(), found[0].1.as_str(), found[0].2), ("t@v3", "t", TimeTravel::Version(3)));
        assert_eq!(found[1].1, "u");
        assert!(time_travel_names(r#"SELECT "a@b" FROM x"#).is_empty());
    }
}
