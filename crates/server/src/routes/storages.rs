//! Storage connections (`/v1/storages/...`): register an S3, Azure or GCS location (tested
//! first; credentials sealed, never returned), list, get, change (re-tested), test again
//! and delete connections; list the tables they hold and discover new ones; browse,
//! download (ranges, inline preview), upload and delete their objects.
//!
//! Scopes: `connections:read` / `connections:create` / `connections:delete` for the
//! connections, `storage:read` for their tables (`connections:create` to discover),
//! `objects:read` / `objects:download` / `objects:delete` / `objects:upload` for objects.

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use lakeward_engine::ops::storage::{
    ByteRange, DeleteObject, ListObjects, ObjectEntry, ReadObject, StoreCheck, WriteObject,
};
use lakeward_engine::{EngineError, ops};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_meta::store::{NewStorageConnection, StorageConnection};
use lakeward_model::Ident;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::parse_id;
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::jobs::view::JobResponse;
use crate::json::Json;
use crate::prefer::prefer;
use crate::query::Query;
use crate::services::storages::{
    self, ConnectionSpec, DiscoveryReport, RegisterAzRequest, RegisterGcsRequest, RegisterS3Request, StorageKind,
    normalized_path,
};
use crate::state::{AppState, SharedState};
use crate::upload::multipart_error;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(register_s3))
        .routes(routes!(register_az))
        .routes(routes!(register_gcs))
        .routes(routes!(list_configs))
        .routes(routes!(get_config, update_config, delete_config))
        .routes(routes!(test_config))
        .routes(routes!(list_storage_tables))
        .routes(routes!(list_objects, delete_object))
        .routes(routes!(download_object))
}

/// Uploads carry whole files: they get the upload limit.
pub fn upload_router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(upload_objects))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterQuery {
    /// Register a connection that is only listed and read: the write checks are skipped,
    /// and every write to its tables and objects is refused (409).
    #[serde(default)]
    pub read_only: bool,
}

/// A connection as answers show it: no credential, only a hint of which.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionResponse {
    pub id: Uuid,
    pub name: String,
    /// `s3`, `az` or `gcs`.
    pub kind: String,
    /// Where its tables and objects are: `s3://bucket/base/`, `az://container/base/`, `gs://bucket/base/`.
    pub path: String,
    pub catalog: String,
    pub read_only: bool,
    /// The fields it was registered with, without credentials.
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Which credential it uses (`access key …WXYZ`, `SAS token`), never the credential.
    pub credential_hint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

