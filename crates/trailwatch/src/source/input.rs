//! One input to decode (a local file, stdin or an S3 object), and the loop
//! that feeds every record of a list of inputs to a closure.

use object_store::ObjectStoreExt;
use std::path::PathBuf;
use tokio::runtime::Handle;
use trailwatch_core::event::{DecodeError, DecodeOptions, Decoder, Record, TimeBounds};
use trailwatch_core::layout::TrailKey;
use trailwatch_lake::ingest::{SourceLocation, SourceObject};

/// One thing to decode.
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    /// An object in S3, fetched whole when opened (CloudTrail objects are
    /// small) through the async runtime behind `handle`.
    Object {
        object: SourceObject,
        key: Option<TrailKey>,
        handle: Handle,
    },
    File {
        path: PathBuf,
        /// What the path tells about the file, when it follows CloudTrail's
        /// layout or naming.
        key: Option<TrailKey>,
        size: u64,
    },
}

impl Input {
    /// Start decoding this input.
    pub fn open(&self, opts: DecodeOptions) -> Result<Decoder, DecodeError> {
        match self {
            Input::Stdin => Decoder::from_reader("-", std::io::stdin(), opts),
            Input::File { path, .. } => open_path(path, opts),
            Input::Object { object, handle, .. } => {
                let bytes = fetch(object, handle).map_err(|e| DecodeError::Io {
                    source_name: object.key.clone(),
                    error: std::io::Error::other(e),
                })?;
                open_bytes(&object.key, bytes, opts)
            }
        }
    }

    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File { size, .. } => Some(*size),
            Input::Object { object, .. } => Some(object.size),
        }
    }

    /// What the path tells about the file, when it follows CloudTrail's
    /// layout or naming.
    /// The order files were delivered in: CloudTrail's delivery stamp in
    /// the name, then the name (files without a stamp sort first, by name).
    pub fn delivery_order(&self) -> (String, String) {
        let stamp = self
            .trail_key()
            .and_then(|k| k.delivery_stamp.clone())
            .unwrap_or_default();
        (stamp, self.name())
    }

    pub fn trail_key(&self) -> Option<&TrailKey> {
        match self {
            Input::Stdin => None,
            Input::File { key, .. } | Input::Object { key, .. } => key.as_ref(),
        }
    }

    /// This input as a source object for the lake: local files by absolute
    /// path and modification time, so re-ingesting an unchanged file is a
    /// no-op.
    pub fn source_object(&self) -> anyhow::Result<SourceObject> {
        use anyhow::Context;
        Ok(match self {
            Input::Stdin => SourceObject {
                key: "-".into(),
                size: 0,
                version: String::new(),
                location: SourceLocation::Stdin,
                fallback_account: None,
            },
            Input::Object { object, .. } => object.clone(),
            Input::File { path, key, size } => {
                let abs = std::fs::canonicalize(path)
                    .with_context(|| format!("resolving {}", path.display()))?;
                let mtime = std::fs::metadata(&abs)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                SourceObject {
                    key: abs.display().to_string(),
                    size: *size,
                    version: format!("mtime:{mtime}"),
                    location: SourceLocation::Local(abs),
                    fallback_account: key.as_ref().map(|k| k.account.clone()),
                }
            }
        })
    }

    /// The event times believable for this input's records: around its
    /// delivery stamp when its name has one, else up to now.
    pub fn time_bounds(&self, now: chrono::DateTime<chrono::Utc>) -> TimeBounds {
        TimeBounds::for_file(self.trail_key().and_then(TrailKey::delivered_at), now)
    }

    /// A name for messages and checkpoints: the path, `s3://…` or `-`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File { path, .. } => path.display().to_string(),
            Input::Object { object, .. } => object.key.clone(),
        }
    }
}

