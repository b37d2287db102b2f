//! Exactly-once storage by eventID, in memory bounded by a transaction,
//! not by the lake.
//!
//! Duplicates of an event share its `eventTime`, hence its partition. An
//! ingest transaction keeps the ids it has taken so far ([`EventIdSet`],
//! per partition); before rows are written, the ones whose ids the
//! partition's stored files already hold are dropped ([`stored_among`]).
//! That check reads the stored files' `eventid` column one row group at a
//! time, and skips a row group outright when its bloom filter rejects
//! every candidate (the common case for a small push or a poll of
//! `watch`). A bloom filter never rejects an id it holds, so the check is
//! exact: a false "duplicate" cannot drop an event. Nothing is kept
//! between transactions: memory does not grow with the lake.
use std::collections::HashSet;

use arrow::array::{Array, AsArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::LakeError;
use crate::object_reader::StoredObject;
use crate::store::Store;

/// Probing a row group's bloom filter pays while the candidates are few
/// next to its rows; past this share, reading its ids is cheaper.
const BLOOM_PROBE_SHARE: usize = 8;

/// A set of eventIDs: UUIDs (CloudTrail's form) are held as 16 bytes,
/// anything else as text.
#[derive(Debug, Default)]
pub struct EventIdSet {
    uuids: HashSet<u128>,
    others: HashSet<Box<str>>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// `8-4-4-4-12` lower-case hex digits (CloudTrail's spelling) as a number;
/// `None` for other shapes. Ids are compared as the strings they are (a
/// bloom filter hashes the stored bytes), so an upper-case spelling is
/// another id, kept as text.
fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        v = (v << 4) | u128::from(hex(c)?);
    }
    Some(v)
}

