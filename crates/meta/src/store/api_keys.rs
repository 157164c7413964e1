//! API keys: stored as a keyed hash with a display prefix; revocation is permanent.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, is_unique_violation, now_ms, opt_time, time, uuid};
use crate::access::ScopeSet;

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub key_prefix: String,
    pub scopes: ScopeSet,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

pub struct NewApiKey<'a> {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: ScopeSet,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A partial update; `expires_at: Some(None)` removes the expiry.
#[derive(Default)]
pub struct ApiKeyUpdate {
    pub name: Option<String>,
    pub scopes: Option<ScopeSet>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

const KEY_COLUMNS: &str =
    "id, org_id, user_id, name, key_prefix, scopes, expires_at, last_used_at, created_at, revoked_at";

fn key_from_row(row: &AnyRow) -> sqlx::Result<ApiKey> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiKey {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        user_id: uuid(row, "user_id")?,
        name: row.try_get("name")?,
        key_prefix: row.try_get("key_prefix")?,
        // Stored names are always ones we wrote; an unknown one (from a newer version) is dropped.
        scopes: scopes.split(' ').filter_map(crate::access::Scope::parse).collect(),
        expires_at: opt_time(row, "expires_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

fn duplicate_name() -> MetaError {
    MetaError::Conflict("an API key with this name already exists".into())
}

impl MetaStore {
    pub async fn create_api_key(&self, new: NewApiKey<'_>) -> MetaResult<ApiKey> {
        if self.user_has_live_key_named(new.user_id, new.name, None).await? {
            return Err(duplicate_name());
        }
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO api_keys (id, org_id, user_id, name, key_prefix, key_hash, scopes, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(new.org_id.to_string())
        .bind(new.user_id.to_string())
        .bind(new.name)
        .bind(new.key_prefix)
        .bind(new.key_hash)
        .bind(new.scopes.names().join(" "))
        .bind(new.expires_at.map(|t| t.timestamp_millis()))
        .bind(now_ms())
        .execute(self.pool())
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(MetaError::Conflict("key collision; try again".into())),
            Err(e) => Err(e.into()),
            Ok(_) => self.get_api_key(id).await?.ok_or(MetaError::NotFound),
        }
    }

    async fn user_has_live_key_named(&self, user_id: Uuid, name: &str, except: Option<Uuid>) -> MetaResult<bool> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL AND id <> $3",
        )
        .bind(user_id.to_string())
        .bind(name)
        .bind(except.map(|id| id.to_string()).unwrap_or_default())
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    pub async fn get_api_key(&self, id: Uuid) -> MetaResult<Option<ApiKey>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(key_from_row).transpose()?)
    }

    pub async fn find_api_key_by_hash(&self, key_hash: &str) -> MetaResult<Option<ApiKey>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1")))
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(key_from_row).transpose()?)
    }

    /// The keys a user created, newest first.
    pub async fn list_api_keys(&self, user_id: Uuid) -> MetaResult<Vec<ApiKey>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        )))
        .bind(user_id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(key_from_row).collect::<sqlx::Result<_>>()?)
    }

    pub async fn update_api_key(&self, id: Uuid, update: ApiKeyUpdate) -> MetaResult<ApiKey> {
        let current = self.get_api_key(id).await?.ok_or(MetaError::NotFound)?;
        if current.revoked_at.is_some() {
            return Err(MetaError::Conflict("a revoked API key cannot be changed".into()));
        }
        if let Some(name) = &update.name
            && self.user_has_live_key_named(current.user_id, name, Some(id)).await?
        {
            return Err(duplicate_name());
        }
        let name = update.name.unwrap_or(current.name);
        let scopes = update.scopes.unwrap_or(current.scopes);
        let expires_at = update.expires_at.unwrap_or(current.expires_at);
        sqlx::query("UPDATE api_keys SET name = $1, scopes = $2, expires_at = $3 WHERE id = $4 AND revoked_at IS NULL")
            .bind(name)
            .bind(scopes.names().join(" "))
            .bind(expires_at.map(|t| t.timestamp_millis()))
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        self.get_api_key(id).await?.ok_or(MetaError::NotFound)
    }

    /// Revokes a key for good. Revoking twice is refused so that callers can tell.
    pub async fn revoke_api_key(&self, id: Uuid) -> MetaResult<ApiKey> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        let key = self.get_api_key(id).await?.ok_or(MetaError::NotFound)?;
        if done.rows_affected() == 0 {
            return Err(MetaError::Conflict("the API key is already revoked".into()));
        }
        Ok(key)
    }

    /// Records use of a key. At most one write a minute per key, so that a busy key does
    /// not turn every request into a metadata write.
    pub async fn touch_api_key(&self, id: Uuid) -> MetaResult<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(now - 60_000)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
