//! OCSF in Parquet, both ways.
//!
//! Export: CloudTrail records as OCSF 1.1.0 events (`trailwatch_core::ocsf`)
//! written as an Amazon Security Lake custom source lays them out,
//! `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/`,
//! one class per file, each file sorted by time. Each class's Arrow schema
//! holds only attributes the class defines, typed as the OCSF dictionary
//! says (`integer_t` 32-bit, `long_t` and `timestamp_t` 64-bit,
//! `datetime_t` a UTC timestamp, `json_t` JSON text, `unmapped` a map of
//! text, as Security Lake stores it).
//!
//! Import: a Parquet file of OCSF CloudTrail events (Security Lake's
//! `cloud_trail_mgmt_2_0`, or an export) read back as CloudTrail records.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use arrow::json::ReaderBuilder;
use arrow::json::writer::LineDelimitedWriter;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use trailwatch_core::ocsf::{Class, OcsfEvent, to_cloudtrail};

use crate::error::LakeError;
use crate::store::Store;

/// Rows held at most before the largest bucket is written (so also rows
/// per file and per row group at most): the bound on an export's memory,
/// whatever the window.
pub const FILE_ROWS: usize = 64 * 1024;

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}

fn long(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}

fn flag(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}

fn datetime(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        true,
    )
}

fn object(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

fn list_of(name: &str, item: DataType) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, true))),
        true,
    )
}

fn account() -> Field {
    object("account", vec![text("uid")])
}

/// The Arrow schema of `class`'s events.
pub fn event_schema(class: Class) -> SchemaRef {
    let mut fields = vec![
        int("activity_id"),
        text("activity_name"),
        object(
            "actor",
            vec![
                object("idp", vec![text("name")]),
                text("invoked_by"),
                object(
                    "session",
                    vec![
                        long("created_time"),
                        datetime("created_time_dt"),
                        flag("is_mfa"),
                        text("issuer"),
                    ],
                ),
                object(
                    "user",
                    vec![
                        account(),
                        text("credential_uid"),
                        text("name"),
                        text("type"),
                        text("uid"),
                        text("uid_alt"),
                    ],
                ),
            ],
        ),
        object(
            "api",
            vec![
                text("operation"),
                object("request", vec![text("data"), text("uid")]),
                object(
                    "response",
                    vec![text("data"), text("error"), text("message")],
                ),
                object("service", vec![text("name")]),
                text("version"),
            ],
        ),
        text("category_name"),
        int("category_uid"),
        text("class_name"),
        int("class_uid"),
        object("cloud", vec![account(), text("provider"), text("region")]),
    ];
    if class == Class::Authentication {
        fields.push(object("dst_endpoint", vec![text("svc_name")]));
    }
    fields.push(object("http_request", vec![text("user_agent")]));
    if class == Class::Authentication {
        fields.push(flag("is_mfa"));
    }
    fields.push(object(
        "metadata",
        vec![
            text("event_code"),
            object(
                "product",
                vec![
                    object("feature", vec![text("name")]),
                    text("name"),
                    text("vendor_name"),
                    text("version"),
                ],
            ),
            list_of("profiles", DataType::Utf8),
            text("uid"),
            text("version"),
        ],
    ));
    let observable = vec![text("name"), text("type"), int("type_id"), text("value")];
    fields.push(list_of(
        "observables",
        DataType::Struct(Fields::from(observable)),
    ));
    if class == Class::ApiActivity {
        let resource = vec![object("owner", vec![account()]), text("type"), text("uid")];
        fields.push(list_of(
            "resources",
            DataType::Struct(Fields::from(resource)),
        ));
    }
    fields.extend([
        text("severity"),
        int("severity_id"),
        object(
            "src_endpoint",
            vec![text("domain"), text("ip"), text("uid")],
        ),
        text("status"),
        int("status_id"),
        long("time"),
        datetime("time_dt"),
        text("type_name"),
        long("type_uid"),
        unmapped(),
    ]);
    if class != Class::ApiActivity {
        fields.push(object(
            "user",
            vec![text("name"), text("uid"), text("uid_alt")],
        ));
    }
    Arc::new(Schema::new(fields))
}

/// `unmapped`: a map of text to text.
fn unmapped() -> Field {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    Field::new("unmapped", DataType::Map(Arc::new(entries), false), true)
}

/// Where one file's events go: a partition and a class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Bucket {
    region: String,
    account: String,
    day: String,
    class: Class,
}

