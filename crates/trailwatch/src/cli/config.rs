//! `trailwatch config check`: read the config file, refuse what is wrong
//! in it (unknown keys at any level, out-of-range numbers, routes naming
//! no sink), and print every effective setting with where it came from:
//! a flag, the environment, a line of the file, or the default.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print the effective settings.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {}

pub fn run(cmd: &ConfigCommand, cfg: &Config) -> Result<ExitCode> {
    let ConfigCommand::Check(_) = cmd;
    let rows = cfg.check_rows()?;
    let mut out = io::stdout().lock();
    match cfg.path() {
        Some(p) => writeln!(out, "config {}: valid", p.display())?,
        None => writeln!(out, "no config file: flags and defaults only")?,
    }
    let width = rows.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for r in &rows {
        match &r.from {
            Some(from) => writeln!(out, "{:<width$}  {}  ({from})", r.key, r.value)?,
            None => writeln!(out, "{:<width$}  {}", r.key, r.value)?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
