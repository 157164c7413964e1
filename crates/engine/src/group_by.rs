//! Grouping by one string column: a partial aggregation that looks each distinct value
//! of a batch up once, not each row.
//!
//! DataFusion's partial aggregation hashes every row's string into its group table
//! (`ArrowBytesViewMap`): on `GROUP BY country` over 5M rows that was 10 ns a row, half
//! of the query. Strings are read as views (16 bytes: length, prefix, and the bytes
//! themselves up to 12, else where they are stored), and a batch read from one Parquet
//! column chunk holds the same view for each repetition of a value, because the views
//! are copied from the chunk's dictionary. So [`ViewGroupPartialExec`] first numbers a
//! batch's distinct views in a small table keyed by the 16 raw bytes (a few ns a row),
//! gives only those distinct values to DataFusion's group table, and maps each row to its
//! group through its view's number. Two different views of one string (stored twice)
//! still meet in the group table, so the views are only a shortcut, never the key.
//!
//! When a batch has too many distinct views for the shortcut to pay (an id or e-mail
//! column), the stream gives it up and interns rows directly, as DataFusion does.
//! [`ViewGroupBy`] puts the operator in place of a `Partial` aggregation grouped by one
//! string or binary expression, with aggregates that all have a groups accumulator and no
//! ordering or DISTINCT. Its schema, properties and expressions are those of the
//! aggregation it replaces; like it, the operator accounts its memory and, short of
//! memory, answers the groups it has early (the final aggregation merges them).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, aggregate_expressions, evaluate_many};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PhysicalExpr, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::StreamExt;

/// Replaces each eligible `Partial` aggregation by a [`ViewGroupPartialExec`].
#[derive(Debug, Default)]
pub(crate) struct ViewGroupBy;

