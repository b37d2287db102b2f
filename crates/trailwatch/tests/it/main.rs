//! Integration tests of the `trailwatch` binary: one test binary, one module
//! per command, each running the real executable.
// Tests fail loudly: unwrap and expect are the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod aws;
mod backtest;
mod cat;
mod cluster;
mod config;
mod conventions;
mod correlate;
mod detect;
mod generate;
mod hostile;
mod ingest;
mod investigate;
mod lake;
mod notify;
mod ocsf;
mod query;
mod respond;
mod serve;
mod stats;
mod support;
mod verify;
mod watch;
