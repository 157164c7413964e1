//! The signed-in user, and the member representation other handlers return.

use axum::Json;
use lakeward_meta::access::Credential;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::identity_views::UserResponse;
use crate::state::SharedState;
use axum::extract::State;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// How the current request authenticated, and what it may therefore do.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthInfo {
    /// `session` or `api_key`.
    #[schema(example = "session")]
    pub method: &'static str,
    pub api_key_id: Option<Uuid>,
    /// Effective scopes: the role's, narrowed by an API key's.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    #[serde(flatten)]
    pub user: UserResponse,
    pub auth: AuthInfo,
}

/// The authenticated user's profile.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = MeResponse)))]
pub async fn me(State(state): State<SharedState>, Auth(principal): Auth) -> ApiResult<Json<MeResponse>> {
    let user = state.meta.get_user(principal.user_id).await?.ok_or_else(ApiError::not_found)?;
    let (method, api_key_id) = match principal.credential {
        Credential::Session { .. } => ("session", None),
        Credential::ApiKey { key_id, .. } => ("api_key", Some(key_id)),
    };
    Ok(Json(MeResponse {
        user: UserResponse::from(&user),
        auth: AuthInfo { method, api_key_id, scopes: principal.effective_scopes().names() },
    }))
}
