//! OCSF Parquet read back as CloudTrail: a file of OCSF CloudTrail events
//! (Amazon Security Lake's `cloud_trail_mgmt_2_0`, or an export) turned
//! into CloudTrail NDJSON for the decoder every reader of sources uses,
//! with the CloudTrail fields its columns cannot give.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::json::writer::LineDelimitedWriter;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use trailwatch_core::ocsf::to_cloudtrail;

use crate::error::LakeError;

/// Whether a Parquet schema is one of OCSF events (`class_uid` and
/// `metadata` at the top), not the lake's CloudTrail table.
pub fn is_ocsf(schema: &Schema) -> bool {
    schema.field_with_name("class_uid").is_ok() && schema.field_with_name("metadata").is_ok()
}

/// CloudTrail fields that OCSF Parquet of `schema` cannot give back: the
/// OCSF columns they come from are not in the file (another writer's
/// choice; trailwatch's export keeps them all).
pub fn absent_fields(schema: &Schema) -> Vec<&'static str> {
    let has = |path: &str| {
        let names: Vec<&str> = path.split('.').collect();
        let mut fields = schema.fields().clone();
        for (i, name) in names.iter().enumerate() {
            let Some((_, f)) = fields.find(name) else {
                return false;
            };
            if i + 1 < names.len() {
                let DataType::Struct(inner) = f.data_type() else {
                    return false;
                };
                fields = inner.clone();
            }
        }
        true
    };
    let mut absent = Vec::new();
    for (column, fields) in [
        ("api.request.data", &["requestParameters"][..]),
        ("api.response.data", &["responseElements"]),
        ("api.response.error", &["errorCode"]),
        ("actor.session", &["userIdentity.sessionContext"]),
        ("src_endpoint", &["sourceIPAddress"]),
        (
            "unmapped",
            &[
                "additionalEventData",
                "serviceEventDetails",
                "readOnly",
                "managementEvent",
                "tlsDetails",
            ],
        ),
    ] {
        if !has(column) {
            absent.extend_from_slice(fields);
        }
    }
    absent
}

/// An OCSF file read back as CloudTrail NDJSON.
#[derive(Debug, Default)]
pub struct Converted {
    pub text: Vec<u8>,
    /// CloudTrail fields the file's columns cannot give ([`absent_fields`]).
    pub absent: Vec<&'static str>,
    pub stats: ReadStats,
}

/// What reading an OCSF file gave.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    pub rows: u64,
    /// Rows of another class, or without a time: handed on as their OCSF
    /// JSON, which the CloudTrail decoder then reports and quarantines.
    pub not_cloudtrail: u64,
}

/// Whether a source's name says it is Parquet: OCSF to read back as
/// CloudTrail (the lake's own files are read through `--lake`, not as
/// sources).
pub fn is_parquet_name(name: &str) -> bool {
    name.ends_with(".parquet")
}

/// The CloudTrail NDJSON of the OCSF Parquet file `name` read whole from
/// `reader` (a Security Lake file is one partition's hour or so: tens of
/// megabytes). A Parquet file of anything but OCSF events is an error.
pub fn parquet_as_cloudtrail(
    name: &str,
    reader: &mut dyn std::io::Read,
) -> Result<Converted, LakeError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|error| LakeError::Io {
            what: format!("reading {name}"),
            error,
        })?;
    let mut text = Vec::new();
    let (stats, absent) = ocsf_as_cloudtrail(name, Bytes::from(bytes), |batch| {
        text.extend_from_slice(batch);
        Ok(())
    })?;
    Ok(Converted {
        text,
        absent,
        stats,
    })
}

/// The events of OCSF Parquet file `bytes` (named `name`) as CloudTrail
/// NDJSON, handed to `f` a batch at a time; with the CloudTrail fields
/// the file's columns cannot give ([`absent_fields`]).
pub fn ocsf_as_cloudtrail(
    name: &str,
    bytes: Bytes,
    mut f: impl FnMut(&[u8]) -> Result<(), LakeError>,
) -> Result<(ReadStats, Vec<&'static str>), LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).map_err(|e| {
        LakeError::BadFile {
            path: name.to_string(),
            message: format!("not a Parquet file: {e}"),
        }
    })?;
    if !is_ocsf(builder.schema()) {
        return Err(LakeError::BadFile {
            path: name.to_string(),
            message: "a Parquet file without OCSF's class_uid and metadata columns: only OCSF events (Security Lake's, or `export ocsf`'s) are read as sources; a trailwatch lake is read with --lake".into(),
        });
    }
    // Times are read with their zone as an offset: a zone named in the
    // file ("UTC") would need arrow's time-zone database to be written as
    // JSON, which the build without `sql` leaves out.
    let offsets = Arc::new(Schema::new(
        builder
            .schema()
            .fields()
            .iter()
            .map(with_offset_zones)
            .collect::<Vec<_>>(),
    ));
    let absent = absent_fields(builder.schema());
    // The footer read above, read with the offset zones (not parsed again).
    let metadata = ArrowReaderMetadata::try_new(
        Arc::clone(builder.metadata()),
        ArrowReaderOptions::new().with_schema(offsets),
    )?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes, metadata)
        .with_batch_size(8192)
        .build()?;
    let mut stats = ReadStats::default();
    let mut json = Vec::new();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch?;
        json.clear();
        let mut w = LineDelimitedWriter::new(&mut json);
        w.write(&batch)?;
        w.finish()?;
        drop(w);
        out.clear();
        for line in json.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            stats.rows += 1;
            let ocsf: serde_json::Value = serde_json::from_slice(line)?;
            match to_cloudtrail(&ocsf) {
                Ok(record) => serde_json::to_writer(&mut out, &record)?,
                Err(_) => {
                    stats.not_cloudtrail += 1;
                    out.extend_from_slice(line);
                }
            }
            out.push(b'\n');
        }
        f(&out)?;
    }
    Ok((stats, absent))
}

/// `f` with every zoned timestamp in it (nested too) zoned `+00:00`.
fn with_offset_zones(f: &Arc<Field>) -> Arc<Field> {
    let kind = match f.data_type() {
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, Some("+00:00".into())),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(with_offset_zones).collect())
        }
        DataType::List(item) => DataType::List(with_offset_zones(item)),
        DataType::LargeList(item) => DataType::LargeList(with_offset_zones(item)),
        DataType::Map(entries, sorted) => DataType::Map(with_offset_zones(entries), *sorted),
        other => other.clone(),
    };
    Arc::new(f.as_ref().clone().with_data_type(kind))
}
