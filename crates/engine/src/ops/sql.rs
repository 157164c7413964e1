//! Read-only SQL over the caller's tables (the sandbox is `crate::sql`).

use std::sync::Arc;
use std::time::Instant;

use url::Url;

use super::{Forwarder, Operation, Timeout};
use crate::error::EngineResult;
use crate::output::{self, ByteStream, OutputFormat};
use crate::sql::{self, SqlTable};
use crate::state::EngineState;
use crate::{exec, redact, types};

/// A SQL result, encoded.
pub struct SqlOutput {
    pub body: ByteStream,
    pub columns: Vec<(String, String)>,
    pub affected_tables: Vec<String>,
    pub started: Instant,
}

/// One read-only query over `tables` (the only tables its session holds).
pub struct Sql {
    pub tables: Vec<SqlTable>,
    pub query: String,
    pub format: OutputFormat,
}

impl Operation for Sql {
    type Output = SqlOutput;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<SqlOutput> {
        let started = Instant::now();
        let (ctx, plan) = planned(&state, &self.tables, &self.query).await?;
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
            let roots: Vec<Url> = self.tables.iter().map(|t| t.location.clone()).collect();
            let batches = batches.into_iter().map(|b| redact_batch(&b, &roots)).collect::<EngineResult<Vec<_>>>()?;
            let schema =
                batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
            let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema,
                futures::stream::iter(batches.into_iter().map(Ok)),
            );
            output::encode(Box::pin(stream), self.format)?
        } else {
            let stream = df.execute_stream().await?;
            output::encode(exec::peeked(stream).await?, self.format)?
        };
        Ok(SqlOutput { body, columns, affected_tables, started })
    }

    fn forward(output: SqlOutput, streams: &Forwarder<'_>) -> SqlOutput {
        SqlOutput { body: streams.stream(output.body), ..output }
    }
}

/// The query checked and planned in a session holding only `tables`.
async fn planned(
    state: &EngineState,
    tables: &[SqlTable],
    query: &str,
) -> EngineResult<(datafusion::prelude::SessionContext, datafusion::logical_expr::LogicalPlan)> {
    sql::check_size(query)?;
    let ctx = state.session();
    sql::register_tables(state, &ctx, tables).await?;
    let plan = sql::plan(&ctx, query).await?;
    Ok((ctx, plan))
}

/// The schema of a query's Arrow answer (`OutputFormat::ArrowStream`), without running
/// it: what a Flight SQL client is told before it fetches the rows. Checked as [`Sql`]
/// checks a query, so a query refused there is refused here with the same error.
pub struct SqlSchema {
    pub tables: Vec<SqlTable>,
    pub query: String,
    pub view_types: bool,
}

impl Operation for SqlSchema {
    type Output = arrow::datatypes::SchemaRef;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<arrow::datatypes::SchemaRef> {
        let (_, plan) = planned(&state, &self.tables, &self.query).await?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        Ok(if self.view_types { schema } else { output::standard_schema(&schema) })
    }
}

/// An EXPLAIN answer with every storage location replaced by the table's name.
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
