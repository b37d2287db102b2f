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
//!
//! Filters on `useridentity.type`, `.arn` and `.accesskeyid` likewise imply
//! filters on their top-level copies (see [`implied_copy_filters`]), which
//! prune row groups by statistics and bloom filters.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Constraints, Result, ScalarValue, Statistics};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Between, BinaryExpr, Expr, LogicalPlan, LogicalPlanBuilder, Operator,
    TableProviderFilterPushDown, TableType, col, lit,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::expressions::{CastExpr, Column as PhysicalColumn, Literal};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use datafusion::physical_plan::ExecutionPlan;
use trailwatch_lake::schema::IDENTITY_COPIES;

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

/// The field of `useridentity` that `e` reads (`useridentity.type`, also
/// behind casts), and its top-level copy in the lake.
fn identity_copy(e: &Expr) -> Option<&'static str> {
    match e {
        Expr::Cast(c) => identity_copy(&c.expr),
        Expr::TryCast(c) => identity_copy(&c.expr),
        Expr::ScalarFunction(f) if f.name() == "get_field" => match f.args.as_slice() {
            [Expr::Column(c), Expr::Literal(field, _)] if c.name == "useridentity" => {
                let field = field.try_as_str()??;
                IDENTITY_COPIES
                    .iter()
                    .find(|(_, inner)| *inner == field)
                    .map(|(copy, _)| *copy)
            }
            _ => None,
        },
        _ => None,
    }
}

/// A text constant, as the copy column (a string view) compares with it.
fn text_literal(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Cast(c) => text_literal(&c.expr),
        Expr::Literal(v, _) => Some(lit(ScalarValue::Utf8View(Some(
            v.try_as_str()??.to_string(),
        )))),
        _ => None,
    }
}

/// The filters on the `useridentity` copies that `filter` implies:
/// `useridentity.type = 'Root'` implies `useridentity_type = 'Root'`, and
/// the same for `IN` lists and for `arn` and `accesskeyid`. The copies have
/// statistics and bloom filters, which the nested fields' do not offer
/// DataFusion. In a file written before the copies, the scan reads the
/// copy as the nested field itself ([`IdentityCopies`]), so the implied
/// filter never drops a row the original keeps.
pub fn implied_copy_filters(filter: &Expr) -> Vec<Expr> {
    match filter {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let found = identity_copy(left)
                .zip(text_literal(right))
                .or_else(|| identity_copy(right).zip(text_literal(left)));
            found.map(|(c, v)| col(c).eq(v)).into_iter().collect()
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut out = implied_copy_filters(left);
            out.extend(implied_copy_filters(right));
            out
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let Some(copy) = identity_copy(expr) else {
                return Vec::new();
            };
            let values: Option<Vec<Expr>> = list.iter().map(text_literal).collect();
            values
                .map(|v| col(copy).in_list(v, false))
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Adds to each filter right above a scan of `cloudtrail_logs` (or of its
/// alias) the filters on the `useridentity` copies that it implies
/// ([`implied_copy_filters`]). A filter is where DataFusion takes a
/// Parquet scan's predicate from (pushed down as the plan is made
/// physical), hence its row-group pruning; a table provider's own filters
/// only prune partitions. It runs as an analyzer rule, before the optimizer
/// moves field accesses into projections of their own. Only for a local
/// engine: a cluster's executors do not read older files' copies as the
/// nested fields ([`IdentityCopies`]).
#[derive(Debug)]
pub struct IdentityCopyFilters;

/// Whether `plan` scans `cloudtrail_logs` with its copy columns, directly
/// or under an alias.
fn scans_the_lake(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::TableScan(scan) => {
            scan.table_name.table() == "cloudtrail_logs"
                && IDENTITY_COPIES
                    .iter()
                    .all(|(c, _)| scan.projected_schema.has_column_with_unqualified_name(c))
        }
        LogicalPlan::SubqueryAlias(a) => scans_the_lake(&a.input),
        _ => false,
    }
}

impl AnalyzerRule for IdentityCopyFilters {
    fn name(&self) -> &str {
        "trailwatch_identity_copy_filters"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let LogicalPlan::Filter(filter) = &plan else {
                return Ok(Transformed::no(plan));
            };
            if !scans_the_lake(&filter.input) {
                return Ok(Transformed::no(plan));
            }
            let conjuncts = split_conjunction(&filter.predicate);
            let implied: Vec<Expr> = conjuncts
                .iter()
                .flat_map(|c| implied_copy_filters(c))
                .filter(|f| !conjuncts.contains(&f))
                .collect();
            if implied.is_empty() {
                return Ok(Transformed::no(plan));
            }
            let predicate = implied
                .into_iter()
                .fold(filter.predicate.clone(), |p, f| p.and(f));
            let plan = LogicalPlanBuilder::from(filter.input.as_ref().clone())
                .filter(predicate)?
                .build()?;
            Ok(Transformed::yes(plan))
        })
        .data()
    }
}

