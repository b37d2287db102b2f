//! Crash-safe, idempotent ingest of CloudTrail sources into the lake.
//!
//! Sources are processed in transactions of bounded size. Within one,
//! sources are decoded in parallel (rayon), rows are deduplicated by eventID
//! against what each touched partition already holds, and Parquet files are
//! written under `_staging/<txid>/`. The manifest put is the commit point;
//! afterwards the staged files are renamed into place. A crash before the
//! commit leaves only staging debris (removed by the next run, whose sources
//! are then ingested again); a crash after it is finished by the next run's
//! recovery. Either way the lake ends up holding each event exactly once.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;
use trailwatch_core::event::{DecodeOptions, Decoder};

use crate::batch::BatchBuilder;
use crate::dedup::EventIdSet;
use crate::error::LakeError;
use crate::manifest::{
    self, FileEntry, Operation, QUARANTINE_DIR, SourceEntry, SourceIndex, Transaction,
};
use crate::parquet_file;
use crate::partition::{PartitionKey, TABLE_DIR};
use crate::schema::cloudtrail_schema;
use crate::store::Store;
use crate::tx::{Staging, recover};

/// Where a source's bytes come from.
#[derive(Clone)]
pub enum SourceLocation {
    Local(PathBuf),
    Stdin,
    Object {
        store: Arc<dyn ObjectStore>,
        path: ObjectPath,
    },
}

impl std::fmt::Debug for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceLocation::Local(p) => write!(f, "Local({})", p.display()),
            SourceLocation::Stdin => f.write_str("Stdin"),
            SourceLocation::Object { path, .. } => write!(f, "Object({path})"),
        }
    }
}

/// One source object to ingest.
#[derive(Debug, Clone)]
pub struct SourceObject {
    /// Identity in the manifest: absolute local path or `s3://bucket/key`.
    pub key: String,
    pub size: u64,
    /// `mtime:<ns>` or `etag:<etag>`; empty for stdin.
    pub version: String,
    pub location: SourceLocation,
    /// The account from the object key, for records that name none.
    pub fallback_account: Option<String>,
}

/// Tuning of an ingest; the defaults suit a 2-core, few-GB machine.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub decode: DecodeOptions,
    /// Source bytes per transaction: the work a crash can cost.
    pub tx_bytes: u64,
    /// Arrow bytes buffered before the largest partition is written out.
    pub buffer_bytes: usize,
    /// Source bytes decoded at once within a transaction.
    pub decode_batch_bytes: u64,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Source objects fetched concurrently from object storage.
    pub fetch_concurrency: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            decode: DecodeOptions::default(),
            tx_bytes: 128 * 1024 * 1024,
            buffer_bytes: 128 * 1024 * 1024,
            decode_batch_bytes: 4 * 1024 * 1024,
            row_group_rows: 128 * 1024,
            fetch_concurrency: 16,
        }
    }
}

/// What an ingest did; `--json` prints this.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestSummary {
    /// Source objects read in this run.
    pub files: u64,
    /// Source objects skipped because the manifest has them.
    pub files_already_ingested: u64,
    /// Records newly stored.
    pub events: u64,
    /// Records already in the lake (or seen twice in this run).
    pub duplicates: u64,
    /// Records (or unreadable files) sent to `_quarantine/`.
    pub quarantined: u64,
    pub bytes_read: u64,
    pub parquet_files: u64,
    pub parquet_bytes: u64,
    pub transactions: u64,
    pub seconds: f64,
}

/// Progress reports, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub files: u64,
    pub events: u64,
    pub bytes: u64,
}

/// One undecodable record (or file), as written to `_quarantine/`.
#[derive(Debug, Clone, Serialize)]
struct QuarantineEntry {
    source: String,
    record: Option<u64>,
    offset: Option<u64>,
    reason: String,
    /// The record's text when it could be located and is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_hex: Option<String>,
}

