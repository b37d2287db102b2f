//! Event-time filters prune `date` partitions. The lake's `date=`
//! partition is the UTC day of each event's `eventTime`, so a filter such
//! as `eventtime > '2026-04-01'` implies `date >= '2026-04-01'`. The
//! wrapper below adds those implied partition filters to the scan, so the
//! listing skips whole days a query cannot match, as Athena users expect
//! from partition projection — without having to write `date` filters.
//!
//! Handled: `eventtime` compared with a string, `eventtimestamp` or
//! `from_iso8601_timestamp(eventtime)` compared with a timestamp (after
//! constant folding, so `now() - INTERVAL '1' DAY` counts), with `<`,
//! `<=`, `=`, `>=`, `>` and `BETWEEN`, either side. Comparisons on the
//! text column are widened by a day, because the text may carry a UTC
//! offset whose local day differs from the partition's UTC day. The
//! original filter always stays, so results never change — only the files
//! read do.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{Constraints, Result, ScalarValue, Statistics};
use datafusion::logical_expr::{
    Between, BinaryExpr, Expr, LogicalPlan, Operator, TableProviderFilterPushDown, TableType, col,
    lit,
};
use datafusion::physical_plan::ExecutionPlan;

/// A table (the lake's `cloudtrail_logs`) whose scans also get the `date`
/// filters its event-time filters imply.
#[derive(Debug)]
pub struct EventTimePruning {
    inner: Arc<dyn TableProvider>,
}

impl EventTimePruning {
    pub fn new(inner: Arc<dyn TableProvider>) -> EventTimePruning {
        EventTimePruning { inner }
    }
}

/// The filters plus the partition filters they imply.
pub fn with_implied_date_filters(filters: &[Expr]) -> Vec<Expr> {
    let mut out = filters.to_vec();
    for f in filters {
        out.extend(implied_date_filters(f));
    }
    out
}

#[derive(Clone, Copy)]
enum Bound {
    AtLeast,
    AtMost,
}

/// The event's day that a comparison of an event-time expression with a
/// constant bounds, and how many days of slack it needs.
fn bounded_day(column: &Expr, value: &Expr) -> Option<(NaiveDate, u64)> {
    let Expr::Literal(value, _) = value else {
        return None;
    };
    match column {
        Expr::Column(c) if c.name == "eventtime" => {
            let text = value.try_as_str()??;
            let day = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
            Some((day, 1))
        }
        Expr::Column(c) if c.name == "eventtimestamp" => Some((utc_day(value)?, 0)),
        Expr::ScalarFunction(f)
            if f.name() == "from_iso8601_timestamp"
                && matches!(f.args.as_slice(), [Expr::Column(c)] if c.name == "eventtime") =>
        {
            Some((utc_day(value)?, 0))
        }
        _ => None,
    }
}

fn utc_day(value: &ScalarValue) -> Option<NaiveDate> {
    let nanos = match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000_000)?,
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000_000)?,
        ScalarValue::TimestampMicrosecond(Some(v), _) => v.checked_mul(1_000)?,
        ScalarValue::TimestampNanosecond(Some(v), _) => *v,
        _ => return None,
    };
    Some(DateTime::from_timestamp_nanos(nanos).date_naive())
}

fn date_filter(day: NaiveDate, slack: u64, bound: Bound) -> Option<Expr> {
    let date = col("date");
    Some(match bound {
        Bound::AtLeast => {
            let d = day.checked_sub_days(Days::new(slack))?;
            date.gt_eq(lit(d.format("%Y-%m-%d").to_string()))
        }
        Bound::AtMost => {
            let d = day.checked_add_days(Days::new(slack))?;
            date.lt_eq(lit(d.format("%Y-%m-%d").to_string()))
        }
    })
}

/// The `date` filters that `filter` implies (none for most filters).
pub fn implied_date_filters(filter: &Expr) -> Vec<Expr> {
    let bounds: Vec<(&Expr, &Expr, Bound)> = match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            // Put the event-time side first; a constant on the left flips
            // the comparison.
            let (column, value, op) = match (left.as_ref(), right.as_ref()) {
                (c, v @ Expr::Literal(..)) => (c, v, *op),
                (v @ Expr::Literal(..), c) => match op.swap() {
                    Some(op) => (c, v, op),
                    None => return Vec::new(),
                },
                _ => return Vec::new(),
            };
            match op {
                Operator::Gt | Operator::GtEq => vec![(column, value, Bound::AtLeast)],
                Operator::Lt | Operator::LtEq => vec![(column, value, Bound::AtMost)],
                Operator::Eq => vec![
                    (column, value, Bound::AtLeast),
                    (column, value, Bound::AtMost),
                ],
                _ => Vec::new(),
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => vec![(expr, low, Bound::AtLeast), (expr, high, Bound::AtMost)],
        _ => Vec::new(),
    };
    bounds
        .into_iter()
        .filter_map(|(column, value, bound)| {
            let (day, slack) = bounded_day(column, value)?;
            date_filter(day, slack, bound)
        })
        .collect()
}

#[async_trait]
impl TableProvider for EventTimePruning {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters = with_implied_date_filters(filters);
        self.inner.scan(state, projection, &filters, limit).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> Result<ScanResult> {
        let filters = with_implied_date_filters(args.filters().unwrap_or(&[]));
        let args = args.with_filters(Some(&filters));
        self.inner.scan_with_args(state, args).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(filters: Vec<Expr>) -> Vec<String> {
        filters.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn text_comparisons_imply_widened_day_bounds() {
        let f = col("eventtime").gt(lit("2026-04-01"));
        assert_eq!(
            texts(implied_date_filters(&f)),
            ["date >= Utf8(\"2026-03-31\")"]
        );
        let f = lit("2026-04-03T10:00:00Z").gt(col("eventtime"));
        assert_eq!(
            texts(implied_date_filters(&f)),
            ["date <= Utf8(\"2026-04-04\")"]
        );
        let f = col("eventtime").between(lit("2026-04-01"), lit("2026-04-02T00:00:00Z"));
        assert_eq!(
            texts(implied_date_filters(&f)),
            [
                "date >= Utf8(\"2026-03-31\")",
                "date <= Utf8(\"2026-04-03\")"
            ]
        );
    }

    #[test]
    fn timestamp_comparisons_are_exact() {
        // 2026-04-01T12:00:00Z in milliseconds.
        let t = ScalarValue::TimestampMillisecond(Some(1_775_044_800_000), Some("UTC".into()));
        let f = col("eventtimestamp").gt_eq(lit(t));
        assert_eq!(
            texts(implied_date_filters(&f)),
            ["date >= Utf8(\"2026-04-01\")"]
        );
    }

    #[test]
    fn other_filters_imply_nothing() {
        assert!(implied_date_filters(&col("eventname").eq(lit("x"))).is_empty());
        assert!(implied_date_filters(&col("eventtime").not_eq(lit("2026-04-01"))).is_empty());
        assert!(implied_date_filters(&col("eventtime").gt(lit("yesterday"))).is_empty());
        assert!(implied_date_filters(&col("eventtime").gt(col("x"))).is_empty());
    }
}
