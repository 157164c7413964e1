//! The data plane: tables as Delta Lake tables (delta-rs), queried with DataFusion.
//! Creating, describing, writing (one Delta commit per request), reading with pushed-down
//! filters, sandboxed SQL, history, time travel and restore. No HTTP and no
//! authorization here: callers hand the engine only the tables a principal may touch.
//! This is the only crate allowed to depend on DataFusion and delta-rs.

mod commit;
mod error;
mod exec;
mod group_by;
mod history;
mod import;
mod local_reads;
mod output;
mod read;
mod redact;
mod rules;
mod scan;
mod schema;
mod search;
mod sql;
mod table;
mod types;
mod warehouse;
mod write;
mod yielding;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use lakeward_model::query::{Filter, RowQuery};
use object_store::ObjectStoreExt as _;
use url::Url;

pub use commit::Actor;
pub use error::{EngineError, EngineResult};
pub use history::HistoryItem;
pub use import::infer::{CsvOptions, DOMAIN_MAX_VALUES, Inferred, InferredColumn};
pub use import::{ImportFormat, ImportProgress};
pub use output::{ACCEPTED_OUTPUT_TYPES, ByteStream, OutputFormat};
pub use rules::{AllowedValues, Domain, DomainChange, DomainOutcome, DomainValue, Lookup, Parent, ReferenceSource};
pub use schema::{ColumnChange, ColumnRewrite, TableChange};
pub use search::SearchOutput;
pub use sql::{ALLOWED_TABLE_FUNCTIONS, SqlTable};
pub use table::{ColumnInfo, ColumnSpec, ColumnStatistics, TableMetadata, TableSpec, TimeTravel};
pub use types::{ColumnType, TYPE_NAMES};
pub use warehouse::{Warehouse, WarehouseError};
pub use write::input::{ACCEPTED_CONTENT_TYPES, InputFormat};
pub use write::rows::{MAX_REPORTED_ERRORS, RowError, RowErrors};
pub use write::{WriteOutcome, WriteRequest};

#[derive(Debug, Clone)]
pub struct EngineLimits {
    pub query_timeout: Duration,
    pub memory_limit_bytes: u64,
}

/// The engine proper; [`Engine`] runs it on its own threads.
pub(crate) struct Inner {
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    /// One writer at a time per table in this process, so that primary-key checks and
    /// commits do not interleave. Other processes are serialized by Delta's commit protocol.
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The latest loaded state of each table, brought up to date incrementally (reading
    /// only newer commits) instead of replaying the log on every request.
    latest: Mutex<HashMap<String, deltalake::DeltaTable>>,
    /// Inserts waiting for a group commit, per table.
    insert_queues: Mutex<HashMap<String, Vec<write::group::PendingInsert>>>,
    /// Primary keys of small tables, for checking concurrent inserts without a query.
    key_indexes: write::key_index::KeyIndexes,
    /// Which columns of each table are written without a dictionary.
    encodings: write::encoding::Encodings,
}

/// The engine. Its work runs on a runtime of its own, so that CPU-heavy queries never
/// starve the server's threads: timeouts fire, and a client that goes away cancels its
/// query.
pub struct Engine {
    inner: Arc<Inner>,
    exec: exec::Exec,
    query_timeout: Duration,
}

impl Engine {
    pub fn new(limits: EngineLimits) -> EngineResult<Self> {
        Ok(Self {
            inner: Arc::new(Inner::new(&limits)?),
            exec: exec::Exec::new()?,
            query_timeout: limits.query_timeout,
        })
    }

    pub async fn create_table(
        &self,
        location: &Url,
        name: &str,
        spec: &TableSpec,
        actor: &Actor,
    ) -> EngineResult<TableMetadata> {
        let (inner, location, name, spec, actor) =
            (self.inner.clone(), location.clone(), name.to_owned(), spec.clone(), actor.clone());
        self.exec.run(None, async move { inner.create_table(&location, &name, &spec, &actor).await }).await
    }

    pub async fn drop_table(&self, location: &Url) -> EngineResult<()> {
        let (inner, location) = (self.inner.clone(), location.clone());
        self.exec.run(None, async move { inner.drop_table(&location).await }).await
    }