/// Reads the `useridentity` copies of a file written before them as the
/// nested fields they copy (DataFusion's default would read them as null),
/// so a filter on a copy means in every file what it means on the field.
/// Everything else is adapted as DataFusion does by default.
#[derive(Debug)]
pub struct IdentityCopies;

impl PhysicalExprAdapterFactory for IdentityCopies {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> Result<Arc<dyn PhysicalExprAdapter>> {
        Ok(Arc::new(IdentityCopiesAdapter {
            inner: DefaultPhysicalExprAdapterFactory.create(
                Arc::clone(&logical_file_schema),
                Arc::clone(&physical_file_schema),
            )?,
            logical: logical_file_schema,
            physical: physical_file_schema,
        }))
    }
}

#[derive(Debug)]
struct IdentityCopiesAdapter {
    inner: Arc<dyn PhysicalExprAdapter>,
    logical: SchemaRef,
    physical: SchemaRef,
}

impl PhysicalExprAdapter for IdentityCopiesAdapter {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
        let expr = expr
            .transform(|e| {
                let Some(c) = e.downcast_ref::<PhysicalColumn>() else {
                    return Ok(Transformed::no(e));
                };

                let Some((_, field)) = IDENTITY_COPIES.iter().find(|(copy, _)| *copy == c.name())
                else {
                    return Ok(Transformed::no(e));
                };
                if self.physical.index_of(c.name()).is_ok() {
                    return Ok(Transformed::no(e));
                }
                let identity = self.logical.index_of("useridentity")?;
                let args: Vec<Arc<dyn PhysicalExpr>> = vec![
                    Arc::new(PhysicalColumn::new("useridentity", identity)),
                    Arc::new(Literal::new(ScalarValue::Utf8(Some((*field).to_string())))),
                ];
                let get = ScalarFunctionExpr::try_new(
                    datafusion::functions::core::get_field(),
                    args,
                    &self.logical,
                    Arc::new(ConfigOptions::default()),
                )?;
                // As the copy's type in the table (the file's struct field
                // may be read as another string type).
                let as_copy = CastExpr::new(
                    Arc::new(get),
                    self.logical.field_with_name(c.name())?.data_type().clone(),
                    None,
                );
                Ok(Transformed::yes(Arc::new(as_copy) as Arc<dyn PhysicalExpr>))
            })
            .data()?;
        self.inner.rewrite(expr)
    }
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
    fn identity_lookups_imply_filters_on_the_copies() {
        use datafusion::functions::core::expr_fn::get_field;
        let field = |f: &str| get_field(col("useridentity"), f);
        let implied = |e: Expr| texts(implied_copy_filters(&e));
        assert_eq!(
            implied(field("accesskeyid").eq(lit("AKIA1"))),
            vec![r#"useridentity_accesskeyid = Utf8View("AKIA1")"#]
        );
        assert_eq!(
            implied(lit("Root").eq(field("type"))),
            vec![r#"useridentity_type = Utf8View("Root")"#]
        );
        assert_eq!(
            implied(field("arn").in_list(vec![lit("a"), lit("b")], false)),
            vec![r#"useridentity_arn IN ([Utf8View("a"), Utf8View("b")])"#]
        );
        // Not a lookup of one of the copied fields: nothing implied.
        assert!(implied(field("username").eq(lit("x"))).is_empty());
        assert!(implied(field("arn").in_list(vec![lit("a")], true)).is_empty());
        assert!(implied(field("arn").not_eq(lit("a"))).is_empty());
        assert!(implied(field("arn").eq(col("eventname"))).is_empty());
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