impl PhysicalOptimizerRule for ViewGroupBy {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !eligible(aggregate)? {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(ViewGroupPartialExec::new(aggregate.clone())) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "lakeward_view_group_by"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A partial aggregation by one view-typed expression, over unordered input, whose
/// aggregates all update by group index with nothing else to respect.
fn eligible(aggregate: &AggregateExec) -> Result<bool> {
    let group_by = aggregate.group_expr();
    if *aggregate.mode() != AggregateMode::Partial
        || !group_by.is_single()
        || group_by.expr().len() != 1
        || aggregate.limit_options().is_some()
        || !aggregate.dynamic_expressions_produced().is_empty()
        || *aggregate.input_order_mode() != InputOrderMode::Linear
    {
        return Ok(false);
    }
    let key_type = group_by.expr()[0].0.data_type(&aggregate.input_schema())?;
    let plain_aggregates = aggregate
        .aggr_expr()
        .iter()
        .all(|a| a.groups_accumulator_supported() && a.order_bys().is_empty() && !a.is_distinct());
    Ok(matches!(key_type, DataType::Utf8View | DataType::BinaryView) && plain_aggregates)
}

/// The partial aggregation it replaces, computed with a per-batch numbering of views.
#[derive(Debug)]
pub(crate) struct ViewGroupPartialExec {
    /// The replaced aggregation: its schema, properties and expressions are this one's.
    aggregate: AggregateExec,
    metrics: ExecutionPlanMetricsSet,
}

impl ViewGroupPartialExec {
    fn new(aggregate: AggregateExec) -> Self {
        Self { aggregate, metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl DisplayAs for ViewGroupPartialExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let groups: Vec<&str> = self.aggregate.group_expr().expr().iter().map(|(_, name)| name.as_str()).collect();
        let aggregates: Vec<&str> = self.aggregate.aggr_expr().iter().map(|a| a.name()).collect();
        write!(f, "ViewGroupPartialExec: gby=[{}], aggr=[{}]", groups.join(", "), aggregates.join(", "))
    }
}

impl ExecutionPlan for ViewGroupPartialExec {
    fn name(&self) -> &str {
        "ViewGroupPartialExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.aggregate.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let replaced = Arc::new(self.aggregate.clone()).replace_children(children, options)?;
        let aggregate = replaced
            .downcast_ref::<AggregateExec>()
            .ok_or_else(|| DataFusionError::Internal("an aggregation stays an aggregation".into()))?;
        Ok(Arc::new(Self::new(aggregate.clone())))
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(datafusion::physical_plan::ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.aggregate.input().execute(partition, context.clone())?;
        let schema = self.aggregate.schema();
        let grouping = Grouping::new(&self.aggregate, partition, &context)?;
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let state = (input, grouping, VecDeque::<RecordBatch>::new(), false);
        let stream = futures::stream::try_unfold(state, move |(mut input, mut grouping, mut ready, mut done)| {
            let metrics = metrics.clone();
            async move {
                loop {
                    if let Some(batch) = ready.pop_front() {
                        metrics.record_output(batch.num_rows());
                        return Ok(Some((batch, (input, grouping, ready, done))));
                    }
                    if done {
                        return Ok(None);
                    }
                    let next = input.next().await;
                    let _timer = metrics.elapsed_compute().timer();
                    match next {
                        Some(batch) => ready.extend(grouping.update(&batch?)?),
                        None => {
                            ready.extend(grouping.emit()?);
                            done = true;
                        }
                    }
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition's groups and accumulators.
struct Grouping {
    key: Arc<dyn PhysicalExpr>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    groups: Box<dyn GroupValues>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// Set while batches repeat their views enough to number them first.
    numbering: Option<ViewNumbers>,
    /// The group of each distinct view of the batch, then of each row.
    view_groups: Vec<usize>,
    row_groups: Vec<usize>,
    schema: SchemaRef,
    batch_size: usize,
    reservation: MemoryReservation,
}

impl Grouping {
    fn new(aggregate: &AggregateExec, partition: usize, context: &TaskContext) -> Result<Self> {
        let input_schema = aggregate.input_schema();
        let group_schema = aggregate.group_expr().group_schema(&input_schema)?;
        let aggregates = aggregate.aggr_expr().to_vec();
        let reservation =
            MemoryConsumer::new(format!("ViewGroupPartialExec[{partition}]")).register(context.memory_pool());
        Ok(Self {
            key: aggregate.group_expr().expr()[0].0.clone(),
            arguments: aggregate_expressions(&aggregates, aggregate.mode(), 0)?,
            filters: aggregate.filter_expr().to_vec(),
            accumulators: accumulators(&aggregates)?,
            aggregates,
            groups: new_group_values(group_schema, &GroupOrdering::None)?,
            numbering: Some(ViewNumbers::default()),
            view_groups: Vec::new(),
            row_groups: Vec::new(),
            schema: aggregate.schema(),
            batch_size: context.session_config().batch_size(),
            reservation,
        })
    }

    /// Adds a batch; under memory pressure, answers the groups so far (a partial
    /// aggregation may emit a group more than once: the final one merges them).
    fn update(&mut self, batch: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let key = self.key.evaluate(batch)?.into_array(batch.num_rows())?;
        self.assign_groups(&key)?;
        let total_groups = self.groups.len();
        let arguments = evaluate_many(&self.arguments, batch)?;
        for ((accumulator, values), filter) in self.accumulators.iter_mut().zip(&arguments).zip(&self.filters) {
            let filter = match filter {
                Some(f) => Some(f.evaluate(batch)?.into_array(batch.num_rows())?),
                None => None,
            };
            let filter: Option<&BooleanArray> = filter.as_ref().map(|f| f.as_boolean());
            accumulator.update_batch(values, &self.row_groups, filter, total_groups)?;
        }
        if self.reservation.try_resize(self.size()).is_ok() {
            return Ok(Vec::new());
        }
        let emitted = self.emit()?;
        self.reservation.try_resize(self.size())?;
        Ok(emitted)
    }

    /// Sets `row_groups` to each row's group.
    fn assign_groups(&mut self, key: &ArrayRef) -> Result<()> {
        if let Some(numbering) = &mut self.numbering {
            if let Some(firsts) = numbering.number(key) {
                let distinct = arrow::compute::take(key.as_ref(), &UInt32Array::from(firsts.to_vec()), None)?;
                self.groups.intern(&[distinct], &mut self.view_groups)?;
                self.row_groups.clear();
                self.row_groups.extend(numbering.numbers.iter().map(|&n| self.view_groups[n as usize - 1]));
                return Ok(());
            }
            self.numbering = None;
        }
        self.groups.intern(std::slice::from_ref(key), &mut self.row_groups)
    }

    fn size(&self) -> usize {
        self.groups.size()
            + self.accumulators.iter().map(|a| a.size()).sum::<usize>()
            + self.numbering.as_ref().map_or(0, ViewNumbers::size)
            + (self.view_groups.capacity() + self.row_groups.capacity()) * size_of::<usize>()
    }

    /// Answers every group with its accumulator states, and starts over.
    fn emit(&mut self) -> Result<Vec<RecordBatch>> {
        if self.groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut columns = self.groups.emit(EmitTo::All)?;
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        self.accumulators = accumulators(&self.aggregates)?;
        self.groups.clear_shrink(0);
        let all = RecordBatch::try_new(self.schema.clone(), columns)?;
        let step = self.batch_size.max(1);
        Ok((0..all.num_rows()).step_by(step).map(|at| all.slice(at, step.min(all.num_rows() - at))).collect())
    }
}

fn accumulators(aggregates: &[Arc<AggregateFunctionExpr>]) -> Result<Vec<Box<dyn GroupsAccumulator>>> {
    aggregates.iter().map(|a| a.create_groups_accumulator()).collect()
}

/// Numbers the distinct views of a batch (nulls as one more), keyed by their raw bytes.
/// Numbers start at 1: in `slots`, 0 marks a free slot.
#[derive(Default)]
struct ViewNumbers {
    /// Open addressing, linear probing: the number of the view hashed there.
    slots: Vec<u32>,
    /// Each number's view; `views[0]` stands for no view.
    views: Vec<u128>,
    /// The first row of each number (of number `n` at `n - 1`), and each row's number.
    firsts: Vec<u32>,
    numbers: Vec<u32>,
}

impl ViewNumbers {
    /// Numbers `key`'s rows (a view array); `None` when over half of them are distinct,
    /// where numbering costs more than it saves.
    fn number(&mut self, key: &ArrayRef) -> Option<&[u32]> {
        let views: &[u128] = match key.data_type() {
            DataType::Utf8View => key.as_string_view().views(),
            DataType::BinaryView => key.as_binary_view().views(),
            _ => return None,
        };
        let most = (key.len() / 2).max(16);
        let capacity = (most * 2).next_power_of_two();
        let (shift, mask) = (64 - capacity.trailing_zeros(), capacity - 1);
        self.slots.clear();
        self.slots.resize(capacity, 0);
        self.views.clear();
        self.views.push(0);
        self.firsts.clear();
        self.numbers.clear();
        self.numbers.resize(key.len(), 0);
        let nulls = key.logical_nulls();
        let mut null_number = None;
        for (row, (&view, number)) in views.iter().zip(self.numbers.iter_mut()).enumerate() {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                *number = *null_number.get_or_insert_with(|| {
                    self.firsts.push(row as u32);
                    self.views.push(0);
                    self.firsts.len() as u32
                });
                continue;
            }
            let mut slot = slot_of(view, shift);
            *number = loop {
                let n = self.slots[slot & mask];
                if n == 0 {
                    if self.firsts.len() >= most {
                        return None;
                    }
                    self.firsts.push(row as u32);
                    self.views.push(view);
                    self.slots[slot & mask] = self.firsts.len() as u32;
                    break self.firsts.len() as u32;
                }
                if self.views[n as usize] == view {
                    break n;
                }
                slot += 1;
            };
        }
        Some(&self.firsts)
    }

    fn size(&self) -> usize {
        (self.slots.capacity() + self.firsts.capacity() + self.numbers.capacity()) * size_of::<u32>()
            + self.views.capacity() * size_of::<u128>()
    }
}

/// A slot for a view: its two halves folded, then multiplied (Fibonacci hashing).
fn slot_of(view: u128, shift: u32) -> usize {
    let folded = (view as u64) ^ ((view >> 64) as u64).rotate_left(32);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    use super::*;

    fn context(rule: bool) -> SessionContext {
        let builder = SessionStateBuilder::new().with_default_features();
        let builder = if rule { builder.with_physical_optimizer_rule(Arc::new(ViewGroupBy)) } else { builder };
        SessionContext::new_with_state(builder.build())
    }

    /// Keys repeating within batches, nulls, the empty string, strings longer than a view
    /// holds, and the same long string stored in different batches (so in different
    /// views); a last batch of all-distinct keys, where numbering gives up.
    fn batches() -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8View, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let long = "a string longer than twelve bytes";
        let repeating = |offset: i64| {
            let keys: Vec<Option<&str>> =
                (0..1000).map(|i| [Some("DE"), None, Some(""), Some(long), Some("FR")][i % 5]).collect();
            let values: Vec<Option<i64>> =
                (0..1000).map(|i| if i % 7 == 0 { None } else { Some(i as i64 + offset) }).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringViewArray::from(keys)), Arc::new(Int64Array::from(values))],
            )
            .unwrap()
        };
        let distinct_keys: Vec<String> = (0..1000).map(|i| format!("{long} #{}", i % 900)).collect();
        let distinct = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringViewArray::from(distinct_keys.iter().map(|k| Some(k.as_str())).collect::<Vec<_>>())),
                Arc::new(Int64Array::from((0..1000).collect::<Vec<i64>>())),
            ],
        )
        .unwrap();
        vec![repeating(0), repeating(10_000), distinct, repeating(20_000)]
    }

