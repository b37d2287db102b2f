//! The `alerts` table: every alert `detect --lake` and `watch --lake` raise,
//! as Hive-partitioned Parquet beside the events
//! (`LAKE/alerts/date=<YYYY-MM-DD>/part-<txid>.parquet`), so alerts can be
//! queried and joined with the events they cite.
//!
//! Appends are transactions like ingests (staged, committed by a manifest,
//! published), and idempotent: an alert id already in the table is never
//! written again, so replaying the same data adds nothing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use trailwatch_core::alert::Alert;
use trailwatch_core::event::parse_event_time;

use crate::error::LakeError;
use crate::manifest::{Operation, Transaction};
use crate::parquet_file::{self, ROW_GROUP_ROWS};
use crate::store::Store;
use crate::tx::{Staging, recover};

/// The folder under the lake root that holds the alerts table.
pub const ALERTS_DIR: &str = "alerts";

fn timestamp(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        true,
    )
}

fn text_list(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        true,
    )
}

/// The columns of the alerts table (partition column `date` comes from
/// the path). Names follow the alert's JSON form.
pub fn alerts_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("alert_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("severity", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        timestamp("alert_time"),
        timestamp("window_start"),
        timestamp("window_end"),
        Field::new("threshold", DataType::Float64, true),
        Field::new(
            "datapoints",
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            true,
        ),
        Field::new("dimensions", DataType::Utf8, true),
        text_list("event_ids"),
        Field::new("event_count", DataType::Int64, false),
        text_list("principals"),
        text_list("source_ips"),
        text_list("actions"),
        Field::new("description", DataType::Utf8, true),
        Field::new("query", DataType::Utf8, true),
        timestamp("detected_at"),
    ]))
}

fn millis(s: Option<&str>) -> Option<i64> {
    s.and_then(parse_event_time).map(|t| t.timestamp_millis())
}

fn texts(b: &mut ListBuilder<StringBuilder>, items: &[String]) {
    for i in items {
        b.values().append_value(i);
    }
    b.append(true);
}

/// The alerts as one batch of [`alerts_schema`].
pub fn alerts_batch(alerts: &[&Alert], detected_at: i64) -> Result<RecordBatch, LakeError> {
    let tz = "+00:00";
    let mut id = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut rule = StringBuilder::new();
    let mut title = StringBuilder::new();
    let mut severity = StringBuilder::new();
    let mut state = StringBuilder::new();
    let mut time = TimestampMillisecondBuilder::new().with_timezone(tz);
    let mut wstart = TimestampMillisecondBuilder::new().with_timezone(tz);
    let mut wend = TimestampMillisecondBuilder::new().with_timezone(tz);
    let mut threshold = Float64Builder::new();
    let mut datapoints = ListBuilder::new(Float64Builder::new());
    let mut dims = StringBuilder::new();
    let mut ids = ListBuilder::new(StringBuilder::new());
    let mut count = Int64Builder::new();
    let mut principals = ListBuilder::new(StringBuilder::new());
    let mut ips = ListBuilder::new(StringBuilder::new());
    let mut actions = ListBuilder::new(StringBuilder::new());
    let mut description = StringBuilder::new();
    let mut query = StringBuilder::new();
    let mut detected = TimestampMillisecondBuilder::new().with_timezone(tz);
    for a in alerts {
        id.append_value(&a.alert_id);
        kind.append_value(a.kind.as_str());
        rule.append_value(&a.rule_id);
        title.append_value(&a.title);
        severity.append_value(a.severity.to_string());
        state.append_value(a.state.as_str());
        time.append_option(millis(Some(&a.time)));
        wstart.append_option(millis(a.window_start.as_deref()));
        wend.append_option(millis(a.window_end.as_deref()));
        threshold.append_option(a.threshold);
        for d in &a.datapoints {
            datapoints.values().append_option(*d);
        }
        datapoints.append(true);
        if a.dimensions.is_empty() {
            dims.append_null();
        } else {
            let json = serde_json::to_string(&a.dimensions)?;
            dims.append_value(json);
        }
        texts(&mut ids, &a.event_ids);
        count.append_value(i64::try_from(a.event_count).unwrap_or(i64::MAX));
        texts(&mut principals, &a.principals);
        texts(&mut ips, &a.source_ips);
        texts(&mut actions, &a.actions);
        description.append_value(&a.description);
        query.append_option(a.query.as_deref());
        detected.append_value(detected_at);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(kind.finish()),
        Arc::new(rule.finish()),
        Arc::new(title.finish()),
        Arc::new(severity.finish()),
        Arc::new(state.finish()),
        Arc::new(time.finish()),
        Arc::new(wstart.finish()),
        Arc::new(wend.finish()),
        Arc::new(threshold.finish()),
        Arc::new(datapoints.finish()),
        Arc::new(dims.finish()),
        Arc::new(ids.finish()),
        Arc::new(count.finish()),
        Arc::new(principals.finish()),
        Arc::new(ips.finish()),
        Arc::new(actions.finish()),
        Arc::new(description.finish()),
        Arc::new(query.finish()),
        Arc::new(detected.finish()),
    ];
    Ok(RecordBatch::try_new(alerts_schema(), columns)?)
}

