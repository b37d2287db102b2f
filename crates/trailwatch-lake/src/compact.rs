//! `lake compact`: merge the files of each partition into one, without
//! changing the set of events (or of alerts: the alerts table's date
//! partitions are merged too), crash-safe like ingest. A partition's lone
//! file written in an older layout (`parquet_file::LAYOUT`) is rewritten
//! into the current one.
//!
//! The merged files are staged, the manifest (listing the files it replaces)
//! is committed, then the merged files are published and the replaced ones
//! deleted. A marker in the staging area records the pending deletions, so a
//! crash at any point is finished (or undone, before the commit) by the
//! next run's recovery.

use arrow_schema::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::alerts::{ALERTS_DIR, merge_partition};
use crate::error::LakeError;
use crate::manifest::{Operation, Transaction};
use crate::parquet_file::{self, ROW_GROUP_ROWS};
use crate::partition::{TABLE_DIR, partition_files};
use crate::schema::{cloudtrail_schema, with_identity_copies};
use crate::state_snapshot;
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

/// The rows of `files` (of one table, with `schema`) as one Parquet file.
pub(crate) fn merge(
    store: &Store,
    files: &[String],
    schema: SchemaRef,
) -> Result<(Bytes, u64), LakeError> {
    let mut readers = Vec::new();
    for f in files {
        readers.push(ParquetRecordBatchReaderBuilder::try_new(store.get(f)?)?.build()?);
    }
    let events = schema == cloudtrail_schema();
    let batches = readers.into_iter().flatten().map(|b| {
        let b = b?;
        // Files of an older layout get the columns it lacked.
        Ok(if events { with_identity_copies(&b)? } else { b })
    });
    parquet_file::encode(schema, batches, ROW_GROUP_ROWS)
}

/// Replace `removed` by the merged file `bytes` (`rows` rows) at `path`:
/// the file is staged, the manifest naming the files it replaces is
/// committed, then it is published and they are deleted; a crash at any
/// point is finished or undone by the next recovery.
pub(crate) fn commit_merged(
    store: &Store,
    path: &str,
    (bytes, rows): (Bytes, u64),
    removed: &[String],
) -> Result<(), LakeError> {
    let staging = Staging::begin(store);
    let merged = staging.stage(path, bytes, rows)?;
    staging.stage_removals(removed)?;
    staging.commit(Transaction {
        version: 1,
        txid: String::new(),
        committed_at: String::new(),
        operation: Operation::Compact {
            removed: removed.to_vec(),
        },
        sources: Vec::new(),
        files: vec![merged],
        quarantine: None,
        records: rows,
        duplicates: 0,
        quarantined: 0,
    })?;
    Ok(())
}

