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
use rayon::prelude::*;
use serde::Serialize;
use trailwatch_core::event::{DecodeOptions, Decoder};

use crate::batch::BatchBuilder;
use crate::dedup::{self, EventIdSet};
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
    /// The table files committed (lake-relative paths), for a caller that
    /// keeps track of what it has applied (a server's state snapshot).
    #[serde(skip)]
    pub written: Vec<String>,
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

impl QuarantineEntry {
    /// A whole source that could not be read, and why.
    fn whole(source: &str, reason: String) -> QuarantineEntry {
        QuarantineEntry {
            source: source.to_string(),
            record: None,
            offset: None,
            reason,
            raw: None,
            raw_hex: None,
        }
    }
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

/// The least of a record's text a quarantine entry keeps (records up to
/// the decoder's record limit keep theirs whole).
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
    let keep_raw = MAX_QUARANTINE_RAW.max(opts.max_record_bytes);
    let mut dec = match Decoder::from_reader(src.key.clone(), reader, opts) {
        Ok(d) => d,
        Err(e) => {
            out.quarantine
                .push(QuarantineEntry::whole(&src.key, e.to_string()));
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
            // Any record the decoder could read whole keeps its text: a
            // pushed record has no other copy.
            let bytes = bytes.filter(|b| b.len() <= keep_raw);
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

/// A source's CloudTrail text: the reader itself, or, for OCSF Parquet
/// (Security Lake's), its events turned back into CloudTrail records.
fn as_cloudtrail(
    src: &SourceObject,
    mut reader: Box<dyn Read>,
) -> Result<Box<dyn Read>, LakeError> {
    if !crate::ocsf::is_parquet_name(&src.key) {
        return Ok(reader);
    }
    let read = crate::ocsf::parquet_as_cloudtrail(&src.key, &mut reader)?;
    if !read.absent.is_empty() {
        tracing::warn!(
            "{}: OCSF without the columns of {}: those CloudTrail fields stay absent",
            src.key,
            read.absent.join(", ")
        );
    }
    Ok(Box::new(std::io::Cursor::new(read.text)))
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
                    out.quarantine.push(QuarantineEntry::whole(
                        &src.key,
                        format!("cannot open {}: {e}", path.display()),
                    ));
                    continue;
                }
            },
            (SourceLocation::Stdin, None) => Box::new(std::io::stdin()),
            (SourceLocation::Object { path, .. }, None) => {
                return Err(LakeError::Broken(format!("{path} was not fetched")));
            }
        };
        let reader = match as_cloudtrail(src, reader) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("quarantined: {e}");
                out.quarantine
                    .push(QuarantineEntry::whole(&src.key, e.to_string()));
                continue;
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

/// The eventIDs a transaction has taken so far, per partition: duplicates
/// within it are dropped against these, duplicates of what the lake
/// already holds when the rows are handed to the encoders
/// ([`Buffer::flush`]). Cleared at each commit, so memory is bounded by a
/// transaction, not by the lake.
#[derive(Default)]
struct Seen {
    sets: HashMap<PartitionKey, EventIdSet>,
}

impl Seen {
    fn set(&mut self, pk: &PartitionKey) -> &mut EventIdSet {
        self.sets.entry(pk.clone()).or_default()
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
    store: &'s Store,
    opts: &'s IngestOptions,
    /// Encoder threads take partitions from here, so Parquet encoding
    /// overlaps with decoding the next sources.
    jobs: std::sync::mpsc::SyncSender<Job>,
    pending: Pending,
    /// The stored files of each partition, listed once per transaction
    /// (what it stages is not among them until it commits).
    stored_files: HashMap<PartitionKey, Vec<String>>,
    /// Rows dropped because the lake already held their ids.
    stored_duplicates: u64,
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

    /// Hand the given partitions' pending rows to the encoders, without
    /// the ones whose ids the lake already holds.
    fn flush(&mut self, keys: Vec<PartitionKey>) -> Result<(), LakeError> {
        for k in keys {
            if let Some((batches, bytes)) = self.pending.parts.remove(&k) {
                self.pending.bytes -= bytes;
                let batches = self.not_stored(&k, batches)?;
                if batches.is_empty() {
                    continue;
                }
                self.jobs
                    .send((k, batches))
                    .map_err(|_| LakeError::Worker("the Parquet encoder stopped"))?;
            }
        }
        Ok(())
    }

    /// `batches` of partition `k` without the rows whose ids its stored
    /// files hold.
    fn not_stored(
        &mut self,
        k: &PartitionKey,
        batches: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>, LakeError> {
        if !self.stored_files.contains_key(k) {
            let dir = format!("{TABLE_DIR}/{}", k.dir());
            let files = (self.store.list(&dir)?.iter())
                .map(|m| self.store.rel(&m.location))
                .filter(|rel| rel.ends_with(".parquet"))
                .collect();
            self.stored_files.insert(k.clone(), files);
        }
        let files = &self.stored_files[k];
        if files.is_empty() {
            return Ok(batches);
        }
        let columns = batches
            .iter()
            .map(|b| {
                b.column_by_name("eventid")
                    .map(|c| c.as_string::<i32>().clone())
                    .ok_or_else(|| LakeError::Broken("batch without eventid".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let candidates: Vec<&str> = columns.iter().flat_map(|c| c.iter().flatten()).collect();
        let stored = dedup::stored_among(self.store, files, &candidates)?;
        if stored.is_empty() {
            return Ok(batches);
        }
        let mut kept_batches = Vec::with_capacity(batches.len());
        for (batch, ids) in batches.iter().zip(&columns) {
            let keep: BooleanArray = ids
                .iter()
                .map(|id| Some(!id.is_some_and(|id| stored.contains(id))))
                .collect();
            self.stored_duplicates += (batch.num_rows() - keep.true_count()) as u64;
            if keep.true_count() > 0 {
                kept_batches.push(filter_record_batch(batch, &keep)?);
            }
        }
        Ok(kept_batches)
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
            Err(_) => return Err(LakeError::Worker("encoder queue poisoned")),
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

/// Ingest `sources` into the lake at `store`: the sources not already in
/// it, a transaction at a time (as many sources as fit in `tx_bytes`).
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
    let mut run = Run {
        store,
        opts,
        progress,
        seen: Seen::default(),
        done: Progress {
            files: 0,
            events: 0,
            bytes: 0,
        },
        summary,
    };
    let mut rest: &[SourceObject] = &todo;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(fitting(rest, opts.tx_bytes));
        rest = tail;
        run.transaction(chunk)?;
    }
    run.summary.seconds = started.elapsed().as_secs_f64();
    Ok(run.summary)
}

/// How many of `sources` (at least one) fit in `limit` bytes.
fn fitting(sources: &[SourceObject], limit: u64) -> usize {
    let mut n = 0;
    let mut bytes = 0u64;
    while n < sources.len() && (n == 0 || bytes + sources[n].size <= limit) {
        bytes += sources[n].size;
        n += 1;
    }
    n
}

/// One ingest under way: what it has seen and done so far.
struct Run<'a> {
    store: &'a Store,
    opts: &'a IngestOptions,
    progress: &'a (dyn Fn(Progress) + Sync),
    /// The eventIDs this transaction has taken, for exactly-once storage.
    seen: Seen,
    done: Progress,
    summary: IngestSummary,
}

/// What one transaction's sources gave besides Parquet files.
#[derive(Default)]
struct Gathered {
    sources: Vec<SourceEntry>,
    quarantine: Vec<QuarantineEntry>,
    records: u64,
    duplicates: u64,
}

impl Run<'_> {
    /// Ingest `chunk` in one transaction: decoded, deduplicated, encoded,
    /// staged and committed (or, on an error, nothing of it).
    fn transaction(&mut self, chunk: &[SourceObject]) -> Result<(), LakeError> {
        let staging = Staging::begin(self.store);
        self.seen = Seen::default();
        let mut got = Gathered::default();
        let files = self.encode(chunk, &staging, &mut got)?;
        let quarantined = got.quarantine.len() as u64;
        let quarantine = stage_quarantine(&staging, &got.quarantine)?;
        let committed = staging.commit(Transaction {
            version: 1,
            txid: String::new(),
            committed_at: String::new(),
            operation: Operation::Ingest,
            sources: got.sources,
            files,
            quarantine,
            records: got.records,
            duplicates: got.duplicates,
            quarantined,
        })?;
        let s = &mut self.summary;
        s.transactions += 1;
        s.events += got.records;
        s.duplicates += got.duplicates;
        s.quarantined += quarantined;
        s.parquet_files += committed.files.len() as u64;
        s.parquet_bytes += committed.files.iter().map(|f| f.bytes).sum::<u64>();
        s.written
            .extend(committed.files.iter().map(|f| f.path.clone()));
        Ok(())
    }

    /// Decode `chunk` on a thread of its own, deduplicate and buffer here,
    /// and encode Parquet on [`ENCODERS`] threads, all at once: the files
    /// staged, sorted by path.
    fn encode(
        &mut self,
        chunk: &[SourceObject],
        staging: &Staging<'_>,
        got: &mut Gathered,
    ) -> Result<Vec<FileEntry>, LakeError> {
        let opts = self.opts;
        let store = self.store;
        let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<Job>(ENCODE_QUEUE);
        let job_rx = std::sync::Mutex::new(job_rx);
        std::thread::scope(|scope| -> Result<Vec<FileEntry>, LakeError> {
            let workers: Vec<_> = (0..ENCODERS)
                .map(|_| scope.spawn(|| encode_jobs(staging, opts.row_group_rows, &job_rx)))
                .collect();
            let mut buffer = Buffer {
                store,
                opts,
                jobs: job_tx,
                pending: Pending::default(),
                stored_files: HashMap::new(),
                stored_duplicates: 0,
            };
            let produced = (|| -> Result<(), LakeError> {
                // The decoder decodes a few MB of sources at a time (in
                // parallel) while this thread deduplicates and buffers the
                // previous files, so neither waits for the other. The
                // bounded queue keeps decoded rows from piling up (bounded
                // memory).
                let (dec_tx, dec_rx) =
                    std::sync::mpsc::sync_channel::<Result<Decoded, LakeError>>(DECODED_QUEUE);
                let decoder = scope.spawn(move || decode_all(store, chunk, opts, &dec_tx));
                for d in dec_rx {
                    self.take(d?, &mut buffer, got)?;
                }
                decoder
                    .join()
                    .map_err(|_| LakeError::Worker("the decoder thread panicked"))?;
                buffer.flush_all()
            })();
            // Rows counted as new when taken turned out to be stored.
            let stored = buffer.stored_duplicates;
            got.records -= stored;
            got.duplicates += stored;
            self.done.events -= stored;
            // Closing the queue lets the encoders finish and return.
            drop(buffer);
            let mut files = Vec::new();
            for w in workers {
                let done = w
                    .join()
                    .map_err(|_| LakeError::Worker("a Parquet encoder panicked"))?;
                files.extend(done?);
            }
            produced?;
            files.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(files)
        })
    }

    /// One decoded piece: counted, its rows deduplicated against the
    /// partitions' eventIDs, and the new ones buffered for encoding.
    fn take(
        &mut self,
        d: Decoded,
        buffer: &mut Buffer<'_>,
        got: &mut Gathered,
    ) -> Result<(), LakeError> {
        self.summary.files += d.files;
        self.summary.bytes_read += d.bytes;
        self.done.files += d.files;
        self.done.bytes += d.bytes;
        got.sources.extend(d.entries);
        got.quarantine.extend(d.quarantine);
        for (pk, batch) in d.batches {
            let ids = self.seen.set(&pk);
            let col = batch
                .column_by_name("eventid")
                .ok_or_else(|| LakeError::Broken("batch without eventid".into()))?
                .as_string::<i32>();
            let keep: BooleanArray = (0..col.len())
                .map(|i| Some(ids.insert(col.value(i))))
                .collect();
            let kept = keep.true_count();
            got.duplicates += (batch.num_rows() - kept) as u64;
            got.records += kept as u64;
            self.done.events += kept as u64;
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
        (self.progress)(self.done);
        Ok(())
    }
}

/// The decoder thread: `chunk` fetched and decoded a batch of
/// `decode_batch_bytes` at a time, each batch's files in parallel, sent in
/// order. It stops at the first error (sent on) or when the receiver
/// has stopped.
fn decode_all(
    store: &Store,
    chunk: &[SourceObject],
    opts: &IngestOptions,
    out: &std::sync::mpsc::SyncSender<Result<Decoded, LakeError>>,
) {
    let mut rest: &[SourceObject] = chunk;
    while !rest.is_empty() {
        let (group, after) = rest.split_at(fitting(rest, opts.decode_batch_bytes));
        rest = after;
        let fetched = match fetch_chunk(store, group, opts.fetch_concurrency) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.send(Err(e));
                return;
            }
        };
        let items: Vec<(&SourceObject, Option<Bytes>)> = group.iter().zip(fetched).collect();
        let decoded: Vec<Result<Decoded, LakeError>> = items
            .par_chunks(FILES_PER_TASK)
            .map(|chunk| decode_sources(chunk, opts.decode))
            .collect();
        for d in decoded {
            if out.send(d).is_err() {
                return; // the collector stopped on an error
            }
        }
    }
}

/// The transaction's undecodable records, staged as one NDJSON file in
/// `_quarantine/`: its path, or none when there are none.
fn stage_quarantine(
    staging: &Staging<'_>,
    quarantine: &[QuarantineEntry],
) -> Result<Option<String>, LakeError> {
    if quarantine.is_empty() {
        return Ok(None);
    }
    let path = format!("{QUARANTINE_DIR}/{}.ndjson", staging.txid());
    let mut text = Vec::new();
    for q in quarantine {
        serde_json::to_writer(&mut text, q)?;
        text.push(b'\n');
    }
    staging.stage_other(&path, Bytes::from(text))?;
    Ok(Some(path))
}
