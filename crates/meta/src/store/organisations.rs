//! Organisations, their members, and invitations.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, is_unique_violation, now_ms, opt_time, time, uuid};
use crate::access::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Invited; cannot sign in until the invitation is accepted.
    Invited,
    Active,
    /// Soft-deleted: kept for the audit trail, cannot sign in, its keys stop working.
    Deactivated,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
        }
    }

    fn parse(raw: &str) -> UserStatus {
        match raw {
            "invited" => UserStatus::Invited,
            "active" => UserStatus::Active,
            _ => UserStatus::Deactivated,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub user_id: Uuid,
    pub org_id: Uuid,
}

fn org_from_row(row: &AnyRow) -> sqlx::Result<Organisation> {
    Ok(Organisation {
        id: uuid(row, "id")?,
        name: row.try_get("name")?,
        owner_id: uuid(row, "owner_id")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

fn user_from_row(row: &AnyRow) -> sqlx::Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        status: UserStatus::parse(&row.try_get::<String, _>("status")?),
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        last_sign_in_at: opt_time(row, "last_sign_in_at")?,
        deactivated_at: opt_time(row, "deactivated_at")?,
    })
}

const USER_COLUMNS: &str =
    "id, org_id, email, password_hash, role, status, created_at, updated_at, last_sign_in_at, deactivated_at";

/// Emails compare case-insensitively; we store them lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Counted inside the guarded statements below: the organisation's active admins other
/// than the user being changed. A change that would leave none does not match any row.
const OTHER_ACTIVE_ADMINS: &str = "(SELECT COUNT(*) FROM users o WHERE o.org_id = users.org_id \
     AND o.role = 'admin' AND o.status = 'active' AND o.id <> users.id)";

impl MetaStore {
    pub async fn count_organisations(&self) -> MetaResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM organisations").fetch_one(self.pool()).await?)
    }

    /// Creates an organisation and its first user, an active admin, in one transaction.
    pub async fn create_organisation(
        &self,
        name: &str,
        email: &str,
        password_hash: &str,
    ) -> MetaResult<(Organisation, User)> {
        let now = now_ms();
        let org_id = Uuid::now_v7();
        let user_id = Uuid::now_v7();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO organisations (id, name, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(org_id.to_string())
        .bind(name)
        .bind(user_id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, org_id, email, password_hash, role, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'admin', 'active', $5, $5)",
        )
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .bind(normalize_email(email))
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(MetaError::Conflict("a user with this email already exists".into()));
            }
            other => other?,
        };
        tx.commit().await?;
        let org = self.get_organisation(org_id).await?.ok_or(MetaError::NotFound)?;
        let user = self.get_user(user_id).await?.ok_or(MetaError::NotFound)?;
        Ok((org, user))
    }

    pub async fn get_organisation(&self, id: Uuid) -> MetaResult<Option<Organisation>> {
        let row = sqlx::query("SELECT id, name, owner_id, created_at, updated_at FROM organisations WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(org_from_row).transpose()?)
    }

    pub async fn find_organisation_by_name(&self, name: &str) -> MetaResult<Option<Organisation>> {
        let row = sqlx::query("SELECT id, name, owner_id, created_at, updated_at FROM organisations WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(org_from_row).transpose()?)
    }

    pub async fn rename_organisation(&self, id: Uuid, name: &str) -> MetaResult<Organisation> {
        let done = sqlx::query("UPDATE organisations SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(now_ms())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::NotFound);
        }
        self.get_organisation(id).await?.ok_or(MetaError::NotFound)
    }

    pub async fn count_members(&self, org_id: Uuid) -> MetaResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE org_id = $1")
            .bind(org_id.to_string())
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn get_user(&self, id: Uuid) -> MetaResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    pub async fn find_user_by_email(&self, email: &str) -> MetaResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1")))
            .bind(normalize_email(email))
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// A member of `org_id`, or `None` (also when the user belongs to another organisation).
    pub async fn get_member(&self, org_id: Uuid, user_id: Uuid) -> MetaResult<Option<User>> {
        Ok(self.get_user(user_id).await?.filter(|u| u.org_id == org_id))
    }

    pub async fn list_members(&self, org_id: Uuid) -> MetaResult<Vec<User>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY created_at, id"
        )))
        .bind(org_id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Adds a member: active with a password (offline admin), or invited without one.
    pub async fn create_user(
        &self,
        org_id: Uuid,
        email: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> MetaResult<User> {
        let id = Uuid::now_v7();
        let status = if password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
        let inserted = sqlx::query(
            "INSERT INTO users (id, org_id, email, password_hash, role, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(normalize_email(email))
        .bind(password_hash)
        .bind(role.as_str())
        .bind(status.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                Err(MetaError::Conflict("a user with this email already exists".into()))
            }
            Err(e) => Err(e.into()),
            Ok(_) => self.get_user(id).await?.ok_or(MetaError::NotFound),
        }
    }

    pub async fn record_sign_in(&self, user_id: Uuid) -> MetaResult<()> {
        sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(user_id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Changes a member's role; refuses to demote the organisation's last active admin.
    pub async fn set_role(&self, org_id: Uuid, user_id: Uuid, role: Role) -> MetaResult<User> {
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 AND org_id = $4 \
             AND ($1 = 'admin' OR role <> 'admin' OR status <> 'active' OR {OTHER_ACTIVE_ADMINS} > 0)"
        )))
        .bind(role.as_str())
        .bind(now_ms())
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .execute(self.pool())
        .await?;
        self.guarded_outcome(org_id, user_id, done.rows_affected()).await
    }

    /// Soft-deletes a member: it stays listed, cannot sign in, and its sessions and keys
    /// stop working. Refuses to deactivate the last active admin.
    pub async fn deactivate_user(&self, org_id: Uuid, user_id: Uuid) -> MetaResult<User> {
        let now = now_ms();
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE users SET status = 'deactivated', deactivated_at = $1, updated_at = $1 \
             WHERE id = $2 AND org_id = $3 AND (role <> 'admin' OR status <> 'active' OR {OTHER_ACTIVE_ADMINS} > 0)"
        )))
        .bind(now)
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .execute(self.pool())
        .await?;
        let user = self.guarded_outcome(org_id, user_id, done.rows_affected()).await?;
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(user_id.to_string())
            .execute(self.pool())
            .await?;
        Ok(user)
    }

    /// Removes a member with its sessions, keys and invitations. Refuses the last active admin.
    pub async fn delete_user(&self, org_id: Uuid, user_id: Uuid) -> MetaResult<()> {
        let done = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM users WHERE id = $1 AND org_id = $2 \
             AND (role <> 'admin' OR status <> 'active' OR {OTHER_ACTIVE_ADMINS} > 0)"
        )))
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        match self.get_member(org_id, user_id).await? {
            Some(_) => Err(MetaError::LastAdmin),
            None => Err(MetaError::NotFound),
        }
    }

    /// After a guarded update: the user if it matched; otherwise why not.
    async fn guarded_outcome(&self, org_id: Uuid, user_id: Uuid, affected: u64) -> MetaResult<User> {
        let user = self.get_member(org_id, user_id).await?.ok_or(MetaError::NotFound)?;
        if affected == 1 { Ok(user) } else { Err(MetaError::LastAdmin) }
    }

    pub async fn create_invite(
        &self,
        user_id: Uuid,
        org_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .bind(now_ms())
        .bind(expires_at.timestamp_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Redeems an invitation once: sets the password and activates the invited user.
    /// `None` if the token is unknown, used or expired.
    pub async fn accept_invite(&self, token_hash: &str, password_hash: &str) -> MetaResult<Option<User>> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let taken = sqlx::query(
            "UPDATE invites SET accepted_at = $1 WHERE token_hash = $2 AND accepted_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            return Ok(None);
        }
        let user_id: String = sqlx::query_scalar("SELECT user_id FROM invites WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_one(&mut *tx)
            .await?;
        let activated = sqlx::query(
            "UPDATE users SET password_hash = $1, status = 'active', updated_at = $2 WHERE id = $3 AND status = 'invited'",
        )
        .bind(password_hash)
        .bind(now)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        if activated.rows_affected() == 0 {
            // The invited user was deactivated in the meantime: the invitation is void.
            return Ok(None);
        }
        tx.commit().await?;
        self.get_user(Uuid::parse_str(&user_id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
    }
}
