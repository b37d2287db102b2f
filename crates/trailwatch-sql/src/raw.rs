//! Tables over raw CloudTrail logs, as Athena reads them after `CREATE
//! EXTERNAL TABLE … LOCATION '…'`: one row per record of every log file
//! under the location (local folder or `s3://`), read without ingesting.
//!
//! Records are decoded by trailwatch's decoder into the lake's column
//! batches (so keys map to columns case-insensitively and objects in string
//! columns are their JSON text, as Athena's JsonSerDe does), then projected
//! onto the declared columns: struct fields are picked by name, columns the
//! record does not have are NULL. Partition columns take their value from
//! the object key: `region`, `account`/`accountid`, `year`/`month`/`day`,
//! and a date column (`date`, `dt`, `timestamp`) as `YYYY/MM/DD`.
//! Files are decoded in parallel partitions, on blocking threads.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, StringArray, StructArray, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use trailwatch_core::event::{DecodeOptions, Decoder};
use trailwatch_core::layout::{self, ObjectKind, TrailKey};
use trailwatch_lake::batch::BatchBuilder;
use trailwatch_lake::store::{Location, S3Options, s3_store};

use crate::QueryError;
use crate::athena_ddl::ExternalTable;

/// One file of the location.
#[derive(Debug, Clone)]
struct RawFile {
    name: String,
    key: Option<TrailKey>,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Local(std::path::PathBuf),
    Object(Arc<dyn ObjectStore>, ObjectPath),
}

/// Log files: CloudTrail JSON, and OCSF Parquet (Amazon Security Lake's
/// CloudTrail), read back as CloudTrail records.
fn is_data(name: &str) -> bool {
    [".json", ".json.gz", ".gz", ".jsonl", ".ndjson"]
        .iter()
        .any(|s| name.ends_with(s))
        || trailwatch_lake::ocsf::is_parquet_name(name)
}

/// A decoder of `name`'s `bytes`, OCSF Parquet turned into CloudTrail.
fn decoder_of<B: AsRef<[u8]> + Send + 'static>(
    name: &str,
    bytes: B,
    opts: DecodeOptions,
) -> Result<Decoder, QueryError> {
    if !trailwatch_lake::ocsf::is_parquet_name(name) {
        return Ok(Decoder::from_reader(
            name,
            std::io::Cursor::new(bytes),
            opts,
        )?);
    }
    let read = trailwatch_lake::ocsf::parquet_as_cloudtrail(name, &mut std::io::Cursor::new(bytes))
        .map_err(|e| QueryError::RawLocation {
            what: name.to_string(),
            message: e.to_string(),
        })?;
    if !read.absent.is_empty() {
        tracing::warn!(
            "{name}: OCSF without the columns of {}: those columns are NULL",
            read.absent.join(", ")
        );
    }
    Ok(Decoder::from_reader(
        name,
        std::io::Cursor::new(read.text),
        opts,
    )?)
}

