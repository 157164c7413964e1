//! Sign-in sessions. A session token (a signed JWT) names its session by id; the row is
//! what logout revokes and what deactivating a user ends.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{MetaResult, MetaStore, now_ms, opt_time, time, uuid};

#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

impl MetaStore {
    pub async fn create_session(&self, user_id: Uuid, org_id: Uuid, expires_at: DateTime<Utc>) -> MetaResult<Session> {
        let id = Uuid::new_v4();
        let now = now_ms();
        sqlx::query("INSERT INTO sessions (id, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .bind(org_id.to_string())
            .bind(now)
            .bind(expires_at.timestamp_millis())
            .execute(self.pool())
            .await?;
        Ok(Session { id, user_id, org_id, created_at: super::to_time(now), expires_at, revoked_at: None })
    }

    pub async fn get_session(&self, id: Uuid) -> MetaResult<Option<Session>> {
        let row =
            sqlx::query("SELECT id, user_id, org_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Session {
            id: uuid(&row, "id")?,
            user_id: uuid(&row, "user_id")?,
            org_id: uuid(&row, "org_id")?,
            created_at: time(&row, "created_at")?,
            expires_at: time(&row, "expires_at")?,
            revoked_at: opt_time(&row, "revoked_at")?,
        }))
    }

    pub async fn revoke_session(&self, id: Uuid) -> MetaResult<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Drops sessions that expired more than a day ago; run from time to time.
    pub async fn prune_sessions(&self) -> MetaResult<u64> {
        let cutoff = now_ms() - 24 * 3600 * 1000;
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(cutoff).execute(self.pool()).await?;
        Ok(done.rows_affected())
    }
}