    pub async fn metadata(&self, location: &Url, at: TimeTravel) -> EngineResult<TableMetadata> {
        let (inner, location) = (self.inner.clone(), location.clone());
        self.exec.run(None, async move { inner.metadata(&location, at).await }).await
    }

    pub async fn distinct_counts(&self, location: &Url, at: TimeTravel) -> EngineResult<HashMap<String, u64>> {
        let (inner, location) = (self.inner.clone(), location.clone());
        let deadline = tokio::time::Instant::now() + self.query_timeout;
        self.exec
            .run(Some((deadline, self.query_timeout)), async move { inner.distinct_counts(&location, at).await })
            .await
    }

    pub async fn read_rows(
        &self,
        location: &Url,
        at: TimeTravel,
        q: &RowQuery,
        format: OutputFormat,
        count: bool,
    ) -> EngineResult<RowsPage> {
        let (inner, location, q) = (self.inner.clone(), location.clone(), q.clone());
        let deadline = tokio::time::Instant::now() + self.query_timeout;
        let abandoned = exec::Abandoned::default();
        let page = self
            .exec
            .run_query(Some((deadline, self.query_timeout)), &abandoned, async move {
                inner.read_rows(&location, at, &q, format, count).await
            })
            .await?;
        Ok(RowsPage { body: self.exec.forward(page.body, Some((deadline, self.query_timeout)), &abandoned), ..page })
    }

    /// The whole table, streamed (no timeout: exports of large tables take their time).
    pub async fn export(&self, location: &Url, at: TimeTravel, format: OutputFormat) -> EngineResult<ByteStream> {
        let (inner, location) = (self.inner.clone(), location.clone());
        let abandoned = exec::Abandoned::default();
        let body =
            self.exec.run_query(None, &abandoned, async move { inner.export(&location, at, format).await }).await?;
        Ok(self.exec.forward(body, None, &abandoned))
    }

    pub async fn search(
        &self,
        location: &Url,
        at: TimeTravel,
        term: &str,
        limit: u64,
        format: OutputFormat,
    ) -> EngineResult<SearchOutput> {
        let (inner, location, term) = (self.inner.clone(), location.clone(), term.to_owned());
        let deadline = tokio::time::Instant::now() + self.query_timeout;
        let abandoned = exec::Abandoned::default();
        let found = self
            .exec
            .run_query(Some((deadline, self.query_timeout)), &abandoned, async move {
                search::search(&inner, &location, at, &term, limit, format).await
            })
            .await?;
        Ok(SearchOutput {
            body: self.exec.forward(found.body, Some((deadline, self.query_timeout)), &abandoned),
            ..found
        })
    }

    pub async fn sql(&self, tables: &[SqlTable], query: &str, format: OutputFormat) -> EngineResult<SqlOutput> {
        let (inner, tables, query) = (self.inner.clone(), tables.to_vec(), query.to_owned());
        let deadline = tokio::time::Instant::now() + self.query_timeout;
        let abandoned = exec::Abandoned::default();
        let output = self
            .exec
            .run_query(Some((deadline, self.query_timeout)), &abandoned, async move {
                inner.sql(&tables, &query, format).await
            })
            .await?;
        Ok(SqlOutput {
            body: self.exec.forward(output.body, Some((deadline, self.query_timeout)), &abandoned),
            ..output
        })
    }

    pub async fn history(&self, location: &Url, limit: usize, before: Option<u64>) -> EngineResult<Vec<HistoryItem>> {
        let (inner, location) = (self.inner.clone(), location.clone());
        self.exec.run(None, async move { inner.history(&location, limit, before).await }).await
    }

    pub async fn insert(
        &self,
        location: &Url,
        format: InputFormat,
        body: Bytes,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let (inner, location, request) = (self.inner.clone(), location.clone(), request.clone());
        self.exec.run(None, async move { inner.insert(&location, format, body, &request).await }).await
    }

    pub async fn upsert(
        &self,
        location: &Url,
        format: InputFormat,
        body: Bytes,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let (inner, location, request) = (self.inner.clone(), location.clone(), request.clone());
        self.exec
            .run(None, async move { write::redo(|| inner.upsert(&location, format, body.clone(), &request)).await })
            .await
    }

