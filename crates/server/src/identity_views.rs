//! How users, roles and organisations are shown, by every route that answers with them.

use chrono::{DateTime, Utc};
use lakeward_meta::access::Role;
use lakeward_meta::store::{Organisation, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipResponse {
    pub role: RoleName,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationResponse {
    pub id: Uuid,
    pub name: String,
    /// The user who created the organisation.
    pub owner: Uuid,
    /// Organisation-wide settings (none yet).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// The caller's own membership.
    pub user_membership: Option<MembershipResponse>,
    pub user_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrganisationResponse {
    pub fn new(org: &Organisation, caller_role: Option<Role>, user_count: i64) -> Self {
        Self {
            id: org.id,
            name: org.name.clone(),
            owner: org.owner_id,
            config: json!({}),
            user_membership: caller_role.map(|role| MembershipResponse { role: role.into() }),
            user_count,
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}
