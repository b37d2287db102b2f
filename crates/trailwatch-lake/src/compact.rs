//! `lake compact`: merge the files of each partition into one, without
//! changing the set of events, crash-safe like ingest.
//!
//! The merged files are staged, the manifest (listing the files it replaces)
//! is committed, then the merged files are published and the replaced ones
//! deleted. A marker in the staging area records the pending deletions, so a
//! crash at any point is finished (or undone, before the commit) by the
//! next run's recovery.

use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::error::LakeError;
use crate::manifest::{Operation, Transaction};
use crate::parquet_file::{self, ROW_GROUP_ROWS};
use crate::partition::{TABLE_DIR, partition_files};
use crate::schema::cloudtrail_schema;
use crate::store::Store;
use crate::tx::{Staging, recover};

/// What a compaction did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CompactSummary {
    pub partitions_compacted: u64,
    pub files_before: u64,
    pub files_after: u64,
    pub rows: u64,
    pub seconds: f64,
}

fn merge(store: &Store, files: &[String]) -> Result<(Bytes, u64), LakeError> {
    let mut readers = Vec::new();
    for f in files {
        readers.push(ParquetRecordBatchReaderBuilder::try_new(store.get(f)?)?.build()?);
    }
    let batches = readers
        .into_iter()
        .flatten()
        .map(|b| b.map_err(LakeError::from));
    parquet_file::encode(cloudtrail_schema(), batches, ROW_GROUP_ROWS)
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
        let (bytes, rows) = merge(store, &files)?;
        let final_path = format!(
            "{TABLE_DIR}/{}/part-{}.parquet",
            pk.dir(),
            uuid::Uuid::new_v4()
        );
        let staging = Staging::begin(store);
        let merged = staging.stage(&final_path, bytes, rows)?;
        staging.stage_removals(&files)?;
        staging.commit(Transaction {
            version: 1,
            txid: String::new(),
            committed_at: String::new(),
            operation: Operation::Compact {
                removed: files.clone(),
            },
            sources: Vec::new(),
            files: vec![merged],
            quarantine: None,
            records: rows,
            duplicates: 0,
            quarantined: 0,
        })?;
        summary.partitions_compacted += 1;
        summary.files_after += 1;
        summary.rows += rows;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
