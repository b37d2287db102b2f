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
    #[error("{0}")]
    Other(String),
}
