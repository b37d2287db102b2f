//! `export ocsf`'s writer: the lake's `cloudtrail` files read a batch at a
//! time, each batch's rows split by partition (region, account, day) and
//! OCSF class, mapped column to column (`columns`), held per bucket until
//! the rows held reach a bound, then written sorted by time, one class per
//! file, as a Security Lake custom source lays them out.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{interleave_record_batch, take_record_batch};
use arrow::datatypes::Int64Type;
use bytes::Bytes;
use chrono::DateTime;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use trailwatch_core::ocsf::{Activity, Class, classify};

use super::columns::{event_millis, ocsf_batch};
use super::event_schema;
use crate::error::LakeError;
use crate::partition::folder_name;
use crate::read::{TableFilter, table_files};
use crate::store::Store;

/// Rows held at most before the largest bucket is written (so also rows
/// per file and per row group at most): the bound on an export's memory,
/// whatever the window.
pub const FILE_ROWS: usize = 64 * 1024;

/// Where one file's events go: a partition and a class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Bucket {
    region: String,
    account: String,
    /// `YYYYMMDD`.
    day: String,
    class: Class,
}

/// A bucket's OCSF rows waiting to be written.
#[derive(Debug, Default)]
struct Pending {
    batches: Vec<RecordBatch>,
    rows: usize,
    /// Files written for the bucket in this run.
    written: usize,
}

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportStats {
    pub events: u64,
    pub files: u64,
    /// Events per class uid.
    pub by_class: BTreeMap<u32, u64>,
}

/// Writes OCSF events as a Security Lake custom source under
/// `ext/<source>/` of `store`.
#[derive(Debug)]
pub struct Exporter<'s> {
    store: &'s Store,
    source: String,
    pending: BTreeMap<Bucket, Pending>,
    held_rows: usize,
    /// [`FILE_ROWS`], smaller in tests.
    max_held: usize,
    encoder: Encoder,
    pub stats: ExportStats,
}

/// A file to encode and store.
struct Job {
    name: String,
    class: Class,
    batches: Vec<RecordBatch>,
}

/// The thread that encodes and stores files while the caller maps the
/// next rows (encoding Parquet is half an export's work). Its queue is
/// short, so rows waiting to be encoded stay within a few files.
#[derive(Debug)]
struct Encoder {
    jobs: Option<std::sync::mpsc::SyncSender<Job>>,
    done: Option<std::thread::JoinHandle<Result<(), LakeError>>>,
}

impl Encoder {
    fn start(store: &Store) -> Encoder {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(2);
        let store = store.clone();
        let done = std::thread::spawn(move || {
            for job in queue {
                let bytes = encode(job.class, &job.batches)?;
                store.put(&job.name, bytes)?;
            }
            Ok(())
        });
        Encoder {
            jobs: Some(jobs),
            done: Some(done),
        }
    }

    fn send(&mut self, job: Job) -> Result<(), LakeError> {
        let sent = self.jobs.as_ref().map(|j| j.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped on an error: that error is the answer.
            _ => self.stop(),
        }
    }

    /// Wait for every file sent; the first error met.
    fn stop(&mut self) -> Result<(), LakeError> {
        self.jobs = None;
        match self.done.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(LakeError::Broken(
                "the Parquet encoder thread panicked".into(),
            )),
        }
    }
}

/// A row's place: its bucket's key, borrowed from the batch.
type Key<'a> = (&'a str, &'a str, i64, Class);