/// Keep log files: trail files when the location follows CloudTrail's
/// layout, else every JSON file.
fn keep_logs(mut files: Vec<RawFile>) -> Vec<RawFile> {
    files.retain(|f| {
        is_data(&f.name)
            && !matches!(
                layout::is_non_log_path(&f.name),
                Some(ObjectKind::Digest | ObjectKind::Insight)
            )
    });
    if files.iter().any(|f| f.key.is_some()) {
        files.retain(|f| f.key.is_some());
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

async fn list(location: &str, s3: &S3Options) -> Result<Vec<RawFile>, QueryError> {
    match Location::parse(location) {
        Location::Local(path) => {
            let mut out = Vec::new();
            let meta = std::fs::metadata(&path).map_err(|e| QueryError::RawLocation {
                what: format!("reading {location}"),
                message: e.to_string(),
            })?;
            if meta.is_file() {
                let name = path.to_string_lossy().replace('\\', "/");
                out.push(RawFile {
                    key: layout::parse_key(&name),
                    name,
                    source: Source::Local(path),
                });
            } else if meta.is_dir() {
                // Regular files only (a FIFO would block the scan forever),
                // links followed; what cannot be read is reported.
                let found = trailwatch_core::walk::walk(&path);
                for u in &found.unreadable {
                    tracing::warn!("cannot read {}: {}", u.path.display(), u.reason);
                }
                out.extend(found.files.into_iter().map(|f| RawFile {
                    key: layout::parse_key(&f.rel),
                    name: f.rel,
                    source: Source::Local(f.path),
                }));
            } else {
                return Err(QueryError::RawLocation {
                    what: format!("LOCATION {location}"),
                    message: "neither a file nor a folder".into(),
                });
            }
            Ok(keep_logs(out))
        }
        Location::S3 { bucket, prefix } => {
            let store = s3_store(&bucket, s3)?;
            let p = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.as_str()));
            let metas: Vec<object_store::ObjectMeta> =
                store.list(p.as_ref()).try_collect().await.map_err(|e| {
                    QueryError::RawLocation {
                        what: format!("listing {location}"),
                        message: e.to_string(),
                    }
                })?;
            let files = metas
                .into_iter()
                .map(|m| {
                    let name = m.location.to_string();
                    RawFile {
                        key: layout::parse_key(&name),
                        name,
                        source: Source::Object(Arc::clone(&store), m.location),
                    }
                })
                .collect();
            Ok(keep_logs(files))
        }
    }
}

/// Pick `target`'s shape out of `source`: struct fields by name (missing
/// ones NULL), other types cast (failures NULL).
fn project(
    source: Option<&ArrayRef>,
    target: &DataType,
    rows: usize,
) -> Result<ArrayRef, QueryError> {
    let Some(src) = source else {
        return Ok(new_null_array(target, rows));
    };
    if src.data_type() == target {
        return Ok(Arc::clone(src));
    }
    match (src.data_type(), target) {
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let s = src.as_struct();
            let children = fields
                .iter()
                .map(|f| project(s.column_by_name(f.name()), f.data_type(), rows))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                children,
                s.nulls().cloned(),
            )?))
        }
        (DataType::List(_), DataType::List(item)) => {
            let l = src.as_list::<i32>();
            let values = project(Some(l.values()), item.data_type(), l.values().len())?;
            Ok(Arc::new(ListArray::try_new(
                Arc::clone(item),
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?))
        }
        _ => {
            let opts = arrow::compute::CastOptions {
                safe: true,
                ..Default::default()
            };
            Ok(arrow::compute::cast_with_options(src, target, &opts)
                .unwrap_or_else(|_| new_null_array(target, rows)))
        }
    }
}

/// The value a partition column takes for a file.
fn partition_value(column: &str, key: Option<&TrailKey>) -> Option<String> {
    let k = key?;
    let (y, m, d) = (
        k.delivery_date.get(0..4)?,
        k.delivery_date.get(5..7)?,
        k.delivery_date.get(8..10)?,
    );
    Some(match column {
        "region" => k.region.clone(),
        "account" | "accountid" | "account_id" => k.account.clone(),
        "year" => y.to_string(),
        "month" => m.to_string(),
        "day" => d.to_string(),
        "date" | "dt" | "timestamp" => format!("{y}/{m}/{d}"),
        _ => return None,
    })
}

/// Files decoded by one partition of the scan.
#[derive(Debug)]
struct RawPartition {
    schema: SchemaRef,
    columns: usize,
    files: Vec<RawFile>,
}

