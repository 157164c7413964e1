//! The metadata store: one SQL database (SQLite by default) behind portable queries.
//!
//! Queries go through sqlx's `Any` driver with `$n` placeholders and only portable types
//! (TEXT, BIGINT), so a PostgreSQL URL can be added by enabling its driver and nothing
//! that calls [`MetaStore`] changes.

mod api_keys;
mod audit;
mod catalog;
mod jobs;
mod lineage;
mod organisations;
mod sessions;
mod stats;
mod storages;
mod webhooks;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use uuid::Uuid;

pub use api_keys::{ApiKey, ApiKeyUpdate, NewApiKey};
pub use audit::{AuditEvent, AuditFilter, AuditPage, NewAuditEvent};
pub use catalog::{CatalogEntry, SchemaEntry, TableEntry};
pub use jobs::{JOB_STATUSES, Job, JobEnd, JobFilter, JobProgress, JobTotals, NewJob};
pub use lineage::{Lineage, NewLineage};
pub use organisations::{Invite, Organisation, User, UserStatus};
pub use sessions::Session;
pub use storages::{NewStorageConnection, StorageConnection};
pub use webhooks::{Delivery, DeliveryResult, NewWebhook, Webhook, WebhookUpdate};

/// Migrations, applied in order once each; a migration is never edited after release.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_identity.sql")),
    (2, include_str!("../../migrations/0002_catalog.sql")),
    (3, include_str!("../../migrations/0003_webhooks.sql")),
    (4, include_str!("../../migrations/0004_jobs.sql")),
    (5, include_str!("../../migrations/0005_job_runner.sql")),
    (6, include_str!("../../migrations/0006_storage_connections.sql")),
    (7, include_str!("../../migrations/0007_lineage.sql")),
];

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("an organisation must keep at least one active admin")]
    LastAdmin,
    #[error("metadata store error: {0}")]
    Db(#[from] sqlx::Error),
}

pub type MetaResult<T> = Result<T, MetaError>;

#[derive(Clone)]
pub struct MetaStore {
    pool: AnyPool,
}

impl MetaStore {
    /// Connects to `url` (`sqlite://path?mode=rwc`) and brings the schema up to date.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        anyhow::ensure!(is_sqlite, "unsupported metadata database URL scheme (supported: sqlite:)");
        let pool = AnyPoolOptions::new()
            // SQLite has one writer at a time; a small pool avoids lock thrash.
            .max_connections(8)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        self.pool
            .execute("CREATE TABLE IF NOT EXISTS lakeward_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM lakeward_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if applied.is_some() {
                continue;
            }
            // Comments go first: they may contain `;`.
            let without_comments: String =
                sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
            for statement in without_comments.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                tx.execute(sqlx::AssertSqlSafe(statement.to_owned())).await?;
            }
            sqlx::query("INSERT INTO lakeward_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(crate) fn opt_time(row: &AnyRow, col: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(to_time))
}

pub(crate) fn time(row: &AnyRow, col: &str) -> sqlx::Result<DateTime<Utc>> {
    Ok(to_time(row.try_get::<i64, _>(col)?))
}

pub(crate) fn uuid(row: &AnyRow, col: &str) -> sqlx::Result<Uuid> {
    let raw: String = row.try_get(col)?;
    Uuid::parse_str(&raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn opt_uuid(row: &AnyRow, col: &str) -> sqlx::Result<Option<Uuid>> {
    row.try_get::<Option<String>, _>(col)?
        .map(|raw| Uuid::parse_str(&raw).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// Whether a database error is a UNIQUE violation (same meaning on every backend).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
