//! Whole tables: create, drop, describe, count distinct values, history, roll back.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;
use object_store::ObjectStoreExt as _;
use url::Url;

use super::{Operation, Timeout};
use crate::commit::{self, Actor};
use crate::error::{EngineError, EngineResult};
use crate::history::{self, HistoryItem};
use crate::state::EngineState;
use crate::table::{self, TableMetadata, TableSpec, TimeTravel};
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

/// Deletes every object of the table (data files and log), and nothing else.
pub struct DropTable {
    pub location: Url,
}

impl Operation for DropTable {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        let location = &self.location;
        let _guard = state.lock(location).await;
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