    pub async fn update_rows(
        &self,
        location: &Url,
        filter: Option<&Filter>,
        set: &serde_json::Map<String, serde_json::Value>,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let (inner, location, filter, set, request) =
            (self.inner.clone(), location.clone(), filter.cloned(), set.clone(), request.clone());
        self.exec
            .run(
                None,
                async move { write::redo(|| inner.update_rows(&location, filter.as_ref(), &set, &request)).await },
            )
            .await
    }

    pub async fn delete_rows(
        &self,
        location: &Url,
        filter: Option<&Filter>,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let (inner, location, filter, request) =
            (self.inner.clone(), location.clone(), filter.cloned(), request.clone());
        self.exec
            .run(None, async move { write::redo(|| inner.delete_rows(&location, filter.as_ref(), &request)).await })
            .await
    }

    pub async fn restore(&self, location: &Url, version: u64, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let (inner, location, request) = (self.inner.clone(), location.clone(), request.clone());
        self.exec.run(None, async move { write::redo(|| inner.restore(&location, version, &request)).await }).await
    }
}

/// Domains and constraints (see `rules`).
impl Engine {
    pub async fn domain(&self, location: &Url, column: &str, at: TimeTravel) -> EngineResult<Option<Domain>> {
        let (inner, location, column) = (self.inner.clone(), location.clone(), column.to_owned());
        self.exec.run(None, async move { inner.domain(&location, &column, at).await }).await
    }

    /// Changes a column's domain; refused when existing rows would violate the new one,
    /// unless `force`.
    pub async fn change_domain(
        &self,
        location: &Url,
        column: &str,
        change: DomainChange,
        force: bool,
        actor: &Actor,
    ) -> EngineResult<DomainOutcome> {
        let (inner, location, column, actor) = (self.inner.clone(), location.clone(), column.to_owned(), actor.clone());
        self.exec
            .run(None, async move {
                write::redo(|| inner.change_domain(&location, &column, change.clone(), force, &actor)).await
            })
            .await
    }

    pub async fn allowed_values(
        &self,
        location: &Url,
        column: &str,
        parent_value: Option<&str>,
    ) -> EngineResult<AllowedValues> {
        let (inner, location, column, parent) =
            (self.inner.clone(), location.clone(), column.to_owned(), parent_value.map(str::to_owned));
        self.exec.run(None, async move { inner.allowed_values(&location, &column, parent.as_deref()).await }).await
    }

    pub async fn value_usage(&self, location: &Url, column: &str, value: &str) -> EngineResult<u64> {
        let (inner, location, column, value) =
            (self.inner.clone(), location.clone(), column.to_owned(), value.to_owned());
        self.exec.run(None, async move { inner.value_usage(&location, &column, &value).await }).await
    }

    pub async fn add_constraints(
        &self,
        location: &Url,
        constraints: &[(String, String)],
        actor: &Actor,
    ) -> EngineResult<u64> {
        let (inner, location, constraints, actor) =
            (self.inner.clone(), location.clone(), constraints.to_vec(), actor.clone());
        self.exec
            .run(None, async move { write::redo(|| inner.add_constraints(&location, &constraints, &actor)).await })
            .await
    }

    pub async fn drop_constraint(&self, location: &Url, name: &str, actor: &Actor) -> EngineResult<(u64, String)> {
        let (inner, location, name, actor) = (self.inner.clone(), location.clone(), name.to_owned(), actor.clone());
        self.exec.run(None, async move { write::redo(|| inner.drop_constraint(&location, &name, &actor)).await }).await
    }
}

/// Definition changes without data rewrites (see `schema`): each is one commit.
impl Engine {
    pub async fn add_column(&self, location: &Url, column: &ColumnSpec, actor: &Actor) -> EngineResult<u64> {
        let (inner, location, column, actor) = (self.inner.clone(), location.clone(), column.clone(), actor.clone());
        self.exec.run(None, async move { write::redo(|| inner.add_column(&location, &column, &actor)).await }).await
    }

    pub async fn change_column(
        &self,
        location: &Url,
        column: &str,
        change: &ColumnChange,
        actor: &Actor,
    ) -> EngineResult<u64> {
        let (inner, location, column, change, actor) =
            (self.inner.clone(), location.clone(), column.to_owned(), change.clone(), actor.clone());
        self.exec
            .run(None, async move { write::redo(|| inner.change_column(&location, &column, &change, &actor)).await })
            .await
    }