fn response(connection: &StorageConnection, spec: &ConnectionSpec) -> ApiResult<ConnectionResponse> {
    Ok(ConnectionResponse {
        id: connection.id,
        name: connection.name.clone(),
        kind: connection.kind.clone(),
        path: spec.base()?.to_string(),
        catalog: connection.catalog.clone(),
        read_only: connection.read_only,
        settings: connection.settings.clone(),
        credential_hint: connection.secret_hint.clone(),
        created_at: connection.created_at,
        created_by: connection.created_by,
        updated_at: connection.updated_at,
    })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterStorageResponse {
    pub config: ConnectionResponse,
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<StoreCheck>,
    /// Present when the discovery flags asked for one (and the request waited for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryReport>,
    /// With `Prefer: respond-async`, the discovery job, followed in `/v1/jobs/{id}`.
    #[serde(rename = "discoveryJob", skip_serializing_if = "Option::is_none")]
    pub discovery_job: Option<JobResponse>,
}

/// Registers an S3 bucket or S3-compatible store (`connections:create`). The connection
/// is tested first (`reachable`, `list`, then `write`, `read`, `delete` of a probe object
/// unless `readOnly`); a failed check answers 400 with every check and stores nothing.
#[utoipa::path(post, path = "/v1/storages/s3", tag = "storages", security(("bearer" = [])),
    params(RegisterQuery), request_body = RegisterS3Request,
    responses((status = 201, body = RegisterStorageResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn register_s3(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(query): Query<RegisterQuery>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<RegisterStorageResponse>)> {
    register(state, request, principal, StorageKind::S3, query.read_only, prefer(&headers).respond_async, body).await
}

/// Registers an Azure Blob Storage / ADLS Gen2 container (`connections:create`), tested
/// first as `POST /v1/storages/s3` is.
#[utoipa::path(post, path = "/v1/storages/az", tag = "storages", security(("bearer" = [])),
    params(RegisterQuery), request_body = RegisterAzRequest,
    responses((status = 201, body = RegisterStorageResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn register_az(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(query): Query<RegisterQuery>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<RegisterStorageResponse>)> {
    register(state, request, principal, StorageKind::Az, query.read_only, prefer(&headers).respond_async, body).await
}

/// Registers a Google Cloud Storage bucket (`connections:create`), tested first.
#[utoipa::path(post, path = "/v1/storages/gcs", tag = "storages", security(("bearer" = [])),
    params(RegisterQuery), request_body = RegisterGcsRequest,
    responses((status = 201, body = RegisterStorageResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn register_gcs(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(query): Query<RegisterQuery>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<RegisterStorageResponse>)> {
    register(state, request, principal, StorageKind::Gcs, query.read_only, prefer(&headers).respond_async, body).await
}

fn org(principal: &Principal) -> Resource {
    Resource::Organisation { org_id: principal.org_id }
}

async fn register(
    state: SharedState,
    request: RequestMeta,
    principal: Principal,
    kind: StorageKind,
    read_only: bool,
    respond_async: bool,
    body: Value,
) -> ApiResult<(StatusCode, axum::Json<RegisterStorageResponse>)> {
    authorize(&principal, Action::ConnectionsManage, &org(&principal))?;
    let spec = ConnectionSpec::parse(kind, body)?;
    let base = spec.base()?;
    storages::check_overlap(&state, principal.org_id, &base, None).await?;
    if state.meta.get_catalog(principal.org_id, &spec.catalog).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "catalog `{}` already exists: give the connection another `catalogName`",
            spec.catalog
        )));
    }
    let checks = storages::test(&state, &spec, read_only).await?;
    if !storages::all_passed(&checks) {
        return Err(storages::failed_checks(&checks));
    }
    storages::attach(&state, &spec).await?;
    let sealed = storages::seal(&state, &spec);
    let new = NewStorageConnection {
        name: &spec.name,
        kind: kind.as_str(),
        settings: &spec.settings,
        secrets_sealed: &sealed,
        secret_hint: spec.hint.as_deref(),
        read_only,
        catalog: spec.catalog.as_str(),
    };
    let connection = match state.meta.create_storage_connection(principal.org_id, &new, principal.user_id).await {
        Ok(c) => c,
        Err(e) => {
            let _ = state.engine.run(ops::storage::DetachStore { prefix: base }).await;
            return Err(e.into());
        }
    };
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::StorageConnectionCreated).target("storage", connection.id).details(
            json!({ "name": connection.name, "kind": connection.kind, "catalog": connection.catalog, "read_only": read_only }),
        ),
    )
    .await?;
    let (mut discovery, mut discovery_job) = (None, None);
    if spec.discover_delta || spec.discover_iceberg {
        let started = storages::start_discovery(&state, &request, &principal, &connection, spec.clone()).await?;
        if respond_async {
            discovery_job = Some(started.job.into());
        } else {
            discovery = Some(started.report().await?);
        }
    }
    let config = response(&connection, &spec)?;
    Ok((StatusCode::CREATED, axum::Json(RegisterStorageResponse { config, checks, discovery, discovery_job })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigsResponse {
    pub configs: Vec<ConnectionResponse>,
}

/// The organisation's storage connections (`connections:read`).
#[utoipa::path(get, path = "/v1/storages/configs", tag = "storages", security(("bearer" = [])),
    responses((status = 200, body = ConfigsResponse)))]
pub async fn list_configs(
    State(state): State<SharedState>,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<ConfigsResponse>> {
    authorize(&principal, Action::ConnectionsRead, &org(&principal))?;
    let mut configs = Vec::new();
    for connection in state.meta.list_storage_connections(principal.org_id).await? {
        let spec = storages::open(&state, &connection)?;
        configs.push(response(&connection, &spec)?);
    }
    Ok(axum::Json(ConfigsResponse { configs }))
}

async fn find(state: &AppState, principal: &Principal, raw_id: &str) -> ApiResult<(StorageConnection, ConnectionSpec)> {
    let id = parse_id(raw_id)?;
    let connection = state.meta.get_storage_connection(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    let spec = storages::open(state, &connection)?;
    Ok((connection, spec))
}

/// One storage connection (`connections:read`).
#[utoipa::path(get, path = "/v1/storages/configs/{config_id}", tag = "storages", security(("bearer" = [])),
    params(("config_id" = String, Path)), responses((status = 200, body = ConnectionResponse)))]
pub async fn get_config(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
) -> ApiResult<axum::Json<ConnectionResponse>> {
    authorize(&principal, Action::ConnectionsRead, &org(&principal))?;
    let (connection, spec) = find(&state, &principal, &config_id).await?;
    Ok(axum::Json(response(&connection, &spec)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateQuery {
    /// Change whether the connection is read-only; unchanged when absent.
    pub read_only: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStorageResponse {
    pub config: ConnectionResponse,
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<StoreCheck>,
}

/// Changes a connection (`connections:create`): the body holds the fields of its kind to
/// change (`null` removes an optional one; credentials not given are kept). The changed
/// connection is tested again; a failed check answers 400 and changes nothing. Its
/// catalog cannot change.
#[utoipa::path(patch, path = "/v1/storages/configs/{config_id}", tag = "storages", security(("bearer" = [])),
    params(("config_id" = String, Path), UpdateQuery), request_body = Object,
    responses((status = 200, body = UpdateStorageResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn update_config(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
    Query(query): Query<UpdateQuery>,
    Json(body): Json<Value>,
) -> ApiResult<axum::Json<UpdateStorageResponse>> {
    authorize(&principal, Action::ConnectionsManage, &org(&principal))?;
    let (connection, old) = find(&state, &principal, &config_id).await?;
    let spec = storages::merged(&state, &connection, body)?;
    let read_only = query.read_only.unwrap_or(connection.read_only);
    let (old_base, base) = (old.base()?, spec.base()?);
    storages::check_overlap(&state, principal.org_id, &base, Some(connection.id)).await?;
    let checks = storages::test(&state, &spec, read_only).await?;
    if !storages::all_passed(&checks) {
        return Err(storages::failed_checks(&checks));
    }
    let sealed = storages::seal(&state, &spec);
    let new = NewStorageConnection {
        name: &spec.name,
        kind: spec.kind.as_str(),
        settings: &spec.settings,
        secrets_sealed: &sealed,
        secret_hint: spec.hint.as_deref(),
        read_only,
        catalog: spec.catalog.as_str(),
    };
    let updated = state.meta.update_storage_connection(principal.org_id, connection.id, &new).await?;
    if old_base != base {
        state.engine.run(ops::storage::DetachStore { prefix: old_base }).await?;
    }
    storages::attach(&state, &spec).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::StorageConnectionUpdated)
            .target("storage", updated.id)
            .details(json!({ "name": updated.name, "read_only": read_only, "path": base.as_str() })),
    )
    .await?;
    Ok(axum::Json(UpdateStorageResponse { config: response(&updated, &spec)?, checks }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Required when tables are registered on the connection: its name. Those tables are
    /// unregistered; their data stays in the store.
    pub confirm: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteStorageConfigResponse {
    pub config_id: Uuid,
    pub config_name: String,
    pub message: String,
    pub tables_unregistered: u64,
}

/// Deletes a connection (`connections:delete`) with its catalog; tables registered on it
/// are unregistered (never deleted from the store), which needs `?confirm=<name>`.
#[utoipa::path(delete, path = "/v1/storages/configs/{config_id}", tag = "storages", security(("bearer" = [])),
    params(("config_id" = String, Path), DeleteQuery),
    responses((status = 200, body = DeleteStorageConfigResponse), (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_config(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> ApiResult<axum::Json<DeleteStorageConfigResponse>> {
    authorize(&principal, Action::ConnectionsDelete, &org(&principal))?;
    let (connection, spec) = find(&state, &principal, &config_id).await?;
    let catalog = Ident::new(&connection.catalog).map_err(ApiError::internal)?;
    let (_, tables) = state.meta.list_tables(principal.org_id, Some(&catalog), None, 0, 0).await?;
    if tables > 0 && query.confirm.as_deref() != Some(connection.name.as_str()) {
        return Err(ApiError::conflict(format!(
            "{tables} table(s) are registered on the connection `{}`: pass ?confirm={} to unregister them \
             (their data stays in the store)",
            connection.name, connection.name
        )));
    }
    state.meta.delete_storage_connection(principal.org_id, connection.id).await?;
    state.engine.run(ops::storage::DetachStore { prefix: spec.base()? }).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::StorageConnectionDeleted)
            .target("storage", connection.id)
            .details(json!({ "name": connection.name, "tables_unregistered": tables })),
    )
    .await?;
    Ok(axum::Json(DeleteStorageConfigResponse {
        config_id: connection.id,
        config_name: connection.name.clone(),
        message: format!("storage connection `{}` deleted; {tables} table(s) unregistered", connection.name),
        tables_unregistered: tables as u64,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResponse {
    /// Whether every check that ran passed.
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<StoreCheck>,
}

/// Runs a connection's checks again (`connections:read`); 200 whatever they say.
#[utoipa::path(get, path = "/v1/storages/configs/{config_id}/test", tag = "storages", security(("bearer" = [])),
    params(("config_id" = String, Path)), responses((status = 200, body = TestResponse)))]
pub async fn test_config(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
) -> ApiResult<axum::Json<TestResponse>> {
    authorize(&principal, Action::ConnectionsRead, &org(&principal))?;
    let (connection, spec) = find(&state, &principal, &config_id).await?;
    let checks = storages::test(&state, &spec, connection.read_only).await?;
    let ok = storages::all_passed(&checks);
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok && !c.skipped).map(|c| c.name).collect();
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::StorageConnectionTested)
            .target("storage", connection.id)
            .details(json!({ "ok": ok, "failed": failed })),
    )
    .await?;
    Ok(axum::Json(TestResponse { ok, checks }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StorageTablesQuery {
    /// Walk the connections (all, or `config_id`'s) for tables first, registering new
    /// ones (`connections:create`).
    #[serde(default)]
    pub with_discovery: bool,
    pub config_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageTable {
    pub catalog: String,
    pub schema: String,
    pub table: String,
    pub config_id: Uuid,
    pub path: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageTablesResponse {
    /// The tables as a tree: connection name → schema → table → its path.
    #[schema(value_type = Object)]
    pub file_explorer: Value,
    pub tables: Vec<StorageTable>,
    /// One report per connection walked, by connection name.
    #[schema(value_type = Object)]
    pub discovery: Option<Value>,
}

/// The tables registered on the organisation's storage connections (`storage:read`),
/// after a discovery when `with_discovery=true` (`connections:create`). Each connection's
/// discovery is a job (kind `discovery`); with `Prefer: respond-async` the answer is 202
/// with those jobs at once, to follow in `/v1/jobs/{id}`, and the tables are listed after.
#[utoipa::path(get, path = "/v1/storages/tables", tag = "storages", security(("bearer" = [])),
    params(StorageTablesQuery),
    responses((status = 200, body = StorageTablesResponse), (status = 202, body = DiscoveryJobsResponse)))]
pub async fn list_storage_tables(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(query): Query<StorageTablesQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    authorize(&principal, Action::StorageRead, &org(&principal))?;
    let connections = match &query.config_id {
        Some(raw) => vec![find(&state, &principal, raw).await?.0],
        None => state.meta.list_storage_connections(principal.org_id).await?,
    };
    let mut discovery = None;
    if query.with_discovery {
        authorize(&principal, Action::ConnectionsManage, &org(&principal))?;
        let mut started = Vec::with_capacity(connections.len());
        for connection in &connections {
            let spec = storages::open(&state, connection)?;
            started
                .push((connection, storages::start_discovery(&state, &request, &principal, connection, spec).await?));
        }
        if prefer(&headers).respond_async {
            let jobs = started.into_iter().map(|(_, s)| s.job.into()).collect();
            return Ok((StatusCode::ACCEPTED, axum::Json(DiscoveryJobsResponse { jobs })).into_response());
        }
        let mut reports = serde_json::Map::new();
        for (connection, discovery) in started {
            let report = discovery.report().await?;
            reports.insert(connection.name.clone(), serde_json::to_value(report).map_err(ApiError::internal)?);
        }
        discovery = Some(Value::Object(reports));
    }
    let mut tables = Vec::new();
    let mut tree = serde_json::Map::new();
    for connection in &connections {
        let catalog = Ident::new(&connection.catalog).map_err(ApiError::internal)?;
        let (entries, _) = state.meta.list_tables(principal.org_id, Some(&catalog), None, i64::MAX, 0).await?;
        let node = tree.entry(connection.name.clone()).or_insert_with(|| json!({}));
        for entry in entries {
            let (schema, table) = (entry.table.schema.to_string(), entry.table.table.to_string());
            node.as_object_mut()
                .expect("an object")
                .entry(schema.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("an object")
                .insert(table.clone(), json!(entry.location));
            tables.push(StorageTable {
                catalog: connection.catalog.clone(),
                schema,
                table,
                config_id: connection.id,
                path: entry.location.clone(),
            });
        }
    }
    Ok(axum::Json(StorageTablesResponse { file_explorer: Value::Object(tree), tables, discovery }).into_response())
}

/// Discoveries started with `Prefer: respond-async`, one job per connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveryJobsResponse {
    pub jobs: Vec<JobResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListObjectsQuery {
    /// A folder relative to the connection's base path (`data/raw/`); default: the base.
    pub path: Option<String>,
    /// Comma-separated extensions without the dot (`csv,parquet`); folders are always listed.
    pub extensions: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<usize>,
    /// `nextContinuationToken` of the previous page.
    pub continuation_token: Option<String>,
    /// Only the level below `path`, folders as common prefixes.
    #[serde(default)]
    pub delimiter: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListObjectsResponse {
    #[schema(value_type = Vec<Object>)]
    pub objects: Vec<ObjectEntry>,
    /// The folders of this page (delimiter mode).
    pub common_prefixes: Vec<String>,
    pub next_continuation_token: Option<String>,
    pub has_more: bool,
    pub count: u64,
}

/// Lists objects under a folder of a connection (`objects:read`), in key order, a page at a time.
#[utoipa::path(get, path = "/v1/storages/configs/{config_id}/objects", tag = "storages", security(("bearer" = [])),
    params(("config_id" = String, Path), ListObjectsQuery), responses((status = 200, body = ListObjectsResponse)))]
pub async fn list_objects(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
    Query(query): Query<ListObjectsQuery>,
) -> ApiResult<axum::Json<ListObjectsResponse>> {
    authorize(&principal, Action::ObjectsRead, &org(&principal))?;
    let (_, spec) = find(&state, &principal, &config_id).await?;
    let path = normalized_path("path", query.path.as_deref().unwrap_or(""))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be 1 to 1000"));
    }
    let after = match &query.continuation_token {
        Some(token) => Some(
            normalized_path("continuation_token", token)
                .map(|t| if token.ends_with('/') { format!("{t}/") } else { t })?,
        ),
        None => None,
    };
    let extensions = query
        .extensions
        .as_deref()
        .map(|e| {
            e.split(',')
                .map(|x| x.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let listing = state
        .engine
        .run(ListObjects { base: spec.base()?, path, delimiter: query.delimiter, extensions, limit, after })
        .await?;
    let common_prefixes = listing.objects.iter().filter(|o| o.is_directory).map(|o| o.path.clone()).collect();
    Ok(axum::Json(ListObjectsResponse {
        count: listing.objects.len() as u64,
        has_more: listing.continuation_token.is_some(),
        next_continuation_token: listing.continuation_token,
        common_prefixes,
        objects: listing.objects,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ObjectQuery {
    /// The object, relative to the connection's base path.
    pub path: String,
    /// Preview in the browser (`Content-Disposition: inline`) instead of downloading.
    #[serde(default)]
    pub inline: bool,
}

/// The location of an object of a connection, from a checked relative path.
fn object_location(spec: &ConnectionSpec, raw: &str) -> ApiResult<Url> {
    let path = normalized_path("path", raw)?;
    if path.is_empty() || raw.ends_with('/') {
        return Err(ApiError::invalid_field("path", "must name an object, not a folder"));
    }
    let encoded: Vec<String> = path.split('/').map(storages::encode_segment).collect();
    spec.base()?.join(&encoded.join("/")).map_err(ApiError::internal)
}

/// Downloads or previews an object (`objects:download`), streamed; a `Range: bytes=…`
/// header answers 206 with that part.
#[utoipa::path(get, path = "/v1/storages/configs/{config_id}/objects/download", tag = "storages",
    security(("bearer" = [])), params(("config_id" = String, Path), ObjectQuery,
        ("Range" = Option<String>, Header, description = "`bytes=start-end`, `bytes=start-` or `bytes=-suffix`")),
    responses((status = 200, description = "The object's bytes"), (status = 206, description = "A range of them"),
        (status = 416, body = crate::error::ErrorBody)))]
pub async fn download_object(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
    Query(query): Query<ObjectQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    authorize(&principal, Action::ObjectsDownload, &org(&principal))?;
    let (_, spec) = find(&state, &principal, &config_id).await?;
    let location = object_location(&spec, &query.path)?;
    let range = match headers.get(header::RANGE) {
        Some(raw) => parse_range(raw.to_str().unwrap_or_default())?,
        None => None,
    };
    let partial = range.is_some();
    let read = state.engine.run(ReadObject { location, range }).await.map_err(|e| match e {
        EngineError::NotFound(_) => ApiError::missing(format!("object `{}`", query.path)),
        EngineError::Invalid { message, .. } => ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, message),
        e => e.into(),
    })?;
    let name = query.path.rsplit('/').next().unwrap_or("download");
    let content_type = content_type(name, query.inline);
    let disposition = format!(
        "{}; filename=\"{}\"",
        if query.inline { "inline" } else { "attachment" },
        name.replace(|c: char| c == '"' || c == '\\' || !(' '..='~').contains(&c), "_")
    );
    let mut response = Response::builder()
        .status(if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK })
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, read.range.end - read.range.start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::LAST_MODIFIED, read.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        // A previewed object is content someone uploaded: never run it as a page of ours.
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'");
    if partial {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", read.range.start, read.range.end.saturating_sub(1), read.size),
        );
    }
    if let Some(etag) = &read.etag
        && let Ok(value) = HeaderValue::from_str(etag)
    {
        response = response.header(header::ETAG, value);
    }
    let body = Body::from_stream(futures::StreamExt::map(read.body, |chunk| chunk.map_err(std::io::Error::other)));
    response.body(body).map_err(ApiError::internal)
}

/// One `bytes=` range; several ranges are answered whole (200), as RFC 9110 allows.
fn parse_range(raw: &str) -> ApiResult<Option<ByteRange>> {
    let unsatisfiable = || ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, format!("unsupported range `{raw}`"));
    let Some(spec) = raw.trim().strip_prefix("bytes=") else { return Err(unsatisfiable()) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| unsatisfiable());
    Ok(Some(match (start.trim().is_empty(), end.trim().is_empty()) {
        (true, false) => ByteRange::Last(number(end)?),
        (false, true) => ByteRange::From(number(start)?),
        (false, false) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(unsatisfiable());
            }
            ByteRange::Bounded(start..end + 1)
        }
        (true, true) => return Err(unsatisfiable()),
    }))
}

/// The content type by extension; an inline preview of markup is shown as text.
fn content_type(name: &str, inline: bool) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "csv" => "text/csv; charset=utf-8",
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "json" | "crc" => "application/json",
        "ndjson" | "jsonl" => "application/x-ndjson",
        "txt" | "log" | "md" => "text/plain; charset=utf-8",
        "parquet" => "application/vnd.apache.parquet",
        "arrow" | "arrows" | "ipc" => "application/vnd.apache.arrow.file",
        "avro" => "application/avro",
        "html" | "htm" | "svg" | "xml" | "js" if inline => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteObjectResponse {
    pub path: String,
    pub message: String,
}

/// Deletes one object of a connection (`objects:delete`). Objects inside a registered
/// table are refused (409): drop the table instead.
#[utoipa::path(delete, path = "/v1/storages/configs/{config_id}/objects", tag = "storages", security(("bearer" = [])),
    params(("config_id" = String, Path), ObjectQuery), responses((status = 200, body = DeleteObjectResponse)))]
pub async fn delete_object(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(config_id): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> ApiResult<axum::Json<DeleteObjectResponse>> {
    authorize(&principal, Action::ObjectsDelete, &org(&principal))?;
    let (connection, spec) = find(&state, &principal, &config_id).await?;
    let location = object_location(&spec, &query.path)?;
    writable(&state, &principal, &connection, &location).await?;
    state.engine.run(DeleteObject { location }).await.map_err(|e| match e {
        EngineError::NotFound(_) => ApiError::missing(format!("object `{}`", query.path)),
        e => e.into(),
    })?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::StorageObjectDeleted)
            .target("storage", connection.id)
            .details(json!({ "path": query.path })),
    )
    .await?;
    Ok(axum::Json(DeleteObjectResponse { path: query.path.clone(), message: "object deleted".into() }))
}

/// Objects may be written or deleted only on writable connections, and never inside a
/// registered table (its files belong to its Delta log).
async fn writable(
    state: &AppState,
    principal: &Principal,
    connection: &StorageConnection,
    location: &Url,
) -> ApiResult<()> {
    if connection.read_only {
        return Err(ApiError::conflict(format!(
            "the storage connection `{}` is read-only: objects cannot be written or deleted",
            connection.name
        )));
    }
    let catalog = Ident::new(&connection.catalog).map_err(ApiError::internal)?;
    let (tables, _) = state.meta.list_tables(principal.org_id, Some(&catalog), None, i64::MAX, 0).await?;
    if let Some(table) = tables.iter().find(|t| location.as_str().starts_with(&t.location)) {
        return Err(ApiError::conflict(format!(
            "the path is inside the table `{}`: change the table through its endpoints, or drop it",
            table.table
        )));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadedObject {
    pub path: String,
    pub size: u64,
    pub etag: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResponse {
    pub uploaded: Vec<UploadedObject>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The connection to upload to (or a `configId` part before the files).
    pub config_id: Option<String>,
}

/// Uploads files to a folder of a connection (`objects:upload`), multipart: `configId`
/// (or `?config_id=`) and `path` (the folder) first, then one or more `files` parts, each
/// streamed to the store as it arrives (never held whole). A file of the same name is
/// replaced.
#[utoipa::path(post, path = "/v1/storages/uploads", tag = "storages", security(("bearer" = [])),
    params(UploadQuery), request_body(content_type = "multipart/form-data", content = Object),
    responses((status = 201, body = UploadResponse)))]
pub async fn upload_objects(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(query): Query<UploadQuery>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, axum::Json<UploadResponse>)> {
    authorize(&principal, Action::ObjectsUpload, &org(&principal))?;
    let mut config_id = query.config_id;
    let mut folder: Option<String> = None;
    let mut target: Option<(StorageConnection, ConnectionSpec)> = None;
    let mut uploaded = Vec::new();
    while let Some(mut part) = form.next_field().await.map_err(multipart_error)? {
        let name = part.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "configId" | "config_id" => config_id = Some(part.text().await.map_err(multipart_error)?),
            "path" => folder = Some(normalized_path("path", &part.text().await.map_err(multipart_error)?)?),
            "files" | "file" => {
                if target.is_none() {
                    let raw = config_id.as_deref().ok_or_else(|| {
                        ApiError::invalid_field("configId", "give the connection (`configId`) before the files")
                    })?;
                    target = Some(find(&state, &principal, raw).await?);
                }
                let Some(folder) = folder.as_deref() else {
                    return Err(ApiError::invalid_field("path", "give the folder (`path`) before the files"));
                };
                let file_name = part.file_name().map(str::to_owned).unwrap_or_default();
                if file_name.is_empty() || file_name.contains('/') {
                    return Err(ApiError::invalid_field("files", "every file needs a file name without `/`"));
                }
                let relative = if folder.is_empty() { file_name.clone() } else { format!("{folder}/{file_name}") };
                let (connection, spec) = target.as_ref().expect("set above");
                let location = object_location(spec, &relative).map_err(|_| {
                    ApiError::invalid_field("files", format!("`{file_name}` is not a file name that can be stored"))
                })?;
                writable(&state, &principal, connection, &location).await?;
                let (sender, chunks) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
                let write = state.engine.run(WriteObject { location, chunks });
                tokio::pin!(write);
                // Feeds the part to the writer (on the engine's runtime) as it arrives;
                // dropping the sender tells the writer the file is complete, and a broken
                // body aborts the upload, so that nothing is stored.
                let mut sender = Some(sender);
                let written = loop {
                    tokio::select! {
                        written = &mut write => break written,
                        chunk = part.chunk(), if sender.is_some() => match chunk {
                            Ok(Some(bytes)) => {
                                let feeding = sender.as_ref().expect("checked by the guard");
                                if feeding.send(Ok(bytes)).await.is_err() {
                                    sender = None;
                                }
                            }
                            Ok(None) => sender = None,
                            Err(e) => {
                                if let Some(feeding) = sender.take() {
                                    let _ = feeding.send(Err("the upload broke off".into())).await;
                                }
                                let _ = (&mut write).await;
                                return Err(multipart_error(e));
                            }
                        },
                    }
                };
                let written = written?;
                uploaded.push(UploadedObject { path: relative, size: written.size, etag: written.etag });
            }
            other => return Err(ApiError::invalid_field(other, "unknown part: give `configId`, `path` and `files`")),
        }
    }
    let Some((connection, _)) = target else {
        return Err(ApiError::invalid_field("files", "give at least one file"));
    };
    let paths: Vec<&str> = uploaded.iter().map(|u| u.path.as_str()).collect();
    let bytes: u64 = uploaded.iter().map(|u| u.size).sum();
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::StorageObjectsUploaded)
            .target("storage", connection.id)
            .details(json!({ "paths": paths, "bytes": bytes })),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(UploadResponse { uploaded })))
}
