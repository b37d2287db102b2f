//! The lake side of trailwatch: Arrow, Parquet and object storage.
//!
//! The lake is standard Hive-partitioned Parquet
//! (`LAKE/cloudtrail/account=…/region=…/date=…/part-….parquet`) on a local
//! folder or S3, so Athena, Trino, Spark and DuckDB read it as it stands.
//! Kept apart from `trailwatch-core` so the core builds and tests in seconds
//! without the Arrow stack.

pub mod alerts;
pub mod aws;
pub mod batch;
pub mod compact;
pub mod ddl;
pub mod dedup;
pub mod error;
pub mod ingest;
pub mod manifest;
pub mod object_reader;
pub mod ocsf;
pub mod parquet_file;
pub mod partition;
pub mod read;
pub mod responses;
pub mod schema;
pub mod state_snapshot;
pub mod state_tables;
pub mod store;
pub mod tx;

pub use error::LakeError;
