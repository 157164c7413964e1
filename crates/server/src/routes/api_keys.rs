//! API keys: create (shown once), list, get, update, revoke (permanent).
//!
//! A key acts for the user who created it, with that user's current role intersected
//! with the key's scopes; it can never be given a scope its creator lacks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, ScopeSet, authorize};
use lakeward_meta::secrets;
use lakeward_meta::store::{ApiKey, ApiKeyUpdate, NewApiKey};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{SuccessResponse, parse_id, validate};
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::{AppState, SharedState};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(create_key, list_keys)).routes(routes!(get_key, update_key, revoke_key))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: Uuid,
    pub name: String,
    /// The first 16 characters of the key, for recognising it.
    #[schema(example = "lw_live_1a2b3c4d")]
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub is_revoked: bool,
}

impl From<&ApiKey> for ApiKeyResponse {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            key_prefix: key.key_prefix.clone(),
            scopes: key.scopes.names(),
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            created_at: key.created_at,
            is_revoked: key.revoked_at.is_some(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Unique among the caller's live keys.
    pub name: String,
    /// Scope names or presets (`read`, `write`, `admin`). Defaults to every scope the
    /// caller holds.
    pub scopes: Option<Vec<String>>,
    /// `7d`, `30d`, `90d`, `1y` or `never`.
    pub expires_in: Option<String>,
    /// An RFC 3339 time in the future. Give this or `expires_in`, not both.
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateApiKeyResponse {
    /// The full key. It is shown only in this response; store it now.
    #[schema(example = "lw_live_1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d")]
    pub key: String,
    pub api_key: ApiKeyResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListApiKeysResponse {
    pub api_keys: Vec<ApiKeyResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKeyRequest {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// RFC 3339 time in the future, or an empty string to remove the expiry.
    pub expires_at: Option<String>,
}

/// Parses requested scopes and checks that `grantor` (and the key's owner) hold them all.
fn grantable_scopes(names: &[String], grantor: &Principal, owner_scopes: ScopeSet) -> ApiResult<ScopeSet> {
    let requested = ScopeSet::parse(names.iter().map(String::as_str))
        .map_err(|unknown| ApiError::invalid_field("scopes", format!("unknown scope `{unknown}`")))?;
    if requested.is_empty() {
        return Err(ApiError::invalid_field("scopes", "at least one scope is required"));
    }
    let allowed = grantor.effective_scopes();
    if let Some(missing) = requested.iter().find(|s| !allowed.contains(*s) || !owner_scopes.contains(*s)) {
        return Err(ApiError::forbidden(missing));
    }
    Ok(requested)
}

fn parse_expires_in(raw: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let days = match raw {
        "7d" => 7,
        "30d" => 30,
        "90d" => 90,
        "1y" => 365,
        "never" => return Ok(None),
        _ => return Err(ApiError::invalid_field("expires_in", "must be one of 7d, 30d, 90d, 1y, never")),
    };
    Ok(Some(Utc::now() + Duration::days(days)))
}

fn parse_expires_at(raw: &str) -> ApiResult<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| ApiError::invalid_field("expires_at", "must be an RFC 3339 timestamp, e.g. 2027-01-31T00:00:00Z"))?
        .with_timezone(&Utc);
    if at <= Utc::now() {
        return Err(ApiError::invalid_field("expires_at", "must be in the future"));
    }
    Ok(at)
}

/// Loads a key named in a path and authorizes `action` on it.
async fn key_in_path(state: &AppState, principal: &Principal, raw_id: &str, action: Action) -> ApiResult<ApiKey> {
    let key = state.meta.get_api_key(parse_id(raw_id)?).await?.ok_or_else(ApiError::not_found)?;
    authorize(principal, action, &Resource::ApiKey { org_id: key.org_id, owner_id: key.user_id })?;
    Ok(key)
}

/// Creates a key. The response carries the full key; it is never shown again.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKeyRequest, responses((status = 201, body = CreateApiKeyResponse),
    (status = 409, description = "A live key with this name exists")))]
