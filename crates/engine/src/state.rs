//! What every engine operation works with: DataFusion's configuration and memory pool,
//! per-table write locks, and the caches of table state (latest snapshots, primary-key
//! indexes, encoding judgements, queued inserts). Operations (`ops`) take it from
//! [`crate::Engine::run`]; nothing outside the engine can reach inside.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::table::config::TablePropertiesExt;
use url::Url;

use crate::error::EngineResult;
use crate::table::{self, TimeTravel};
use crate::{EngineLimits, exec, group_by, scan, write, yielding};

/// What the engine has done since it started, for operators (`/metrics`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    /// Commits that did not land because another writer committed first.
    pub(crate) conflicts: AtomicU64,
    /// Operations redone on the new state after such a conflict.
    pub(crate) redos: AtomicU64,
    pub(crate) group_commits: AtomicU64,
    /// Insert requests carried by group commits (divided by `group_commits`: the mean size).
    pub(crate) grouped_inserts: AtomicU64,
    /// Primary-key indexes built by reading a whole table's keys (rather than caught up
    /// with the log).
    pub(crate) key_index_builds: AtomicU64,
    /// Cached table states brought up to date with newer commits.
    pub(crate) state_updates: AtomicU64,
}

impl Counters {
    pub(crate) fn group_commit(&self, requests: usize) {
        self.group_commits.fetch_add(1, Ordering::Relaxed);
        self.grouped_inserts.fetch_add(requests as u64, Ordering::Relaxed);
    }
}

/// A snapshot of the engine's counters and memory use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub commits: u64,
    pub conflicts: u64,
    pub redos: u64,
    pub group_commits: u64,
    pub grouped_inserts: u64,
    pub key_index_builds: u64,
    pub state_updates: u64,
    /// Bytes queries hold in the query memory pool now.
    pub query_memory_bytes: u64,
}

/// A table state known to have been the latest at `listed_at`.
#[derive(Clone)]
pub(crate) struct Latest {
    table: deltalake::DeltaTable,
    listed_at: Instant,
}

/// How long a state that was the latest may be checked for newer commits by asking only
/// for the next commit file (one request instead of a listing of the log and a read of
/// `_last_checkpoint`). Commits come in order, so the next one exists if any newer one does;
/// the one way it can be missing with newer ones present is log cleanup, which removes only
/// commits older than the table's log retention (30 days unless set). Within this long (or
/// the retention, if shorter) of a listing, the next commit cannot have been cleaned up.
const NEXT_COMMIT_PROBE_TRUSTED_FOR: Duration = Duration::from_secs(600);

/// Turns at writing a table, shared with the other processes that write it (replicas on
/// one metadata database). A write takes its process's lock of the table first, then the
/// shared turn, so that replicas take turns at a table instead of each preparing a commit
/// of which only one can land (the others redone on the new state, their work lost).
/// Delta's conditional commit still decides what lands: a write that gets no turn (the
/// coordinator slow or unreachable) goes ahead without one.
pub trait WriteTurns: Send + Sync {
    /// Waits for the turn at the table at `location`, held until the answer is dropped;
    /// `None`: no turn was had.
    fn take(&self, location: &Url) -> futures::future::BoxFuture<'static, Option<Box<dyn Send>>>;
}

/// A write's hold on a table: its process's lock, and the shared turn if there is one.
/// Fields drop in order: the shared turn is handed back first.
pub(crate) struct WriteGuard {
    _turn: Option<Box<dyn Send>>,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

/// The engine's state, shared by every operation [`crate::Engine::run`] runs.
pub struct EngineState {
    pub(crate) config: SessionConfig,
    pub(crate) runtime: Arc<RuntimeEnv>,
    /// One writer at a time per table in this process, so that primary-key checks and
    /// commits do not interleave. Other processes are serialized by Delta's commit
    /// protocol, and take turns with this one through [`WriteTurns`] when they share them.
    pub(crate) write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) write_turns: std::sync::OnceLock<Arc<dyn WriteTurns>>,
    /// The latest loaded state of each table, brought up to date incrementally (reading
    /// only newer commits) instead of replaying the log on every request.
    pub(crate) latest: Mutex<HashMap<String, Latest>>,
    /// One update of a table's cached state at a time: a request that finds newer commits
    /// while another update (a background refresh, another request's) is under way waits
    /// for it and uses its result, instead of doing the same work beside it.
    pub(crate) updates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Inserts waiting for a group commit, per table.
    pub(crate) insert_queues: Mutex<HashMap<String, Vec<write::group::PendingInsert>>>,
    /// Primary keys of small tables, for checking concurrent inserts without a query.
    pub(crate) key_indexes: write::key_index::KeyIndexes,
    /// Which columns of each table are written without a dictionary.
    pub(crate) encodings: write::encoding::Encodings,
    pub(crate) counters: Counters,
    /// The object stores tables may live in, by the location prefix each serves.
    pub(crate) stores: crate::storage::Stores,
}

