//! GraphQL at `POST /v1/graphql`: a schema generated per organisation from its tables
//! (`schema`, names in `tables`), whose fields call the same authorization function,
//! engine operations and services as REST (`resolve`), with `where` compiled to REST's
//! row-query representation (`filter`). `GET /v1/graphql` serves GraphiQL from assets
//! vendored from npm into the binary (`scripts/vendor-graphiql.sh`).
//!
//! Errors inside a query answer 200 with GraphQL's `errors` (each with a stable
//! `extensions.code` and the REST `status`); what fails before a query runs (credentials,
//! scopes, a body that is no GraphQL request, rate limits) answers the REST error shape
//! with its status. The schema is cached per organisation and rebuilt when a table is
//! added, dropped, renamed or committed to (a new version may change its columns).

mod filter;
mod resolve;
mod schema;
mod tables;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::dataloader::DataLoader;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lakeward_engine::TimeTravel;
use lakeward_engine::ops::table::{Describe, LatestVersions};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Resource, authorize};
use url::Url;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, SharedState};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(graphql, graphiql)).routes(routes!(graphiql_asset))
}

/// The built schema of one organisation, and what it was built from.
struct Built {
    /// `(table id, qualified name, version)` of every table, in creation order.
    fingerprint: Vec<(Uuid, String, u64)>,
    tables: schema::Tables,
    schema: async_graphql::dynamic::Schema,
}

/// The schemas of the organisations that used GraphQL lately, one each, with when each
/// was last checked against the tables.
#[derive(Default)]
pub struct SchemaCache {
    built: Mutex<HashMap<Uuid, (Instant, Arc<Built>)>>,
}

/// How long a schema is used without looking at the tables again. A change made through
/// Lakeward drops the schema at once ([`SchemaCache::changed`]); this bounds how long a
/// change that other engines make to a table's columns goes unseen.
const RECHECK_AFTER: Duration = Duration::from_secs(5);

impl SchemaCache {
    /// After an audited change in `org_id`: anything but a row write may change the
    /// schema (tables, columns, domains that make relations, catalogs, discovery), so the
    /// next request checks the tables again.
    pub fn changed(&self, org_id: Uuid, action: EventKind) {
        let row_write = matches!(
            action,
            EventKind::RowBatchInserted | EventKind::RowsUpserted | EventKind::RowsUpdated | EventKind::RowsDeleted
        );
        if !row_write {
            self.built.lock().expect("not poisoned").remove(&org_id);
        }
    }

    fn fresh(&self, org_id: Uuid) -> Option<Arc<Built>> {
        let built = self.built.lock().expect("not poisoned");
        built.get(&org_id).filter(|(checked, _)| checked.elapsed() < RECHECK_AFTER).map(|(_, b)| b.clone())
    }

    fn remember(&self, org_id: Uuid, built: Arc<Built>) {
        self.built.lock().expect("not poisoned").insert(org_id, (Instant::now(), built));
    }
}

/// The organisation's schema as of now. Within [`RECHECK_AFTER`] of the last check and
/// with no change since, the cached one, at no cost per table; otherwise the tables'
/// latest versions are checked (one look at each log), the cached schema is reused when
/// nothing changed, and only the tables that changed are described again.
async fn current_schema(state: &AppState, org_id: Uuid) -> ApiResult<Arc<Built>> {
    if let Some(built) = state.graphql.fresh(org_id) {
        return Ok(built);
    }
    let entries = state.meta.all_tables(org_id).await?;
    let mut locations = Vec::with_capacity(entries.len());
    for entry in &entries {
        locations.push(Url::parse(&entry.location).map_err(ApiError::internal)?);
    }
    let versions = state.engine.run(LatestVersions { locations: locations.clone() }).await?;
    let mut present = Vec::new();
    for ((entry, location), version) in entries.into_iter().zip(locations).zip(versions) {
        // A table whose storage cannot be read now is left out rather than failing every query.
        match version {
            Some(version) => present.push((entry, location, version)),
            None => tracing::warn!(table = %entry.table, "table left out of the GraphQL schema: it cannot be opened"),
        }
    }
    present.sort_by_key(|(entry, ..)| (entry.created_at, entry.id));
    let fingerprint: Vec<_> = present.iter().map(|(e, _, v)| (e.id, e.table.to_string(), *v)).collect();
    let cached = state.graphql.built.lock().expect("not poisoned").get(&org_id).map(|(_, b)| b.clone());
    if let Some(built) = &cached
        && built.fingerprint == fingerprint
    {
        state.graphql.remember(org_id, built.clone());
        return Ok(built.clone());
    }
    let mut described = Vec::with_capacity(present.len());
    for (entry, location, version) in present {
        let known =
            cached.as_ref().and_then(|b| b.tables.iter().find(|t| t.entry.id == entry.id && t.version == version));
        let table = match known {
            Some(t) => t.as_ref().clone().renamed(entry),
            None => {
                let meta =
                    state.engine.run(Describe { location: location.clone(), at: TimeTravel::Version(version) }).await?;
                tables::Table::new(entry, location, &meta)
            }
        };
        described.push(table);
    }
    let tables = Arc::new(tables::prepare(described));
    let schema = schema::build(tables.clone()).map_err(|e| ApiError::internal(format!("GraphQL schema: {e}")))?;
    let built = Arc::new(Built { fingerprint, tables, schema });
    state.graphql.remember(org_id, built.clone());
    Ok(built)
}

