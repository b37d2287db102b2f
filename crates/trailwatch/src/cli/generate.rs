//! `trailwatch generate`: write a deterministic sample trail.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use trailwatch_core::digest::sign::{Signer, TrailSpec, sign_trail};

use crate::generate::{INCIDENTS_FILE, Options, generate};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Total records to write, planted incidents included.
    #[arg(long, default_value_t = 4000)]
    pub events: u64,
    /// Days of activity.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=3660))]
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
    /// Also write hourly digest files signed with this RSA private key
    /// (PKCS#8 DER), `.signature` sidecars, and OUT/public-keys.json, so
    /// that `trailwatch verify` has a chain to check.
    #[arg(long, value_name = "KEY.pk8")]
    pub signing_key: Option<PathBuf>,
}

pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    let day = NaiveDate::parse_from_str(&args.start, "%Y-%m-%d")
        .with_context(|| format!("--start {:?} is not YYYY-MM-DD", args.start))?;
    use chrono::Datelike;
    if !(1970..=9000).contains(&day.year()) {
        anyhow::bail!(
            "--start {:?} is out of range: give a year from 1970 to 9000",
            args.start
        );
    }
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
    if let Some(key) = &args.signing_key {
        let der = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        let signer = Signer::from_pkcs8(&der)
            .map_err(|e| anyhow::anyhow!("{}: not an RSA PKCS#8 DER key: {e}", key.display()))?;
        let spec = TrailSpec {
            bucket: "trailwatch-sample-trail".into(),
            trail: "organization-trail".into(),
            home_region: "us-east-1".into(),
        };
        let digests = sign_trail(&args.out, &signer, &spec)
            .with_context(|| format!("signing {}", args.out.display()))?;
        let from = (start - chrono::Duration::days(1)).to_rfc3339();
        let to = (start + chrono::Duration::days(i64::from(args.days) + 2)).to_rfc3339();
        let keys = args.out.join(PUBLIC_KEYS_FILE);
        std::fs::write(&keys, signer.public_keys_json(&from, &to))
            .with_context(|| format!("writing {}", keys.display()))?;
        tracing::info!(
            digests = digests.len(),
            "wrote signed digests; check them with: trailwatch verify {} --public-keys {}",
            args.out.display(),
            keys.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `--signing-key` leaves the public key, as list-public-keys prints it.
pub const PUBLIC_KEYS_FILE: &str = "public-keys.json";
