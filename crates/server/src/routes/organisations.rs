//! The caller's organisation and its members: rename, invite, change roles, deactivate,
//! delete. An organisation always keeps at least one active admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_meta::secrets;
use lakeward_meta::store::User;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{SuccessResponse, parse_id, validate};
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::identity_views::{OrganisationResponse, RoleName, UserResponse};
use crate::json::Json;
use crate::state::{AppState, SharedState};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(get_my_organisation))
        .routes(routes!(get_organisation, rename_organisation))
        .routes(routes!(list_members))
        .routes(routes!(invite_member))
        .routes(routes!(change_role))
        .routes(routes!(deactivate_member))
        .routes(routes!(delete_member))
}

/// Authorizes `action` on an organisation named in a path and returns its id.
fn org_in_path(principal: &Principal, raw_id: &str, action: Action) -> ApiResult<Uuid> {
    let org_id = parse_id(raw_id)?;
    authorize(principal, action, &Resource::Organisation { org_id })?;
    Ok(org_id)
}

/// Authorizes `action` on a member named in a path and returns the organisation id and
/// the member as it is now.
async fn member_in_path(
    state: &AppState,
    principal: &Principal,
    org: &str,
    user: &str,
    action: Action,
) -> ApiResult<(Uuid, User)> {
    let org_id = parse_id(org)?;
    let user_id = parse_id(user)?;
    authorize(principal, action, &Resource::Member { org_id, user_id })?;
    let member = state.meta.get_member(org_id, user_id).await?.ok_or_else(ApiError::not_found)?;
    Ok((org_id, member))
}

async fn organisation_response(
    state: &AppState,
    principal: &Principal,
    org_id: Uuid,
) -> ApiResult<axum::Json<OrganisationResponse>> {
    let org = state.meta.get_organisation(org_id).await?.ok_or_else(ApiError::not_found)?;
    let count = state.meta.count_members(org_id).await?;
    Ok(axum::Json(OrganisationResponse::new(&org, Some(principal.role), count)))
}

/// The caller's organisation, with the caller's membership.
#[utoipa::path(get, path = "/v1/organisations/me", tag = "organisations", security(("bearer" = [])),
    responses((status = 200, body = OrganisationResponse)))]
pub async fn get_my_organisation(
    State(state): State<SharedState>,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<OrganisationResponse>> {
    authorize(&principal, Action::OrgRead, &Resource::Organisation { org_id: principal.org_id })?;
    organisation_response(&state, &principal, principal.org_id).await
}

/// An organisation by id (only the caller's own is visible).
#[utoipa::path(get, path = "/v1/organisations/{organisation_id}", tag = "organisations", security(("bearer" = [])),
    params(("organisation_id" = Uuid, Path)), responses((status = 200, body = OrganisationResponse)))]
pub async fn get_organisation(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(organisation_id): Path<String>,
) -> ApiResult<axum::Json<OrganisationResponse>> {
    let org_id = org_in_path(&principal, &organisation_id, Action::OrgRead)?;
    organisation_response(&state, &principal, org_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameOrganisationRequest {
    pub name: String,
}

/// Renames the organisation (admin, `org:update`).
#[utoipa::path(put, path = "/v1/organisations/{organisation_id}", tag = "organisations", security(("bearer" = [])),
    params(("organisation_id" = Uuid, Path)), request_body = RenameOrganisationRequest,
    responses((status = 200, body = OrganisationResponse)))]
pub async fn rename_organisation(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(organisation_id): Path<String>,
    Json(body): Json<RenameOrganisationRequest>,
) -> ApiResult<axum::Json<OrganisationResponse>> {
    let org_id = org_in_path(&principal, &organisation_id, Action::OrgUpdate)?;
    let name = validate::name("name", &body.name, 200)?;
    let before = state.meta.get_organisation(org_id).await?.ok_or_else(ApiError::not_found)?;
    state.meta.rename_organisation(org_id, &name).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(org_id, EventKind::OrganisationRenamed)
            .target("organisation", org_id)
            .details(json!({ "before": { "name": before.name }, "after": { "name": name } })),
    )
    .await?;
    organisation_response(&state, &principal, org_id).await
}

/// Every member of the organisation, including invited and deactivated ones.
#[utoipa::path(get, path = "/v1/organisations/{organisation_id}/users", tag = "organisations", security(("bearer" = [])),
    params(("organisation_id" = Uuid, Path)), responses((status = 200, body = Vec<UserResponse>)))]
