//! Storage connections: an organisation's buckets and containers, each bound to one catalog
//! under which the tables found there are registered.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, is_unique_violation, now_ms, opt_uuid, time, uuid};

#[derive(Debug, Clone)]
pub struct StorageConnection {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// `s3`, `az` or `gcs`.
    pub kind: String,
    /// What is not secret, as JSON (bucket, region, endpoint, base path, discovery flags).
    pub settings: serde_json::Value,
    /// The credentials, sealed; only the server can open them.
    pub secrets_sealed: String,
    /// What answers show of the credentials.
    pub secret_hint: Option<String>,
    pub read_only: bool,
    pub catalog: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// A connection to record, or the new state of one.
#[derive(Debug, Clone)]
pub struct NewStorageConnection<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub settings: &'a serde_json::Value,
    pub secrets_sealed: &'a str,
    pub secret_hint: Option<&'a str>,
    pub read_only: bool,
    pub catalog: &'a str,
}

const COLUMNS: &str = "id, org_id, name, kind, settings, secrets_sealed, secret_hint, read_only, catalog, \
                       created_at, created_by, updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<StorageConnection> {
    let settings: String = row.try_get("settings")?;
    Ok(StorageConnection {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        settings: serde_json::from_str(&settings).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        secrets_sealed: row.try_get("secrets_sealed")?,
        secret_hint: row.try_get("secret_hint")?,
        read_only: row.try_get::<i64, _>("read_only")? != 0,
        catalog: row.try_get("catalog")?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
        updated_at: time(row, "updated_at")?,
    })
}

fn taken(e: &sqlx::Error, new: &NewStorageConnection<'_>) -> Option<MetaError> {
    is_unique_violation(e).then(|| {
        MetaError::Conflict(format!(
            "a storage connection named `{}` or bound to catalog `{}` already exists",
            new.name, new.catalog
        ))
    })
}

impl MetaStore {
    /// Records a connection and creates its catalog, both or neither.
    pub async fn create_storage_connection(
        &self,
        org_id: Uuid,
        new: &NewStorageConnection<'_>,
        by: Uuid,
    ) -> MetaResult<StorageConnection> {
        let id = Uuid::now_v7();
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let catalog = sqlx::query(
            "INSERT INTO catalogs (id, org_id, name, comment, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(org_id.to_string())
        .bind(new.catalog)
        .bind(format!("Tables of the storage connection `{}`", new.name))
        .bind(now)
        .bind(by.to_string())
        .execute(&mut *tx)
        .await;
        if let Err(e) = catalog {
            return Err(if is_unique_violation(&e) {
                MetaError::Conflict(format!("catalog `{}` already exists", new.catalog))
            } else {
                e.into()
            });
        }
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO storage_connections ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)"
        )))
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(new.name)
        .bind(new.kind)
        .bind(new.settings.to_string())
        .bind(new.secrets_sealed)
        .bind(new.secret_hint)
        .bind(i64::from(new.read_only))
        .bind(new.catalog)
        .bind(now)
        .bind(by.to_string())
        .execute(&mut *tx)
        .await;
        if let Err(e) = done {
            return Err(taken(&e, new).unwrap_or_else(|| e.into()));
        }
        tx.commit().await?;
        self.get_storage_connection(org_id, id).await?.ok_or(MetaError::NotFound)
    }

    pub async fn get_storage_connection(&self, org_id: Uuid, id: Uuid) -> MetaResult<Option<StorageConnection>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM storage_connections WHERE org_id = $1 AND id = $2"
        )))
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| from_row(&r)).transpose().map_err(Into::into)
    }

    /// The connection a catalog is bound to, if any.
    pub async fn storage_connection_of_catalog(
        &self,
        org_id: Uuid,
        catalog: &str,
    ) -> MetaResult<Option<StorageConnection>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM storage_connections WHERE org_id = $1 AND catalog = $2"
        )))
        .bind(org_id.to_string())
        .bind(catalog)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| from_row(&r)).transpose().map_err(Into::into)
    }

    pub async fn list_storage_connections(&self, org_id: Uuid) -> MetaResult<Vec<StorageConnection>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM storage_connections WHERE org_id = $1 ORDER BY name"
        )))
        .bind(org_id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Every organisation's connections (their stores are attached at start-up).
    pub async fn all_storage_connections(&self) -> MetaResult<Vec<StorageConnection>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM storage_connections ORDER BY id")))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Replaces what a connection is (its catalog stays).
    pub async fn update_storage_connection(
        &self,
        org_id: Uuid,
        id: Uuid,
        new: &NewStorageConnection<'_>,
    ) -> MetaResult<StorageConnection> {
        let done = sqlx::query(
            "UPDATE storage_connections SET name = $3, settings = $4, secrets_sealed = $5, secret_hint = $6, \
             read_only = $7, updated_at = $8 WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id.to_string())
        .bind(id.to_string())
        .bind(new.name)
        .bind(new.settings.to_string())
        .bind(new.secrets_sealed)
        .bind(new.secret_hint)
        .bind(i64::from(new.read_only))
        .bind(now_ms())
        .execute(self.pool())
        .await;
        match done {
            Err(e) => Err(taken(&e, new).unwrap_or_else(|| e.into())),
            Ok(d) if d.rows_affected() == 0 => Err(MetaError::NotFound),
            Ok(_) => self.get_storage_connection(org_id, id).await?.ok_or(MetaError::NotFound),
        }
    }

    /// Deletes a connection with its catalog, the catalog's schemas and the registry entries
    /// of its tables (never their data), all or none.
    pub async fn delete_storage_connection(&self, org_id: Uuid, id: Uuid) -> MetaResult<()> {
        let Some(connection) = self.get_storage_connection(org_id, id).await? else {
            return Err(MetaError::NotFound);
        };
        let mut tx = self.pool().begin().await?;
        for statement in [
            "DELETE FROM tables WHERE org_id = $1 AND (connection_id = $2 OR catalog = $3)",
            "DELETE FROM schemas WHERE org_id = $1 AND catalog = $3 AND $2 <> ''",
            "DELETE FROM catalogs WHERE org_id = $1 AND name = $3 AND $2 <> ''",
            "DELETE FROM storage_connections WHERE org_id = $1 AND id = $2 AND $3 <> ''",
            // The catalog's objects went: their grants go too (a catalog made later under
            // the name starts with none). Not LIKE: `_` in a name would be a wildcard.
            "DELETE FROM grants WHERE org_id = $1 AND $2 <> '' AND (securable = $3 OR substr(securable, 1, length($3) + 1) = $3 || '.')",
        ] {
            sqlx::query(statement)
                .bind(org_id.to_string())
                .bind(id.to_string())
                .bind(connection.catalog.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
