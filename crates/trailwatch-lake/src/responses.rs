//! The `responses` table: every action `respond` planned or applied (and
//! every automatic response of `watch` and `serve`), filed beside the
//! alerts it answers (`LAKE/responses/date=<YYYY-MM-DD>/part-<txid>.parquet`)
//! and queryable like them: when, for which alert, what, on which
//! resource, with which parameters, and how it went.
//!
//! Rows are only ever added: a plan, its apply and a second apply are
//! three rows each, told apart by `run_id` and `mode`.

use std::sync::Arc;

use arrow::array::{ArrayRef, ListBuilder, StringBuilder, TimestampMillisecondBuilder};
use arrow::record_batch::RecordBatch;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use trailwatch_core::respond::Action;

use crate::error::LakeError;
use crate::manifest::{Operation, Transaction};
use crate::parquet_file::{self, ROW_GROUP_ROWS};
use crate::store::Store;
use crate::tx::{Staging, recover};

/// The folder under the lake root that holds the responses table.
pub const RESPONSES_DIR: &str = "responses";

/// The columns (partition column `date` comes from the path).
pub fn responses_schema() -> Arc<Schema> {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        Field::new(
            "response_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            false,
        ),
        text("run_id", false),
        text("mode", false),
        text("alert_id", false),
        Field::new(
            "also_alerts",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        text("rule_id", false),
        text("action", false),
        text("account", true),
        text("region", true),
        text("target", true),
        text("event_id", true),
        text("parameters", true),
        text("aws_cli", true),
        text("status", false),
        text("reason", true),
        text("error", true),
    ]))
}

/// One run's rows: its id, how it ran (`plan`, `apply`, `auto`) and when.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    pub run_id: &'a str,
    pub mode: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
}

fn batch(actions: &[Action], run: &Run<'_>) -> Result<RecordBatch, LakeError> {
    let mut time = TimestampMillisecondBuilder::new().with_timezone("+00:00");
    let mut cols: Vec<StringBuilder> = (0..14).map(|_| StringBuilder::new()).collect();
    let mut also = ListBuilder::new(StringBuilder::new());
    for a in actions {
        time.append_value(run.at.timestamp_millis());
        let params = serde_json::to_string(&a.api_calls)?;
        let values: [Option<&str>; 14] = [
            Some(run.run_id),
            Some(run.mode),
            Some(&a.alert_id),
            Some(&a.rule_id),
            Some(&a.action),
            a.account.as_deref(),
            a.region.as_deref(),
            a.target.as_deref(),
            a.event_id.as_deref(),
            (!a.api_calls.is_empty()).then_some(params.as_str()),
            a.aws_cli.as_deref(),
            Some(a.status.as_str()),
            Some(&a.reason),
            a.error.as_deref(),
        ];
        for (b, v) in cols.iter_mut().zip(values) {
            b.append_option(v);
        }
        for id in &a.also_alerts {
            also.values().append_value(id);
        }
        also.append(true);
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(time.finish())];
    let mut built = cols
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    columns.extend(built.by_ref().take(3));
    columns.push(Arc::new(also.finish()));
    columns.extend(built);
    Ok(RecordBatch::try_new(responses_schema(), columns)?)
}

/// File `actions` as one run, in one transaction.
pub fn append(store: &Store, actions: &[Action], run: &Run<'_>) -> Result<u64, LakeError> {
    if actions.is_empty() {
        return Ok(0);
    }
    recover(store)?;
    let staging = Staging::begin(store);
    let date = run.at.format("%Y-%m-%d");
    let (bytes, rows) =
        parquet_file::encode(responses_schema(), [batch(actions, run)], ROW_GROUP_ROWS)?;
    let path = format!(
        "{RESPONSES_DIR}/date={date}/part-{}.parquet",
        staging.txid()
    );
    let file = staging.stage(&path, bytes, rows)?;
    staging.commit(Transaction {
        version: 1,
        txid: String::new(),
        committed_at: String::new(),
        operation: Operation::Responses,
        sources: Vec::new(),
        files: vec![file],
        quarantine: None,
        records: rows,
        duplicates: 0,
        quarantined: 0,
    })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use trailwatch_core::respond::Status;

    fn action(id: &str, status: Status) -> Action {
        Action {
            alert_id: id.into(),
            also_alerts: vec!["other".into()],
            rule_id: "cloudtrail-stopped".into(),
            action: "start-logging".into(),
            account: Some("111111111111".into()),
            region: Some("us-east-1".into()),
            target: Some("main".into()),
            event_id: Some("e1".into()),
            api_calls: Vec::new(),
            aws_cli: Some("aws cloudtrail start-logging --name main".into()),
            status,
            reason: "stopped".into(),
            error: None,
        }
    }

    #[test]
    fn each_run_adds_its_rows_under_its_date() {
        let (_rt, _dir, store) = crate::store::temp_store();
        let at = chrono::DateTime::parse_from_rfc3339("2026-04-04T10:00:00Z")
            .expect("time")
            .to_utc();
        let plan = Run {
            run_id: "r1",
            mode: "plan",
            at,
        };
        assert_eq!(
            append(&store, &[action("a", Status::Planned)], &plan).expect("plan"),
            1
        );
        let apply = Run {
            run_id: "r2",
            mode: "apply",
            at,
        };
        append(
            &store,
            &[action("a", Status::Applied), action("b", Status::Failed)],
            &apply,
        )
        .expect("apply");
        let files: Vec<String> = store
            .list(RESPONSES_DIR)
            .expect("list")
            .iter()
            .map(|m| store.rel(&m.location))
            .filter(|p| p.ends_with(".parquet"))
            .collect();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(
            files
                .iter()
                .all(|f| f.starts_with("responses/date=2026-04-04/"))
        );
        let mut statuses = Vec::new();
        for f in &files {
            let reader = ParquetRecordBatchReaderBuilder::try_new(store.get(f).expect("get"))
                .expect("parquet")
                .build()
                .expect("reader");
            for b in reader {
                let b = b.expect("batch");
                let col = b
                    .column_by_name("status")
                    .expect("status")
                    .as_string::<i32>();
                statuses.extend(col.iter().flatten().map(str::to_string));
            }
        }
        statuses.sort();
        assert_eq!(statuses, ["applied", "failed", "planned"]);
    }
}