pub async fn list_members(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(organisation_id): Path<String>,
) -> ApiResult<axum::Json<Vec<UserResponse>>> {
    let org_id = org_in_path(&principal, &organisation_id, Action::MembersRead)?;
    let members = state.meta.list_members(org_id).await?;
    Ok(axum::Json(members.iter().map(UserResponse::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    pub role: RoleName,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteResponse {
    pub user: UserResponse,
    /// One-time token for `POST /v1/auth/accept-invite`. This server sends no email:
    /// hand the token to the invitee. It is shown only here.
    pub invite_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Invites a user with a role (admin, `org:update`). Returns the acceptance token.
#[utoipa::path(post, path = "/v1/organisations/{organisation_id}/invite", tag = "organisations", security(("bearer" = [])),
    params(("organisation_id" = Uuid, Path)), request_body = InviteRequest,
    responses((status = 201, body = InviteResponse), (status = 409, description = "Email already registered")))]
pub async fn invite_member(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(organisation_id): Path<String>,
    Json(body): Json<InviteRequest>,
) -> ApiResult<(StatusCode, axum::Json<InviteResponse>)> {
    let org_id = org_in_path(&principal, &organisation_id, Action::MembersManage)?;
    validate::email("email", &body.email)?;
    let user = state.meta.create_user(org_id, &body.email, body.role.into(), None).await?;
    let token = secrets::random_hex(32);
    let ttl = chrono::Duration::from_std(state.config.invite_ttl).map_err(ApiError::internal)?;
    let expires_at = Utc::now() + ttl;
    let token_hash = secrets::hash_token(&state.config.secret, "invite", &token);
    state.meta.create_invite(user.id, org_id, &token_hash, expires_at).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(org_id, EventKind::MemberInvited)
            .target("user", user.id)
            .details(json!({ "email": user.email, "role": user.role.as_str() })),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(InviteResponse { user: UserResponse::from(&user), invite_token: token, expires_at }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRoleRequest {
    pub role: RoleName,
}

/// Changes a member's role (admin, `org:update`). Demoting the last active admin is refused (409).
#[utoipa::path(put, path = "/v1/organisations/{organisation_id}/users/{user_id}/role", tag = "organisations",
    security(("bearer" = [])), params(("organisation_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    request_body = EditRoleRequest, responses((status = 200, body = UserResponse), (status = 409, description = "Last admin")))]
pub async fn change_role(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((organisation_id, user_id)): Path<(String, String)>,
    Json(body): Json<EditRoleRequest>,
) -> ApiResult<axum::Json<UserResponse>> {
    let (org_id, before) =
        member_in_path(&state, &principal, &organisation_id, &user_id, Action::MembersManage).await?;
    let user_id = before.id;
    let user = state.meta.set_role(org_id, user_id, body.role.into()).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(org_id, EventKind::MemberRoleChanged)
            .target("user", user_id)
            .details(json!({ "before": { "role": before.role.as_str() }, "after": { "role": user.role.as_str() } })),
    )
    .await?;
    Ok(axum::Json(UserResponse::from(&user)))
}

/// Deactivates a member (soft delete): they can no longer sign in, and their sessions and
/// API keys stop working. The last active admin cannot be deactivated (409).
#[utoipa::path(delete, path = "/v1/organisations/{organisation_id}/users/{user_id}/deactivate", tag = "organisations",
    security(("bearer" = [])), params(("organisation_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = UserResponse), (status = 409, description = "Last admin")))]
pub async fn deactivate_member(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((organisation_id, user_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<UserResponse>> {
    let (org_id, member) =
        member_in_path(&state, &principal, &organisation_id, &user_id, Action::MembersManage).await?;
    let user_id = member.id;
    let user = state.meta.deactivate_user(org_id, user_id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(org_id, EventKind::MemberDeactivated)
            .target("user", user_id)
            .details(json!({ "email": user.email })),
    )
    .await?;
    Ok(axum::Json(UserResponse::from(&user)))
}

/// Permanently removes a member with their API keys. The last active admin cannot be deleted (409).
#[utoipa::path(delete, path = "/v1/organisations/{organisation_id}/users/{user_id}", tag = "organisations",
    security(("bearer" = [])), params(("organisation_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = SuccessResponse), (status = 409, description = "Last admin")))]
pub async fn delete_member(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((organisation_id, user_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    let (org_id, user) = member_in_path(&state, &principal, &organisation_id, &user_id, Action::MembersManage).await?;
    let user_id = user.id;
    state.meta.delete_user(org_id, user_id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(org_id, EventKind::MemberDeleted)
            .target("user", user_id)
            .details(json!({ "email": user.email, "role": user.role.as_str() })),
    )
    .await?;
    Ok(SuccessResponse::new("Member deleted"))
}
