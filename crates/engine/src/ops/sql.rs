//! Read-only SQL over the caller's tables (the sandbox is `crate::sql`).

use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::{ParamValues, ScalarValue, metadata::ScalarAndMetadata};
use datafusion::logical_expr::LogicalPlan;
use url::Url;

use super::{Forwarder, Operation, Timeout};
use crate::error::{EngineError, EngineResult, Input};
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
    /// Values for the query's placeholders (`$1`, `$2`, ...): one row, a column each.
    pub params: Option<RecordBatch>,
}

impl Operation for Sql {
    type Output = SqlOutput;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<SqlOutput> {
        let started = Instant::now();
        let (ctx, plan) = planned(&state, &self.tables, &self.query).await?;
        let plan = bind(plan, self.params.as_ref())?;
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
    state: &Arc<EngineState>,
    tables: &[SqlTable],
    query: &str,
) -> EngineResult<(datafusion::prelude::SessionContext, datafusion::logical_expr::LogicalPlan)> {
    sql::check_size(query)?;
    let ctx = state.session();
    sql::register_tables(state, &ctx, tables)?;
    let plan = sql::plan(&ctx, query).await?;
    Ok((ctx, plan))
}

/// The placeholders of `plan` given the values of `params`' one row, in order.
fn bind(plan: LogicalPlan, params: Option<&RecordBatch>) -> EngineResult<LogicalPlan> {
    let placeholders = plan.get_parameter_types()?.len();
    let given = params.map_or(0, |p| p.num_columns());
    if placeholders != given {
        return Err(EngineError::invalid(
            Input::Query,
            format!("the query has {placeholders} placeholder(s) ($1, $2, ...) and {given} value(s) were bound"),
        ));
    }
    let Some(params) = params else { return Ok(plan) };
    if params.num_rows() != 1 {
        return Err(EngineError::invalid(Input::Query, "bind one row of parameter values"));
    }
    let values = params
        .columns()
        .iter()
        .map(|c| ScalarValue::try_from_array(c, 0).map(ScalarAndMetadata::from))
        .collect::<Result<Vec<_>, _>>()?;
    plan.with_param_values(ParamValues::List(values)).map_err(|e| {
        EngineError::invalid(Input::Query, format!("the parameters do not fit the query: {}", e.message()))
    })
}

/// What a query answers, without running it: the schema of its Arrow answer
/// (`OutputFormat::ArrowStream`), and its placeholders in order with the types the
/// query gives them (`Null` where it gives none).
pub struct SqlShape {
    pub schema: SchemaRef,
    pub parameters: SchemaRef,
}

/// A query's [`SqlShape`], for a Flight SQL client before it fetches the rows. Checked as
/// [`Sql`] checks a query, so a query refused there is refused here with the same error.
pub struct SqlSchema {
    pub tables: Vec<SqlTable>,
    pub query: String,
    pub view_types: bool,
    pub params: Params,
}

/// The parameter values a [`SqlSchema`] is asked about.
pub enum Params {
    /// A statement being prepared: its placeholders are reported, not checked.
    NotYetBound,
    /// The values the query will run with (none, or one row), checked against its
    /// placeholders as [`Sql`] checks them.
    Bound(Option<RecordBatch>),
}

impl Operation for SqlSchema {
    type Output = SqlShape;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<SqlShape> {
        let (_, plan) = planned(&state, &self.tables, &self.query).await?;
        if let Params::Bound(params) = &self.params {
            bind(plan.clone(), params.as_ref())?;
        }
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let schema = if self.view_types { schema } else { output::standard_schema(&schema) };
        let mut placeholders: Vec<(String, Option<DataType>)> = plan.get_parameter_types()?.into_iter().collect();
        placeholders.sort_by_key(|(id, _)| (id.trim_start_matches('$').parse::<u64>().unwrap_or(u64::MAX), id.clone()));
        let fields: Vec<Field> =
            placeholders.into_iter().map(|(id, t)| Field::new(id, t.unwrap_or(DataType::Null), true)).collect();
        Ok(SqlShape { schema, parameters: Arc::new(Schema::new(fields)) })
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
