//! Reading the audit trail: the organisation's (admins only), and one table's (anyone
//! who may read the table): every change to its data, schema, domains and constraints.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use lakeward_meta::access::{Action, Resource, authorize};
use lakeward_meta::store::{AuditEvent, AuditFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::state::{AppState, SharedState};
use crate::table_access::TablePath;
use crate::table_access::resolve;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(list_audit)).routes(routes!(table_audit))
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact action (`apikey.created`), or a family with `.*` (`apikey.*`).
    pub action: Option<String>,
    /// The acting user.
    pub actor_id: Option<Uuid>,
    /// `organisation`, `user`, `api_key`, ...
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Events at or after this RFC 3339 time.
    pub since: Option<DateTime<Utc>>,
    /// Events before this RFC 3339 time.
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    pub id: Uuid,
    /// `user`, `api_key` (a user acting through a key) or `anonymous`.
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    #[schema(example = "apikey.created")]
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// What changed: names, before/after values. Never secrets.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEvent> for AuditEventResponse {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id,
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            client_ip: e.client_ip,
            request_id: e.request_id,
            details: e.details,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditListResponse {
    pub events: Vec<AuditEventResponse>,
    /// Events matching the filters, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The organisation's audit events, newest first (`audit:read`: admins).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditListResponse)))]
pub async fn list_audit(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(query): Query<AuditQuery>,
) -> ApiResult<axum::Json<AuditListResponse>> {
    authorize(&principal, Action::AuditRead, &Resource::Organisation { org_id: principal.org_id })?;
    list(&state, principal.org_id, query).await
}

/// One page of the organisation's events matching `query`.
async fn list(state: &AppState, org_id: Uuid, query: AuditQuery) -> ApiResult<axum::Json<AuditListResponse>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid_field("offset", "must not be negative"));
    }
    let (action, action_prefix) = match query.action {
        Some(a) => match a.strip_suffix(".*") {
            Some(prefix) => (None, Some(prefix.to_owned())),
            None => (Some(a), None),
        },
        None => (None, None),
    };
    let filter = AuditFilter {
        action,
        action_prefix,
        actor_id: query.actor_id,
        target_type: query.target_type,
        target_id: query.target_id,
        since: query.since,
        until: query.until,
    };
    let page = state.meta.list_audit(org_id, &filter, limit, offset).await?;
    Ok(axum::Json(AuditListResponse {
        events: page.events.into_iter().map(AuditEventResponse::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TableAuditQuery {
    /// Exact action (`rows.updated`), or a family with `.*` (`domain.*`).
    pub action: Option<String>,
    pub actor_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One table's audit events, newest first (`tables:read`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/audit", tag = "audit", security(("bearer" = [])),
    params(TablePath, TableAuditQuery), responses((status = 200, body = AuditListResponse)))]
pub async fn table_audit(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(q): Query<TableAuditQuery>,
    Path(path): Path<TablePath>,
) -> ApiResult<axum::Json<AuditListResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesRead).await?;
    let query = AuditQuery {
        action: q.action,
        actor_id: q.actor_id,
        target_type: Some("table".to_owned()),
        target_id: Some(t.entry.table.to_string()),
        since: q.since,
        until: q.until,
        limit: q.limit,
        offset: q.offset,
    };
    list(&state, principal.org_id, query).await
}