/// Runs a GraphQL query or mutation (`tables:read`; each field needs its own scope too).
/// Body: `{"query": "...", "variables": {...}, "operationName": "..."}`. An
/// `Idempotency-Key` header applies to the mutations of the request, as on REST writes.
#[utoipa::path(post, path = "/v1/graphql", tag = "graphql", security(("bearer" = [])),
    request_body(content = Object, description = "A GraphQL request: `query`, optional `variables` and `operationName`"),
    responses(
        (status = 200, description = "`data` and, for what failed, `errors` (each with `extensions.code` and `extensions.status`); \
            `extensions.engineReads` counts the engine reads the request took", body = Object),
        (status = 400, description = "The body is not a GraphQL request", body = crate::error::ErrorBody),
        (status = 408, description = "The request ran past the query timeout", body = Object)))]
pub async fn graphql(
    State(state): State<SharedState>,
    meta: RequestMeta,
    Auth(principal): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let request = GraphqlBody::parse(&body)?;
    let built = current_schema(&state, principal.org_id).await?;
    let call = Arc::new(resolve::Call {
        state: state.clone(),
        principal: principal.clone(),
        meta,
        idempotency_key: crate::idempotency::key(&headers)?,
        engine_reads: AtomicU64::new(0),
    });
    let loader =
        DataLoader::new(resolve::RelationLoader { call: call.clone(), tables: built.tables.clone() }, tokio::spawn);
    let request = request.data(call.clone()).data(loader);
    let timeout = state.config.limits.query_timeout;
    let Ok(mut response) = tokio::time::timeout(timeout, built.schema.execute(request)).await else {
        let error = resolve::gql_error(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request ran past the query timeout of {} s", timeout.as_secs()),
        ));
        let body = serde_json::json!({ "errors": [error.into_server_error(Default::default())] });
        return Ok((StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response());
    };
    response.extensions.insert("engineReads".into(), call.engine_reads.load(Ordering::Relaxed).into());
    Ok(axum::Json(response).into_response())
}

/// The body of a GraphQL request over HTTP. Parsed here rather than by async-graphql,
/// which takes any object (a misspelt `query` would run as an empty document).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GraphqlBody {
    query: String,
    #[serde(default)]
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    operation_name: Option<String>,
    /// Client extensions (persisted-query hashes and the like); none is acted on.
    #[serde(default, rename = "extensions")]
    _extensions: Option<serde::de::IgnoredAny>,
}

impl GraphqlBody {
    fn parse(body: &[u8]) -> ApiResult<async_graphql::Request> {
        let body: GraphqlBody = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid_field("body", format!("not a GraphQL request: {e}")))?;
        let variables = serde_json::Value::Object(body.variables.unwrap_or_default());
        let request = async_graphql::Request::new(body.query).variables(async_graphql::Variables::from_json(variables));
        Ok(match body.operation_name {
            Some(name) => request.operation_name(name),
            None => request,
        })
    }
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// GraphiQL, the in-browser GraphQL IDE (its assets are part of the binary). Paste an API
/// key or session token into its Headers tab: `{"Authorization": "Bearer …"}`.
#[utoipa::path(get, path = "/v1/graphql", tag = "graphql",
    responses((status = 200, description = "The GraphiQL page", content_type = "text/html")))]
pub async fn graphiql() -> Response {
    asset_response(ASSETS[0].1, include_bytes!("../../assets/graphiql/index.html"))
}

/// GraphiQL's scripts and styles.
#[utoipa::path(get, path = "/v1/graphql/assets/{file}", tag = "graphql",
    params(("file" = String, Path, description = "An asset of the GraphiQL page")),
    responses((status = 200, description = "The asset"), (status = 404, description = "No such asset", body = crate::error::ErrorBody)))]
pub async fn graphiql_asset(Path(file): Path<String>) -> ApiResult<Response> {
    let (content_type, bytes) = asset(&file).ok_or_else(|| ApiError::missing(format!("asset `{file}`")))?;
    Ok(asset_response(content_type, bytes))
}

const ASSETS: [(&str, &str); 7] = [
    ("index.html", "text/html; charset=utf-8"),
    ("init.js", "text/javascript; charset=utf-8"),
    ("page.css", "text/css; charset=utf-8"),
    ("graphiql.min.js", "text/javascript; charset=utf-8"),
    ("graphiql.min.css", "text/css; charset=utf-8"),
    ("react.production.min.js", "text/javascript; charset=utf-8"),
    ("react-dom.production.min.js", "text/javascript; charset=utf-8"),
];

fn asset(file: &str) -> Option<(&'static str, &'static [u8])> {
    let bytes: &'static [u8] = match file {
        "init.js" => include_bytes!("../../assets/graphiql/init.js"),
        "page.css" => include_bytes!("../../assets/graphiql/page.css"),
        "graphiql.min.js" => include_bytes!("../../assets/graphiql/graphiql.min.js"),
        "graphiql.min.css" => include_bytes!("../../assets/graphiql/graphiql.min.css"),
        "react.production.min.js" => include_bytes!("../../assets/graphiql/react.production.min.js"),
        "react-dom.production.min.js" => include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
        _ => return None,
    };
    ASSETS.iter().find(|(name, _)| *name == file).map(|(_, content_type)| (*content_type, bytes))
}

fn asset_response(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}
