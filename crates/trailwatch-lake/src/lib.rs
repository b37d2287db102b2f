//! The lake side of trailwatch: Arrow, Parquet and (later) DataFusion.
//!
//! Kept apart from `trailwatch-core` so the core builds and tests in seconds
//! without the Arrow stack.

pub mod schema;
