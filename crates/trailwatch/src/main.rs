//! `trailwatch`: security observability for AWS CloudTrail in one binary.
//!
//! A thin binary over the library crates: `cli/` parses and prints,
//! `source/` finds inputs, `generate/` writes the sample trail.

mod cli;
mod generate;
mod source;

use std::process::ExitCode;

use clap::Parser;

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