fn probe_trusted(table: &deltalake::DeltaTable, listed_at: Instant) -> bool {
    let retention = table.snapshot().map(|s| s.table_config().log_retention_duration()).unwrap_or_default();
    listed_at.elapsed() < NEXT_COMMIT_PROBE_TRUSTED_FOR.min(retention)
}

/// Whether a commit after `table`'s version has been written (one HEAD request).
async fn next_commit_exists(table: &deltalake::DeltaTable) -> EngineResult<bool> {
    let Some(version) = table.version() else { return Ok(true) };
    let log_store = table.log_store();
    let next = log_store.log_path().clone().join(format!("{:020}.json", version + 1));
    match object_store::ObjectStoreExt::head(&log_store.object_store(None), &next).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(deltalake::DeltaTableError::from(e).into()),
    }
}

impl EngineState {
    pub(crate) fn new(limits: &EngineLimits) -> EngineResult<Self> {
        crate::storage::register_log_stores();
        let mut config = SessionConfig::new().with_information_schema(false).with_target_partitions(2);
        // Filters are evaluated while decoding (the filter's columns first, the others only
        // for the rows that pass) in tables in a local folder; the table scan decides
        // (`scan::FileScan`), because DataFusion turns it on for every scan when this is on.
        config.options_mut().execution.parquet.pushdown_filters = false;
        config.options_mut().execution.parquet.reorder_filters = true;
        config.options_mut().sql_parser.enable_ident_normalization = false;
        let config = config.with_extension(Arc::new(scan::FileLists::default()));
        // No spilling: a query over the memory limit ends with a clear error instead of
        // filling the disk.
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(limits.memory_limit_bytes as usize)))
            .with_disk_manager_builder(
                datafusion::execution::disk_manager::DiskManagerBuilder::default()
                    .with_mode(datafusion::execution::disk_manager::DiskManagerMode::Disabled),
            )
            .build_arc()?;
        Ok(Self {
            config,
            runtime,
            write_locks: Mutex::new(HashMap::new()),
            write_turns: std::sync::OnceLock::new(),
            latest: Mutex::new(HashMap::new()),
            updates: Mutex::new(HashMap::new()),
            insert_queues: Mutex::new(HashMap::new()),
            key_indexes: Default::default(),
            encodings: Default::default(),
            counters: Counters::default(),
            stores: Default::default(),
        })
    }

    /// A fresh session: its own catalogs, the shared memory pool.
    pub(crate) fn session(&self) -> SessionContext {
        let state = SessionStateBuilder::new()
            .with_config(self.config.clone())
            .with_runtime_env(self.runtime.clone())
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(group_by::ViewGroupBy))
            .with_physical_optimizer_rule(Arc::new(yielding::YieldEverywhere { abandoned: exec::abandoned() }))
            .build();
        SessionContext::new_with_state(state)
    }

    /// The table at `at`; the latest state comes from the cache, refreshed.
    pub(crate) async fn open(&self, location: &Url, at: TimeTravel) -> EngineResult<deltalake::DeltaTable> {
        if at != TimeTravel::Latest {
            return table::open(&self.stores, location, at).await;
        }
        if let Some(fresh) = self.cached_if_fresh(location).await? {
            return Ok(fresh);
        }
        let gate = self.updates.lock().expect("not poisoned").entry(location.to_string()).or_default().clone();
        let _updating = gate.lock().await;
        // The update this one waited for may have brought the state far enough: probed again.
        if let Some(fresh) = self.cached_if_fresh(location).await? {
            return Ok(fresh);
        }
        let cached = self.latest.lock().expect("not poisoned").get(location.as_str()).cloned();
        let table = match cached {
            Some(Latest { mut table, .. }) => {
                self.counters.state_updates.fetch_add(1, Ordering::Relaxed);
                table.update_state().await?;
                table
            }
            None => table::open(&self.stores, location, TimeTravel::Latest).await?,
        };
        self.remember(location, &table);
        Ok(table)
    }

    /// The cached latest state, if no newer commit exists.
    async fn cached_if_fresh(&self, location: &Url) -> EngineResult<Option<deltalake::DeltaTable>> {
        let cached = self.latest.lock().expect("not poisoned").get(location.as_str()).cloned();
        match cached {
            Some(Latest { table, listed_at })
                if probe_trusted(&table, listed_at) && !next_commit_exists(&table).await? =>
            {
                Ok(Some(table))
            }
            _ => Ok(None),
        }
    }

    /// Brings the cached state of a table this process has open up to `version` (another
    /// process announced the commit); tables not open here, or already there, are left
    /// alone, and so are tables this process is writing: its writer brings the state up to
    /// date when its turn comes, once for however many commits came before.
    pub(crate) async fn refresh(&self, location: &Url, version: u64) -> EngineResult<()> {
        let writing = self
            .write_locks
            .lock()
            .expect("not poisoned")
            .get(location.as_str())
            .is_some_and(|lock| lock.try_lock().is_err());
        let behind = !writing
            && self
                .latest
                .lock()
                .expect("not poisoned")
                .get(location.as_str())
                .is_some_and(|l| l.table.version().is_some_and(|v| v < version));
        if behind {
            self.open(location, TimeTravel::Latest).await?;
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> EngineStats {
        let c = &self.counters;
        EngineStats {
            commits: c.commits.load(Ordering::Relaxed),
            conflicts: c.conflicts.load(Ordering::Relaxed),
            redos: c.redos.load(Ordering::Relaxed),
            group_commits: c.group_commits.load(Ordering::Relaxed),
            grouped_inserts: c.grouped_inserts.load(Ordering::Relaxed),
            key_index_builds: c.key_index_builds.load(Ordering::Relaxed),
            state_updates: c.state_updates.load(Ordering::Relaxed),
            query_memory_bytes: self.runtime.memory_pool.reserved() as u64,
        }
    }

    /// Forgets what is known of the table at `location` (it is being dropped: a table
    /// created there again must not inherit any of it).
    pub(crate) fn forget(&self, location: &Url) {
        self.latest.lock().expect("not poisoned").remove(location.as_str());
        self.updates.lock().expect("not poisoned").remove(location.as_str());
        self.key_indexes.forget(location);
        self.encodings.forget(location);
    }

    /// Forgets every table under `prefix` (a storage connection going away).
    pub(crate) fn forget_under(&self, prefix: &Url) {
        let under: Vec<String> = {
            let latest = self.latest.lock().expect("not poisoned");
            latest.keys().filter(|k| k.starts_with(prefix.as_str())).cloned().collect()
        };
        for location in under.iter().filter_map(|l| Url::parse(l).ok()) {
            self.forget(&location);
        }
    }

    /// Keeps a table state that is the latest now (just loaded, or just committed) as the latest.
    pub(crate) fn remember(&self, location: &Url, table: &deltalake::DeltaTable) {
        let mut latest = self.latest.lock().expect("not poisoned");
        let newer = latest.get(location.as_str()).is_none_or(|known| known.table.version() <= table.version());
        if newer {
            latest.insert(location.to_string(), Latest { table: table.clone(), listed_at: Instant::now() });
        }
    }

    /// A session for writes: one partition, so that rows reach the files in the order they
    /// arrived. Keyed data mostly arrives in key order; then each file and row group holds
    /// a narrow key range that statistics can prune. (Round-robin partitioning would
    /// spread every key range over every file.)
    /// It is delta-rs's own session (its planner knows the write nodes), and is not
    /// bound by the query memory limit.
    pub(crate) fn write_session(&self) -> Arc<dyn datafusion::catalog::Session> {
        let overrides = HashMap::from([("datafusion.execution.target_partitions".to_owned(), "1".to_owned())]);
        let ctx = deltalake::delta_datafusion::DeltaSessionContext::new_with_session_overrides(&overrides)
            .expect("a valid DataFusion option");
        Arc::new(ctx.state())
    }

    pub(crate) async fn lock(&self, location: &Url) -> WriteGuard {
        let lock = self.write_locks.lock().expect("not poisoned").entry(location.to_string()).or_default().clone();
        let local = lock.lock_owned().await;
        let turn = match self.write_turns.get() {
            Some(turns) => turns.take(location).await,
            None => None,
        };
        WriteGuard { _turn: turn, _local: local }
    }
}
