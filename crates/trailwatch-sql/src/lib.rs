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

pub use engine::{Engine, EngineOptions, QueryOutput};

/// Why a statement did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("syntax error: {0}")]
    Syntax(String),
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
    #[error("{0}")]
    Other(String),
}
