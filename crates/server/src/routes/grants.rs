//! Grants (`/v1/grants`): privileges on a catalog, schema or table (and everything under
//! it) for a user or a team, on top of what their role allows. Listing needs `org:read`.
//! Granting or revoking on an object needs the `manage` privilege there (admins hold it
//! everywhere), and a grant never gives a privilege the granter does not hold on it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lakeward_meta::EventKind;
use lakeward_meta::access::{
    Action, Denied, Principal, Privilege, PrivilegeSet, Resource, authorize, effective_privileges,
};
use lakeward_meta::store::{Grant, GrantFilter, Grantee, Securable};
use lakeward_model::Ident;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{SuccessResponse, parse_id};
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::query::Query;
use crate::state::{AppState, SharedState};
use crate::table_access;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(create_grant, list_grants)).routes(routes!(revoke_grant))
}

/// A catalog, schema or table, by name.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurableBody {
    /// `catalog`, `schema` or `table`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `main`, `main.crm` or `main.crm.customers`.
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GranteeBody {
    /// `user` or `team`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    pub on: SecurableBody,
    pub grantee: GranteeBody,
    /// Any of read, query, insert, update, delete, modify, manage.
    pub privileges: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResponse {
    pub id: Uuid,
    pub on: SecurableBody,
    pub grantee: GranteeBody,
    pub privilege: &'static str,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl From<Grant> for GrantResponse {
    fn from(g: Grant) -> Self {
        Self {
            id: g.id,
            on: SecurableBody { kind: g.securable.kind().into(), name: g.securable.name().into() },
            grantee: GranteeBody { kind: g.grantee.kind().into(), id: g.grantee.id() },
            privilege: g.privilege.as_str(),
            created_at: g.created_at,
            created_by: g.created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantsResponse {
    pub grants: Vec<GrantResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantsQuery {
    /// With `on`: `catalog`, `schema` or `table`; lists the grants that hold for it
    /// (its own and those above it).
    pub on_type: Option<String>,
    pub on: Option<String>,
    /// `user` or `team`, with `grantee_id`.
    pub grantee_type: Option<String>,
    pub grantee_id: Option<Uuid>,
}

fn securable(field: &str, kind: &str, name: &str) -> ApiResult<Securable> {
    let parts: Vec<&str> = name.split('.').collect();
    let (securable, depth) = match kind {
        "catalog" => (Securable::Catalog(name.into()), 1),
        "schema" => (Securable::Schema(name.into()), 2),
        "table" => (Securable::Table(name.into()), 3),
        _ => return Err(ApiError::invalid_field(format!("{field}.type"), "must be catalog, schema or table")),
    };
    if parts.len() != depth || parts.iter().any(|p| Ident::new(p).is_err()) {
        let shape = ["catalog", "catalog.schema", "catalog.schema.table"][depth - 1];
        return Err(ApiError::invalid_field(format!("{field}.name"), format!("must be `{shape}` of identifiers")));
    }
    Ok(securable)
}

fn grantee(field: &str, kind: &str, id: Uuid) -> ApiResult<Grantee> {
    match kind {
        "user" => Ok(Grantee::User(id)),
        "team" => Ok(Grantee::Team(id)),
        _ => Err(ApiError::invalid_field(format!("{field}.type"), "must be user or team")),
    }
}

/// The object must exist in the caller's organisation: a 404 names its outermost missing part.
async fn must_exist(state: &AppState, principal: &Principal, on: &Securable) -> ApiResult<()> {
    let parts: Vec<Ident> = on.name().split('.').map(|p| Ident::new(p).expect("checked")).collect();
    let found = match parts.as_slice() {
        [c] => state.meta.get_catalog(principal.org_id, c).await?.is_some(),
        [c, s] => state.meta.get_schema(principal.org_id, c, s).await?.is_some(),
        [c, s, t] => {
            let r = lakeward_model::TableRef { catalog: c.clone(), schema: s.clone(), table: t.clone() };
            state.meta.get_table(principal.org_id, &r).await?.is_some()
        }
        _ => false,
    };
    if found {
        return Ok(());
    }
    Err(table_access::not_found(state, principal.org_id, &parts[0], parts.get(1), parts.get(2)).await)
}

/// What the principal holds on the object; refused unless that includes `manage`.
async fn managed(state: &AppState, principal: &Principal, on: &Securable) -> ApiResult<PrivilegeSet> {
    let granted = table_access::granted_on(state, principal, on).await?;
    authorize(principal, Action::GrantsManage, &Resource::Granted { org_id: principal.org_id, granted })?;
    Ok(effective_privileges(principal, granted))
}

/// Grants privileges on a catalog, schema or table to a user or a team (`manage` on it).
#[utoipa::path(post, path = "/v1/grants", tag = "grants", security(("bearer" = [])),
    request_body = CreateGrantRequest, responses((status = 201, body = GrantsResponse)))]
pub async fn create_grant(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Json(body): Json<CreateGrantRequest>,
) -> ApiResult<(StatusCode, axum::Json<GrantsResponse>)> {
    let on = securable("on", &body.on.kind, &body.on.name)?;
    let to = grantee("grantee", &body.grantee.kind, body.grantee.id)?;
    if body.privileges.is_empty() {
        return Err(ApiError::invalid_field("privileges", "give at least one privilege"));
    }
    let mut privileges = PrivilegeSet::default();
    for (i, raw) in body.privileges.iter().enumerate() {
        let p = Privilege::parse(raw).ok_or_else(|| {
            ApiError::invalid_field(
                format!("privileges[{i}]"),
                "must be read, query, insert, update, delete, modify or manage",
            )
        })?;
        privileges.insert(p);
    }
    let held = managed(&state, &principal, &on).await?;
    must_exist(&state, &principal, &on).await?;
    if let Some(beyond) = privileges.iter().find(|p| !held.contains(*p)) {
        let denied = Denied::Forbidden { required_scope: beyond_scope(beyond) };
        let mut error = ApiError::from(denied);
        error.message = format!("you may grant only privileges you hold on `{}`: not `{beyond}`", on.name());
        return Err(error);
    }
    let grants = state.meta.grant(principal.org_id, &on, to, privileges, principal.user_id).await?;
    let names: Vec<&str> = privileges.iter().map(Privilege::as_str).collect();
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::GrantCreated)
            .target(on.kind(), on.name())
            .details(json!({ "grantee": { "type": to.kind(), "id": to.id() }, "privileges": names })),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(GrantsResponse { grants: grants.into_iter().map(Into::into).collect() })))
}