/// The decoded content of one source.
#[derive(Debug, Default)]
struct Decoded {
    /// Source objects read (stdin has none).
    entries: Vec<SourceEntry>,
    files: u64,
    batches: Vec<(PartitionKey, RecordBatch)>,
    quarantine: Vec<QuarantineEntry>,
    records: u64,
    bytes: u64,
}

const MAX_QUARANTINE_RAW: usize = 1024 * 1024;
/// Parquet encoder threads per transaction, and partitions queued for them.
const ENCODERS: usize = 2;
const ENCODE_QUEUE: usize = 2;
/// Decoded groups of files queued for the collector, and files per group.
const DECODED_QUEUE: usize = 16;
const FILES_PER_TASK: usize = 8;

/// Decode one source into the shared partition builders.
fn decode_reader(
    src: &SourceObject,
    reader: Box<dyn Read>,
    opts: DecodeOptions,
    parts: &mut HashMap<PartitionKey, BatchBuilder>,
    out: &mut Decoded,
) {
    out.files += 1;
    if !matches!(src.location, SourceLocation::Stdin) {
        out.entries.push(SourceEntry {
            key: src.key.clone(),
            size: src.size,
            version: src.version.clone(),
        });
    }
    let mut dec = match Decoder::from_reader(src.key.clone(), reader, opts) {
        Ok(d) => d,
        Err(e) => {
            out.quarantine.push(QuarantineEntry {
                source: src.key.clone(),
                record: None,
                offset: None,
                reason: e.to_string(),
                raw: None,
                raw_hex: None,
            });
            return;
        }
    };
    let quarantine = &mut out.quarantine;
    let mut records = 0;
    dec.for_each(
        |r| {
            records += 1;
            let pk = PartitionKey::of(r, src.fallback_account.as_deref());
            parts.entry(pk).or_default().append(r);
            Ok::<(), std::convert::Infallible>(())
        },
        |error, bytes| {
            tracing::warn!("quarantined: {error}");
            let bytes = bytes.filter(|b| b.len() <= MAX_QUARANTINE_RAW);
            let (raw, raw_hex) = match bytes.map(std::str::from_utf8) {
                Some(Ok(s)) => (Some(s.to_string()), None),
                Some(Err(_)) => (None, bytes.map(hex)),
                None => (None, None),
            };
            quarantine.push(QuarantineEntry {
                source: src.key.clone(),
                record: error.record_index(),
                offset: error.offset(),
                reason: error.to_string(),
                raw,
                raw_hex,
            });
            Ok(())
        },
    )
    .unwrap_or_else(|never| match never {});
    out.records += records;
    out.bytes += if src.size > 0 {
        src.size
    } else {
        dec.input_bytes()
    };
}

/// Decode a few sources into shared builders: fewer, larger batches than
/// one set per file, which the dedup and Parquet steps handle faster.
fn decode_sources(
    items: &[(&SourceObject, Option<Bytes>)],
    opts: DecodeOptions,
) -> Result<Decoded, LakeError> {
    let mut out = Decoded::default();
    let mut parts: HashMap<PartitionKey, BatchBuilder> = HashMap::new();
    for (src, fetched) in items {
        let reader: Box<dyn Read> = match (&src.location, fetched) {
            (_, Some(bytes)) => Box::new(std::io::Cursor::new(bytes.clone())),
            (SourceLocation::Local(path), None) => match open_regular(path) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    // One unreadable file costs only itself: it is reported
                    // and listed in the quarantine, and, not being recorded
                    // as ingested, is read by a later run that can.
                    tracing::warn!("quarantined: cannot open {}: {e}", path.display());
                    out.quarantine.push(QuarantineEntry {
                        source: src.key.clone(),
                        record: None,
                        offset: None,
                        reason: format!("cannot open {}: {e}", path.display()),
                        raw: None,
                        raw_hex: None,
                    });
                    continue;
                }
            },
            (SourceLocation::Stdin, None) => Box::new(std::io::stdin()),
            (SourceLocation::Object { path, .. }, None) => {
                return Err(LakeError::Other(format!("{path} was not fetched")));
            }
        };
        decode_reader(src, reader, opts, &mut parts, &mut out);
    }
    for (pk, mut b) in parts {
        out.batches.push((pk, b.finish()?));
    }
    out.batches.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Open a local source that must be a regular file: a folder, FIFO or