    pub async fn merge_field_metadata(
        &self,
        location: &Url,
        column: &str,
        entries: &serde_json::Map<String, serde_json::Value>,
        actor: &Actor,
    ) -> EngineResult<u64> {
        let (inner, location, column, entries, actor) =
            (self.inner.clone(), location.clone(), column.to_owned(), entries.clone(), actor.clone());
        self.exec
            .run(
                None,
                async move { write::redo(|| inner.merge_field_metadata(&location, &column, &entries, &actor)).await },
            )
            .await
    }

    /// Renames, drops or widens a column by rewriting the data, as one commit.
    pub async fn rewrite_column(
        &self,
        location: &Url,
        column: &str,
        rewrite: &ColumnRewrite,
        actor: &Actor,
    ) -> EngineResult<u64> {
        let (inner, location, column, rewrite, actor) =
            (self.inner.clone(), location.clone(), column.to_owned(), rewrite.clone(), actor.clone());
        self.exec
            .run(None, async move { write::redo(|| inner.rewrite_column(&location, &column, &rewrite, &actor)).await })
            .await
    }

    pub async fn change_table(&self, location: &Url, change: &TableChange, actor: &Actor) -> EngineResult<u64> {
        let (inner, location, change, actor) = (self.inner.clone(), location.clone(), change.clone(), actor.clone());
        self.exec.run(None, async move { write::redo(|| inner.change_table(&location, &change, &actor)).await }).await
    }
}

/// File imports and CSV inference (see `import`).
impl Engine {
    /// Infers a CSV file's columns, row count and candidate domains, in one pass.
    pub async fn infer_csv(&self, path: &std::path::Path, options: CsvOptions) -> EngineResult<Inferred> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || import::infer::infer_csv(&path, &options))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    pub async fn parquet_columns(&self, path: &std::path::Path) -> EngineResult<Vec<InferredColumn>> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || import::parquet_columns(&path))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Imports a whole file as one commit (no timeout: large files take their time).
    pub async fn import(
        &self,
        location: &Url,
        path: &std::path::Path,
        format: ImportFormat,
        request: &WriteRequest,
        progress: Arc<ImportProgress>,
    ) -> EngineResult<WriteOutcome> {
        let (inner, location, path, request) = (self.inner.clone(), location.clone(), path.to_owned(), request.clone());
        self.exec
            .run(None, async move {
                write::redo(|| inner.import(&location, path.clone(), format, &request, progress.clone())).await
            })
            .await
    }
}

/// A page of rows, encoded.
pub struct RowsPage {
    pub body: ByteStream,
    /// Rows in this page, when known before streaming (a page with a limit).
    pub returned: Option<u64>,
    /// Rows matching the filter in all, when asked for.
    pub total: Option<u64>,
}

/// A SQL result, encoded.
pub struct SqlOutput {
    pub body: ByteStream,
    pub columns: Vec<(String, String)>,
    pub affected_tables: Vec<String>,
    pub started: Instant,
}

