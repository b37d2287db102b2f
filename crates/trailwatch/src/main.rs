//! `trailwatch`: security observability for AWS CloudTrail in one binary.
//!
//! The binary over the library crates: `cli/` parses flags and prints,
//! `config/` resolves the config file into settings, `source/` finds
//! inputs, `pipeline/` runs them through the detectors to the outputs,
//! `notify/` delivers alerts, `serve/` is the server, `generate/` writes
//! the sample trail. docs/architecture.md has the whole picture.

// Without the `sql` feature there is no `serve`, and the pipeline's
// push-ingestion pieces only it uses are left unused: that is expected.
#![cfg_attr(not(feature = "sql"), allow(dead_code))]

mod alert_file;
mod backtest;
mod cli;
mod config;
mod detectors;
mod generate;
#[cfg(feature = "sql")]
mod interrupt;
mod investigate;
mod notify;
mod pipeline;
mod private;
mod progress;
mod public_keys;
mod respond;
mod runtime;
#[cfg(feature = "sql")]
mod serve;
mod source;
mod state_dir;
mod timespec;

use std::process::ExitCode;

use clap::Parser;

// Decoding allocates many small, short-lived strings from several threads;
// mimalloc handles that pattern markedly better than the system allocator
// (about 10% of ingest time went to glibc malloc/free in a profile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose, args.quiet, args.log_times(), args.log_format);
    match cli::run(args) {
        Ok(code) => code,
        // A closed stdout (`| head`) ends the output; it is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", cli::error_text(&e));
            ExitCode::from(cli::EXIT_INPUT)
        }
    }
}

/// Whether the error is a closed stdout, however it was reported: as an
/// I/O error, or inside a JSON writer's error (which keeps the kind but
/// not the I/O error as its source).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}