/// device is an error here, not a read that fails late or blocks forever.
fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    // Checked before opening too: opening a FIFO waits for a writer.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let f = std::fs::File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The eventIDs stored in one Parquet file.
fn read_event_ids(bytes: Bytes, ids: &mut EventIdSet) -> Result<(), LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    let idx = builder
        .schema()
        .index_of("eventid")
        .map_err(LakeError::Arrow)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [idx]);
    for batch in builder.with_projection(mask).build()? {
        let batch = batch?;
        let col = batch.column(0).as_string::<i32>();
        for i in 0..col.len() {
            if col.is_valid(i) {
                ids.insert(col.value(i));
            }
        }
    }
    Ok(())
}

/// Partition-scoped eventID sets, loaded on first touch.
struct Seen<'s> {
    store: &'s Store,
    sets: HashMap<PartitionKey, EventIdSet>,
}

impl Seen<'_> {
    fn set(&mut self, pk: &PartitionKey) -> Result<&mut EventIdSet, LakeError> {
        if !self.sets.contains_key(pk) {
            let mut ids = EventIdSet::default();
            let dir = format!("{TABLE_DIR}/{}", pk.dir());
            for meta in self.store.list(&dir)? {
                let rel = self.store.rel(&meta.location);
                if rel.ends_with(".parquet") {
                    read_event_ids(self.store.get(&rel)?, &mut ids)?;
                }
            }
            self.sets.insert(pk.clone(), ids);
        }
        self.sets
            .get_mut(pk)
            .ok_or_else(|| LakeError::Other("partition set vanished".into()))
    }
}

/// Rows waiting to be written, per partition, within one transaction.
#[derive(Default)]
struct Pending {
    parts: HashMap<PartitionKey, (Vec<RecordBatch>, usize)>,
    bytes: usize,
}

/// A partition's rows, on their way to an encoder thread.
type Job = (PartitionKey, Vec<RecordBatch>);

struct Buffer<'s> {
    opts: &'s IngestOptions,
    /// Encoder threads take partitions from here, so Parquet encoding
    /// overlaps with decoding the next sources.
    jobs: std::sync::mpsc::SyncSender<Job>,
    pending: Pending,
}

impl Buffer<'_> {
    fn add(&mut self, pk: PartitionKey, batch: RecordBatch) -> Result<(), LakeError> {
        let size = batch.get_array_memory_size();
        let slot = self.pending.parts.entry(pk).or_default();
        slot.1 += size;
        slot.0.push(batch);
        self.pending.bytes += size;
        while self.pending.bytes > self.opts.buffer_bytes {
            let Some(largest) = self
                .pending
                .parts
                .iter()
                .max_by_key(|(_, (_, b))| *b)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.flush(std::iter::once(largest).collect())?;
        }
        Ok(())
    }

    /// Hand the given partitions' pending rows to the encoders.
    fn flush(&mut self, keys: Vec<PartitionKey>) -> Result<(), LakeError> {
        for k in keys {
            if let Some((batches, bytes)) = self.pending.parts.remove(&k) {
                self.pending.bytes -= bytes;
                self.jobs
                    .send((k, batches))
                    .map_err(|_| LakeError::Other("the Parquet encoder stopped".into()))?;
            }
        }
        Ok(())
    }

    fn flush_all(&mut self) -> Result<(), LakeError> {
        let mut keys: Vec<PartitionKey> = self.pending.parts.keys().cloned().collect();
        keys.sort();
        self.flush(keys)
    }
}