impl Inner {
    fn new(limits: &EngineLimits) -> EngineResult<Self> {
        let mut config = SessionConfig::new().with_information_schema(false).with_target_partitions(2);
        // Let Parquet row-group statistics and page indexes prune point lookups.
        config.options_mut().execution.parquet.pushdown_filters = true;
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
            latest: Mutex::new(HashMap::new()),
            insert_queues: Mutex::new(HashMap::new()),
            key_indexes: Default::default(),
            encodings: Default::default(),
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
            return table::open(location, at).await;
        }
        let cached = self.latest.lock().expect("not poisoned").get(location.as_str()).cloned();
        let table = match cached {
            Some(mut table) => {
                table.update_state().await?;
                table
            }
            None => table::open(location, TimeTravel::Latest).await?,
        };
        self.remember(location, &table);
        Ok(table)
    }

    /// Keeps a table state (for example the one a write just produced) as the latest.
    pub(crate) fn remember(&self, location: &Url, table: &deltalake::DeltaTable) {
        let mut latest = self.latest.lock().expect("not poisoned");
        let newer = latest.get(location.as_str()).is_none_or(|known| known.version() <= table.version());
        if newer {
            latest.insert(location.to_string(), table.clone());
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

    async fn lock(&self, location: &Url) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.write_locks.lock().expect("not poisoned").entry(location.to_string()).or_default().clone();
        lock.lock_owned().await
    }

    pub async fn create_table(
        &self,
        location: &Url,
        name: &str,
        spec: &TableSpec,
        actor: &Actor,
    ) -> EngineResult<TableMetadata> {
        let _guard = self.lock(location).await;
        let created = table::create(location, name, spec, actor).await?;
        self.remember(location, &created);
        table::describe(&created)
    }

    /// Deletes every object of the table (data files and log), and nothing else.
    pub async fn drop_table(&self, location: &Url) -> EngineResult<()> {
        let _guard = self.lock(location).await;
        // The root store is not scoped to the table (for local files it is `/`), so the
        // listing is scoped here, and every object is checked against the table's path.
        let prefix = object_store::path::Path::from_url_path(location.path())
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        if prefix.parts().count() < 4 {
            return Err(EngineError::Internal(format!(
                "refusing to delete a location this shallow: {}",
                redact::paths(location.as_str())
            )));
        }
        // A table created again at this location must not inherit what was known of this one.
        self.latest.lock().expect("not poisoned").remove(location.as_str());
        self.key_indexes.forget(location);
        self.encodings.forget(location);
        let delta = table::builder(location).await?.build()?;
        let store = delta.log_store().root_object_store(None);
        let mut listing = store.list(Some(&prefix));
        let mut paths = Vec::new();
        while let Some(meta) = listing.next().await {
            let path = meta.map_err(|e| EngineError::Internal(e.to_string()))?.location;
            if path.prefix_match(&prefix).is_none() {
                return Err(EngineError::Internal("listing returned an object outside the table".into()));
            }
            paths.push(path);
        }
        for path in paths {
            store.delete(&path).await.map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        if location.scheme() == "file"
            && let Ok(dir) = location.to_file_path()
        {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        Ok(())
    }

    pub async fn metadata(&self, location: &Url, at: TimeTravel) -> EngineResult<TableMetadata> {
        table::describe(&self.open(location, at).await?)
    }

    /// Distinct values per column (reads the table; kept out of `metadata`).
    pub async fn distinct_counts(&self, location: &Url, at: TimeTravel) -> EngineResult<HashMap<String, u64>> {
        let delta = self.open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = self.session();
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

    pub async fn read_rows(
        &self,
        location: &Url,
        at: TimeTravel,
        q: &RowQuery,
        format: OutputFormat,
        count: bool,
    ) -> EngineResult<RowsPage> {
        let delta = self.open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let (page, matching) = read::query(&ctx, &schema, q).await?;
        let total = if count { Some(matching.count().await? as u64) } else { None };
        match q.limit {
            // A bounded page is gathered first so that its size is known (Content-Range).
            Some(limit) if limit <= 100_000 => {
                let batches = page.collect().await?;
                let returned = batches.iter().map(|b| b.num_rows() as u64).sum();
                let schema =
                    batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(page_schema(&ctx, q, &schema)));
                let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::iter(batches.into_iter().map(Ok)),
                );
                Ok(RowsPage { body: output::encode(Box::pin(stream), format)?, returned: Some(returned), total })
            }
            _ => {
                let stream = page.execute_stream().await?;
                Ok(RowsPage { body: output::encode(exec::peeked(stream).await?, format)?, returned: None, total })
            }
        }
    }

    /// The whole table (or an earlier state of it), streamed.
    pub async fn export(&self, location: &Url, at: TimeTravel, format: OutputFormat) -> EngineResult<ByteStream> {
        let delta = self.open(location, at).await?;
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let stream = ctx.table(read::SELF).await?.execute_stream().await?;
        output::encode(stream, format)
    }

    pub async fn sql(&self, tables: &[SqlTable], query: &str, format: OutputFormat) -> EngineResult<SqlOutput> {
        let started = Instant::now();
        sql::check_size(query)?;
        let ctx = self.session();
        sql::register_tables(self, &ctx, tables).await?;
        let plan = sql::plan(&ctx, query).await?;
        let affected_tables = sql::tables_read(&plan);
        let explain = sql::is_explain(&plan);
        let df = ctx.execute_logical_plan(plan).await?;
        let columns = df
            .schema()
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name().clone(),
                    types::ColumnType::of_field(f).map(|t| t.to_string()).unwrap_or_else(|| f.data_type().to_string()),
                )
            })
            .collect();
        let body = if explain {
            // Plans name files; show them without storage locations.
            let batches = df.collect().await?;
            let roots: Vec<Url> = tables.iter().map(|t| t.location.clone()).collect();
            let batches = batches.into_iter().map(|b| redact_batch(&b, &roots)).collect::<EngineResult<Vec<_>>>()?;
            let schema =
                batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
            let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema,
                futures::stream::iter(batches.into_iter().map(Ok)),
            );
            output::encode(Box::pin(stream), format)?
        } else {
            let stream = df.execute_stream().await?;
            output::encode(exec::peeked(stream).await?, format)?
        };
        Ok(SqlOutput { body, columns, affected_tables, started })
    }

    pub async fn history(&self, location: &Url, limit: usize, before: Option<u64>) -> EngineResult<Vec<HistoryItem>> {
        let delta = self.open(location, TimeTravel::Latest).await?;
        history::history(&delta, limit, before).await
    }

    /// Queues the insert for the table's next group commit and waits for its answer.
    pub async fn insert(
        self: &Arc<Self>,
        location: &Url,
        format: InputFormat,
        body: Bytes,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending = write::group::PendingInsert { format, body, request: request.clone(), reply, redone: 0 };
        self.insert_queues.lock().expect("not poisoned").entry(location.to_string()).or_default().push(pending);
        // Detached, so that a caller going away cannot abort a commit that carries
        // other callers' rows.
        let inner = self.clone();
        let location = location.clone();
        tokio::spawn(async move {
            let _guard = inner.lock(&location).await;
            let mut redo: Vec<write::group::PendingInsert> = Vec::new();
            loop {
                let queued =
                    inner.insert_queues.lock().expect("not poisoned").remove(location.as_str()).unwrap_or_default();
                let batch: Vec<_> = redo.drain(..).chain(queued).collect();
                if batch.is_empty() {
                    break;
                }
                redo = write::group::run(&inner, &location, batch).await;
                match redo.iter().map(|p| p.redone).max() {
                    Some(n) => tokio::time::sleep(write::redo_pause(n)).await,
                    None => break,
                }
            }
        });
        answer.await.map_err(|_| EngineError::Internal("the insert was dropped before it was answered".into()))?
    }

    pub async fn upsert(
        &self,
        location: &Url,
        format: InputFormat,
        body: Bytes,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::upsert(self, location, format, &body, request).await
    }

    pub async fn update_rows(
        &self,
        location: &Url,
        filter: Option<&Filter>,
        set: &serde_json::Map<String, serde_json::Value>,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::update(self, location, filter, set, request).await
    }

    pub async fn delete_rows(
        &self,
        location: &Url,
        filter: Option<&Filter>,
        request: &WriteRequest,
    ) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::delete(self, location, filter, request).await
    }

    pub async fn restore(&self, location: &Url, version: u64, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::restore(self, location, version, request).await
    }
}

fn page_schema(_ctx: &SessionContext, q: &RowQuery, schema: &arrow::datatypes::SchemaRef) -> arrow::datatypes::Schema {
    match &q.select {
        Some(cols) => arrow::datatypes::Schema::new(
            cols.iter().filter_map(|c| schema.field_with_name(c).ok().cloned()).collect::<Vec<_>>(),
        ),
        None => schema.as_ref().clone(),
    }
}

fn redact_batch(
    batch: &arrow::record_batch::RecordBatch,
    roots: &[Url],
) -> EngineResult<arrow::record_batch::RecordBatch> {
    use arrow::array::{Array, StringArray};
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)?;
            let strings = c.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
            Ok(Arc::new(strings.iter().map(|s| s.map(|s| redact::locations(s, roots))).collect::<StringArray>())
                as Arc<dyn Array>)
        })
        .collect::<EngineResult<Vec<_>>>()?;
    let schema = arrow::datatypes::Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| arrow::datatypes::Field::new(f.name(), arrow::datatypes::DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    Ok(arrow::record_batch::RecordBatch::try_new(Arc::new(schema), columns)?)
}
