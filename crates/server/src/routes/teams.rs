//! Teams (`/v1/teams`): named groups of the organisation's members that grants can name.
//! Any member may list them (`org:read`); admins manage them (`org:update`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_meta::store::Team;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{SuccessResponse, parse_id};
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(create_team, list_teams))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(add_member))
        .routes(routes!(remove_member))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRequest {
    /// 1 to 100 characters, unique in the organisation.
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamRequest {
    pub name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::json::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub user_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamResponse {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    /// The members' ids (on the answers about one team).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Uuid>>,
}

impl From<Team> for TeamResponse {
    fn from(t: Team) -> Self {
        Self {
            id: t.id,
            name: t.name,
            description: t.description,
            member_count: t.member_count,
            created_at: t.created_at,
            created_by: t.created_by,
            members: None,
        }
    }
}

fn org(principal: &Principal) -> Resource {
    Resource::Organisation { org_id: principal.org_id }
}

fn check_name(raw: &str) -> ApiResult<&str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid_field("name", "must be 1 to 100 characters"));
    }
    Ok(name)
}

fn check_description(raw: Option<&str>) -> ApiResult<Option<&str>> {
    match raw {
        Some(d) if d.chars().count() > 1000 => {
            Err(ApiError::invalid_field("description", "must be at most 1000 characters"))
        }
        other => Ok(other),
    }
}

async fn with_members(state: &SharedState, principal: &Principal, team: Team) -> ApiResult<TeamResponse> {
    let members = state.meta.team_members(principal.org_id, team.id).await?;
    Ok(TeamResponse { members: Some(members), ..team.into() })
}

async fn audit(
    state: &SharedState,
    request: &RequestMeta,
    principal: &Principal,
    kind: EventKind,
    team: Uuid,
    details: serde_json::Value,
) -> ApiResult<()> {
    audit_log::record(
        state,
        request,
        Actor::Principal(principal),
        Event::new(principal.org_id, kind).target("team", team).details(details),
    )
    .await
}

/// Creates a team (`org:update`).
#[utoipa::path(post, path = "/v1/teams", tag = "teams", security(("bearer" = [])),
    request_body = CreateTeamRequest, responses((status = 201, body = TeamResponse), (status = 409, description = "The name is taken", body = crate::error::ErrorBody)))]
pub async fn create_team(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Json(body): Json<CreateTeamRequest>,
) -> ApiResult<(StatusCode, axum::Json<TeamResponse>)> {
    authorize(&principal, Action::MembersManage, &org(&principal))?;
    let name = check_name(&body.name)?;
    let description = check_description(body.description.as_deref())?;
    let team = state.meta.create_team(principal.org_id, name, description, principal.user_id).await?;
    audit(&state, &request, &principal, EventKind::TeamCreated, team.id, json!({ "name": team.name })).await?;
    Ok((StatusCode::CREATED, axum::Json(with_members(&state, &principal, team).await?)))
}

/// The organisation's teams (`org:read`).
#[utoipa::path(get, path = "/v1/teams", tag = "teams", security(("bearer" = [])),
    responses((status = 200, body = Vec<TeamResponse>)))]
pub async fn list_teams(
    State(state): State<SharedState>,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<Vec<TeamResponse>>> {
    authorize(&principal, Action::MembersRead, &org(&principal))?;
    let teams = state.meta.list_teams(principal.org_id).await?;
    Ok(axum::Json(teams.into_iter().map(TeamResponse::from).collect()))
}

/// One team with its members (`org:read`).
#[utoipa::path(get, path = "/v1/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "The team's id")),
    responses((status = 200, body = TeamResponse), (status = 404, description = "No such team", body = crate::error::ErrorBody)))]
pub async fn get_team(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(team_id): Path<String>,
) -> ApiResult<axum::Json<TeamResponse>> {
    authorize(&principal, Action::MembersRead, &org(&principal))?;
    let team = state.meta.get_team(principal.org_id, parse_id(&team_id)?).await?.ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(with_members(&state, &principal, team).await?))
}

/// Renames a team or changes its description (`org:update`).
#[utoipa::path(patch, path = "/v1/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "The team's id")),
    request_body = UpdateTeamRequest, responses((status = 200, body = TeamResponse)))]
pub async fn update_team(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(team_id): Path<String>,
    Json(body): Json<UpdateTeamRequest>,
) -> ApiResult<axum::Json<TeamResponse>> {
    authorize(&principal, Action::MembersManage, &org(&principal))?;
    let id = parse_id(&team_id)?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    let description = match &body.description {
        Some(d) => Some(check_description(d.as_deref())?),
        None => None,
    };
    let before = state.meta.get_team(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    let team = state.meta.update_team(principal.org_id, id, name, description).await?;
    let details = json!({ "before": { "name": before.name, "description": before.description },
                          "after": { "name": team.name, "description": team.description } });
    audit(&state, &request, &principal, EventKind::TeamUpdated, team.id, details).await?;
    Ok(axum::Json(with_members(&state, &principal, team).await?))
}

/// Deletes a team, its memberships and every grant naming it (`org:update`).
#[utoipa::path(delete, path = "/v1/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "The team's id")),
    responses((status = 200, body = SuccessResponse)))]
pub async fn delete_team(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(team_id): Path<String>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    authorize(&principal, Action::MembersManage, &org(&principal))?;
    let id = parse_id(&team_id)?;
    let team = state.meta.get_team(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    state.meta.delete_team(principal.org_id, id).await?;
    audit(&state, &request, &principal, EventKind::TeamDeleted, id, json!({ "name": team.name })).await?;
    Ok(axum::Json(SuccessResponse { success: true, message: format!("Team `{}` deleted", team.name) }))
}

/// Adds a member of the organisation to the team (`org:update`); adding one already in it
/// changes nothing.
#[utoipa::path(post, path = "/v1/teams/{team_id}/members", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "The team's id")),
    request_body = AddMemberRequest, responses((status = 200, body = TeamResponse)))]
pub async fn add_member(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(team_id): Path<String>,
    Json(body): Json<AddMemberRequest>,
) -> ApiResult<axum::Json<TeamResponse>> {
    authorize(&principal, Action::MembersManage, &org(&principal))?;
    let id = parse_id(&team_id)?;
    if state.meta.add_team_member(principal.org_id, id, body.user_id).await? {
        audit(&state, &request, &principal, EventKind::TeamMemberAdded, id, json!({ "user_id": body.user_id })).await?;
    }
    let team = state.meta.get_team(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(with_members(&state, &principal, team).await?))
}

/// Removes a member from the team (`org:update`).
#[utoipa::path(delete, path = "/v1/teams/{team_id}/members/{user_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "The team's id"), ("user_id" = String, Path, description = "The member's id")),
    responses((status = 200, body = TeamResponse)))]
pub async fn remove_member(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((team_id, user_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<TeamResponse>> {
    authorize(&principal, Action::MembersManage, &org(&principal))?;
    let (id, user_id) = (parse_id(&team_id)?, parse_id(&user_id)?);
    state.meta.remove_team_member(principal.org_id, id, user_id).await?;
    audit(&state, &request, &principal, EventKind::TeamMemberRemoved, id, json!({ "user_id": user_id })).await?;
    let team = state.meta.get_team(principal.org_id, id).await?.ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(with_members(&state, &principal, team).await?))
}
