//! `trailwatch watch`: live alerting on trail folders and S3 prefixes.
//!
//! New log files in local folders are noticed through inotify (the `notify`
//! crate, with a rescan every `--poll-ms` as a safety net); S3 prefixes are
//! listed every `--poll-ms`. Files are decoded in delivery order, each
//! read through completely first (one that is not whole is retried, see
//! [`crate::pipeline::retry`]), then run through the detection pipeline
//! ([`crate::pipeline`]). Findings are emitted at once; alarms are
//! evaluated on event time up to the pipeline's watermark (the slowest
//! trail prefix still delivering, minus `--lateness`), as a replay would
//! evaluate them. Alerts are appended to `--output` (NDJSON)
//! and flushed before the checkpoint records the file as done, and a restart
//! replays the checkpointed files to rebuild alarm state, emitting only
//! alerts whose stable id the output does not hold yet: a kill at any moment
//! neither drops nor repeats alerts.
//!
//! With `--lake`, alerts are also appended to the lake's `alerts` table as
//! they are raised (idempotent by alert id), and the watched files are
//! ingested in batches every `--ingest-interval` seconds (idempotent by
//! source object, so a restart re-offers every checkpointed file and only
//! the ones not yet in the lake are read).
//!
//! With a config whose `[notify]` section has sinks, alerts also enter the
//! durable notification outbox (before the checkpoint), and a delivery
//! task sends them while the watch goes on.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::aws_args::AwsArgs;
use super::lake_args::LakeArgs;
use super::rule_args::RuleArgs;
use crate::config::{Config, WatchFlags, WatchSettings};
use crate::pipeline::shard::{Shard, ShardBy};
use crate::pipeline::watch::Watch;
use crate::private;
use crate::timespec::{millis_arg, seconds_arg};

/// The output's lines.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WatchFormat {
    Ndjson,
    Ocsf,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Folders to follow (a local copy or mount of the trail bucket), or
    /// `s3://bucket/prefix` to poll.
    #[arg(required = true, value_name = "DIR|S3URL")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Where alerts go, as NDJSON (appended). Default: stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What each line of the output is: trailwatch's alert JSON, or an
    /// OCSF 1.1.0 Detection Finding.
    #[arg(long, value_enum, default_value_t = WatchFormat::Ndjson)]
    pub format: WatchFormat,
    /// Where the checkpoint lives (created if missing); also `[watch] state`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// How late events may arrive (90s, 5m; bare numbers are seconds):
    /// alarms are evaluated up to the newest event time minus this.
    /// Default 5m.
    #[arg(long, value_name = "DURATION", value_parser = seconds_arg)]
    pub lateness: Option<u64>,
    /// A trail prefix (account and region) with no new file for this long
    /// stops holding back alarm evaluation for the others. Default 15m.
    #[arg(long, value_name = "DURATION", value_parser = seconds_arg)]
    pub idle_after: Option<u64>,
    /// How far behind (in event time) a sample may land and still re-open
    /// an alarm's evaluation; older alarm state is forgotten, which bounds
    /// the saved state. Default 14d (CloudWatch Logs' limit).
    #[arg(long, value_name = "DURATION", value_parser = seconds_arg)]
    pub late_horizon: Option<u64>,
    /// A file that cannot be read completely (still being written, a
    /// failed GET, truncated gzip) is retried with backoff; after failing
    /// this long it is reported as an error (and still retried).
    /// Default 10m.
    #[arg(long, value_name = "DURATION", value_parser = seconds_arg)]
    pub stuck_after: Option<u64>,
    /// Rescan interval (500ms, 2s; bare numbers are milliseconds): inotify
    /// wakes the watcher sooner for local folders; S3 prefixes are listed
    /// this often. Default 1s. `--poll-ms` is an older name.
    #[arg(long = "poll", alias = "poll-ms", value_name = "DURATION", value_parser = millis_arg)]
    pub poll_ms: Option<u64>,
    /// Also ingest the watched files into this lake (a folder or
    /// s3://bucket/prefix) and append alerts to its `alerts` table.
    #[arg(long, value_name = "LAKE")]
    pub lake: Option<String>,
    /// With --lake: time between ingests of the files seen meanwhile
    /// (bare numbers are seconds). Default 1m.
    #[arg(long, value_name = "DURATION", requires = "lake", value_parser = seconds_arg)]
    pub ingest_interval: Option<u64>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Validate each digest file as it lands, with these public keys (the
    /// JSON of `aws cloudtrail list-public-keys`, or a folder of them):
    /// tampering raises a P1 `log-tampering` alert.
    #[arg(long, value_name = "FILE|DIR")]
    pub public_keys: Option<PathBuf>,
    /// Take only share i of n of the trail (e.g. 2/3), for several
    /// watchers on one trail: each file goes to one of them by a stable
    /// hash of its prefix's account (see --shard-by). Give each watcher
    /// its own --state; they may share --lake.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<Shard>,
    /// What decides a file's shard: its account (all of an account's
    /// regions, and so its principals' correlation, on one shard) or its
    /// account and region.
    #[arg(long, value_enum, default_value_t = ShardBy::Account, requires = "shard")]
    pub shard_by: ShardBy,
}

impl WatchArgs {
    /// The flags that override `[watch]`.
    fn flags(&self) -> WatchFlags {
        WatchFlags {
            state: self.state.clone(),
            output: self.output.clone(),
            ocsf: matches!(self.format, WatchFormat::Ocsf),
            lateness: self.lateness,
            late_horizon: self.late_horizon,
            idle_after: self.idle_after,
            stuck_after: self.stuck_after,
            poll_ms: self.poll_ms,
            ingest_interval: self.ingest_interval,
            public_keys: self.public_keys.clone(),
        }
    }
}

pub fn run(args: &WatchArgs, cfg: &Config) -> Result<ExitCode> {
    let set = WatchSettings::resolve(&args.flags(), cfg)?;
    // No default: two watchers must not share a checkpoint, so each names
    // its own folder (the message suggests one under the state folder).
    let state = set.state.clone().with_context(|| {
        let example = crate::state_dir::state_path("watch")
            .map_or_else(|_| "DIR".to_string(), |p| p.display().to_string());
        format!(
            "--state DIR is needed (or `state` in the config's [watch]), one folder per \
             watcher, e.g. --state {example}"
        )
    })?;
    private::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let lake = match &args.lake {
        Some(location) => Some(
            LakeArgs {
                lake: Some(location.clone()),
                aws: args.aws.clone(),
            }
            .location(cfg)?,
        ),
        None => None,
    };
    let detectors = args
        .rules
        .detections(cfg)?
        .detectors(Some((set.late_horizon / 60) as i64));
    let watch = Watch {
        sources: args.sources.clone(),
        state,
        s3: args.aws.options(cfg),
        lake,
        notify: cfg.notify().clone(),
        shard: args.shard.map(|s| Shard {
            by: args.shard_by,
            ..s
        }),
        settings: set,
        responder: std::sync::Arc::new(crate::respond::Responder::new(
            args.aws.service_options(),
            &crate::config::RespondSettings::resolve(&Default::default(), cfg)?,
        )),
    };
    crate::pipeline::watch::run(watch, detectors)?;
    Ok(ExitCode::SUCCESS)
}