fn file_batches(
    file: &RawFile,
    schema: &SchemaRef,
    columns: usize,
    handle: &tokio::runtime::Handle,
    out: &tokio::sync::mpsc::Sender<datafusion::error::Result<RecordBatch>>,
) -> Result<(), QueryError> {
    let opts = DecodeOptions::default();
    let mut dec = match &file.source {
        Source::Local(p) if trailwatch_lake::ocsf::is_parquet_name(&file.name) => {
            let bytes = std::fs::read(p).map_err(|e| QueryError::RawLocation {
                what: file.name.clone(),
                message: e.to_string(),
            })?;
            decoder_of(&file.name, bytes, opts)?
        }
        Source::Local(p) => Decoder::open(p, opts)?,
        Source::Object(store, path) => {
            let bytes = handle
                .block_on(async { store.get(path).await?.bytes().await })
                .map_err(|e| QueryError::RawLocation {
                    what: file.name.clone(),
                    message: e.to_string(),
                })?;
            decoder_of(&file.name, bytes, opts)?
        }
    };
    let mut builder = BatchBuilder::new();
    let flush = |builder: &mut BatchBuilder| -> Result<bool, QueryError> {
        if builder.is_empty() {
            return Ok(true);
        }
        let batch = builder.finish()?;
        let rows = batch.num_rows();
        let mut cols = Vec::with_capacity(schema.fields().len());
        for (i, f) in schema.fields().iter().enumerate() {
            if i < columns {
                cols.push(project(
                    batch.column_by_name(f.name()),
                    f.data_type(),
                    rows,
                )?);
            } else {
                let v = partition_value(f.name(), file.key.as_ref());
                cols.push(Arc::new(StringArray::from(vec![v; rows])) as ArrayRef);
            }
        }
        let projected = RecordBatch::try_new(Arc::clone(schema), cols)?;
        Ok(out.blocking_send(Ok(projected)).is_ok())
    };
    /// Why the decode loop stopped early.
    enum Stop {
        /// Nobody reads the stream any more.
        Gone,
        Failed(QueryError),
    }
    let looped = dec.for_each(
        |r| {
            builder.append(r);
            if builder.len() >= 8192 {
                match flush(&mut builder) {
                    Ok(true) => {}
                    Ok(false) => return Err(Stop::Gone),
                    Err(e) => return Err(Stop::Failed(e)),
                }
            }
            Ok(())
        },
        // Like Athena with ignore.malformed.json, bad records are skipped;
        // they are logged so nothing is lost silently.
        |e, _| {
            tracing::warn!("{e}");
            Ok(())
        },
    );
    match looped {
        Ok(_) => {}
        Err(Stop::Gone) => return Ok(()),
        Err(Stop::Failed(e)) => return Err(e),
    }
    flush(&mut builder)?;
    Ok(())
}

impl PartitionStream for RawPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let files = self.files.clone();
        let schema = Arc::clone(&self.schema);
        let columns = self.columns;
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            for f in &files {
                if let Err(e) = file_batches(f, &schema, columns, &handle, &tx) {
                    let _ = tx.blocking_send(Err(datafusion::error::DataFusionError::External(
                        Box::new(e),
                    )));
                    return;
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream.boxed(),
        ))
    }
}

/// Register `ddl` as a table over the raw logs at its LOCATION.
pub async fn register_raw_table(
    ctx: &SessionContext,
    ddl: ExternalTable,
    s3: &S3Options,
) -> Result<(), QueryError> {
    let files = list(&ddl.location, s3).await?;
    if files.is_empty() {
        tracing::warn!("no CloudTrail log files under {}", ddl.location);
    }
    let mut fields: Vec<Field> = ddl.columns.clone();
    let columns = fields.len();
    for p in &ddl.partitioned_by {
        fields.push(Field::new(p.name(), DataType::Utf8, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let n = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let mut parts: Vec<Vec<RawFile>> = vec![Vec::new(); n];
    for (i, f) in files.into_iter().enumerate() {
        parts[i % n].push(f);
    }
    let partitions: Vec<Arc<dyn PartitionStream>> = parts
        .into_iter()
        .map(|files| {
            Arc::new(RawPartition {
                schema: Arc::clone(&schema),
                columns,
                files,
            }) as Arc<dyn PartitionStream>
        })
        .collect();
    let table = StreamingTable::try_new(schema, partitions)?;
    ctx.deregister_table(&ddl.name)?;
    ctx.register_table(&ddl.name, Arc::new(table))?;
    Ok(())
}
