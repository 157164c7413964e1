//! The metadata store: one SQL database (SQLite by default, or PostgreSQL) behind portable queries.
//!
//! Queries go through sqlx's `Any` driver with `$n` placeholders and only portable types
//! (TEXT, BIGINT), so the same queries run on SQLite and PostgreSQL and nothing that calls
//! [`MetaStore`] knows which it is.

mod api_keys;
mod audit;
mod catalog;
mod grants;
mod jobs;
mod lineage;
mod organisations;
mod sessions;
mod stats;
mod storages;
mod teams;
mod turns;
mod webhooks;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use uuid::Uuid;

pub use api_keys::{ApiKey, ApiKeyUpdate, NewApiKey};
pub use audit::{AuditEvent, AuditFilter, AuditPage, NewAuditEvent};
pub use catalog::{CatalogEntry, SchemaEntry, TableEntry};
pub use grants::{Grant, GrantFilter, Grantee, Securable};
pub use jobs::{JOB_LEASE, JOB_STATUSES, Job, JobEnd, JobFilter, JobProgress, JobTotals, NewJob};
pub use lineage::{Lineage, NewLineage};
pub use organisations::{Invite, Organisation, User, UserStatus};
pub use sessions::Session;
pub use storages::{NewStorageConnection, StorageConnection};
pub use teams::Team;
pub use turns::WriteTurn;
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
    (8, include_str!("../../migrations/0008_job_leases.sql")),
    (9, include_str!("../../migrations/0009_teams_grants.sql")),
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
    backend: Backend,
    /// Connections that hold replicas' turns at writing a table (PostgreSQL only).
    turns: Option<AnyPool>,
    /// For connections of their own (listening for other replicas' announcements).
    url: String,
}

/// The databases the store runs on. Queries are portable (`$n` placeholders, TEXT and
/// BIGINT columns); where the two must differ, code asks [`MetaStore::backend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("unsupported metadata database URL scheme (supported: sqlite:, postgres://)")
        }
    }
}

/// Applies one migration unless it was, in a transaction of its own on `conn`. On SQLite
/// the transaction takes the write lock at once (`BEGIN IMMEDIATE`), so that two processes
/// starting together wait for each other instead of both reading "not applied".
async fn apply_migration(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    version: i64,
    sql: &str,
) -> anyhow::Result<()> {
    conn.execute(if backend == Backend::Sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" }).await?;
    let applied = async {
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM lakeward_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
        if done.is_some() {
            return anyhow::Ok(());
        }
        // Comments go first: they may contain `;`.
        let without_comments: String =
            sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
        for statement in without_comments.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            conn.execute(sqlx::AssertSqlSafe(statement.to_owned())).await?;
        }
        sqlx::query("INSERT INTO lakeward_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
    .await;
    match applied {
        Ok(()) => {
            conn.execute("COMMIT").await?;
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// The key of the PostgreSQL advisory lock migrations run under ("lakeward" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c_616b_6577_6172;

impl MetaStore {
    /// Connects to `url` (`sqlite://path?mode=rwc`, or `postgres://user:password@host/db`)
    /// and brings the schema up to date.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let store = Self::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to `url` without touching the schema; [`MetaStore::migrate`] updates it.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let options = match backend {
            // SQLite has one writer at a time; a small pool avoids lock thrash.
            Backend::Sqlite => AnyPoolOptions::new().max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            }),
            // Each replica holds at most this many connections (PostgreSQL's default limit
            // is 100 in all).
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = options.acquire_timeout(std::time::Duration::from_secs(10)).connect(url).await?;
        let turns = match backend {
            Backend::Postgres => Some(turns::turn_pool(url)?),
            Backend::Sqlite => None,
        };
        Ok(Self { pool, backend, turns, url: url.to_owned() })
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> MetaResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the migrations not yet applied, each in its own transaction. On PostgreSQL
    /// an advisory lock makes replicas that start together apply them once, one after
    /// the other; on SQLite the database's own write lock does.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            conn.execute(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))).await?;
        }
        // Under the lock: PostgreSQL's IF NOT EXISTS does not hold against a racing create.
        let mut applied = conn
            .execute("CREATE TABLE IF NOT EXISTS lakeward_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from);
        for (version, sql) in MIGRATIONS {
            if applied.is_err() {
                break;
            }
            applied = apply_migration(&mut conn, self.backend, *version, sql).await;
        }
        if self.backend == Backend::Postgres {
            conn.execute(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))).await?;
        }
        applied
    }

    /// The migrations applied so far, and how many there are.
    pub async fn migration_status(&self) -> anyhow::Result<(Vec<i64>, usize)> {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM lakeward_migrations ORDER BY version")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        Ok((applied, MIGRATIONS.len()))
    }

    /// The migrations this binary knows that the database lacks. Migrations applied that
    /// this binary does not know (a newer release's) are not pending: migrations only add
    /// tables, columns and indexes, so that the release before them runs on the schema
    /// after them, and replicas can be upgraded one at a time.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<i64>> {
        let (applied, _) = self.migration_status().await?;
        Ok(MIGRATIONS.iter().map(|(v, _)| *v).filter(|v| !applied.contains(v)).collect())
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
