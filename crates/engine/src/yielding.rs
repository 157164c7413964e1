//! A yield point after every operator, so that a query stops soon after it is abandoned.
//!
//! A query past its timeout, or whose client went away, is stopped by aborting its task
//! (see `exec`); an abort takes effect only when the task next returns `Pending`. An
//! operator that loops over its input's batches (an aggregation, a sort) returns `Pending`
//! only when its input does, and DataFusion's own yield points sit at the leaves: one
//! input batch of a non-equi join with two million rows on the other side makes millions
//! of output batches first, and the query went on for a minute after its timeout.
//! [`YieldEverywhere`] puts DataFusion's `CooperativeExec` on every operator's output: each
//! batch spends from tokio's task budget, and once that is spent the task yields, and an
//! abort lands, within some hundred batches.
//!
//! One poll can still run long: DataFusion's nested-loop join, before it returns, tries
//! build rows one by one against a probe batch until it has a batch of output, and with
//! a selective filter (`a.value < b.value` on ranges) that is every build row, seconds of
//! work. So the filter of every nested-loop join is wrapped in [`UnlessAbandoned`], which
//! ends the query with an error once the query is abandoned (`exec::Abandoned`).

use std::sync::Arc;

use arrow::datatypes::{FieldRef, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::joins::NestedLoopJoinExec;
use datafusion::physical_plan::joins::utils::JoinFilter;

use crate::exec::Abandoned;

#[derive(Debug, Default)]
pub(crate) struct YieldEverywhere {
    /// The flag of the query the session plans, when it runs one.
    pub(crate) abandoned: Option<Abandoned>,
}

fn cooperative(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.is::<CooperativeExec>()
}

impl PhysicalOptimizerRule for YieldEverywhere {
    fn name(&self) -> &str {
        "lakeward_yield_everywhere"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let node = match (&self.abandoned, node.downcast_ref::<NestedLoopJoinExec>()) {
                (Some(abandoned), Some(join)) => stop_when_abandoned(join, abandoned)?,
                _ => node,
            };
            if cooperative(&node) || node.children().iter().all(|c| cooperative(c)) {
                return Ok(Transformed::no(node));
            }
            let children = node
                .children()
                .into_iter()
                .map(|c| if cooperative(c) { c.clone() } else { Arc::new(CooperativeExec::new(c.clone())) as _ })
                .collect();
            // The wrapper keeps its input's properties: nothing is recomputed.
            Ok(Transformed::yes(replace_children_if_necessary(node, children)?))
        })
        .map(|t| t.data)
    }
}

/// `join` with its filter checking `abandoned` first.
fn stop_when_abandoned(join: &NestedLoopJoinExec, abandoned: &Abandoned) -> Result<Arc<dyn ExecutionPlan>> {
    let filter = join.filter().map(|f| {
        let checked = Arc::new(UnlessAbandoned { inner: f.expression().clone(), abandoned: abandoned.clone() });
        JoinFilter::new(checked, f.column_indices().to_vec(), f.schema().clone())
    });
    let projection = join.projection().as_ref().map(|p| p.iter().copied().collect());
    Ok(Arc::new(NestedLoopJoinExec::try_new(
        join.left().clone(),
        join.right().clone(),
        filter,
        join.join_type(),
        projection,
    )?))
}

/// An expression that fails once its query is abandoned, and is `inner` until then.
#[derive(Debug)]
struct UnlessAbandoned {
    inner: Arc<dyn PhysicalExpr>,
    abandoned: Abandoned,
}

impl PartialEq for UnlessAbandoned {
    fn eq(&self, other: &Self) -> bool {
        self.inner.eq(&other.inner)
    }
}

impl Eq for UnlessAbandoned {}

impl std::hash::Hash for UnlessAbandoned {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl std::fmt::Display for UnlessAbandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl PhysicalExpr for UnlessAbandoned {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if self.abandoned.is_set() {
            return Err(DataFusionError::Execution("the query was abandoned".into()));
        }
        self.inner.evaluate(batch)
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.inner]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        let inner = children.into_iter().next().expect("one child");
        Ok(Arc::new(UnlessAbandoned { inner, abandoned: self.abandoned.clone() }))
    }

    fn fmt_sql(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt_sql(f)
    }
}
