//! Joins that yield: every join's output is wrapped in DataFusion's
//! `CooperativeExec`, so each batch it hands on spends tokio's cooperative
//! budget and the task yields every so often.
//!
//! Why: DataFusion makes its scans cooperative, but a join can turn one
//! input batch into thousands of output batches (a cross join, a hash join
//! with a huge fan-out) without reading its input again. An aggregate or
//! sort above it then loops without ever returning to the runtime, and a
//! statement cancelled by Ctrl-C or stopped by `--timeout` goes on until
//! the whole join is done. With the join's output spending the budget, the
//! task yields after at most a budget's worth of batches, and a cancelled
//! statement is dropped there.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;

/// The physical optimizer rule that wraps joins' outputs.
#[derive(Debug, Default)]
pub struct YieldingJoins;

fn is_join(plan: &dyn ExecutionPlan) -> bool {
    plan.name().ends_with("JoinExec")
}

impl PhysicalOptimizerRule for YieldingJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if is_join(node.as_ref()) {
                let wrapped: Arc<dyn ExecutionPlan> = Arc::new(CooperativeExec::new(node));
                Ok(Transformed::yes(wrapped))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "YieldingJoins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn every_join_hands_its_batches_on_through_a_cooperative_wrapper() {
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(YieldingJoins))
            .build();
        let ctx = SessionContext::new_with_state(state);
        for (sql, join) in [
            (
                "SELECT count(*) FROM (VALUES (1),(2)) a(x), (VALUES (3)) b(y) WHERE a.x < b.y",
                "JoinExec",
            ),
            (
                "SELECT sum(a.x + b.y) FROM (VALUES (1),(2)) a(x) JOIN (VALUES (1)) b(y) ON a.x = b.y",
                "JoinExec",
            ),
        ] {
            let plan = ctx
                .sql(sql)
                .await
                .expect("plans")
                .create_physical_plan()
                .await
                .expect("physical plan");
            let text = displayable(plan.as_ref()).indent(false).to_string();
            let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
            let at = lines
                .iter()
                .position(|l| l.split(':').next().is_some_and(|n| n.ends_with(join)))
                .unwrap_or_else(|| panic!("no join in\n{text}"));
            assert!(
                at > 0 && lines[at - 1].starts_with("CooperativeExec"),
                "{text}"
            );
        }
    }
}
