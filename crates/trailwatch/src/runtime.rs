//! The async runtimes trailwatch starts: a small one for object storage
//! (CPU work stays on rayon), and named ones for `serve`'s HTTP, query
//! and summary work.

use anyhow::{Context, Result};
use tokio::runtime::Runtime;

/// The async runtime for object storage; CPU work stays on rayon.
pub fn for_storage() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A runtime for SQL statements: `threads` workers called `name`, each
/// with the stack the widest statement allowed needs
/// ([`trailwatch_sql::guard::QUERY_STACK_BYTES`]).
#[cfg(feature = "sql")]
pub fn for_queries(name: &str, threads: usize) -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .thread_stack_size(trailwatch_sql::guard::QUERY_STACK_BYTES)
        .enable_all()
        .build()
        .context("starting the query runtime")
}

/// A runtime of `threads` workers whose threads are called `name` (as
/// logs and `top -H` show them).
pub fn named(name: &str, threads: usize) -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
