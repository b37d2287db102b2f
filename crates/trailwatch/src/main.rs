//! `trailwatch`: security observability for AWS CloudTrail in one binary.
//!
//! A thin binary over the library crates: `cli/` parses and prints,
//! `source/` finds inputs, `generate/` writes the sample trail.

mod cli;
mod generate;
mod source;

use std::process::ExitCode;

use clap::Parser;

// Decoding allocates many small, short-lived strings from several threads;
// mimalloc handles that pattern markedly better than the system allocator
// (about 10% of ingest time went to glibc malloc/free in a profile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose, args.quiet);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(cli::EXIT_INPUT)
        }
    }
}
