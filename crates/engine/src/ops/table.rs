//! Whole tables: create, drop, describe, count distinct values, history, roll back.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;
use object_store::ObjectStoreExt as _;
use url::Url;

use super::{Operation, Timeout};
use crate::clone::{CloneKeep, ClonePlan, CloneProgress};
use crate::commit::{self, Actor};
use crate::diff::TableDiff;
use crate::error::{EngineError, EngineResult};
use crate::history::{self, HistoryItem};
use crate::optimize::OptimizeOutcome;
use crate::state::EngineState;
use crate::table::{self, TableMetadata, TableSpec, TimeTravel};
use crate::vacuum::{StorageUse, VacuumOutcome};
use crate::write::{self, WriteOutcome, WriteRequest};
use crate::{read, redact};

/// Creates a Delta table at `location` (its first commit, by `actor`).
pub struct CreateTable {
    pub location: Url,
    pub name: String,
    pub spec: TableSpec,
    pub actor: Actor,
}

impl Operation for CreateTable {
    type Output = TableMetadata;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<TableMetadata> {
        let _guard = state.lock(&self.location).await;
        let created = table::create(&state.stores, &self.location, &self.name, &self.spec, &self.actor).await?;
        state.remember(&self.location, &created);
        table::describe(&created)
    }
}

/// Brings this process's cached state of a table up to `version` ahead of the requests
/// that will need it, when another process announced that commit (see `commits`). A
/// table not open here is left alone.
pub struct Refresh {
    pub location: Url,
    pub version: u64,
}

impl Operation for Refresh {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        state.refresh(&self.location, self.version).await
    }
}

/// Deletes every object of the table (data files and log), and nothing else.
pub struct DropTable {
    pub location: Url,
}

impl Operation for DropTable {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        let _guard = state.lock(&self.location).await;
        self.remove(&state).await
    }
}

impl DropTable {
    /// Deletes the table's objects; the caller holds the table's lock.
    async fn remove(&self, state: &EngineState) -> EngineResult<()> {
        let location = &self.location;
        // The root store is not scoped to the table (for local files it is `/`), so the
        // listing is scoped here, and every object is checked against the table's path.
        let prefix = object_store::path::Path::from_url_path(location.path())
            .map_err(|e| EngineError::internal(e.to_string()))?;
        // Managed tables lie four folders deep (organisation, catalog, schema, table); a
        // table on a connection may lie higher, but must be a Delta table's root.
        let depth = prefix.parts().count();
        if depth == 0 {
            return Err(EngineError::internal("refusing to delete a store's root"));
        }
        // A table created again at this location must not inherit what was known of this one.
        state.forget(location);
        let delta = table::builder(&state.stores, location)?.build()?;
        let store = delta.log_store().root_object_store(None);
        let mut listing = store.list(Some(&prefix));
        let mut paths = Vec::new();
        while let Some(meta) = listing.next().await {
            let path = meta.map_err(|e| EngineError::Storage(e.to_string()))?.location;
            if path.prefix_match(&prefix).is_none() {
                return Err(EngineError::internal("listing returned an object outside the table"));
            }
            paths.push(path);
        }
        let log = prefix.clone().join("_delta_log");
        if depth < 4 && !paths.iter().any(|p| p.prefix_match(&log).is_some()) {
            return Err(EngineError::internal(format!(
                "refusing to delete a location that holds no Delta log: {}",
                redact::paths(location.as_str())
            )));
        }
        for path in paths {
            store.delete(&path).await.map_err(|e| EngineError::Storage(e.to_string()))?;
        }
        if location.scheme() == "file"
            && let Ok(dir) = location.to_file_path()
        {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        Ok(())
    }
}

/// The table's definition and statistics, at a version (from the log and file statistics;
/// no data is read).
pub struct Describe {
    pub location: Url,
    pub at: TimeTravel,
}

impl Operation for Describe {
    type Output = TableMetadata;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<TableMetadata> {
        table::describe(&state.open(&self.location, self.at).await?)
    }
}

/// The latest version of each table, `None` for one that cannot be opened (checked
/// against the log, so a commit by another writer is seen): what a surface that caches
/// a description of many tables (GraphQL's schema) compares before reusing it.
pub struct LatestVersions {
    pub locations: Vec<Url>,
}

impl Operation for LatestVersions {
    type Output = Vec<Option<u64>>;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<Vec<Option<u64>>> {
        let opens = self.locations.iter().map(|location| state.open(location, TimeTravel::Latest));
        let tables = futures::future::join_all(opens).await;
        Ok(tables.into_iter().map(|t| t.ok().and_then(|t| t.version())).collect())
    }
}

/// Distinct values per column (reads the whole table).
pub struct DistinctCounts {
    pub location: Url,
    pub at: TimeTravel,
}

impl Operation for DistinctCounts {
    type Output = HashMap<String, u64>;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<HashMap<String, u64>> {
        let delta = state.open(&self.location, self.at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = state.session();
        read::register(&ctx, &delta).await?;
        let exprs: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| datafusion::functions_aggregate::count::count_distinct(read::column(f.name())).alias(f.name()))
            .collect();
        let batches = ctx.table(read::SELF).await?.aggregate(vec![], exprs)?.collect().await?;
        let mut counts = HashMap::new();
        if let Some(batch) = batches.first() {
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                if let Some(v) = column.as_any().downcast_ref::<arrow::array::Int64Array>() {
                    counts.insert(field.name().clone(), v.value(0) as u64);
                }
            }
        }
        Ok(counts)
    }
}

