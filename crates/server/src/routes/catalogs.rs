//! Managed catalogs and the schemas in them. Dropping refuses anything not empty.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lakeward_meta::EventKind;
use lakeward_meta::MetaError;
use lakeward_meta::access::{Action, Resource, authorize};
use lakeward_meta::store::{CatalogEntry, SchemaEntry};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::SuccessResponse;
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::SharedState;
use crate::table_access::{self, ident_in_path, new_ident};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(create_catalog, list_catalogs))
        .routes(routes!(drop_catalog))
        .routes(routes!(create_schema, list_schemas))
        .routes(routes!(drop_schema))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespaceRequest {
    /// `[A-Za-z_][A-Za-z0-9_]{0,127}`
    pub name: String,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogResponse {
    pub id: Uuid,
    pub name: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl From<CatalogEntry> for CatalogResponse {
    fn from(c: CatalogEntry) -> Self {
        Self { id: c.id, name: c.name, comment: c.comment, created_at: c.created_at, created_by: c.created_by }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaResponse {
    pub id: Uuid,
    pub catalog: String,
    pub name: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl From<SchemaEntry> for SchemaResponse {
    fn from(s: SchemaEntry) -> Self {
        Self {
            id: s.id,
            catalog: s.catalog,
            name: s.name,
            comment: s.comment,
            created_at: s.created_at,
            created_by: s.created_by,
        }
    }
}

fn comment(raw: Option<&String>) -> ApiResult<Option<String>> {
    match raw {
        Some(c) if c.chars().count() > 1000 => {
            Err(ApiError::invalid_field("comment", "must be at most 1000 characters"))
        }
        other => Ok(other.cloned()),
    }
}

/// Creates a managed catalog (`tables:create`).
#[utoipa::path(post, path = "/v1/catalogs", tag = "catalogs", security(("bearer" = [])), request_body = CreateNamespaceRequest,
    responses((status = 201, body = CatalogResponse), (status = 409, description = "Exists")))]
pub async fn create_catalog(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Json(body): Json<CreateNamespaceRequest>,
) -> ApiResult<(StatusCode, axum::Json<CatalogResponse>)> {
    authorize(&principal, Action::TablesCreate, &Resource::Table { org_id: principal.org_id })?;
    let name = new_ident("name", &body.name)?;
    let comment = comment(body.comment.as_ref())?;
    let catalog = state.meta.create_catalog(principal.org_id, &name, comment.as_deref(), principal.user_id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::CatalogCreated)
            .target("catalog", &name)
            .details(json!({ "comment": comment })),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(catalog.into())))
}

/// The organisation's catalogs (`tables:read`).
#[utoipa::path(get, path = "/v1/catalogs", tag = "catalogs", security(("bearer" = [])), responses((status = 200, body = Vec<CatalogResponse>)))]
pub async fn list_catalogs(
    State(state): State<SharedState>,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<Vec<CatalogResponse>>> {
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    Ok(axum::Json(state.meta.list_catalogs(principal.org_id).await?.into_iter().map(Into::into).collect()))
}

/// Drops an empty catalog (`tables:modify`).
#[utoipa::path(delete, path = "/v1/catalogs/{catalog}", tag = "catalogs", security(("bearer" = [])),
    params(("catalog" = String, Path)), responses((status = 200, body = SuccessResponse), (status = 409, description = "Not empty")))]
pub async fn drop_catalog(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(catalog): Path<String>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    authorize(&principal, Action::TablesModify, &Resource::Table { org_id: principal.org_id })?;
    let name = ident_in_path("catalog", &catalog)?;
    match state.meta.drop_catalog(principal.org_id, &name).await {
        Err(MetaError::NotFound) => return Err(ApiError::missing(format!("catalog `{name}`"))),
        other => other?,
    }
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::CatalogDropped).target("catalog", &name),
    )
    .await?;
    Ok(SuccessResponse::new("Catalog dropped"))
}

/// Creates a schema in a catalog (`tables:create`).
#[utoipa::path(post, path = "/v1/catalogs/{catalog}/schemas", tag = "catalogs", security(("bearer" = [])),
    params(("catalog" = String, Path)), request_body = CreateNamespaceRequest,
    responses((status = 201, body = SchemaResponse), (status = 409, description = "Exists")))]
pub async fn create_schema(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(catalog): Path<String>,
    Json(body): Json<CreateNamespaceRequest>,
) -> ApiResult<(StatusCode, axum::Json<SchemaResponse>)> {
    authorize(&principal, Action::TablesCreate, &Resource::Table { org_id: principal.org_id })?;
    let catalog = ident_in_path("catalog", &catalog)?;
    let name = new_ident("name", &body.name)?;
    let comment = comment(body.comment.as_ref())?;
    let schema = match state
        .meta
        .create_schema(principal.org_id, &catalog, &name, comment.as_deref(), principal.user_id)
        .await
    {
        Err(MetaError::NotFound) => return Err(ApiError::missing(format!("catalog `{catalog}`"))),
        other => other?,
    };
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::SchemaCreated)
            .target("schema", format!("{catalog}.{name}"))
            .details(json!({ "comment": comment })),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(schema.into())))
}

/// The schemas of a catalog (`tables:read`).
#[utoipa::path(get, path = "/v1/catalogs/{catalog}/schemas", tag = "catalogs", security(("bearer" = [])),
    params(("catalog" = String, Path)), responses((status = 200, body = Vec<SchemaResponse>)))]
pub async fn list_schemas(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(catalog): Path<String>,
) -> ApiResult<axum::Json<Vec<SchemaResponse>>> {
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let catalog = ident_in_path("catalog", &catalog)?;
    if state.meta.get_catalog(principal.org_id, &catalog).await?.is_none() {
        return Err(ApiError::missing(format!("catalog `{catalog}`")));
    }
    Ok(axum::Json(state.meta.list_schemas(principal.org_id, &catalog).await?.into_iter().map(Into::into).collect()))
}

/// Drops an empty schema (`tables:modify`).
#[utoipa::path(delete, path = "/v1/catalogs/{catalog}/schemas/{schema}", tag = "catalogs", security(("bearer" = [])),
    params(("catalog" = String, Path), ("schema" = String, Path)),
    responses((status = 200, body = SuccessResponse), (status = 409, description = "Not empty")))]
pub async fn drop_schema(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((catalog, schema)): Path<(String, String)>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    authorize(&principal, Action::TablesModify, &Resource::Table { org_id: principal.org_id })?;
    let (catalog, schema) = table_access::schema_ref(&catalog, &schema)?;
    match state.meta.drop_schema(principal.org_id, &catalog, &schema).await {
        Err(MetaError::NotFound) => {
            return Err(table_access::not_found(&state, principal.org_id, &catalog, Some(&schema), None).await);
        }
        other => other?,
    }
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::SchemaDropped).target("schema", format!("{catalog}.{schema}")),
    )
    .await?;
    Ok(SuccessResponse::new("Schema dropped"))
}