/// Merge every partition that has more than one file, and rewrite a lone
/// file of an older layout.
pub fn compact(store: &Store) -> Result<CompactSummary, LakeError> {
    let started = std::time::Instant::now();
    recover(store)?;
    let mut summary = CompactSummary::default();
    // The security state's snapshot follows the files it covers, saved
    // once at the end (a crash before that leaves it naming files that are
    // gone, and the state is rebuilt once).
    let mut snapshot = state_snapshot::load(store)?;
    let mut snapshot_moved = false;
    for (pk, files) in partition_files(store)? {
        summary.files_before += files.len() as u64;
        let settled = match files.as_slice() {
            [] => true,
            // A file whose footer cannot be read cannot be rewritten
            // either: it stays as it is, and compaction goes on.
            [one] => match parquet_file::stored_metadata(store, one) {
                Ok(footer) => parquet_file::is_current_layout(&footer),
                Err(e) => {
                    tracing::warn!("left as it is: {e}");
                    true
                }
            },
            _ => false,
        };
        if settled {
            summary.files_after += files.len() as u64;
            continue;
        }
        let (bytes, rows) = merge(store, &files, cloudtrail_schema())?;
        let final_path = format!(
            "{TABLE_DIR}/{}/part-{}.parquet",
            pk.dir(),
            uuid::Uuid::new_v4()
        );
        commit_merged(store, &final_path, (bytes, rows), &files)?;
        if let Some(s) = &mut snapshot {
            snapshot_moved |= s.compacted(&files, std::slice::from_ref(&final_path));
        }
        summary.partitions_compacted += 1;
        summary.files_after += 1;
        summary.rows += rows;
    }
    if let (Some(s), true) = (&snapshot, snapshot_moved) {
        state_snapshot::save(store, s)?;
    }
    compact_alerts(store, &mut summary)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Merge each date's partition of the alerts table that has more than one
/// file (a server files a small one per push).
fn compact_alerts(store: &Store, summary: &mut CompactSummary) -> Result<(), LakeError> {
    let mut by_date: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for meta in store.list(ALERTS_DIR)? {
        let rel = store.rel(&meta.location);
        let date = rel
            .split('/')
            .find_map(|seg| seg.strip_prefix("date="))
            .map(str::to_string);
        if let (Some(date), true) = (date, rel.ends_with(".parquet")) {
            by_date.entry(date).or_default().push(rel);
        }
    }
    for (date, mut files) in by_date {
        summary.files_before += files.len() as u64;
        summary.files_after += 1;
        if files.len() > 1 {
            files.sort();
            merge_partition(store, &date, &files)?;
            summary.partitions_compacted += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use parquet::arrow::ArrowWriter;
    use parquet::file::reader::FileReader;

    use super::*;
    use crate::batch::batch_of;
    use crate::partition::PartitionKey;

    /// A partition holding one file written before bloom filters (plain
    /// Parquet, as earlier versions wrote it) is rewritten once into the
    /// current layout, with the same rows; the next run leaves it alone.
    #[test]
    fn a_lone_file_of_an_older_layout_is_rewritten_into_the_current_one() {
        let (_rt, _dir, store) = crate::store::temp_store();
        let lines: String = (0..3)
            .map(|i| {
                format!(
                    r#"{{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:0{i}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"id-{i}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
                ) + "\n"
            })
            .collect();
        let batch = batch_of(&lines);
        let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        let old = Bytes::from(w.into_inner().unwrap());
        assert!(!parquet_file::is_current_layout(&parquet_file::metadata(
            &old
        )));
        let part = format!("{TABLE_DIR}/account=111122223333/region=us-east-1/date=2026-04-01");
        store.put(&format!("{part}/part-old.parquet"), old).unwrap();

        let first = compact(&store).unwrap();
        assert_eq!(
            (
                first.partitions_compacted,
                first.files_before,
                first.files_after,
                first.rows
            ),
            (1, 1, 1, 3)
        );
        let files = &partition_files(&store).unwrap()[&PartitionKey {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            date: "2026-04-01".into(),
        }];
        assert_eq!(files.len(), 1);
        assert!(!files[0].ends_with("part-old.parquet"), "{files:?}");
        let new = store.get(&files[0]).unwrap();
        let footer = parquet_file::stored_metadata(&store, &files[0]).unwrap();
        assert!(parquet_file::is_current_layout(&footer));
        assert_eq!(footer.file_metadata().num_rows(), 3);
        let reader = parquet_file::with_bloom_filters(new);
        let eventid = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == "eventid")
            .unwrap();
        let group = reader.get_row_group(0).unwrap();
        let filter = group.get_column_bloom_filter(eventid).expect("a filter");
        assert!(filter.check("id-1"));
        assert_eq!(reader.metadata().file_metadata().num_rows(), 3);

        let second = compact(&store).unwrap();
        assert_eq!((second.partitions_compacted, second.files_after), (0, 1));

        // A lone file that is not Parquet is named in the error the footer
        // read gives, left untouched, and does not stop the compaction.
        let broken = format!(
            "{TABLE_DIR}/account=111122223333/region=us-east-1/date=2026-04-02/part-x.parquet"
        );
        store
            .put(&broken, Bytes::from_static(b"PAR1 not parquet"))
            .unwrap();
        let err = parquet_file::stored_metadata(&store, &broken).unwrap_err();
        assert!(err.to_string().contains("part-x.parquet"), "{err}");
        let third = compact(&store).unwrap();
        assert_eq!((third.partitions_compacted, third.files_after), (0, 2));
        assert_eq!(
            store.get(&broken).unwrap(),
            Bytes::from_static(b"PAR1 not parquet")
        );
    }
}