/// The scope an API key would need for what a privilege allows (named in a 403).
fn beyond_scope(p: Privilege) -> lakeward_meta::access::Scope {
    let action = Action::ALL.into_iter().find(|a| a.privilege() == Some(p)).expect("every privilege has an action");
    action.required_scope()
}

/// Grants of the organisation (`org:read`), optionally those that hold for one object or
/// those of one grantee.
#[utoipa::path(get, path = "/v1/grants", tag = "grants", security(("bearer" = [])), params(GrantsQuery),
    responses((status = 200, body = GrantsResponse)))]
pub async fn list_grants(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(q): Query<GrantsQuery>,
) -> ApiResult<axum::Json<GrantsResponse>> {
    authorize(&principal, Action::MembersRead, &Resource::Organisation { org_id: principal.org_id })?;
    let on = match (&q.on_type, &q.on) {
        (Some(kind), Some(name)) => Some(securable("on", kind, name)?),
        (None, None) => None,
        _ => return Err(ApiError::invalid_field("on", "give on_type and on together")),
    };
    let who = match (&q.grantee_type, q.grantee_id) {
        (Some(kind), Some(id)) => Some(grantee("grantee", kind, id)?),
        (None, None) => None,
        _ => return Err(ApiError::invalid_field("grantee_id", "give grantee_type and grantee_id together")),
    };
    let grants = state.meta.list_grants(principal.org_id, &GrantFilter { on, grantee: who }).await?;
    Ok(axum::Json(GrantsResponse { grants: grants.into_iter().map(Into::into).collect() }))
}

/// Revokes a grant (`manage` on its object).
#[utoipa::path(delete, path = "/v1/grants/{grant_id}", tag = "grants", security(("bearer" = [])),
    params(("grant_id" = String, Path, description = "The grant's id")),
    responses((status = 200, body = SuccessResponse), (status = 404, description = "No such grant", body = crate::error::ErrorBody)))]
pub async fn revoke_grant(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(grant_id): Path<String>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    let id = parse_id(&grant_id)?;
    let grant = state.meta.get_grant(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    managed(&state, &principal, &grant.securable).await?;
    state.meta.revoke_grant(principal.org_id, id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::GrantRevoked).target(grant.securable.kind(), grant.securable.name()).details(
            json!({ "grant_id": id, "grantee": { "type": grant.grantee.kind(), "id": grant.grantee.id() }, "privilege": grant.privilege.as_str() }),
        ),
    )
    .await?;
    Ok(axum::Json(SuccessResponse {
        success: true,
        message: format!("Grant of `{}` on `{}` revoked", grant.privilege, grant.securable.name()),
    }))
}