/// The table's commits, newest first: at most `limit`, older than `before` when given.
pub struct History {
    pub location: Url,
    pub limit: usize,
    pub before: Option<u64>,
}

impl Operation for History {
    type Output = Vec<HistoryItem>;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<Vec<HistoryItem>> {
        let delta = state.open(&self.location, TimeTravel::Latest).await?;
        history::history(&delta, self.limit, self.before).await
    }
}

/// Rolls the table back to an earlier version, as a new commit.
pub struct Restore {
    pub location: Url,
    pub version: u64,
    pub request: WriteRequest,
}

impl Operation for Restore {
    type Output = WriteOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<WriteOutcome> {
        commit::redo(&state, || async {
            let _guard = state.lock(&self.location).await;
            write::restore(&state, &self.location, self.version, &self.request).await
        })
        .await
    }
}

/// Clones the table at `source` (at `at`) into a new table at `destination`: deep copies
/// the data files, shallow links them where the storage can (see [`crate::clone`]).
pub struct CloneTable {
    pub source: Url,
    pub at: TimeTravel,
    pub destination: Url,
    pub name: String,
    pub shallow: bool,
    pub keep: CloneKeep,
    /// Only the plan: nothing is written.
    pub dry_run: bool,
    pub actor: Actor,
    pub progress: Arc<CloneProgress>,
}

impl Operation for CloneTable {
    type Output = ClonePlan;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<ClonePlan> {
        let source = state.open(&self.source, self.at).await?;
        let _guard = state.lock(&self.destination).await;
        let cloned = crate::clone::clone_table(
            &state,
            &source,
            &self.destination,
            &self.name,
            self.shallow,
            self.keep,
            self.dry_run,
            &self.actor,
            &self.progress,
        )
        .await;
        // A clone that failed half-way (or was cancelled) leaves nothing behind; a table
        // found already there (a conflict) is not the clone's to remove.
        if let Err(e) = &cloned
            && !self.dry_run
            && !matches!(e, EngineError::Conflict(_))
        {
            let _ = (DropTable { location: self.destination.clone() }).remove(&state).await;
        }
        cloned
    }
}

/// The table's rows at `at`, counted by reading them, and with `checksum` a hash of their
/// values that depends on neither file layout nor row order (the sum of every row's hash).
pub struct Checksum {
    pub location: Url,
    pub at: TimeTravel,
    pub checksum: bool,
}

/// What [`Checksum`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChecksum {
    pub rows: u64,
    /// 16 hex digits; `None` unless asked.
    pub checksum: Option<String>,
}

