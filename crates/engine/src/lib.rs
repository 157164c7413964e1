//! The data plane: tables as Delta Lake tables (delta-rs), queried with DataFusion.
//! Creating, describing, writing (one Delta commit per request), reading with pushed-down
//! filters, sandboxed SQL, history, time travel and restore. No HTTP and no
//! authorization here: callers hand the engine only the tables a principal may touch.
//! This is the only crate allowed to depend on DataFusion and delta-rs.

mod commit;
mod error;
mod history;
mod output;
mod read;
mod redact;
mod sql;
mod table;
mod types;
mod warehouse;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStoreExt as _;
use futures::StreamExt;
use lakeward_model::query::{Filter, RowQuery};
use url::Url;

pub use commit::Actor;
pub use error::{EngineError, EngineResult};
pub use history::HistoryItem;
pub use output::{ACCEPTED_OUTPUT_TYPES, ByteStream, OutputFormat};
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

pub struct Engine {
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    query_timeout: Duration,
    /// One writer at a time per table in this process, so that primary-key checks and
    /// commits do not interleave. Other processes are serialized by Delta's commit protocol.
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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

impl Engine {
    pub fn new(limits: EngineLimits) -> EngineResult<Self> {
        let mut config = SessionConfig::new()
            .with_information_schema(false)
            .with_target_partitions(2);
        // Let Parquet row-group statistics and page indexes prune point lookups.
        config.options_mut().execution.parquet.pushdown_filters = true;
        config.options_mut().execution.parquet.reorder_filters = true;
        config.options_mut().sql_parser.enable_ident_normalization = false;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(limits.memory_limit_bytes as usize)))
            .build_arc()?;
        Ok(Self { config, runtime, query_timeout: limits.query_timeout, write_locks: Mutex::new(HashMap::new()) })
    }

    /// A fresh session: its own catalogs, the shared memory pool.
    fn session(&self) -> SessionContext {
        let state = SessionStateBuilder::new()
            .with_config(self.config.clone())
            .with_runtime_env(self.runtime.clone())
            .with_default_features()
            .build();
        SessionContext::new_with_state(state)
    }

    async fn lock(&self, location: &Url) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.write_locks.lock().expect("not poisoned").entry(location.to_string()).or_default().clone();
        lock.lock_owned().await
    }

    pub async fn create_table(&self, location: &Url, name: &str, spec: &TableSpec, actor: &Actor) -> EngineResult<TableMetadata> {
        let _guard = self.lock(location).await;
        let created = table::create(location, name, spec, actor).await?;
        table::describe(&created)
    }

    /// Deletes every object of the table (data files and log).
    pub async fn drop_table(&self, location: &Url) -> EngineResult<()> {
        let _guard = self.lock(location).await;
        let delta = table::builder(location).await?.build()?;
        let store = delta.log_store().root_object_store(None);
        let mut listing = store.list(None);
        let mut paths = Vec::new();
        while let Some(meta) = listing.next().await {
            paths.push(meta.map_err(|e| EngineError::Internal(e.to_string()))?.location);
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
        table::describe(&table::open(location, at).await?)
    }

    /// Distinct values per column (reads the table; kept out of `metadata`).
    pub async fn distinct_counts(&self, location: &Url, at: TimeTravel) -> EngineResult<HashMap<String, u64>> {
        let delta = table::open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let exprs: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| datafusion::functions_aggregate::count::count_distinct(read::column(f.name())).alias(f.name()))
            .collect();
        let batches = self.timed(ctx.table(read::SELF).await?.aggregate(vec![], exprs)?.collect()).await?;
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

    async fn timed<T>(&self, fut: impl std::future::Future<Output = datafusion::error::Result<T>>) -> EngineResult<T> {
        match tokio::time::timeout(self.query_timeout, fut).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(EngineError::Timeout(self.query_timeout.as_secs())),
        }
    }

    /// Ends the stream with a timeout error once the query has run too long, whether it
    /// is producing output or still computing its first batch.
    fn with_deadline(&self, stream: ByteStream) -> ByteStream {
        let deadline = tokio::time::Instant::now() + self.query_timeout;
        let secs = self.query_timeout.as_secs();
        futures::stream::unfold((stream, false), move |(mut stream, done)| async move {
            if done {
                return None;
            }
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), (stream, false))),
                Ok(Some(Err(e))) => Some((Err(e), (stream, true))),
                Ok(None) => None,
                Err(_) => Some((Err(EngineError::Timeout(secs)), (stream, true))),
            }
        })
        .boxed()
    }

    pub async fn read_rows(&self, location: &Url, at: TimeTravel, q: &RowQuery, format: OutputFormat, count: bool) -> EngineResult<RowsPage> {
        let delta = table::open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let (page, matching) = read::query(&ctx, &schema, q).await?;
        let total = if count { Some(self.timed(matching.count()).await? as u64) } else { None };
        match q.limit {
            // A bounded page is gathered first so that its size is known (Content-Range).
            Some(limit) if limit <= 100_000 => {
                let batches = self.timed(page.collect()).await?;
                let returned = batches.iter().map(|b| b.num_rows() as u64).sum();
                let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(page_schema(&ctx, q, &schema)));
                let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::iter(batches.into_iter().map(Ok)),
                );
                Ok(RowsPage { body: output::encode(Box::pin(stream), format)?, returned: Some(returned), total })
            }
            _ => {
                let stream = self.timed(page.execute_stream()).await?;
                Ok(RowsPage { body: self.with_deadline(output::encode(stream, format)?), returned: None, total })
            }
        }
    }

    /// The whole table (or an earlier state of it), streamed.
    pub async fn export(&self, location: &Url, at: TimeTravel, format: OutputFormat) -> EngineResult<ByteStream> {
        let delta = table::open(location, at).await?;
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let stream = ctx.table(read::SELF).await?.execute_stream().await?;
        Ok(output::encode(stream, format)?)
    }

    /// Rows with `term` in any string column, case-insensitively.
    pub async fn search(&self, location: &Url, at: TimeTravel, term: &str, limit: u64, format: OutputFormat) -> EngineResult<ByteStream> {
        let delta = table::open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let Some(predicate) = read::search_expr(&schema, term) else {
            return Err(EngineError::invalid("term", "the table has no string columns to search"));
        };
        let df = ctx.table(read::SELF).await?.filter(predicate)?.limit(0, Some(limit as usize))?;
        let stream = self.timed(df.execute_stream()).await?;
        Ok(self.with_deadline(output::encode(stream, format)?))
    }

    pub async fn sql(&self, tables: &[SqlTable], query: &str, format: OutputFormat) -> EngineResult<SqlOutput> {
        let started = Instant::now();
        let ctx = self.session();
        sql::register_tables(&ctx, tables).await?;
        let plan = sql::plan(&ctx, query).await?;
        let affected_tables = sql::tables_read(&plan);
        let explain = sql::is_explain(&plan);
        let df = ctx.execute_logical_plan(plan).await?;
        let columns = df
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), types::ColumnType::of_field(f).map(|t| t.to_string()).unwrap_or_else(|| f.data_type().to_string())))
            .collect();
        let body = if explain {
            // Plans name files; show them without storage locations.
            let batches = self.timed(df.collect()).await?;
            let roots: Vec<Url> = tables.iter().map(|t| t.location.clone()).collect();
            let batches = batches.into_iter().map(|b| redact_batch(&b, &roots)).collect::<EngineResult<Vec<_>>>()?;
            let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
            let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, futures::stream::iter(batches.into_iter().map(Ok)));
            output::encode(Box::pin(stream), format)?
        } else {
            let stream = self.timed(df.execute_stream()).await?;
            self.with_deadline(output::encode(stream, format)?)
        };
        Ok(SqlOutput { body, columns, affected_tables, started })
    }

    pub async fn history(&self, location: &Url, limit: usize, before: Option<u64>) -> EngineResult<Vec<HistoryItem>> {
        let delta = table::open(location, TimeTravel::Latest).await?;
        history::history(&delta, limit, before).await
    }

    pub async fn insert(&self, location: &Url, format: InputFormat, body: Bytes, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::insert(self, location, format, &body, request).await
    }

    pub async fn upsert(&self, location: &Url, format: InputFormat, body: Bytes, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::upsert(self, location, format, &body, request).await
    }

    pub async fn update_rows(&self, location: &Url, filter: Option<&Filter>, set: &serde_json::Map<String, serde_json::Value>, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::update(self, location, filter, set, request).await
    }

    pub async fn delete_rows(&self, location: &Url, filter: Option<&Filter>, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::delete(self, location, filter, request).await
    }

    pub async fn restore(&self, location: &Url, version: u64, request: &WriteRequest) -> EngineResult<WriteOutcome> {
        let _guard = self.lock(location).await;
        write::restore(location, version, request).await
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

fn redact_batch(batch: &arrow::record_batch::RecordBatch, roots: &[Url]) -> EngineResult<arrow::record_batch::RecordBatch> {
    use arrow::array::{Array, StringArray};
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)?;
            let strings = c.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
            Ok(Arc::new(strings.iter().map(|s| s.map(|s| redact::locations(s, roots))).collect::<StringArray>()) as Arc<dyn Array>)
        })
        .collect::<EngineResult<Vec<_>>>()?;
    let schema = arrow::datatypes::Schema::new(
        batch.schema().fields().iter().map(|f| arrow::datatypes::Field::new(f.name(), arrow::datatypes::DataType::Utf8, true)).collect::<Vec<_>>(),
    );
    Ok(arrow::record_batch::RecordBatch::try_new(Arc::new(schema), columns)?)
}
