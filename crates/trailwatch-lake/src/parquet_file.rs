//! One way to write the lake's Parquet files: zstd (level 1: most of the
//! ratio of higher levels at a fraction of the CPU), row groups sized for
//! scanning, statistics for pruning, and no dictionaries for columns that
//! are unique per row (building one only to abandon it costs time).

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::error::LakeError;

/// Rows per row group of the lake's files.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

pub fn writer_properties(row_group_rows: usize) -> Result<WriterProperties, LakeError> {
    let mut b = WriterProperties::builder()
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
