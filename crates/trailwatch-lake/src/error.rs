//! Errors of the lake: storage, Parquet/Arrow, manifests.

/// What went wrong in a lake operation.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("storage error: {0}")]
    Store(#[from] object_store::Error),
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("{what}: {error}")]
    Io {
        what: String,
        #[source]
        error: std::io::Error,
    },
    #[error("bad manifest {path}: {message}")]
    Manifest { path: String, message: String },
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    /// JSON the lake writes (manifests, markers, dimensions, quarantine
    /// lines) could not be made.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A file of the lake is not what it must be (a Parquet footer that
    /// cannot be read, a marker that is not a list of files).
    #[error("{path}: {message}")]
    BadFile { path: String, message: String },
    /// Records of the lake's own files could not be decoded.
    #[error(transparent)]
    Decode(#[from] trailwatch_core::event::DecodeError),
    /// A reader was pointed at a location that holds no lake (a mistyped
    /// `--lake` must not look like an empty, compliant one).
    #[error(
        "{location} is not a trailwatch lake: {why}; `trailwatch ingest SOURCE --lake {location}` makes one"
    )]
    NotALake { location: String, why: &'static str },
    /// A writer name that cannot go into file names.
    #[error("writer name {0:?}: use up to 32 letters, digits or '-'")]
    BadWriter(String),
    /// Another writer created the file first (`If-None-Match`).
    #[error("{0} exists already: another writer wrote it first (nothing was overwritten)")]
    Exists(String),
    /// A thread of the ingest stopped or panicked.
    #[error("{0}")]
    Worker(&'static str),
    /// Something the ingest relies on did not hold (a bug, said plainly).
    #[error("{0}")]
    Broken(String),
}