impl<'s> Exporter<'s> {
    /// An exporter of source `source` (a Security Lake custom source name:
    /// letters, digits, '-' and '_').
    pub fn new(store: &'s Store, source: &str) -> Result<Exporter<'s>, LakeError> {
        Exporter::holding(store, source, FILE_ROWS)
    }

    /// An exporter that holds at most `max_held` rows.
    pub fn holding(
        store: &'s Store,
        source: &str,
        max_held: usize,
    ) -> Result<Exporter<'s>, LakeError> {
        if source.is_empty()
            || source.len() > 64
            || !source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(LakeError::BadFile {
                path: source.to_string(),
                message: "a source name is 1-64 letters, digits, '-' or '_'".into(),
            });
        }
        Ok(Exporter {
            store,
            source: source.to_string(),
            pending: BTreeMap::new(),
            held_rows: 0,
            max_held: max_held.max(1),
            encoder: Encoder::start(store),
            stats: ExportStats::default(),
        })
    }

    /// Add the rows of lake batch `batch` (the `cloudtrail` table's
    /// columns) whose event time is in `[since, until)` (epoch ms); past
    /// the rows it may hold, the largest bucket is written (the lake is
    /// read partition by partition, so that is nearly always the one
    /// being read).
    pub fn push(
        &mut self,
        batch: &RecordBatch,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<(), LakeError> {
        let groups = group_rows(batch, since, until);
        for ((region, account, day, class), rows, activities) in groups {
            let bucket = Bucket {
                region: region.to_string(),
                account: account.to_string(),
                day: DateTime::from_timestamp(day * 86_400, 0)
                    .map(|d| d.format("%Y%m%d").to_string())
                    .unwrap_or_default(),
                class,
            };
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows))?
            };
            let ocsf = ocsf_batch(&part, class, &activities)?;
            let n = ocsf.num_rows();
            let pending = self.pending.entry(bucket).or_default();
            pending.batches.push(ocsf);
            pending.rows += n;
            self.held_rows += n;
            self.stats.events += n as u64;
            *self.stats.by_class.entry(class.uid()).or_default() += n as u64;
        }
        while self.held_rows >= self.max_held {
            let Some(largest) = self
                .pending
                .iter()
                .filter(|(_, p)| p.rows > 0)
                .max_by_key(|(_, p)| p.rows)
                .map(|(b, _)| b.clone())
            else {
                break;
            };
            self.write(&largest)?;
        }
        Ok(())
    }

    /// Write every bucket whose day is before `day` (`YYYYMMDD`): the
    /// caller reads day by day, so those are complete.
    pub fn finish_days_before(&mut self, day: &str) -> Result<(), LakeError> {
        let done: Vec<Bucket> = self
            .pending
            .iter()
            .filter(|(b, p)| b.day.as_str() < day && p.rows > 0)
            .map(|(b, _)| b.clone())
            .collect();
        for b in done {
            self.write(&b)?;
        }
        // Buckets fully written are forgotten, so a long export keeps only
        // the open days.
        self.pending
            .retain(|b, p| p.rows > 0 || b.day.as_str() >= day);
        Ok(())
    }

    /// Write everything still held.
    pub fn finish(mut self) -> Result<ExportStats, LakeError> {
        self.finish_days_before("99999999")?;
        self.encoder.stop()?;
        Ok(self.stats)
    }

    fn dir(&self, b: &Bucket) -> String {
        format!(
            "ext/{}/region={}/accountId={}/eventDay={}",
            self.source,
            folder_name(&b.region),
            folder_name(&b.account),
            b.day
        )
    }

    fn write(&mut self, b: &Bucket) -> Result<(), LakeError> {
        let dir = self.dir(b);
        let Some(pending) = self.pending.get_mut(b) else {
            return Ok(());
        };
        if pending.written == 0 {
            // A second export of the same window replaces the first.
            let prefix = format!("{dir}/{}-", b.class.file_name());
            for old in self.store.list(&dir)? {
                let rel = self.store.rel(&old.location);
                if rel.starts_with(&prefix) {
                    self.store.delete(&rel)?;
                }
            }
        }
        let batches = std::mem::take(&mut pending.batches);
        self.held_rows -= pending.rows;
        pending.rows = 0;
        let name = format!(
            "{dir}/{}-{:04}.parquet",
            b.class.file_name(),
            pending.written
        );
        pending.written += 1;
        self.encoder.send(Job {
            name,
            class: b.class,
            batches,
        })?;
        self.stats.files += 1;
        Ok(())
    }
}

