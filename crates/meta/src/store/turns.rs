//! What replicas that share one PostgreSQL coordinate through it: turns at writing a
//! table, and announcements of their commits.
//!
//! A turn is a session-level advisory lock on a connection of its own, held while one
//! replica checks and commits a write, so that replicas writing one table take turns instead of each
//! preparing a commit of which only one can land. A replica that dies loses its session,
//! and with it the turn. A turn is only a courtesy between replicas: Delta's conditional
//! commit still decides which commit lands, so a write that cannot have a turn (the wait
//! is too long, the database unreachable) goes ahead without.

use std::time::Duration;

use sha2::Digest as _;
use sqlx::Executor as _;
use sqlx::any::{Any, AnyPoolOptions};
use sqlx::pool::PoolConnection;

use super::{Backend, MetaResult, MetaStore};

/// Advisory locks of write turns are `(TURN_LOCKS, hash of the table)`; the two-key form
/// keeps them apart from the migrations' one-key lock.
const TURN_LOCKS: i32 = 0x4c57_5754;

/// The longest a write waits for its turn before it goes ahead without one.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// Connections a replica holds for turns: one per table it writes at the moment. A write
/// finding all of them busy for [`POOL_WAIT`] goes ahead without a turn.
const TURN_CONNECTIONS: u32 = 8;
const POOL_WAIT: Duration = Duration::from_millis(250);

/// The pool of connections that hold turns, kept apart from the main pool so that writes
/// waiting for their turn never starve the requests' own queries.
pub(crate) fn turn_pool(url: &str) -> MetaResult<sqlx::AnyPool> {
    let wait_ms = TURN_WAIT.as_millis();
    Ok(AnyPoolOptions::new()
        .max_connections(TURN_CONNECTIONS)
        .acquire_timeout(POOL_WAIT)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!("SET lock_timeout = {wait_ms}"))).await?;
                Ok(())
            })
        })
        .connect_lazy(url)?)
}

/// A replica's turn at writing one table, until dropped.
pub struct WriteTurn {
    conn: Option<PoolConnection<Any>>,
    key: i32,
}

impl MetaStore {
    /// Whether writers take turns through this database (PostgreSQL; on SQLite there is
    /// no other replica to take turns with).
    pub fn has_write_turns(&self) -> bool {
        self.turns.is_some()
    }

    /// Waits for the turn at writing `table` (any name that identifies it, such as its
    /// location); `None` on SQLite.
    pub async fn write_turn(&self, table: &str) -> MetaResult<Option<WriteTurn>> {
        let Some(pool) = &self.turns else { return Ok(None) };
        let key = table_key(table);
        let mut conn = pool.acquire().await?;
        conn.execute(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_lock({TURN_LOCKS}, {key})"))).await?;
        Ok(Some(WriteTurn { conn: Some(conn), key }))
    }
}

impl Drop for WriteTurn {
    /// Hands the turn back. Unlocking needs a round trip; when it cannot be made (no
    /// runtime, the connection broken), the connection is closed instead, which ends its
    /// session and so its lock.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let key = self.key;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(conn.detach());
            return;
        };
        runtime.spawn(async move {
            let unlocked =
                conn.execute(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_unlock({TURN_LOCKS}, {key})"))).await;
            if unlocked.is_err() {
                drop(conn.detach());
            }
        });
    }
}

/// A table's lock key: 32 bits of a hash of its name. Two tables sharing a key only take
/// turns with each other.
fn table_key(table: &str) -> i32 {
    let digest = sha2::Sha256::digest(table.as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The channel replicas announce their commits on.
const COMMITS_CHANNEL: &str = "lakeward_commits";

impl MetaStore {
    /// Tells the other replicas listening on this database (PostgreSQL's NOTIFY) that
    /// `payload` happened; nothing on SQLite.
    pub async fn announce_commit(&self, payload: &str) -> MetaResult<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT pg_notify('{COMMITS_CHANNEL}', $1)")))
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The commits other replicas announce, from now on (`None` on SQLite). The listener
    /// holds one connection of its own.
    pub async fn commit_announcements(&self) -> MetaResult<Option<sqlx::postgres::PgListener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(COMMITS_CHANNEL).await?;
        Ok(Some(listener))
    }
}
