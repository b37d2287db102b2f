//! `trailwatch audit trail`: check a trail's configuration (Terraform, or
//! the AWS CLI's JSON) against the decisions that make CloudTrail
//! trustworthy, and find blind spots in the data (`--data`): regions with
//! activity but no delivered logs, and gaps in delivery.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::aws_args::AwsArgs;
use crate::config::Config;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use trailwatch_core::audit::aws_json::trails_from_aws_json;
use trailwatch_core::audit::coverage::{BlindSpot, Coverage};
use trailwatch_core::audit::terraform::trails_from_terraform;
use trailwatch_core::audit::{Finding, Status, TrailConfig, check};

use super::{EXIT_FINDINGS, EXIT_OK, ReadArgs, SummaryFormat};
use crate::source::{discover_any, each_record};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check trail configuration (Terraform .tf, or AWS CLI JSON) and the
    /// data's coverage.
    Trail(AuditTrailArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["files", "data"])))]
pub struct AuditTrailArgs {
    /// Terraform files (.tf, read together), or JSON printed by `aws
    /// cloudtrail describe-trails` / `get-trail` / `get-event-selectors`
    /// and `aws s3api get-bucket-versioning` / `get-bucket-encryption`.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also look for blind spots in this trail data (folders, files or
    /// s3://bucket/prefix). Repeatable.
    #[arg(long, value_name = "SOURCE")]
    pub data: Vec<String>,
    /// Shortest delivery gap reported, in hours (gaps must also be three
    /// times the usual interval).
    #[arg(long, default_value_t = 2, value_name = "HOURS",
          value_parser = clap::value_parser!(i64).range(1..=87_600))]
    pub min_gap_hours: i64,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Serialize)]
struct AuditReport {
    trails: Vec<TrailConfig>,
    findings: Vec<Finding>,
    blind_spots: Vec<BlindSpot>,
}

pub fn run(cmd: &AuditCommand, cfg: &Config) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Trail(args) => trail(args, cfg),
    }
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    paths
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

fn trail(args: &AuditTrailArgs, cfg: &Config) -> Result<ExitCode> {
    let (tf, json): (Vec<PathBuf>, Vec<PathBuf>) = args
        .files
        .iter()
        .cloned()
        .partition(|p| p.extension().is_some_and(|e| e == "tf"));
    let mut trails = Vec::new();
    if !tf.is_empty() {
        trails.extend(trails_from_terraform(&read_all(&tf)?)?);
    }
    if !json.is_empty() {
        trails.extend(trails_from_aws_json(&read_all(&json)?)?);
    }
    if !args.files.is_empty() && trails.is_empty() {
        bail!("no trail (aws_cloudtrail resource, or describe-trails output) in the files given");
    }
    let findings: Vec<Finding> = trails.iter().flat_map(check).collect();

    let mut blind_spots = Vec::new();
    let mut problems = 0;
    if !args.data.is_empty() {
        let rt = crate::runtime::for_storage()?;
        let s3 = args.aws.options(cfg);
        let found = discover_any(&args.data, false, &s3, rt.handle())?;
        problems += found.report_unreadable();
        let mut coverage = Coverage::default();
        for input in &found.inputs {
            if let Some(k) = input.trail_key() {
                coverage.file(k);
            }
            let account = input.trail_key().map(|k| k.account.clone());
            problems += each_record(
                std::slice::from_ref(input),
                args.read.decode_options(),
                |_, r| {
                    coverage.record(r, account.as_deref());
                    Ok::<(), std::convert::Infallible>(())
                },
            )
            .unwrap_or_else(|never| match never {});
        }
        blind_spots = coverage.blind_spots(chrono::Duration::hours(args.min_gap_hours));
    }

    let report = AuditReport {
        trails,
        findings,
        blind_spots,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if !super::write_report(&mut out, &report, args.format)? {
        write_table(&mut out, &report)?;
    }
    out.flush()?;
    if problems > 0 && !args.read.allow_bad {
        return Ok(ExitCode::from(super::EXIT_INPUT));
    }
    let failed =
        report.findings.iter().any(|f| f.status == Status::Fail) || !report.blind_spots.is_empty();
    Ok(ExitCode::from(if failed { EXIT_FINDINGS } else { EXIT_OK }))
}

fn write_table(out: &mut impl Write, r: &AuditReport) -> io::Result<()> {
    for f in &r.findings {
        let word = match f.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        };
        writeln!(
            out,
            "{word:<7} {} {:<22} {}: {}",
            f.severity, f.check, f.trail, f.detail
        )?;
        if f.status != Status::Pass {
            writeln!(out, "        fix: {}", f.fix)?;
        }
    }
    for b in &r.blind_spots {
        writeln!(
            out,
            "BLIND   {} {:<22} {} {}: {}",
            b.severity, b.kind, b.account, b.region, b.detail
        )?;
    }
    let count = |s: Status| r.findings.iter().filter(|f| f.status == s).count();
    writeln!(
        out,
        "{} trails: {} checks passed, {} failed, {} unknown; {} blind spots in the data",
        r.trails.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unknown),
        r.blind_spots.len()
    )
}