/// An encoder thread: Parquet-encode partitions and stage them.
fn encode_jobs(
    staging: &Staging<'_>,
    rows_per_group: usize,
    jobs: &std::sync::Mutex<std::sync::mpsc::Receiver<Job>>,
) -> Result<Vec<FileEntry>, LakeError> {
    let mut files = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return Err(LakeError::Other("encoder queue poisoned".into())),
        };
        let Ok((k, batches)) = job else {
            return Ok(files);
        };
        let (bytes, rows) = parquet_file::encode(
            cloudtrail_schema(),
            batches.into_iter().map(Ok),
            rows_per_group,
        )?;
        let final_path = format!(
            "{TABLE_DIR}/{}/part-{}.parquet",
            k.dir(),
            uuid::Uuid::new_v4()
        );
        files.push(staging.stage(&final_path, bytes, rows)?);
    }
}

fn source_entry_of(s: &SourceObject) -> SourceEntry {
    SourceEntry {
        key: s.key.clone(),
        size: s.size,
        version: s.version.clone(),
    }
}

/// Fetch object-store sources of a chunk concurrently (bounded), keeping order.
fn fetch_chunk(
    store: &Store,
    chunk: &[SourceObject],
    concurrency: usize,
) -> Result<Vec<Option<Bytes>>, LakeError> {
    let futures = chunk.iter().map(|s| async move {
        match &s.location {
            SourceLocation::Object { store, path } => {
                let bytes = store.get(path).await?.bytes().await?;
                Ok::<_, object_store::Error>(Some(bytes))
            }
            _ => Ok(None),
        }
    });
    let results: Vec<Result<Option<Bytes>, object_store::Error>> = store.block_on(
        futures::stream::iter(futures)
            .buffered(concurrency.max(1))
            .collect(),
    );
    results
        .into_iter()
        .map(|r| r.map_err(LakeError::from))
        .collect()
}