/// Row `i` of a text column, `None` where null.
fn value(a: Option<&StringArray>, i: usize) -> Option<&str> {
    a.filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

/// The rows of `batch` in the window, grouped by bucket key, with each
/// row's activity. A lake file is one partition, and most of its rows one
/// class: a row is compared with the last row's group before any other.
fn group_rows(
    batch: &RecordBatch,
    since: Option<i64>,
    until: Option<i64>,
) -> Vec<(Key<'_>, Vec<u32>, Vec<Activity>)> {
    let text = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
    };
    let (source, name, region) = (text("eventsource"), text("eventname"), text("awsregion"));
    let recipient = text("recipientaccountid");
    let caller = batch
        .column_by_name("useridentity")
        .and_then(|c| c.as_struct_opt())
        .and_then(|s| s.column_by_name("accountid"))
        .and_then(|c| c.as_string_opt::<i32>());
    let times = event_millis(batch);
    let mut groups: Vec<(Key<'_>, Vec<u32>, Vec<Activity>)> = Vec::new();
    let mut last = 0;
    for (i, t) in times.into_iter().enumerate() {
        // The lake holds no row without a time (the decoder refuses one).
        let Some(t) = t else {
            continue;
        };
        if since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
            continue;
        }
        let (class, activity) =
            classify(value(source, i).unwrap_or(""), value(name, i).unwrap_or(""));
        let account = value(recipient, i)
            .or_else(|| value(caller, i))
            .unwrap_or("unknown");
        let key = (
            value(region, i).unwrap_or(""),
            account,
            t.div_euclid(86_400_000),
            class,
        );
        if groups.get(last).is_none_or(|g| g.0 != key) {
            last = match groups.iter().position(|g| g.0 == key) {
                Some(at) => at,
                None => {
                    groups.push((key, Vec::new(), Vec::new()));
                    groups.len() - 1
                }
            };
        }
        groups[last].1.push(i as u32);
        groups[last].2.push(activity);
    }
    groups
}

/// The Parquet paths of columns unique, or nearly, per row.
const UNIQUE_COLUMNS: &[&str] = &[
    "metadata.uid",
    "api.request.uid",
    "api.request.data",
    "api.response.data",
    "time",
    "time_dt",
    "actor.session.created_time",
    "actor.session.created_time_dt",
    "unmapped.key_value.value",
];

/// One Parquet file of a bucket's rows, sorted by time. The lake's files
/// are sorted by time, so a bucket's batches usually are already and are
/// written as they are; otherwise the rows are interleaved in time order.
fn encode(class: Class, batches: &[RecordBatch]) -> Result<Bytes, LakeError> {
    let schema = event_schema(class);
    let times: Vec<&Int64Array> = batches
        .iter()
        .filter_map(|b| {
            b.column_by_name("time")
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
        })
        .collect();
    let in_order = times
        .iter()
        .flat_map(|t| t.iter())
        .try_fold(i64::MIN, |prev, t| {
            let t = t.unwrap_or(i64::MIN);
            (t >= prev).then_some(t)
        })
        .is_some();
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(FILE_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk);
    // Columns that differ in nearly every row: a dictionary would be built
    // only to be abandoned (as the lake's own writer, `parquet_file`).
    for col in UNIQUE_COLUMNS {
        props = props.set_column_dictionary_enabled(
            ColumnPath::from(col.split('.').map(String::from).collect::<Vec<_>>()),
            false,
        );
    }
    let props = props.build();
    let mut w = ArrowWriter::try_new(Vec::with_capacity(1 << 20), schema, Some(props))?;
    if in_order {
        for b in batches {
            w.write(b)?;
        }
    } else {
        let mut order: Vec<(i64, usize, usize)> = times
            .iter()
            .enumerate()
            .flat_map(|(b, t)| {
                t.iter()
                    .enumerate()
                    .map(move |(r, v)| (v.unwrap_or(i64::MIN), b, r))
            })
            .collect();
        order.sort_by_key(|(t, _, _)| *t);
        let indices: Vec<(usize, usize)> = order.into_iter().map(|(_, b, r)| (b, r)).collect();
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        w.write(&interleave_record_batch(&refs, &indices)?)?;
    }
    Ok(Bytes::from(w.into_inner()?))
}

/// Export the lake's events with event time in `[since, until)` (epoch
/// ms): its files a day at a time, each read a batch at a time.
pub fn export_lake(
    lake: &Store,
    exporter: &mut Exporter<'_>,
    since: Option<i64>,
    until: Option<i64>,
    files_done: &mut dyn FnMut(usize, usize),
) -> Result<(), LakeError> {
    let filter = TableFilter {
        since_date: since
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d").to_string()),
    };
    let files = table_files(lake, &filter)?;
    for (i, path) in files.iter().enumerate() {
        files_done(i, files.len());
        if let Some(date) = path.split('/').find_map(|seg| seg.strip_prefix("date=")) {
            exporter.finish_days_before(&date.replace('-', ""))?;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(lake.get(path)?)?
            .with_batch_size(8192)
            .build()?;
        for batch in reader {
            exporter.push(&batch?, since, until)?;
        }
    }
    files_done(files.len(), files.len());
    Ok(())
}
