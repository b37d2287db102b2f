//! Athena-dialect (Trino) SQL over the trailwatch lake and over raw
//! CloudTrail trails, on DataFusion. Kept in its own crate so the core and
//! the lake build and test without DataFusion.
//!
//! - [`engine`]: the session — lake tables, functions, memory limit,
//!   timeout;
//! - [`guard`]: read-only enforcement and statement splitting;
//! - [`athena_ddl`] and [`raw`]: Athena's `CREATE EXTERNAL TABLE` over raw
//!   logs, read in place;
//! - [`rewrite`]: Athena syntax DataFusion lacks, rewritten before planning;
//! - [`pruning`]: event-time filters prune `date` partitions;
//! - [`udf`]: the Trino functions, one file each;
//! - `cluster` (feature `cluster`): the same SQL on a Ballista cluster,
//!   and its scheduler and executor processes.

pub mod athena_ddl;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod engine;
pub mod guard;
pub mod output;
pub mod pruning;
pub mod raw;
pub mod rewrite;
pub mod saved;
pub mod top;
pub mod udf;
pub mod yielding;

pub use engine::{Cap, Engine, EngineOptions, QueryOutput};

/// Why a statement did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A statement too wide or too deep to plan safely (see
    /// [`guard::MAX_OPERATORS`]).
    #[error("{0}")]
    TooComplex(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error("the query ran longer than {0:?} and was stopped (--timeout)")]
    Timeout(std::time::Duration),
    /// A cluster query that did not finish in time. Ballista 55 can leave
    /// a job unfinished when an executor is lost early in it (see
    /// docs/scale-out.md), so the message says what to do.
    #[error(
        "the query did not finish on the cluster within {0:?} and was stopped (--timeout); \
         if an executor was lost while it ran, Ballista may have left the job unfinished: \
         run the query again"
    )]
    ClusterTimeout(std::time::Duration),
    // Transparent: the message and the causes are the inner error's, so a
    // cause chain does not say the same message twice.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing `--format parquet` output.
    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Writing results, or reading a local file.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Reaching the lake's object store.
    #[error(transparent)]
    Lake(#[from] trailwatch_lake::LakeError),
    #[error(transparent)]
    Url(#[from] url::ParseError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Raw logs (`CREATE EXTERNAL TABLE … LOCATION`) that could not be
    /// decoded.
    #[error(transparent)]
    Decode(#[from] trailwatch_core::event::DecodeError),
    /// A raw-log location that could not be read or listed (`what` says
    /// which and how).
    #[error("{what}: {message}")]
    RawLocation { what: String, message: String },
    /// A statement's task ended without an answer (it panicked or was
    /// cancelled).
    #[error("{what}: {error}")]
    Task {
        what: &'static str,
        #[source]
        error: tokio::task::JoinError,
    },
    #[error(
        "CREATE EXTERNAL TABLE over raw logs runs on the local engine only; \
         on a cluster, query the lake (trailwatch ingest first)"
    )]
    LocalOnly,
    #[error("--cluster {0:?}: use df://HOST:PORT (the scheduler's address)")]
    BadClusterUrl(String),
    /// The cluster's scheduler or executor could not start or stopped.
    #[error("{0}")]
    Cluster(String),
    /// No scheduler answers at the cluster's address.
    #[error("{reason}; is `trailwatch cluster scheduler` running at {url}?")]
    ClusterUnreachable { url: String, reason: String },
    #[error("saved query {query} needs --param {param}=VALUE")]
    MissingParam { query: String, param: String },
    #[error("no saved query {0:?}; `trailwatch query --list` shows them")]
    NoSavedQuery(String),
}