/// Ingest `sources` into the lake at `store`.
pub fn ingest(
    store: &Store,
    sources: Vec<SourceObject>,
    opts: &IngestOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<IngestSummary, LakeError> {
    let started = Instant::now();
    recover(store)?;
    let index = SourceIndex::from_transactions(&manifest::load_all(store)?);
    let mut summary = IngestSummary::default();
    let todo: Vec<SourceObject> = sources
        .into_iter()
        .filter(|s| {
            let done =
                !matches!(s.location, SourceLocation::Stdin) && index.contains(&source_entry_of(s));
            if done {
                summary.files_already_ingested += 1;
            }
            !done
        })
        .collect();
    let mut seen = Seen {
        store,
        sets: HashMap::new(),
    };
    let mut done = Progress {
        files: 0,
        events: 0,
        bytes: 0,
    };
    let mut rest: &[SourceObject] = &todo;
    while !rest.is_empty() {
        // A transaction: as many sources as fit in tx_bytes (at least one).
        let mut n = 0;
        let mut bytes = 0u64;
        while n < rest.len() && (n == 0 || bytes + rest[n].size <= opts.tx_bytes) {
            bytes += rest[n].size;
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let staging = Staging::begin(store);
        let mut sources = Vec::new();
        let mut quarantine = Vec::new();
        let (mut records, mut duplicates) = (0u64, 0u64);
        let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<Job>(ENCODE_QUEUE);
        let job_rx = std::sync::Mutex::new(job_rx);
        let files = std::thread::scope(|scope| -> Result<Vec<FileEntry>, LakeError> {
            let workers: Vec<_> = (0..ENCODERS)
                .map(|_| scope.spawn(|| encode_jobs(&staging, opts.row_group_rows, &job_rx)))
                .collect();
            let mut buffer = Buffer {
                opts,
                jobs: job_tx,
                pending: Pending::default(),
            };
            let produced = (|| -> Result<(), LakeError> {
                // A decoder thread decodes a few MB of sources at a time (in
                // parallel) while this thread deduplicates and buffers the
                // previous files, so neither waits for the other. The bounded
                // queue keeps decoded rows from piling up (bounded memory).
                let (dec_tx, dec_rx) =
                    std::sync::mpsc::sync_channel::<Result<Decoded, LakeError>>(DECODED_QUEUE);
                let decoder = scope.spawn(move || {
                    let mut batch_rest: &[SourceObject] = chunk;
                    while !batch_rest.is_empty() {
                        let mut m = 0;
                        let mut batch_bytes = 0u64;
                        while m < batch_rest.len()
                            && (m == 0
                                || batch_bytes + batch_rest[m].size <= opts.decode_batch_bytes)
                        {
                            batch_bytes += batch_rest[m].size;
                            m += 1;
                        }
                        let (group, after) = batch_rest.split_at(m);
                        batch_rest = after;
                        let fetched = match fetch_chunk(store, group, opts.fetch_concurrency) {
                            Ok(f) => f,
                            Err(e) => {
                                let _ = dec_tx.send(Err(e));
                                return;
                            }
                        };
                        let items: Vec<(&SourceObject, Option<Bytes>)> =
                            group.iter().zip(fetched).collect();
                        let decoded: Vec<Result<Decoded, LakeError>> = items
                            .par_chunks(FILES_PER_TASK)
                            .map(|chunk| decode_sources(chunk, opts.decode))
                            .collect();
                        for d in decoded {
                            if dec_tx.send(d).is_err() {
                                return; // the collector stopped on an error
                            }
                        }
                    }
                });
                {
                    for d in dec_rx {
                        let d = d?;
                        summary.files += d.files;
                        summary.bytes_read += d.bytes;
                        done.files += d.files;
                        done.bytes += d.bytes;
                        sources.extend(d.entries);
                        quarantine.extend(d.quarantine);
                        for (pk, batch) in d.batches {
                            let ids = seen.set(&pk)?;
                            let col = batch
                                .column_by_name("eventid")
                                .ok_or_else(|| LakeError::Other("batch without eventid".into()))?
                                .as_string::<i32>();
                            let keep: BooleanArray = (0..col.len())
                                .map(|i| Some(ids.insert(col.value(i))))
                                .collect();
                            let kept = keep.true_count();
                            duplicates += (batch.num_rows() - kept) as u64;
                            records += kept as u64;
                            done.events += kept as u64;
                            if kept == 0 {
                                continue;
                            }
                            let batch = if kept == batch.num_rows() {
                                batch
                            } else {
                                filter_record_batch(&batch, &keep)?
                            };
                            buffer.add(pk, batch)?;
                        }
                        progress(done);
                    }
                }
                decoder
                    .join()
                    .map_err(|_| LakeError::Other("the decoder thread panicked".into()))?;
                buffer.flush_all()
            })();
            // Closing the queue lets the encoders finish and return.
            drop(buffer);
            let mut files = Vec::new();
            for w in workers {
                let done = w
                    .join()
                    .map_err(|_| LakeError::Other("a Parquet encoder panicked".into()))?;
                files.extend(done?);
            }
            produced?;
            files.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(files)
        })?;
        let quarantined = quarantine.len() as u64;
        let quarantine_path = if quarantine.is_empty() {
            None
        } else {
            let path = format!("{QUARANTINE_DIR}/{}.ndjson", staging.txid());
            let mut text = Vec::new();
            for q in &quarantine {
                serde_json::to_writer(&mut text, q).map_err(|e| LakeError::Other(e.to_string()))?;
                text.push(b'\n');
            }
            staging.stage_other(&path, Bytes::from(text))?;
            Some(path)
        };
        let committed = staging.commit(Transaction {
            version: 1,
            txid: String::new(),
            committed_at: String::new(),
            operation: Operation::Ingest,
            sources,
            files,
            quarantine: quarantine_path,
            records,
            duplicates,
            quarantined,
        })?;
        summary.transactions += 1;
        summary.events += records;
        summary.duplicates += duplicates;
        summary.quarantined += quarantined;
        summary.parquet_files += committed.files.len() as u64;
        summary.parquet_bytes += committed.files.iter().map(|f| f.bytes).sum::<u64>();
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