/// The UTC date (`YYYY-MM-DD`) an alert is filed under.
fn alert_date(a: &Alert) -> String {
    parse_event_time(&a.time)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A date's partition of the alerts table is merged into one file by the
/// append that takes it past this many: every append (one per push, on a
/// busy server) writes a small file, and each query of the table opens
/// every file, so without a bound the alert list slows down with every
/// push until `lake compact` runs.
pub const MERGE_AFTER: usize = 16;

/// The alerts table of one lake, with the ids it already holds.
#[derive(Debug)]
pub struct AlertTable<'s> {
    store: &'s Store,
    known: HashSet<String>,
}

/// What one append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub written: u64,
    pub already_present: u64,
}

impl<'s> AlertTable<'s> {
    /// Open the table (finishing any interrupted transaction first) and
    /// learn which alert ids it holds.
    pub fn open(store: &'s Store) -> Result<AlertTable<'s>, LakeError> {
        recover(store)?;
        let mut known = HashSet::new();
        for meta in store.list(ALERTS_DIR)? {
            let rel = store.rel(&meta.location);
            if !rel.ends_with(".parquet") {
                continue;
            }
            let builder = ParquetRecordBatchReaderBuilder::try_new(store.get(&rel)?)?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), [0]);
            for batch in builder.with_projection(mask).build()? {
                let batch = batch?;
                let col = batch.column(0).as_string::<i32>();
                known.extend(col.iter().flatten().map(str::to_string));
            }
        }
        Ok(AlertTable { store, known })
    }

    /// How many alerts the table holds.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Append the alerts the table does not hold yet, in one transaction.
    pub fn append(&mut self, alerts: &[Alert]) -> Result<Appended, LakeError> {
        let mut by_date: BTreeMap<String, Vec<&Alert>> = BTreeMap::new();
        let mut fresh: HashSet<&str> = HashSet::new();
        let mut done = Appended::default();
        for a in alerts {
            if self.known.contains(&a.alert_id) || !fresh.insert(&a.alert_id) {
                done.already_present += 1;
                continue;
            }
            by_date.entry(alert_date(a)).or_default().push(a);
        }
        if by_date.is_empty() {
            return Ok(done);
        }
        let staging = Staging::begin(self.store);
        let detected_at = chrono::Utc::now().timestamp_millis();
        let mut files = Vec::new();
        for (date, list) in &by_date {
            let batch = alerts_batch(list, detected_at)?;
            let (bytes, rows) = parquet_file::encode(alerts_schema(), [Ok(batch)], ROW_GROUP_ROWS)?;
            let path = format!("{ALERTS_DIR}/date={date}/part-{}.parquet", staging.txid());
            files.push(staging.stage(&path, bytes, rows)?);
        }
        let written: u64 = files.iter().map(|f| f.rows).sum();
        staging.commit(Transaction {
            version: 1,
            txid: String::new(),
            committed_at: String::new(),
            operation: Operation::Alerts,
            sources: Vec::new(),
            files,
            quarantine: None,
            records: written,
            duplicates: done.already_present,
            quarantined: 0,
        })?;
        for list in by_date.values() {
            self.known.extend(list.iter().map(|a| a.alert_id.clone()));
        }
        done.written = written;
        for date in by_date.keys() {
            let files = self.partition_files(date)?;
            if files.len() > MERGE_AFTER {
                merge_partition(self.store, date, &files)?;
            }
        }
        Ok(done)
    }

    /// The files of one date's partition.
    fn partition_files(&self, date: &str) -> Result<Vec<String>, LakeError> {
        let mut files: Vec<String> = self
            .store
            .list(&format!("{ALERTS_DIR}/date={date}"))?
            .iter()
            .map(|m| self.store.rel(&m.location))
            .filter(|r| r.ends_with(".parquet"))
            .collect();
        files.sort();
        Ok(files)
    }
}