pub async fn create_key(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Json(body): Json<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreateApiKeyResponse>)> {
    authorize(
        &principal,
        Action::ApiKeysCreate,
        &Resource::ApiKey { org_id: principal.org_id, owner_id: principal.user_id },
    )?;
    let name = validate::name("name", &body.name, 100)?;
    let scopes = match &body.scopes {
        Some(names) => grantable_scopes(names, &principal, principal.role.scopes())?,
        None => principal.effective_scopes(),
    };
    let expires_at = match (&body.expires_in, &body.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field("expires_at", "give expires_in or expires_at, not both"));
        }
        (Some(within), None) => parse_expires_in(within)?,
        (None, Some(at)) => Some(parse_expires_at(at)?),
        (None, None) => None,
    };
    let material = secrets::generate_api_key(&state.config.secret);
    let key = state
        .meta
        .create_api_key(NewApiKey {
            org_id: principal.org_id,
            user_id: principal.user_id,
            name: &name,
            key_prefix: &material.prefix,
            key_hash: &material.hash,
            scopes,
            expires_at,
        })
        .await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::ApiKeyCreated)
            .target("api_key", key.id)
            .details(json!({ "name": key.name, "key_prefix": key.key_prefix, "scopes": key.scopes.names(), "expires_at": key.expires_at })),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreateApiKeyResponse { key: material.plaintext, api_key: ApiKeyResponse::from(&key) }),
    ))
}

/// The caller's own keys, newest first, revoked ones included.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = ListApiKeysResponse)))]
pub async fn list_keys(
    State(state): State<SharedState>,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<ListApiKeysResponse>> {
    authorize(
        &principal,
        Action::ApiKeysRead,
        &Resource::ApiKey { org_id: principal.org_id, owner_id: principal.user_id },
    )?;
    let keys = state.meta.list_api_keys(principal.user_id).await?;
    Ok(axum::Json(ListApiKeysResponse { api_keys: keys.iter().map(ApiKeyResponse::from).collect() }))
}

/// One key (the caller's own; admins may read any key of their organisation).
#[utoipa::path(get, path = "/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = Uuid, Path)), responses((status = 200, body = ApiKeyResponse)))]
pub async fn get_key(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(key_id): Path<String>,
) -> ApiResult<axum::Json<ApiKeyResponse>> {
    let key = key_in_path(&state, &principal, &key_id, Action::ApiKeysRead).await?;
    Ok(axum::Json(ApiKeyResponse::from(&key)))
}

/// Changes a key's name, scopes or expiry. Revoked keys cannot be changed (409).
#[utoipa::path(patch, path = "/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = Uuid, Path)), request_body = UpdateApiKeyRequest,
    responses((status = 200, body = ApiKeyResponse), (status = 409, description = "Revoked, or name taken")))]
pub async fn update_key(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(key_id): Path<String>,
    Json(body): Json<UpdateApiKeyRequest>,
) -> ApiResult<axum::Json<ApiKeyResponse>> {
    let before = key_in_path(&state, &principal, &key_id, Action::ApiKeysUpdate).await?;
    let name = body.name.as_deref().map(|n| validate::name("name", n, 100)).transpose()?;
    let scopes = match &body.scopes {
        Some(names) => {
            let owner = state.meta.get_user(before.user_id).await?.ok_or_else(ApiError::not_found)?;
            Some(grantable_scopes(names, &principal, owner.role.scopes())?)
        }
        None => None,
    };
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(at) => Some(Some(parse_expires_at(at)?)),
    };
    let key = state.meta.update_api_key(before.id, ApiKeyUpdate { name, scopes, expires_at }).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(key.org_id, EventKind::ApiKeyUpdated).target("api_key", key.id).details(json!({
            "before": { "name": before.name, "scopes": before.scopes.names(), "expires_at": before.expires_at },
            "after": { "name": key.name, "scopes": key.scopes.names(), "expires_at": key.expires_at },
        })),
    )
    .await?;
    Ok(axum::Json(ApiKeyResponse::from(&key)))
}

/// Revokes a key for good; it answers 401 from then on.
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = Uuid, Path)), responses((status = 200, body = SuccessResponse),
    (status = 409, description = "Already revoked")))]
pub async fn revoke_key(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(key_id): Path<String>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    let key = key_in_path(&state, &principal, &key_id, Action::ApiKeysRevoke).await?;
    let key = state.meta.revoke_api_key(key.id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(key.org_id, EventKind::ApiKeyRevoked)
            .target("api_key", key.id)
            .details(json!({ "name": key.name, "key_prefix": key.key_prefix, "owner_id": key.user_id })),
    )
    .await?;
    Ok(SuccessResponse::new("API key revoked"))
}