/// Decode every input in order, calling `f` for each record; decode errors
/// are logged and counted (the count is returned), and an error from `f`
/// (say, a closed stdout) stops the loop.
pub fn each_record<E>(
    inputs: &[Input],
    opts: DecodeOptions,
    mut f: impl FnMut(&Input, &Record<'_>) -> Result<(), E>,
) -> Result<u64, E> {
    let mut problems = 0;
    for input in inputs {
        match input.open(opts) {
            Ok(dec) => problems += each_decoded(dec, |r| f(input, r))?,
            Err(e) => {
                problems += 1;
                tracing::error!("{e}");
            }
        }
    }
    Ok(problems)
}

/// The decode loop: every record of one decoder to `f`, each problem
/// logged and counted.
pub fn each_decoded<E>(
    mut dec: Decoder,
    f: impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<u64, E> {
    dec.for_each(f, |e, _| {
        tracing::error!("{e}");
        Ok(())
    })
}

/// An input made ready to be decoded more than once: a local file stays
/// on disk (streamed each time), an S3 object is fetched once.
#[derive(Debug)]
pub enum Fetched {
    File(PathBuf),
    Bytes { name: String, bytes: bytes::Bytes },
}

impl Input {
    /// Make this input ready to decode; a failed GET is an error here.
    pub fn fetch(&self) -> Result<Fetched, DecodeError> {
        match self {
            Input::File { path, .. } => Ok(Fetched::File(path.clone())),
            Input::Object { object, handle, .. } => {
                let bytes = fetch(object, handle).map_err(|e| DecodeError::Io {
                    source_name: object.key.clone(),
                    error: std::io::Error::other(e),
                })?;
                Ok(Fetched::Bytes {
                    name: object.key.clone(),
                    bytes,
                })
            }
            Input::Stdin => Err(DecodeError::Io {
                source_name: "-".into(),
                error: std::io::Error::other("stdin cannot be read twice"),
            }),
        }
    }
}

impl Fetched {
    pub fn open(&self, opts: DecodeOptions) -> Result<Decoder, DecodeError> {
        match self {
            Fetched::File(path) => open_path(path, opts),
            Fetched::Bytes { name, bytes } => open_bytes(name, bytes.clone(), opts),
        }
    }

    /// The first problem that means the input is not all there yet (still
    /// being written, cut short, unreadable), without using its records.
    /// Problems of single records are facts of the content, not this.
    pub fn incomplete(&self, opts: DecodeOptions) -> Option<DecodeError> {
        let mut dec = match self.open(opts) {
            Ok(d) => d,
            Err(e) => return Some(e),
        };
        dec.for_each(
            |_| Ok(()),
            |e, _| if e.is_incomplete() { Err(e) } else { Ok(()) },
        )
        .err()
    }
}

/// A decoder of a local file; OCSF Parquet is read as CloudTrail.
fn open_path(path: &std::path::Path, opts: DecodeOptions) -> Result<Decoder, DecodeError> {
    let name = path.display().to_string();
    if !trailwatch_lake::ocsf::is_parquet_name(&name) {
        return Decoder::open(path, opts);
    }
    let mut f = std::fs::File::open(path).map_err(|error| DecodeError::Io {
        source_name: name.clone(),
        error,
    })?;
    from_ocsf(&name, &mut f, opts)
}

/// A decoder of a fetched object; OCSF Parquet is read as CloudTrail.
fn open_bytes(
    name: &str,
    bytes: bytes::Bytes,
    opts: DecodeOptions,
) -> Result<Decoder, DecodeError> {
    if trailwatch_lake::ocsf::is_parquet_name(name) {
        return from_ocsf(name, &mut std::io::Cursor::new(bytes), opts);
    }
    Decoder::from_reader(name, std::io::Cursor::new(bytes), opts)
}

fn from_ocsf(
    name: &str,
    reader: &mut dyn std::io::Read,
    opts: DecodeOptions,
) -> Result<Decoder, DecodeError> {
    let read = trailwatch_lake::ocsf::parquet_as_cloudtrail(name, reader).map_err(|e| {
        DecodeError::Io {
            source_name: name.to_string(),
            error: std::io::Error::other(e.to_string()),
        }
    })?;
    note_absent(name, &read.absent);
    Decoder::from_reader(name, std::io::Cursor::new(read.text), opts)
}

/// CloudTrail fields that OCSF sources read so far could not give back.
static OCSF_ABSENT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Note what an OCSF source lacked (logged the first time a field is).
fn note_absent(name: &str, absent: &[&'static str]) {
    let mut seen = OCSF_ABSENT.lock().unwrap_or_else(|e| e.into_inner());
    let new: Vec<&'static str> = absent
        .iter()
        .copied()
        .filter(|f| !seen.contains(f))
        .collect();
    if !new.is_empty() {
        tracing::warn!(
            "{name}: OCSF without the columns of {}: those CloudTrail fields stay absent",
            new.join(", ")
        );
        seen.extend(new);
    }
}

/// The CloudTrail fields that some OCSF source of this run lacked, to say
/// which rules could not see them.
pub fn ocsf_absent_fields() -> Vec<&'static str> {
    OCSF_ABSENT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// The bytes of an object-store source.
fn fetch(object: &SourceObject, handle: &Handle) -> Result<bytes::Bytes, object_store::Error> {
    match &object.location {
        SourceLocation::Object { store, path } => {
            handle.block_on(async { store.get(path).await?.bytes().await })
        }
        SourceLocation::Local(p) => {
            std::fs::read(p)
                .map(bytes::Bytes::from)
                .map_err(|e| object_store::Error::Generic {
                    store: "local",
                    source: Box::new(e),
                })
        }
        SourceLocation::Stdin => Ok(bytes::Bytes::new()),
    }
}
