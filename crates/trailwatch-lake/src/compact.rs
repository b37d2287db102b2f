//! `lake compact`: merge the files of each partition into one, without
//! changing the set of events, crash-safe like ingest.
//!
//! The merged files are staged, the manifest (listing the files it replaces)
//! is committed, then the merged files are published and the replaced ones
//! deleted. A marker in the staging area records the pending deletions, so a
//! crash at any point is finished (or undone, before the commit) by the
//! next run's recovery.

use std::collections::BTreeMap;

use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::error::LakeError;
use crate::ingest::{recover, writer_properties};
use crate::manifest::{FileEntry, Operation, Transaction};
use crate::partition::{PartitionKey, TABLE_DIR};
use crate::schema::cloudtrail_schema;
use crate::store::Store;

/// The staged marker listing files a committed compaction must delete.
pub const REMOVES_MARKER: &str = "_compact_removes.json";

/// What a compaction did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CompactSummary {
    pub partitions_compacted: u64,
    pub files_before: u64,
    pub files_after: u64,
    pub rows: u64,
    pub seconds: f64,
}

/// Files of each partition of the table.
pub fn partition_files(store: &Store) -> Result<BTreeMap<PartitionKey, Vec<String>>, LakeError> {
    let mut out: BTreeMap<PartitionKey, Vec<String>> = BTreeMap::new();
    for meta in store.list(TABLE_DIR)? {
        let rel = store.rel(&meta.location);
        if !rel.ends_with(".parquet") {
            continue;
        }
        if let Some(pk) = PartitionKey::from_path(&rel) {
            out.entry(pk).or_default().push(rel);
        }
    }
    Ok(out)
}

fn merge(store: &Store, files: &[String]) -> Result<(Bytes, u64), LakeError> {
    let props = writer_properties(128 * 1024)?;
    let mut w = ArrowWriter::try_new(Vec::new(), cloudtrail_schema(), Some(props))?;
    let mut rows = 0;
    for f in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(store.get(f)?)?.build()?;
        for batch in reader {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            w.write(&batch)?;
        }
    }
    Ok((Bytes::from(w.into_inner()?), rows))
}

/// Merge every partition that has more than one file.
pub fn compact(store: &Store) -> Result<CompactSummary, LakeError> {
    let started = std::time::Instant::now();
    recover(store)?;
    let mut summary = CompactSummary::default();
    for (pk, files) in partition_files(store)? {
        summary.files_before += files.len() as u64;
        if files.len() < 2 {
            summary.files_after += files.len() as u64;
            continue;
        }
        let txid = uuid::Uuid::new_v4().simple().to_string();
        let (bytes, rows) = merge(store, &files)?;
        let final_path = format!(
            "{TABLE_DIR}/{}/part-{}.parquet",
            pk.dir(),
            uuid::Uuid::new_v4()
        );
        let len = bytes.len() as u64;
        store.put(&Transaction::staged(&txid, &final_path), bytes)?;
        let marker = serde_json::to_vec(&files).map_err(|e| LakeError::Other(e.to_string()))?;
        store.put(
            &Transaction::staged(&txid, REMOVES_MARKER),
            Bytes::from(marker),
        )?;
        let tx = Transaction {
            version: 1,
            txid: txid.clone(),
            committed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            operation: Operation::Compact {
                removed: files.clone(),
            },
            sources: Vec::new(),
            files: vec![FileEntry {
                path: final_path.clone(),
                rows,
                bytes: len,
            }],
            quarantine: None,
            records: rows,
            duplicates: 0,
            quarantined: 0,
        };
        tx.commit(store)?;
        store.rename(&Transaction::staged(&txid, &final_path), &final_path)?;
        for f in &files {
            store.delete(f)?;
        }
        store.delete(&Transaction::staged(&txid, REMOVES_MARKER))?;
        store.remove_local_dir(&Transaction::staging_prefix(&txid));
        summary.partitions_compacted += 1;
        summary.files_after += 1;
        summary.rows += rows;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
