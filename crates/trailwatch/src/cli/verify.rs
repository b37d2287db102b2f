//! `trailwatch verify`: offline CloudTrail log file integrity validation of
//! a local copy or an S3 prefix (digest chain, signatures, log hashes,
//! inserted files, gaps), and `verify fetch-signatures`, which saves the
//! digests' S3 signatures as sidecars beside a local copy.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use trailwatch_core::digest::local::SIGNATURE_SUFFIX;
use trailwatch_core::digest::{
    DigestStatus, LocalTrail, LogStatus, Options, Report, TrailStore, validate,
};

use super::aws_args::AwsArgs;
use super::{EXIT_FINDINGS, EXIT_OK, SummaryFormat};
use crate::config::Config;
use crate::public_keys::load_keys;
use crate::source::s3_trail::S3Trail;
use crate::timespec::parse_time;
use trailwatch_core::terminal::escape_controls;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct VerifyArgs {
    #[command(subcommand)]
    pub command: Option<VerifyCommand>,
    /// A local copy of the trail bucket (with AWSLogs/ inside), or
    /// s3://bucket/prefix.
    #[arg(required = true, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Public keys: the JSON of `aws cloudtrail list-public-keys`, or a
    /// folder of such files. Also TRAILWATCH_PUBLIC_KEYS.
    #[arg(long, env = "TRAILWATCH_PUBLIC_KEYS", value_name = "FILE|DIR")]
    pub public_keys: Option<PathBuf>,
    /// Only digests ending at or after this time (today, 24h, 7d, a date
    /// or an RFC 3339 time).
    #[arg(long, value_name = "WHEN")]
    pub start_time: Option<String>,
    /// Only digests ending before this time (plus an hour, for late
    /// deliveries).
    #[arg(long, value_name = "WHEN")]
    pub end_time: Option<String>,
    /// Only this account's digests.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Only digests of the trail in this region (`--region` is the AWS
    /// region used to reach S3).
    #[arg(long, value_name = "REGION")]
    pub trail_region: Option<String>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// Also list every valid log file (table format).
    #[arg(long)]
    pub all: bool,
    /// Exit 1 on gaps in the chain too (logging or validation was off).
    #[arg(long)]
    pub fail_on_gaps: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Save each digest's S3 signature (x-amz-meta-signature) as
    /// `<digest>.signature` beside a local copy, for offline validation.
    FetchSignatures {
        /// s3://bucket/prefix of the trail.
        #[arg(value_name = "S3URL")]
        source: String,
        /// The local copy's root (the folder that mirrors the prefix).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

pub fn run(args: &VerifyArgs, cfg: &Config) -> Result<ExitCode> {
    let rt = crate::runtime::for_storage()?;
    if let Some(VerifyCommand::FetchSignatures { source, dir, aws }) = &args.command {
        let s3 = aws.options(cfg);
        let trail = S3Trail::open(source, &s3, rt.handle().clone())?;
        let mut saved = 0;
        let mut unsigned = 0;
        for (rel, sig) in trail.signatures().context("listing digests")? {
            let Some(sig) = sig else {
                tracing::warn!("{rel} has no signature metadata");
                unsigned += 1;
                continue;
            };
            let path = dir.join(format!("{rel}{SIGNATURE_SUFFIX}"));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, format!("{sig}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            saved += 1;
        }
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{saved} signatures saved under {}; {unsigned} digests without one",
                dir.display()
            );
        }
        return Ok(ExitCode::from(if unsigned > 0 {
            EXIT_FINDINGS
        } else {
            EXIT_OK
        }));
    }
    let Some(source) = &args.source else {
        bail!("give a SOURCE to verify");
    };
    let Some(keys_path) = &args.public_keys else {
        bail!(
            "--public-keys is needed: save `aws cloudtrail list-public-keys --start-time ... --region R` to a file"
        );
    };
    let now = chrono::Utc::now();
    let opts = Options {
        start: args
            .start_time
            .as_deref()
            .map(|s| parse_time("--start-time", s, now))
            .transpose()?,
        end: args
            .end_time
            .as_deref()
            .map(|s| parse_time("--end-time", s, now))
            .transpose()?,
        account: args.account.clone(),
        region: args.trail_region.clone(),
    };
    if let (Some(s), Some(e)) = (opts.start, opts.end)
        && s > e
    {
        bail!("--start-time is after --end-time");
    }
    let keys = load_keys(keys_path)?;
    let store: Box<dyn TrailStore> = if source.starts_with("s3://") {
        let s3 = args.aws.options(cfg);
        Box::new(S3Trail::open(source, &s3, rt.handle().clone())?)
    } else {
        if !Path::new(source).is_dir() {
            bail!("{source} is not a folder");
        }
        Box::new(LocalTrail::new(source))
    };
    let report =
        validate(store.as_ref(), &keys, &opts).with_context(|| format!("validating {source}"))?;
    let mut out = BufWriter::new(io::stdout().lock());
    if !super::write_report(&mut out, &report, args.format)? {
        write_table(&mut out, &report, args.all)?;
    }
    out.flush()?;
    let failed = !report.all_valid() || (args.fail_on_gaps && !report.gaps.is_empty());
    Ok(ExitCode::from(if failed { EXIT_FINDINGS } else { EXIT_OK }))
}

fn digest_word(s: &DigestStatus) -> String {
    match s {
        DigestStatus::Valid => "valid".into(),
        DigestStatus::InvalidFormat(why) => format!("INVALID: invalid format: {why}"),
        DigestStatus::Moved(why) => {
            format!("INVALID: has been moved from its original location ({why})")
        }
        DigestStatus::NoSignature => {
            "INVALID: no signature (run `trailwatch verify fetch-signatures` for a local copy)"
                .into()
        }
        DigestStatus::UnknownKey(why) => format!("INVALID: {why}"),
        DigestStatus::BadSignature => "INVALID: signature verification failed".into(),
        DigestStatus::BrokenChain(why) => format!("INVALID: broken chain: {why}"),
        DigestStatus::Missing => "INVALID: not found".into(),
    }
}

fn log_word(s: &LogStatus) -> String {
    match s {
        LogStatus::Valid => "valid".into(),
        LogStatus::HashMismatch => "INVALID: hash value doesn't match".into(),
        LogStatus::Missing => "INVALID: not found".into(),
        LogStatus::TrailingData => "INVALID: unexpected data after end of compressed stream".into(),
        LogStatus::InvalidFormat(why) => format!("INVALID: invalid format: {why}"),
        LogStatus::NotCovered => "INVALID: not listed by any digest (inserted?)".into(),
    }
}

fn write_table(out: &mut impl Write, r: &Report, all: bool) -> io::Result<()> {
    // Object keys and what digests say come from the bucket: escape
    // anything a terminal would act on.
    let e = |t: &str| escape_controls(t).into_owned();
    for d in &r.digests {
        let word = digest_word(&d.status);
        writeln!(out, "Digest file\t{}\t{}", e(&d.key), e(&word))?;
    }
    for l in &r.logs {
        if all || l.status != LogStatus::Valid {
            let word = log_word(&l.status);
            writeln!(out, "Log file\t{}\t{}", e(&l.key), e(&word))?;
        }
    }
    for g in &r.gaps {
        let who = format!("{} {} {}", g.account, g.region, g.trail);
        let what = format!("no digests between {} and {}: {}", g.from, g.to, g.reason);
        writeln!(out, "Gap\t{}\t{}", e(&who), e(&what))?;
    }
    let s = &r.summary;
    let missing = r
        .digests
        .iter()
        .filter(|d| d.status == DigestStatus::Missing)
        .count();
    writeln!(
        out,
        "{}/{} digest files valid ({} invalid, {} missing); {}/{} log files valid ({} not covered by a digest); {} gaps; {} log files awaiting their digest",
        s.digests_valid,
        s.digests,
        s.digests - s.digests_valid - missing,
        missing,
        s.logs_valid,
        s.logs,
        s.not_covered,
        s.gaps,
        s.awaiting_digest
    )
}
