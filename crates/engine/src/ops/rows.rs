//! Rows: reads (pages, exports, search) and writes (insert, upsert, update, delete).

use std::sync::Arc;

use bytes::Bytes;
use lakeward_model::query::{Filter, RowQuery};
use url::Url;

use super::{Forwarder, Operation, Timeout};
use crate::commit;
use crate::error::{EngineError, EngineResult};
use crate::output::{self, ByteStream, OutputFormat};
use crate::search::{self, SearchOutput};
use crate::state::EngineState;
use crate::table::{self, TimeTravel};
use crate::write::{self, InputFormat, WriteOutcome, WriteRequest};
use crate::{exec, read};

/// A page of rows, encoded.
pub struct RowsPage {
    pub body: ByteStream,
    /// Rows in this page, when known before streaming (a page with a limit).
    pub returned: Option<u64>,
    /// Rows matching the filter in all, when asked for.
    pub total: Option<u64>,
}

/// The rows a query selects, in `format`; with the count of all matching rows when
/// `count`.
pub struct ReadRows {
    pub location: Url,
    pub at: TimeTravel,
    pub query: RowQuery,
    pub format: OutputFormat,
    pub count: bool,
}

impl Operation for ReadRows {
    type Output = RowsPage;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<RowsPage> {
        let q = &self.query;
        let delta = state.open(&self.location, self.at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = state.session();
        read::register(&ctx, &delta).await?;
        let (page, matching) = read::query(&ctx, &schema, q).await?;
        let total = if self.count { Some(matching.count().await? as u64) } else { None };
        match q.limit {
            // A bounded page is gathered first so that its size is known (Content-Range).
            Some(limit) if limit <= 100_000 => {
                let batches = page.collect().await?;
                let returned = batches.iter().map(|b| b.num_rows() as u64).sum();
                let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(page_schema(q, &schema)));
                let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::iter(batches.into_iter().map(Ok)),
                );
                Ok(RowsPage { body: output::encode(Box::pin(stream), self.format)?, returned: Some(returned), total })
            }
            _ => {
                let stream = page.execute_stream().await?;
                Ok(RowsPage { body: output::encode(exec::peeked(stream).await?, self.format)?, returned: None, total })
            }
        }
    }

    fn forward(page: RowsPage, streams: &Forwarder<'_>) -> RowsPage {
        RowsPage { body: streams.stream(page.body), ..page }
    }
}

/// The columns a page has when it has no rows to show them.
fn page_schema(q: &RowQuery, schema: &arrow::datatypes::SchemaRef) -> arrow::datatypes::Schema {
    match &q.select {
        Some(cols) => arrow::datatypes::Schema::new(
            cols.iter().filter_map(|c| schema.field_with_name(c).ok().cloned()).collect::<Vec<_>>(),
        ),
        None => schema.as_ref().clone(),
    }
}

/// The rows a query selects as JSON objects, for a surface that shapes them itself
/// (GraphQL), with the version read and, when `count`, the number of matching rows.
/// Callers bound the page with `query.limit`.
pub struct FindRows {
    pub location: Url,
    pub at: TimeTravel,
    pub query: RowQuery,
    pub count: bool,
}

pub struct FoundRows {
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub total: Option<u64>,
    pub version: u64,
}

impl Operation for FindRows {
    type Output = FoundRows;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<FoundRows> {
        let delta = state.open(&self.location, self.at).await?;
        let version = delta.version().unwrap_or(0) as u64;
        let schema = table::arrow_schema(&delta)?;
        let ctx = state.session();
        read::register(&ctx, &delta).await?;
        let (page, matching) = read::query(&ctx, &schema, &self.query).await?;
        let total = if self.count { Some(matching.count().await? as u64) } else { None };
        let rows = output::to_json_rows(&page.collect().await?)?
            .into_iter()
            .filter_map(|row| match row {
                serde_json::Value::Object(map) => Some(map),
                _ => None,
            })
            .collect();
        Ok(FoundRows { rows, total, version })
    }
}

/// An aggregate function over one column (`Count` counts rows and takes no column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    Count,
    Min,
    Max,
    Sum,
    Avg,
}

impl AggregateFn {
    pub fn name(self) -> &'static str {
        match self {
            AggregateFn::Count => "count",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
            AggregateFn::Sum => "sum",
            AggregateFn::Avg => "avg",
        }
    }
}

/// Aggregates over the rows a filter matches, in one scan. The answer holds `count` for
/// [`AggregateFn::Count`] and `<function>.<column>` (`min.age`) for the others; a
/// function of no rows is null, as in SQL.
pub struct Aggregate {
    pub location: Url,
    pub at: TimeTravel,
    pub filter: Option<Filter>,
    pub functions: Vec<(AggregateFn, Option<String>)>,
}