impl EventIdSet {
    /// Insert; true when the id was not there yet.
    pub fn insert(&mut self, id: &str) -> bool {
        match parse_uuid(id) {
            Some(u) => self.uuids.insert(u),
            None => {
                if self.others.contains(id) {
                    false
                } else {
                    self.others.insert(id.into())
                }
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        match parse_uuid(id) {
            Some(u) => self.uuids.contains(&u),
            None => self.others.contains(id),
        }
    }

    pub fn len(&self) -> usize {
        self.uuids.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which of `candidates` (distinct ids) the stored Parquet `files` hold.
/// Reads only the `eventid` column, one row group at a time, of the row
/// groups whose bloom filter admits a candidate.
pub fn stored_among(
    store: &Store,
    files: &[String],
    candidates: &[&str],
) -> Result<EventIdSet, LakeError> {
    let mut found = EventIdSet::default();
    if candidates.is_empty() {
        return Ok(found);
    }
    let mut wanted = EventIdSet::default();
    for c in candidates {
        wanted.insert(c);
    }
    for rel in files {
        let builder = ParquetRecordBatchReaderBuilder::try_new(StoredObject::open(store, rel)?)?;
        let Some(leaf) = builder
            .parquet_schema()
            .columns()
            .iter()
            .position(|c| c.path().string() == "eventid")
        else {
            return Err(LakeError::BadFile {
                path: rel.clone(),
                message: "no eventid column".into(),
            });
        };
        let mut groups = Vec::new();
        for g in 0..builder.metadata().num_row_groups() {
            if may_hold(&builder, g, leaf, candidates)? {
                groups.push(g);
            }
        }
        if groups.is_empty() {
            continue;
        }
        let mask = ProjectionMask::leaves(builder.parquet_schema(), [leaf]);
        for batch in builder
            .with_row_groups(groups)
            .with_projection(mask)
            .build()?
        {
            let batch = batch?;
            let ids = batch.column(0).as_string::<i32>();
            for i in 0..ids.len() {
                if ids.is_valid(i) && wanted.contains(ids.value(i)) {
                    found.insert(ids.value(i));
                }
            }
        }
    }
    Ok(found)
}

/// Whether row group `g` may hold one of `candidates`: false only when
/// its bloom filter on the id column rejects them all.
fn may_hold(
    builder: &ParquetRecordBatchReaderBuilder<StoredObject>,
    g: usize,
    leaf: usize,
    candidates: &[&str],
) -> Result<bool, LakeError> {
    let rows = usize::try_from(builder.metadata().row_group(g).num_rows()).unwrap_or(0);
    if candidates.len().saturating_mul(BLOOM_PROBE_SHARE) > rows {
        return Ok(true);
    }
    Ok(match builder.get_row_group_column_bloom_filter(g, leaf)? {
        Some(filter) => candidates.iter().any(|c| filter.check(*c)),
        // Files written before layout 2 have no filters.
        None => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_other_ids_are_deduplicated() {
        let mut s = EventIdSet::default();
        assert!(s.insert("293ba626-3be5-4a26-ab1b-0f4c54f49959"));
        assert!(!s.insert("293ba626-3be5-4a26-ab1b-0f4c54f49959"));
        assert!(s.insert("293ba626-3be5-4a26-ab1b-0f4c54f49958"));
        assert!(s.insert("id-1"));
        assert!(!s.insert("id-1"));
        assert!(s.insert("not-a-uuid-but-36-characters-long!!!"));
        // Ids are the strings they are: another spelling is another id.
        assert!(s.insert("293BA626-3BE5-4A26-AB1B-0F4C54F49959"));
        assert_eq!(s.len(), 5);
        assert!(s.contains("id-1") && s.contains("293ba626-3be5-4a26-ab1b-0f4c54f49958"));
        assert!(!s.contains("id-2"));
    }

    /// Ids in a stored file of `rows` rows, `groups` row groups.
    fn stored_ids(store: &Store, rel: &str, ids: &[String], group_rows: usize) {
        use std::sync::Arc;

        use arrow::array::StringArray;
        use arrow::datatypes::{DataType, Field, Schema};
        use arrow::record_batch::RecordBatch;

        let schema = Arc::new(Schema::new(vec![
            Field::new("eventname", DataType::Utf8, true),
            Field::new("eventid", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from_iter_values(ids.iter().map(|_| "X"))),
                Arc::new(StringArray::from_iter_values(ids.iter())),
            ],
        )
        .expect("batch");
        let (bytes, _) =
            crate::parquet_file::encode(schema, [Ok(batch)], group_rows).expect("encode");
        store.put(rel, bytes).expect("put");
    }

    fn uuid(i: u32) -> String {
        format!("{i:08x}-0000-4000-8000-{:012x}", u64::from(i) * 7919)
    }

    /// A few candidates go through the bloom filters, many through reading
    /// the ids; both find exactly the stored ones and never one that is not.
    #[test]
    fn the_stored_ids_among_candidates_are_found_exactly() {
        let (_rt, _dir, store) = crate::store::temp_store();
        let a: Vec<String> = (0..3000).map(uuid).collect();
        let b: Vec<String> = (3000..4000).map(|i| format!("id-{i}")).collect();
        stored_ids(&store, "t/a.parquet", &a, 1000);
        stored_ids(&store, "t/b.parquet", &b, 1000);
        let files = vec!["t/a.parquet".to_string(), "t/b.parquet".to_string()];
        let few = [
            uuid(5),
            uuid(2999),
            "id-3500".into(),
            uuid(9000),
            "id-1".into(),
        ];
        let few: Vec<&str> = few.iter().map(String::as_str).collect();
        let found = stored_among(&store, &files, &few).expect("check");
        assert_eq!(found.len(), 3);
        for id in &few[..3] {
            assert!(found.contains(id), "{id}");
        }
        let many: Vec<String> = (2500..6000).map(uuid).chain(b[..10].to_vec()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let found = stored_among(&store, &files, &many).expect("check");
        assert_eq!(found.len(), 510);
        assert!(found.contains(&uuid(2500)) && !found.contains(&uuid(3000)));
    }
}