/// Rows of a bucket waiting to be written: (time, OCSF JSON line).
#[derive(Debug, Default)]
struct Pending {
    rows: Vec<(i64, Vec<u8>)>,
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
    pub stats: ExportStats,
}

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
            stats: ExportStats::default(),
        })
    }

    /// Add one event; past the rows it may hold, the largest bucket is
    /// written (the lake is read partition by partition, so that is
    /// nearly always the one being read).
    pub fn push(&mut self, e: &OcsfEvent<'_>) -> Result<(), LakeError> {
        let bucket = Bucket {
            region: e.cloud.region.to_string(),
            account: e
                .cloud
                .account
                .as_ref()
                .map_or("unknown", |a| a.uid)
                .to_string(),
            day: e.time_dt.get(..10).unwrap_or("").replace('-', ""),
            class: e.class,
        };
        let line = serde_json::to_vec(e)?;
        self.pending
            .entry(bucket)
            .or_default()
            .rows
            .push((e.time, line));
        self.held_rows += 1;
        self.stats.events += 1;
        *self.stats.by_class.entry(e.class.uid()).or_default() += 1;
        if self.held_rows >= self.max_held {
            let largest = self
                .pending
                .iter()
                .max_by_key(|(_, p)| p.rows.len())
                .map(|(b, _)| b.clone());
            if let Some(b) = largest {
                self.write(&b)?;
            }
        }
        Ok(())
    }

    /// Write every bucket whose day is before `day` (`YYYYMMDD`): the
    /// caller reads day by day, so those are complete.
    pub fn finish_days_before(&mut self, day: &str) -> Result<(), LakeError> {
        let done: Vec<Bucket> = self
            .pending
            .iter()
            .filter(|(b, p)| b.day.as_str() < day && !p.rows.is_empty())
            .map(|(b, _)| b.clone())
            .collect();
        for b in done {
            self.write(&b)?;
        }
        // Buckets fully written are forgotten, so a long export keeps only
        // the open days.
        self.pending
            .retain(|b, p| !p.rows.is_empty() || b.day.as_str() >= day);
        Ok(())
    }

    /// Write everything still held.
    pub fn finish(mut self) -> Result<ExportStats, LakeError> {
        self.finish_days_before("99999999")?;
        Ok(self.stats)
    }

    /// How many rows are held in memory.
    pub fn held_rows(&self) -> usize {
        self.held_rows
    }

    fn dir(&self, b: &Bucket) -> String {
        format!(
            "ext/{}/region={}/accountId={}/eventDay={}",
            self.source,
            partition_value(&b.region),
            partition_value(&b.account),
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
        let mut rows = std::mem::take(&mut pending.rows);
        self.held_rows -= rows.len();
        rows.sort_by_key(|(t, _)| *t);
        let name = format!(
            "{dir}/{}-{:04}.parquet",
            b.class.file_name(),
            pending.written
        );
        pending.written += 1;
        let bytes = encode(b.class, &rows)?;
        self.store.put(&name, bytes)?;
        self.stats.files += 1;
        Ok(())
    }
}

/// A partition value as a path segment: anything but letters, digits and
/// `-_.` becomes `_` (a record's region or account is hostile text).
fn partition_value(v: &str) -> String {
    let clean: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "unknown".into()
    } else {
        clean
    }
}

/// One Parquet file of `class` from OCSF JSON lines.
fn encode(class: Class, rows: &[(i64, Vec<u8>)]) -> Result<Bytes, LakeError> {
    let schema = event_schema(class);
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(8192)
        .build_decoder()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(FILE_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .build();
    let mut w = ArrowWriter::try_new(Vec::with_capacity(1 << 20), schema, Some(props))?;
    for chunk in rows.chunks(8192) {
        for (_, line) in chunk {
            decoder.decode(line)?;
        }
        if let Some(batch) = decoder.flush()? {
            w.write(&batch)?;
        }
    }
    Ok(Bytes::from(w.into_inner()?))
}

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
    let mut out = Converted::default();
    let bytes = Bytes::from(bytes);
    if let Ok(b) = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()) {
        out.absent = absent_fields(b.schema());
    }
    out.stats = ocsf_as_cloudtrail(name, bytes, |text| {
        out.text.extend_from_slice(text);
        Ok(())
    })?;
    Ok(out)
}

/// The events of OCSF Parquet file `bytes` (named `name`) as CloudTrail
/// NDJSON, handed to `f` a batch at a time.
pub fn ocsf_as_cloudtrail(
    name: &str,
    bytes: Bytes,
    mut f: impl FnMut(&[u8]) -> Result<(), LakeError>,
) -> Result<ReadStats, LakeError> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| LakeError::BadFile {
            path: name.to_string(),
            message: format!("not a Parquet file: {e}"),
        })?;
    if !is_ocsf(builder.schema()) {
        return Err(LakeError::BadFile {
            path: name.to_string(),
            message: "a Parquet file without OCSF's class_uid and metadata columns: only OCSF events (Security Lake's, or `export ocsf`'s) are read as sources; a trailwatch lake is read with --lake".into(),
        });
    }
    let reader = builder.with_batch_size(8192).build()?;
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
    Ok(stats)
}

#[cfg(test)]
mod tests;
