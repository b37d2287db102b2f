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
                && matches!(f.args.as_slice(), [arg] if is_eventtime(arg)) =>
        {
            Some((utc_day(value)?, 0))
        }
        _ => None,
    }
}

/// `eventtime`, also behind the cast to plain text that type coercion
/// puts between the column (read as a string view) and a function taking
/// text.
fn is_eventtime(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == "eventtime",
        Expr::Cast(c) => is_eventtime(&c.expr),
        Expr::TryCast(c) => is_eventtime(&c.expr),
        _ => false,
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

/// The partition's text for a day, when it is one the lake can hold:
/// partitions are written `YYYY-MM-DD` and compared as text, so a day
/// outside years 0000–9999 (`+10000-01-01`, `-0001-12-31`) would sort
/// wrongly among them. No filter is implied then: pruning may only ever
/// drop files that cannot match.
fn partition_text(day: NaiveDate) -> Option<String> {
    use chrono::Datelike;
    (0..=9999)
        .contains(&day.year())
        .then(|| day.format("%Y-%m-%d").to_string())
}

fn date_filter(day: NaiveDate, slack: u64, bound: Bound) -> Option<Expr> {
    let date = col("date");
    Some(match bound {
        Bound::AtLeast => {
            let d = day.checked_sub_days(Days::new(slack))?;
            date.gt_eq(lit(partition_text(d)?))
        }
        Bound::AtMost => {
            let d = day.checked_add_days(Days::new(slack))?;
            date.lt_eq(lit(partition_text(d)?))
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
    fn bounds_past_the_years_a_partition_can_name_imply_nothing() {
        // The saved queries' default upper bound, widened by a day.
        let f = col("eventtime").lt_eq(lit("9999-12-31"));
        assert!(implied_date_filters(&f).is_empty());
        let f = col("eventtime").gt_eq(lit("0000-01-01"));
        assert!(implied_date_filters(&f).is_empty());
        let f = col("eventtime").lt(lit("9999-12-30"));
        assert_eq!(
            texts(implied_date_filters(&f)),
            ["date <= Utf8(\"9999-12-31\")"]
        );
    }

    #[test]
    fn other_filters_imply_nothing() {
        assert!(implied_date_filters(&col("eventname").eq(lit("x"))).is_empty());
        assert!(implied_date_filters(&col("eventtime").not_eq(lit("2026-04-01"))).is_empty());
        assert!(implied_date_filters(&col("eventtime").gt(lit("yesterday"))).is_empty());
        assert!(implied_date_filters(&col("eventtime").gt(col("x"))).is_empty());
    }

    /// The lake's answers with the implied partition filters and without
    /// them (the same comparison on `concat(eventtime, '')`, which implies
    /// nothing) are the same, for random bounds including the extremes.
    #[test]
    fn pruning_never_changes_an_answer() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        use trailwatch_lake::ingest::{IngestOptions, SourceLocation, SourceObject, ingest};
        use trailwatch_lake::store::{S3Options, Store};

        let dir = tempfile::tempdir().expect("tempdir");
        let times = [
            "2026-03-30T00:00:00Z",
            "2026-03-31T23:59:59Z",
            "2026-04-01T00:00:00Z",
            "2026-04-01T23:30:00-05:00",
            "2026-04-02T01:00:00+09:00",
            "2026-04-02T12:00:00.123Z",
            "2026-04-03T00:00:00+14:00",
            "2026-04-05T23:59:59-12:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ];
        let mut text = String::new();
        for (i, t) in times.iter().enumerate() {
            text.push_str(&format!(
                r#"{{"eventVersion":"1.08","eventTime":"{t}","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"e{i}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
            ));
            text.push('\n');
        }
        let src = dir.path().join("events.json");
        std::fs::write(&src, text).expect("write");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let lake = dir.path().join("lake");
        let lake_text = lake.display().to_string();
        let store =
            Store::open(&lake_text, &S3Options::default(), rt.handle().clone()).expect("lake");
        let source = SourceObject {
            key: src.display().to_string(),
            size: std::fs::metadata(&src).expect("stat").len(),
            version: "1".into(),
            location: SourceLocation::Local(src.clone()),
            fallback_account: None,
        };
        let summary =
            ingest(&store, vec![source], &IngestOptions::default(), &|_| {}).expect("ingest");
        assert_eq!(summary.events, times.len() as u64);
        let engine =
            crate::engine::Engine::new(crate::engine::EngineOptions::default()).expect("engine");
        rt.block_on(engine.register_lake(&lake_text))
            .expect("register");
        let count = |sql: &str| -> i64 {
            let out = rt
                .block_on(engine.run(sql))
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let b = &out.batches[0];
            let c = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("count");
            c.value(0)
        };
        let bound = prop_oneof![
            Just("0000-01-01".to_string()),
            Just("9999-12-31".to_string()),
            Just("+10000-01-01".to_string()),
            Just("2026-04-01".to_string()),
            (
                2026i32..2027,
                3u32..5,
                1u32..32,
                0u32..24,
                prop::sample::select(vec!["Z", "+05:00", "-11:00"])
            )
                .prop_map(|(y, m, d, h, z)| format!("{y}-{m:02}-{d:02}T{h:02}:00:00{z}")),
            (1u32..10000).prop_map(|y| format!("{y:04}-06-15")),
        ];
        let op = prop::sample::select(vec!["<", "<=", "=", ">=", ">"]);
        let mut runner = TestRunner::new(Config::with_cases(96));
        runner
            .run(&(bound, op), |(b, op)| {
                let pruned = count(&format!(
                    "SELECT count(*) FROM cloudtrail_logs WHERE eventtime {op} '{b}'"
                ));
                let plain = count(&format!(
                    "SELECT count(*) FROM cloudtrail_logs WHERE concat(eventtime, '') {op} '{b}'"
                ));
                prop_assert_eq!(pruned, plain, "eventtime {} '{}'", op, b);
                let between = count(&format!(
                    "SELECT count(*) FROM cloudtrail_logs WHERE eventtime BETWEEN '{b}' AND '9999-12-31'"
                ));
                let between_plain = count(&format!(
                    "SELECT count(*) FROM cloudtrail_logs WHERE concat(eventtime, '') BETWEEN '{b}' AND '9999-12-31'"
                ));
                prop_assert_eq!(between, between_plain, "BETWEEN '{}'", b);
                Ok(())
            })
            .expect("pruned and unpruned answers agree");
    }
}
