//! Onboarding, sign-in and sign-out, invitation acceptance.

use axum::extract::State;
use axum::http::StatusCode;
use lakeward_meta::EventKind;
use lakeward_meta::access::Credential;
use lakeward_meta::secrets;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{SuccessResponse, validate};
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta, TokenResponse, start_session};
use crate::error::{ApiError, ApiResult};
use crate::identity_views::{OrganisationResponse, UserResponse};
use crate::json::Json;
use crate::services;
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(onboard))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(accept_invite))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnboardRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    #[schema(example = "Acme")]
    pub organisation_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OnboardResponse {
    pub organisation: OrganisationResponse,
    pub user: UserResponse,
    #[serde(flatten)]
    pub token: TokenResponse,
}

/// Creates an organisation and its first user (an admin), and signs that user in.
///
/// On a server that already has an organisation this is allowed only when the server
/// is configured with `allow_signup`; otherwise it answers 403.
#[utoipa::path(post, path = "/v1/auth/onboard", tag = "auth", request_body = OnboardRequest,
    responses((status = 201, body = OnboardResponse), (status = 409, description = "Email already registered")))]
pub async fn onboard(
    State(state): State<SharedState>,
    request: RequestMeta,
    Json(body): Json<OnboardRequest>,
) -> ApiResult<(StatusCode, axum::Json<OnboardResponse>)> {
    validate::email("email", &body.email)?;
    validate::password("password", &body.password)?;
    let org_name = validate::name("organisation_name", &body.organisation_name, 200)?;
    let password_hash = hash_password(body.password).await?;

    // One onboarding at a time, so that two first-comers cannot both slip past the check.
    let _guard = state.onboarding.lock().await;
    if !state.config.allow_signup && state.meta.count_organisations().await? > 0 {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "Signup of new organisations is disabled on this server"));
    }
    let (org, user) = state.meta.create_organisation(&org_name, &body.email, &password_hash).await?;
    audit_log::record(
        &state,
        &request,
        Actor::User(user.id),
        Event::new(org.id, EventKind::AuthOnboard)
            .target("organisation", org.id)
            .details(json!({ "organisation_name": org.name, "email": user.email })),
    )
    .await?;
    let token = start_session(&state, user.id, org.id).await?;
    let user = state.meta.get_user(user.id).await?.ok_or_else(ApiError::not_found)?;
    let organisation = OrganisationResponse::new(&org, Some(user.role), 1);
    Ok((StatusCode::CREATED, axum::Json(OnboardResponse { organisation, user: UserResponse::from(&user), token })))
}

async fn hash_password(password: String) -> ApiResult<String> {
    // Argon2 is deliberately slow; keep it off the async workers.
    tokio::task::spawn_blocking(move || secrets::hash_password(&password)).await.map_err(ApiError::internal)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub token: TokenResponse,
    pub user: UserResponse,
}

/// Exchanges email and password for a short-lived bearer token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse)))]
pub async fn login(
    State(state): State<SharedState>,
    request: RequestMeta,
    Json(body): Json<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    let (user, token) = services::sign_in::sign_in(&state, &request, &body.email, &body.password).await?;
    let user = state.meta.get_user(user.id).await?.ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(LoginResponse { token, user: UserResponse::from(&user) }))
}

/// Ends the session whose token made the request.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SuccessResponse)))]
pub async fn logout(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<SuccessResponse>> {
    let Credential::Session { session_id } = principal.credential else {
        return Err(ApiError::bad_request(
            "API keys do not sign out; revoke the key with DELETE /v1/api-keys/{key_id}",
        ));
    };
    state.meta.revoke_session(session_id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::AuthLogout),
    )
    .await?;
    Ok(SuccessResponse::new("Signed out"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    /// The one-time token returned when the invitation was created.
    pub token: String,
    /// The password the new member will sign in with (at least 8 characters).
    pub password: String,
}

/// Accepts an invitation: sets the invited member's password and signs them in.
#[utoipa::path(post, path = "/v1/auth/accept-invite", tag = "auth", request_body = AcceptInviteRequest,
    responses((status = 200, body = LoginResponse)))]
pub async fn accept_invite(
    State(state): State<SharedState>,
    request: RequestMeta,
    Json(body): Json<AcceptInviteRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    validate::password("password", &body.password)?;
    let token_hash = secrets::hash_token(&state.config.secret, "invite", body.token.trim());
    let password_hash = hash_password(body.password).await?;
    let user = state
        .meta
        .accept_invite(&token_hash, &password_hash)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "invitation is invalid, expired or already used"))?;
    audit_log::record(
        &state,
        &request,
        Actor::User(user.id),
        Event::new(user.org_id, EventKind::MemberInviteAccepted)
            .target("user", user.id)
            .details(json!({ "email": user.email })),
    )
    .await?;
    let token = start_session(&state, user.id, user.org_id).await?;
    Ok(axum::Json(LoginResponse { token, user: UserResponse::from(&user) }))
}