impl Operation for Checksum {
    type Output = TableChecksum;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<TableChecksum> {
        use std::hash::BuildHasher as _;
        let table = state.open(&self.location, self.at).await?;
        let ctx = state.session();
        read::register(&ctx, &table).await?;
        let frame = ctx.table(read::SELF).await?;
        let frame = if self.checksum {
            frame
        } else {
            // Reading one column still opens every file, unlike a count from statistics.
            let first = table::arrow_schema(&table)?.field(0).name().clone();
            frame.select(vec![read::column(&first)])?
        };
        let mut stream = frame.execute_stream().await?;
        let fields =
            stream.schema().fields().iter().map(|f| arrow::row::SortField::new(f.data_type().clone())).collect();
        let converter = arrow::row::RowConverter::new(fields)?;
        let hasher = foldhash::fast::FixedState::with_seed(0x1a4e_3a7d);
        let (mut rows, mut sum) = (0u64, 0u64);
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            if self.checksum {
                for row in converter.convert_columns(batch.columns())?.iter() {
                    sum = sum.wrapping_add(hasher.hash_one(row.as_ref()));
                }
            }
        }
        Ok(TableChecksum { rows, checksum: self.checksum.then(|| format!("{sum:016x}")) })
    }
}

/// The row-level differences from the table at `from_location` (at `from`) to the table at
/// `location` (at `to`): two versions of one table, or two tables, such as a clone and its
/// source (see [`crate::diff`]).
pub struct Diff {
    pub from_location: Url,
    pub from: TimeTravel,
    pub location: Url,
    pub to: TimeTravel,
}

impl Operation for Diff {
    type Output = TableDiff;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<TableDiff> {
        let before = state.open(&self.from_location, self.from).await?;
        let after = state.open(&self.location, self.to).await?;
        crate::diff::diff_versions(&state, &before, &after).await
    }
}

/// Removes the data files no version within `retention_hours` names (see [`crate::vacuum`]);
/// with `dry_run`, only lists them.
pub struct Vacuum {
    pub location: Url,
    pub retention_hours: u64,
    pub dry_run: bool,
    pub actor: Actor,
}

impl Operation for Vacuum {
    type Output = VacuumOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<VacuumOutcome> {
        // No write of this process lies between writing its files and committing them.
        let _guard = state.lock(&self.location).await;
        let table = state.open(&self.location, TimeTravel::Latest).await?;
        let outcome = crate::vacuum::vacuum(&table, self.retention_hours, self.dry_run, &self.actor).await?;
        if !self.dry_run {
            // The vacuum's own commits moved the table on.
            state.forget(&self.location);
        }
        Ok(outcome)
    }
}

/// Rewrites the table's small files into files of `target_size`, or with `zorder_by` all
/// its files Z-ordered by those columns (see [`crate::optimize`]); with `dry_run`, only
/// answers what it would rewrite. Writes to the table wait while it runs.
pub struct Optimize {
    pub location: Url,
    pub target_size: u64,
    pub zorder_by: Vec<String>,
    pub dry_run: bool,
    pub actor: Actor,
}

impl Operation for Optimize {
    type Output = OptimizeOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<OptimizeOutcome> {
        let _guard = state.lock(&self.location).await;
        let table = state.open(&self.location, TimeTravel::Latest).await?;
        let (size, columns) = (self.target_size, &self.zorder_by);
        crate::optimize::optimize(&state, &self.location, &table, size, columns, self.dry_run, &self.actor).await
    }
}

/// How the table's storage is used: active, vacuumable and time-travel files and bytes,
/// small files, the log.
pub struct StorageMetrics {
    pub location: Url,
    /// The retention a vacuum would use, for what counts as vacuumable.
    pub retention_hours: u64,
    pub actor: Actor,
}

impl Operation for StorageMetrics {
    type Output = StorageUse;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<StorageUse> {
        let table = state.open(&self.location, TimeTravel::Latest).await?;
        crate::vacuum::storage_use(&table, self.retention_hours, &self.actor).await
    }
}