/// Merge `files`, a date's partition of the alerts table, into one file,
/// crash-safe as `lake compact` is.
pub fn merge_partition(store: &Store, date: &str, files: &[String]) -> Result<(), LakeError> {
    let merged = crate::compact::merge(store, files, alerts_schema())?;
    let path = format!(
        "{ALERTS_DIR}/date={date}/part-{}.parquet",
        uuid::Uuid::new_v4()
    );
    crate::compact::commit_merged(store, &path, merged, files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch_core::alarm::AlarmState;
    use trailwatch_core::alert::Severity;

    fn alert(id: &str, time: &str) -> Alert {
        Alert {
            alert_id: id.into(),
            kind: trailwatch_core::alert::AlertKind::Alarm,
            rule_id: "root-account-usage".into(),
            title: "Root account used".into(),
            severity: Severity::P1,
            state: AlarmState::Alarm,
            time: time.into(),
            window_start: Some("2026-03-01T10:00:00Z".into()),
            window_end: Some("2026-03-01T10:05:00Z".into()),
            threshold: Some(1.0),
            datapoints: vec![Some(2.0), None],
            dimensions: BTreeMap::from([("user".into(), "root".into())]),
            event_ids: vec!["e-1".into(), "e-2".into()],
            event_count: 2,
            principals: vec!["root".into()],
            source_ips: vec!["203.0.113.9".into()],
            actions: vec!["security-alerts".into()],
            description: "d".into(),
            query: Some("SELECT 1".into()),
        }
    }

    #[test]
    fn a_partition_of_many_small_appends_is_merged_and_loses_nothing() {
        let (_rt, _dir, store) = crate::store::temp_store();
        let mut table = AlertTable::open(&store).unwrap();
        let n = MERGE_AFTER * 2 + 3;
        for i in 0..n {
            let a = alert(&format!("a{i}"), "2026-03-01T10:05:00Z");
            assert_eq!(table.append(&[a]).unwrap().written, 1);
            let files = table.partition_files("2026-03-01").unwrap();
            assert!(
                files.len() <= MERGE_AFTER,
                "{} files after {} appends",
                files.len(),
                i + 1
            );
        }
        // Every alert is there once, read back from the files as a fresh
        // opening of the table reads them.
        let again = AlertTable::open(&store).unwrap();
        assert_eq!(again.len(), n);
        let mut rows = 0;
        for f in again.partition_files("2026-03-01").unwrap() {
            for b in ParquetRecordBatchReaderBuilder::try_new(store.get(&f).unwrap())
                .unwrap()
                .build()
                .unwrap()
            {
                rows += b.unwrap().num_rows();
            }
        }
        assert_eq!(rows, n, "no alert twice");
    }

    #[test]
    fn appends_are_partitioned_by_date_and_never_repeat_an_alert() {
        let (_rt, _dir, store) = crate::store::temp_store();
        let mut table = AlertTable::open(&store).unwrap();
        let a = alert("a1", "2026-03-01T10:05:00Z");
        let b = alert("b2", "2026-03-02T00:00:01Z");
        let first = table.append(&[a.clone(), b.clone(), a.clone()]).unwrap();
        assert_eq!(
            first,
            Appended {
                written: 2,
                already_present: 1
            }
        );
        // A fresh handle on the same lake knows what is there.
        let mut again = AlertTable::open(&store).unwrap();
        assert_eq!(again.len(), 2);
        let second = again.append(&[b, a]).unwrap();
        assert_eq!(second.written, 0);
        assert_eq!(second.already_present, 2);
        let mut dates: Vec<String> = store
            .list(ALERTS_DIR)
            .unwrap()
            .iter()
            .map(|m| store.rel(&m.location))
            .collect();
        dates.sort();
        assert_eq!(dates.len(), 2);
        assert!(dates[0].starts_with("alerts/date=2026-03-01/part-"));
        assert!(dates[1].starts_with("alerts/date=2026-03-02/part-"));
        let batch = ParquetRecordBatchReaderBuilder::try_new(store.get(&dates[0]).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(batch.schema(), alerts_schema());
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        assert_eq!(col("severity").as_string::<i32>().value(0), "P1");
        assert_eq!(col("state").as_string::<i32>().value(0), "ALARM");
        assert_eq!(
            col("dimensions").as_string::<i32>().value(0),
            r#"{"user":"root"}"#
        );
        assert_eq!(col("event_ids").as_list::<i32>().value(0).len(), 2);
    }
}
