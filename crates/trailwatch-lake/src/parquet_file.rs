//! One way to write the lake's Parquet files: zstd (level 1: most of the
//! ratio of higher levels at a fraction of the CPU), row groups sized for
//! scanning, statistics for pruning, no dictionaries for columns that are
//! unique per row (building one only to abandon it costs time), and bloom
//! filters on the columns investigators look values up in.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::FOOTER_SIZE;
use parquet::file::metadata::{FooterTail, KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::LakeError;
use crate::store::Store;

/// Rows per row group of the lake's files.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Columns with a bloom filter per row group. An event id, an address or an
/// API name looked up with `=` or `IN` falls between the min/max statistics
/// of nearly every row group; the filter lets the reader skip the row groups
/// that cannot hold it (DataFusion reads them, `bloom_filter_on_read`).
/// Nested fields (`useridentity.arn`) have their filters on their top-level
/// copies (`useridentity_arn`): DataFusion prunes with bloom filters on
/// top-level columns only. Each filter is sized for the
/// row group and folded down to its distinct values, so a column with few
/// values gets a small one.
pub const BLOOM_FILTER_COLUMNS: &[&str] = &[
    "eventid",
    "eventname",
    "sourceipaddress",
    "useridentity_arn",
    "useridentity_accesskeyid",
];

/// The key-value metadata key that records which layout wrote a file.
pub const LAYOUT_KEY: &str = "trailwatch.layout";

/// The current layout: 2 added the bloom filters, 3 the top-level copies of
/// `useridentity.type`, `.arn` and `.accesskeyid` (`schema::IDENTITY_COPIES`).
/// Files of an older layout (or without the key) are read as they are;
/// `lake compact` rewrites them.
pub const LAYOUT: &str = "3";

/// Whether a file with this footer was written in the current layout.
pub fn is_current_layout(meta: &ParquetMetaData) -> bool {
    meta.file_metadata().key_value_metadata().is_some_and(|kv| {
        kv.iter()
            .any(|e| e.key == LAYOUT_KEY && e.value.as_deref() == Some(LAYOUT))
    })
}

/// The footer of the stored Parquet file `rel`, read by itself (two range
/// reads after the size: the tail gives the footer's length), not the file.
pub fn stored_metadata(store: &Store, rel: &str) -> Result<ParquetMetaData, LakeError> {
    let bad = |message: String| LakeError::BadFile {
        path: rel.to_string(),
        message,
    };
    let named = |e: parquet::errors::ParquetError| bad(e.to_string());
    let size = store.size(rel)?;
    let tail_start = size
        .checked_sub(FOOTER_SIZE as u64)
        .ok_or_else(|| bad(format!("{size} bytes, too short for Parquet")))?;
    let tail = store.get_range(rel, tail_start..size)?;
    let tail: &[u8; FOOTER_SIZE] = tail
        .as_ref()
        .try_into()
        .map_err(|_| bad("short read of the Parquet footer".into()))?;
    let length = FooterTail::try_new(tail).map_err(named)?.metadata_length() as u64;
    let start = tail_start
        .checked_sub(length)
        .ok_or_else(|| bad(format!("footer of {length} bytes in a {size}-byte file")))?;
    ParquetMetaDataReader::decode_metadata(&store.get_range(rel, start..tail_start)?).map_err(named)
}

pub fn writer_properties(row_group_rows: usize) -> Result<WriterProperties, LakeError> {
    let mut b = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            LAYOUT_KEY.into(),
            LAYOUT.to_string(),
        )]))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Chunk);
    for col in [
        "eventid",
        "requestid",
        "eventtime",
        "eventtimestamp",
        "requestparameters",
        "responseelements",
        "additionaleventdata",
    ] {
        b = b.set_column_dictionary_enabled(col.into(), false);
    }
    for col in BLOOM_FILTER_COLUMNS {
        b = b.set_column_bloom_filter_enabled(ColumnPath::from(*col), true);
    }
    Ok(b.build())
}

/// Encode batches as one Parquet file; returns its bytes and row count.
pub fn encode(
    schema: SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, LakeError>>,
    row_group_rows: usize,
) -> Result<(Bytes, u64), LakeError> {
    let props = writer_properties(row_group_rows)?;
    let mut w = ArrowWriter::try_new(Vec::with_capacity(4 * 1024 * 1024), schema, Some(props))?;
    let mut rows = 0u64;
    for b in batches {
        let b = b?;
        rows += b.num_rows() as u64;
        w.write(&b)?;
    }
    Ok((Bytes::from(w.into_inner()?), rows))
}

/// The footer of the Parquet file `bytes`, for tests.
#[cfg(test)]
pub(crate) fn metadata(bytes: &Bytes) -> ParquetMetaData {
    ParquetMetaDataReader::new()
        .parse_and_finish(bytes)
        .expect("a Parquet footer")
}

/// A reader of `bytes` that loads the row groups' bloom filters, for tests.
#[cfg(test)]
pub(crate) fn with_bloom_filters(
    bytes: Bytes,
) -> parquet::file::serialized_reader::SerializedFileReader<Bytes> {
    use parquet::file::properties::ReaderProperties;
    use parquet::file::serialized_reader::{ReadOptionsBuilder, SerializedFileReader};
    let opts = ReadOptionsBuilder::new()
        .with_reader_properties(
            ReaderProperties::builder()
                .set_read_bloom_filter(true)
                .build(),
        )
        .build();
    SerializedFileReader::new_with_options(bytes, opts).expect("a Parquet file")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::file::reader::FileReader;

    use super::*;

    /// Each row group carries a bloom filter for the lookup columns that
    /// holds its own values and (nearly always) rejects the other groups'.
    #[test]
    fn row_groups_carry_bloom_filters_for_the_lookup_columns() {
        let cols = ["eventid", "eventname", "sourceipaddress", "useragent"];
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|c| Field::new(*c, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let rows = 1000;
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            cols.iter()
                .map(|c| {
                    Arc::new(StringArray::from_iter_values(
                        (0..rows).map(|i| format!("{c}-{i}")),
                    )) as arrow::array::ArrayRef
                })
                .collect(),
        )
        .expect("batch");
        let (bytes, n) = encode(schema, [Ok(batch)], 500).expect("encodes");
        assert_eq!(n, rows as u64);
        assert!(is_current_layout(&metadata(&bytes)));
        let file = with_bloom_filters(bytes);
        assert_eq!(file.num_row_groups(), 2);
        for (g, (mine, theirs)) in [(0..500, 500..1000), (500..1000, 0..500)]
            .into_iter()
            .enumerate()
        {
            let group = file.get_row_group(g).expect("row group");
            for (i, c) in cols.iter().enumerate() {
                let filter = group.get_column_bloom_filter(i);
                if *c == "useragent" {
                    assert!(filter.is_none(), "no filter on {c}");
                    continue;
                }
                let filter = filter.unwrap_or_else(|| panic!("a filter on {c}"));
                for v in mine.clone() {
                    assert!(
                        filter.check(format!("{c}-{v}").as_str()),
                        "{c}-{v} in group {g}"
                    );
                }
                let false_hits = theirs
                    .clone()
                    .filter(|v| filter.check(format!("{c}-{v}").as_str()))
                    .count();
                assert!(false_hits < 50, "{false_hits} of 500 false hits on {c}");
            }
        }
    }
}
