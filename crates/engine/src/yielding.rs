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

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;

#[derive(Debug, Default)]
pub(crate) struct YieldEverywhere;

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
