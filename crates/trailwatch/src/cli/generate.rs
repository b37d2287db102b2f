//! `trailwatch generate`: write a deterministic sample trail.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::progress::Progress;
use crate::generate::{INCIDENTS_FILE, Options, generate};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Total records to write, planted incidents included.
    #[arg(long, default_value_t = 4000)]
    pub events: u64,
    /// Days of activity.
    #[arg(long, default_value_t = 4)]
    pub days: u32,
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long, default_value = "2026-04-01")]
    pub start: String,
    /// Random seed: the same seed and options give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder; the trail is written under OUT/AWSLogs/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    let day = NaiveDate::parse_from_str(&args.start, "%Y-%m-%d")
        .with_context(|| format!("--start {:?} is not YYYY-MM-DD", args.start))?;
    let start: DateTime<Utc> = day
        .and_hms_opt(0, 0, 0)
        .context("midnight exists")?
        .and_utc();
    let opts = Options {
        events: args.events,
        days: args.days,
        start,
        seed: args.seed,
        out: args.out.clone(),
    };
    let progress = Progress::new(args.events, "events");
    let summary = generate(&opts, &|n| progress.inc(n))?;
    progress.finish();
    tracing::info!(
        files = summary.files,
        events = summary.events,
        incidents = summary.incidents,
        incident_events = summary.incident_events,
        bytes = summary.bytes,
        "wrote sample trail to {} (planted incidents listed in {INCIDENTS_FILE})",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