    async fn run(rule: bool, sql: &str) -> (Vec<RecordBatch>, String) {
        let ctx = context(rule);
        let data = batches();
        // Two partitions, so that partial results meet in a final aggregation.
        let table = MemTable::try_new(data[0].schema(), vec![data[..2].to_vec(), data[2..].to_vec()]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let df = ctx.sql(sql).await.unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        (collect(plan, ctx.task_ctx()).await.unwrap(), shown)
    }

    #[tokio::test]
    async fn answers_what_datafusion_answers() {
        let sql = "SELECT k, count(*) AS n, count(v) AS nv, sum(v) AS s, min(v) AS lo, max(v) AS hi, avg(v) AS mean, \
                   count(*) FILTER (WHERE v % 2 = 0) AS even, max(k) AS mk \
                   FROM t GROUP BY k ORDER BY k NULLS FIRST";
        let (ours, plan) = run(true, sql).await;
        assert!(plan.contains("ViewGroupPartialExec"), "{plan}");
        let (theirs, plan) = run(false, sql).await;
        assert!(!plan.contains("ViewGroupPartialExec"), "{plan}");
        let ours = arrow::util::pretty::pretty_format_batches(&ours).unwrap().to_string();
        let theirs = arrow::util::pretty::pretty_format_batches(&theirs).unwrap().to_string();
        assert_eq!(ours, theirs);
        // 4 repeating keys and null, and 900 distinct long ones.
        assert_eq!(ours.lines().count(), 905 + 4, "{ours}");
        let de = ours.lines().find(|l| l.starts_with("| DE ")).expect("a DE group");
        assert_eq!(de.split('|').map(str::trim).nth(2), Some("600"), "{de}");
    }

    #[tokio::test]
    async fn leaves_other_aggregations_alone() {
        for sql in [
            "SELECT v, count(*) FROM t GROUP BY v",
            "SELECT k, v, count(*) FROM t GROUP BY k, v",
            "SELECT k, count(*) FROM t GROUP BY ROLLUP (k)",
            "SELECT k, array_agg(v ORDER BY v) FROM t GROUP BY k",
        ] {
            let (_, plan) = run(true, sql).await;
            assert!(!plan.contains("ViewGroupPartialExec"), "{sql}: {plan}");
        }
    }

    /// Short of memory, the partial aggregation answers the groups it has and starts
    /// over; the partial counts still add up to the true ones.
    #[tokio::test]
    async fn emits_early_when_memory_runs_short() {
        let ctx = context(true);
        let mut data = batches();
        // 4000 more distinct keys, far more than the memory pool below holds.
        for b in 0..4 {
            let keys: Vec<String> = (0..1000).map(|i| format!("key number {b}-{i} of many")).collect();
            let keys: Vec<Option<&str>> = keys.iter().map(|k| Some(k.as_str())).collect();
            let values = Int64Array::from(vec![1; 1000]);
            data.push(
                RecordBatch::try_new(data[0].schema(), vec![Arc::new(StringViewArray::from(keys)), Arc::new(values)])
                    .unwrap(),
            );
        }
        // Keys seen before, after the groups were answered early.
        data.push(data[0].clone());
        let table = MemTable::try_new(data[0].schema(), vec![data]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let plan = ctx.sql("SELECT k, count(*) FROM t GROUP BY k").await.unwrap().create_physical_plan().await.unwrap();
        let mut partial = None;
        plan.apply(|node| {
            if node.name() == "ViewGroupPartialExec" {
                partial = Some(node.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        let partial = partial.expect("the rule applied");
        let in_pool = |bytes: usize| {
            let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(GreedyMemoryPool::new(bytes)));
            Arc::new(TaskContext::default().with_runtime(runtime.build_arc().unwrap()))
        };
        // Not even one batch's bookkeeping fits: the query ends with a clear error.
        let refused = collect(partial.clone(), in_pool(1024)).await.unwrap_err();
        assert!(refused.to_string().contains("Resources exhausted"), "{refused}");
        let output = collect(partial, in_pool(64 * 1024)).await.unwrap();
        let mut counts: std::collections::HashMap<Option<String>, i64> = Default::default();
        let mut emitted_rows = 0;
        for batch in &output {
            let keys = batch.column(0).as_string_view();
            let states = batch.column(1).as_primitive::<arrow::datatypes::Int64Type>();
            for i in 0..batch.num_rows() {
                *counts.entry(keys.is_valid(i).then(|| keys.value(i).to_owned())).or_default() += states.value(i);
                emitted_rows += 1;
            }
        }
        assert_eq!(counts[&Some("DE".to_owned())], 800);
        assert_eq!(counts[&None], 800);
        assert_eq!(counts[&Some("key number 3-999 of many".to_owned())], 1);
        assert_eq!(counts.values().sum::<i64>(), 9000);
        assert_eq!(counts.len(), 4905);
        assert!(emitted_rows > 4905, "no early emission: {emitted_rows} rows");
    }
}
