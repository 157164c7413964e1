//! The signed-in user, and the member representation other handlers return.

use axum::Json;
use chrono::{DateTime, Utc};
use lakeward_meta::access::{Credential, Role};
use lakeward_meta::store::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::SharedState;
use axum::extract::State;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// Organisation roles, cumulative: viewer < editor < builder < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Read, query and export data; view schemas.
    Viewer,
    /// + write rows and run imports.
    Editor,
    /// + schema, domains, constraints, storage connections and API keys.
    Builder,
    /// + members and organisation settings.
    Admin,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => RoleName::Viewer,
            Role::Editor => RoleName::Editor,
            Role::Builder => RoleName::Builder,
            Role::Admin => RoleName::Admin,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Viewer => Role::Viewer,
            RoleName::Editor => Role::Editor,
            RoleName::Builder => Role::Builder,
            RoleName::Admin => Role::Admin,
        }
    }
}

/// A member of an organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub role: RoleName,
    /// `invited`, `active` or `deactivated`.
    #[schema(example = "active")]
    pub status: &'static str,
    pub organisation_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            role: user.role.into(),
            status: user.status.as_str(),
            organisation_id: user.org_id,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_sign_in_at: user.last_sign_in_at,
            deactivated_at: user.deactivated_at,
        }
    }
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