impl Operation for Aggregate {
    type Output = serde_json::Map<String, serde_json::Value>;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<Self::Output> {
        use datafusion::functions_aggregate::expr_fn as f;
        let delta = state.open(&self.location, self.at).await?;
        let schema = table::arrow_schema(&delta)?;
        let ctx = state.session();
        read::register(&ctx, &delta).await?;
        let query = RowQuery { filter: self.filter, ..RowQuery::default() };
        let (_, matching) = read::query(&ctx, &schema, &query).await?;
        let mut exprs = Vec::with_capacity(self.functions.len());
        for (function, column) in &self.functions {
            let expr = match (function, column) {
                (AggregateFn::Count, _) => f::count(datafusion::prelude::lit(1)).alias("count"),
                (function, Some(column)) => {
                    if schema.field_with_name(column).is_err() {
                        return Err(EngineError::no_column(column));
                    }
                    let c = read::column(column);
                    let expr = match function {
                        AggregateFn::Min => f::min(c),
                        AggregateFn::Max => f::max(c),
                        AggregateFn::Sum => f::sum(c),
                        // A float, whatever the column: the mean of integers is rarely one,
                        // and that of decimals would widen their scale.
                        _ => f::avg(datafusion::logical_expr::cast(c, arrow::datatypes::DataType::Float64)),
                    };
                    expr.alias(format!("{}.{column}", function.name()))
                }
                (function, None) => {
                    return Err(EngineError::invalid(
                        crate::Input::Column,
                        format!("{} needs a column", function.name()),
                    ));
                }
            };
            exprs.push(expr);
        }
        let batches = matching.aggregate(vec![], exprs)?.collect().await?;
        match output::to_json_rows(&batches)?.into_iter().next() {
            Some(serde_json::Value::Object(row)) => Ok(row),
            _ => Ok(serde_json::Map::new()),
        }
    }
}

/// The whole table (or an earlier state of it), streamed.
pub struct Export {
    pub location: Url,
    pub at: TimeTravel,
    pub format: OutputFormat,
}

impl Operation for Export {
    type Output = ByteStream;
    const TIMEOUT: Timeout = Timeout::UntilAnswer;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<ByteStream> {
        let delta = state.open(&self.location, self.at).await?;
        let ctx = state.session();
        read::register(&ctx, &delta).await?;
        let stream = ctx.table(read::SELF).await?.execute_stream().await?;
        output::encode(exec::peeked(stream).await?, self.format)
    }

    fn forward(body: ByteStream, streams: &Forwarder<'_>) -> ByteStream {
        streams.stream(body)
    }
}

/// The rows best matching a search term (see `search`).
pub struct Search {
    pub location: Url,
    pub at: TimeTravel,
    pub term: String,
    pub limit: u64,
    pub format: OutputFormat,
}

impl Operation for Search {
    type Output = SearchOutput;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<SearchOutput> {
        search::search(&state, &self.location, self.at, &self.term, self.limit, self.format).await
    }

    fn forward(found: SearchOutput, streams: &Forwarder<'_>) -> SearchOutput {
        SearchOutput { body: streams.stream(found.body), ..found }
    }
}

/// Appends rows. Concurrent inserts into one table are queued and committed together
/// (`write::group`): whoever holds the table's lock commits every queued insert that
/// passes its own checks, and each request gets its own answer.
pub struct Insert {
    pub location: Url,
    pub format: InputFormat,
    pub body: Bytes,
    pub request: WriteRequest,
}

impl Operation for Insert {
    type Output = WriteOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<WriteOutcome> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending = write::group::PendingInsert {
            format: self.format,
            body: self.body,
            request: self.request,
            reply,
            redone: 0,
        };
        state.insert_queues.lock().expect("not poisoned").entry(self.location.to_string()).or_default().push(pending);
        // Detached, so that a caller going away cannot abort a commit that carries
        // other callers' rows.
        let location = self.location;
        tokio::spawn(async move {
            let mut redo: Vec<write::group::PendingInsert> = Vec::new();
            loop {
                // Taken for each group commit: a replica sharing write turns hands the
                // table over between commits instead of keeping it while its queue refills.
                let guard = state.lock(&location).await;
                let queued =
                    state.insert_queues.lock().expect("not poisoned").remove(location.as_str()).unwrap_or_default();
                let batch: Vec<_> = redo.drain(..).chain(queued).collect();
                if batch.is_empty() {
                    break;
                }
                redo = write::group::run(&state, &location, batch).await;
                drop(guard);
                match redo.iter().map(|p| p.redone).max() {
                    Some(n) => tokio::time::sleep(commit::redo_pause(n)).await,
                    None => break,
                }
            }
        });
        answer.await.map_err(|_| EngineError::internal("the insert was dropped before it was answered"))?
    }
}

/// Inserts rows, replacing those whose primary key exists (a table with a primary key).
pub struct Upsert {
    pub location: Url,
    pub format: InputFormat,
    pub body: Bytes,
    pub request: WriteRequest,
}

impl Operation for Upsert {
    type Output = WriteOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<WriteOutcome> {
        commit::redo(&state, || async {
            let _guard = state.lock(&self.location).await;
            write::upsert(&state, &self.location, self.format, &self.body, &self.request).await
        })
        .await
    }
}

/// Sets columns of the rows a filter matches (every row without one).
pub struct UpdateRows {
    pub location: Url,
    pub filter: Option<Filter>,
    pub set: serde_json::Map<String, serde_json::Value>,
    pub request: WriteRequest,
}

impl Operation for UpdateRows {
    type Output = WriteOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<WriteOutcome> {
        commit::redo(&state, || async {
            let _guard = state.lock(&self.location).await;
            write::update(&state, &self.location, self.filter.as_ref(), &self.set, &self.request).await
        })
        .await
    }
}

/// Deletes the rows a filter matches (every row without one).
pub struct DeleteRows {
    pub location: Url,
    pub filter: Option<Filter>,
    pub request: WriteRequest,
}

impl Operation for DeleteRows {
    type Output = WriteOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<WriteOutcome> {
        commit::redo(&state, || async {
            let _guard = state.lock(&self.location).await;
            write::delete(&state, &self.location, self.filter.as_ref(), &self.request).await
        })
        .await
    }
}
