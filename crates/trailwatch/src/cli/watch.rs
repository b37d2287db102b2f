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
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use trailwatch_lake::alerts::AlertTable;

use super::aws_args::AwsArgs;
use super::lake_args::{LakeArgs, runtime};
use super::rule_args::RuleArgs;
use super::verify::load_keys;
use crate::config::{Config, Setting, Source};
use crate::notify::SinkContext;
use crate::notify::dispatch::Notifier;
use crate::pipeline::checkpoint::Saver;
use crate::pipeline::follow::{FollowOptions, Follower, Wake};
use crate::pipeline::shard::{Shard, ShardBy};
use crate::pipeline::{Pipeline, output};
use crate::private;
use crate::timespec::{millis_arg, seconds_arg, seconds_arg_i64};

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
    /// Where the checkpoint lives (created if missing); also `[watch] state`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// How late events may arrive (90s, 5m; bare numbers are seconds):
    /// alarms are evaluated up to the newest event time minus this.
    /// Default 5m.
    #[arg(long, value_name = "DURATION", value_parser = seconds_arg_i64)]
    pub lateness: Option<i64>,
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
    /// No flags at all (for `config check`).
    pub fn empty() -> WatchArgs {
        WatchArgs {
            sources: Vec::new(),
            rules: RuleArgs {
                pack: None,
                rules: Vec::new(),
                geoip: Vec::new(),
            },
            output: None,
            state: None,
            lateness: None,
            late_horizon: None,
            idle_after: None,
            stuck_after: None,
            poll_ms: None,
            lake: None,
            ingest_interval: None,
            aws: AwsArgs::default(),
            public_keys: None,
            shard: None,
            shard_by: ShardBy::Account,
        }
    }
}

/// The watcher's settings in force: each a flag, else `[watch]` in the
/// config, else the default; numbers within their ranges.
#[derive(Debug)]
pub struct Settings {
    /// Needed by `watch` (an error there when absent).
    pub state: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub lateness: i64,
    pub late_horizon: u64,
    pub idle_after: u64,
    pub stuck_after: u64,
    pub poll_ms: u64,
    pub ingest_interval: u64,
    pub public_keys: Option<PathBuf>,
}

impl Settings {
    /// Resolve the settings; with `report`, also list each one with where
    /// it came from (for `config check`).
    pub fn resolve(
        args: &WatchArgs,
        cfg: &Config,
        report: Option<&mut Vec<(&'static str, String, Source)>>,
    ) -> Result<Settings> {
        let w = &cfg.raw.watch;
        let state = cfg.pick_opt(args.state.clone(), &w.state);
        let output = cfg.pick_opt(args.output.clone(), &w.output);
        let public_keys = cfg.pick_opt(args.public_keys.clone(), &w.public_keys);
        let lateness = cfg.pick_in(
            "watch.lateness",
            args.lateness,
            &w.lateness,
            300,
            0..=1_209_600,
        )?;
        let horizon = cfg.pick_in(
            "watch.late_horizon",
            args.late_horizon,
            &w.late_horizon,
            1_209_600,
            3600..=1_209_600,
        )?;
        let idle = cfg.pick_in(
            "watch.idle_after",
            args.idle_after,
            &w.idle_after,
            900,
            1..=1_209_600,
        )?;
        let stuck = cfg.pick_in(
            "watch.stuck_after",
            args.stuck_after,
            &w.stuck_after,
            600,
            1..=1_209_600,
        )?;
        let poll = cfg.pick_in(
            "watch.poll_ms",
            args.poll_ms,
            &w.poll_ms,
            1000,
            1..=86_400_000,
        )?;
        let ingest = cfg.pick_in(
            "watch.ingest_interval",
            args.ingest_interval,
            &w.ingest_interval,
            60,
            0..=86_400,
        )?;
        if let Some(out) = report {
            let path = |s: &Option<Setting<PathBuf>>| match s {
                Some(s) => (s.value.display().to_string(), s.from.clone()),
                None => ("-".to_string(), Source::Default),
            };
            let (v, f) = path(&state);
            out.push(("watch.state", v, f));
            let (v, f) = path(&output);
            out.push(("watch.output", v, f));
            out.push((
                "watch.lateness",
                lateness.value.to_string(),
                lateness.from.clone(),
            ));
            out.push((
                "watch.late_horizon",
                horizon.value.to_string(),
                horizon.from.clone(),
            ));
            out.push((
                "watch.idle_after",
                idle.value.to_string(),
                idle.from.clone(),
            ));
            out.push((
                "watch.stuck_after",
                stuck.value.to_string(),
                stuck.from.clone(),
            ));
            out.push(("watch.poll_ms", poll.value.to_string(), poll.from.clone()));
            out.push((
                "watch.ingest_interval",
                ingest.value.to_string(),
                ingest.from.clone(),
            ));
            let (v, f) = path(&public_keys);
            out.push(("watch.public_keys", v, f));
        }
        Ok(Settings {
            state: state.map(|s| s.value),
            output: output.map(|s| s.value),
            lateness: lateness.value,
            late_horizon: horizon.value,
            idle_after: idle.value,
            stuck_after: stuck.value,
            poll_ms: poll.value,
            ingest_interval: ingest.value,
            public_keys: public_keys.map(|s| s.value),
        })
    }

    /// What a follower of the sources needs (the public keys loaded).
    pub fn follow_options(&self) -> Result<FollowOptions> {
        Ok(FollowOptions {
            stuck_after: Duration::from_secs(self.stuck_after),
            ingest_interval: Duration::from_secs(self.ingest_interval),
            keys: self.public_keys.as_deref().map(load_keys).transpose()?,
            shard: None,
        })
    }
}

pub fn run(args: &WatchArgs, cfg: &Config) -> Result<ExitCode> {
    let set = Settings::resolve(args, cfg, None)?;
    // No default: two watchers must not share a checkpoint, so each names
    // its own folder (the message suggests one under the state folder).
    let state = set.state.clone().with_context(|| {
        let example = crate::config::state_path("watch")
            .map_or_else(|_| "DIR".to_string(), |p| p.display().to_string());
        format!(
            "--state DIR is needed (or `state` in the config's [watch]), one folder per \
             watcher, e.g. --state {example}"
        )
    })?;
    private::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let (mut saver, replay) = Saver::load(&state, set.output.clone())?;
    let rt = runtime()?;
    let s3 = args.aws.options(cfg);
    let ctx = SinkContext { aws: s3.clone() };
    let notifier = Notifier::for_config(cfg.raw.notify.clone(), &ctx)?;
    // Delivery runs beside the watch loop, on the runtime's workers.
    let _delivery = notifier.clone().map(|n| {
        rt.spawn(async move {
            n.deliver(false, None).await;
        })
    });
    let store = match &args.lake {
        Some(location) => Some(
            LakeArgs {
                lake: Some(location.clone()),
                aws: args.aws.clone(),
            }
            .open(cfg, rt.handle().clone())?,
        ),
        None => None,
    };
    let shard = args.shard.map(|s| Shard {
        by: args.shard_by,
        ..s
    });
    // Sharded watchers write one lake side by side: each names its
    // transactions, and recovers only its own after a crash.
    let store = match (store, shard) {
        (Some(store), Some(s)) => Some(store.with_writer(&s.writer())?),
        (store, _) => store,
    };
    if let Some(s) = shard {
        tracing::info!("taking shard {s} of the trail (by {:?})", s.by);
    }
    // Outputs in this order: the outbox first (a crash after it and before
    // the file repeats nothing: the outbox skips ids it has), then the
    // NDJSON output, then the lake's table.
    let detectors = args
        .rules
        .detections(cfg)?
        .detectors(Some((set.late_horizon / 60) as i64));
    let mut pipeline = Pipeline::new(detectors, set.lateness, Duration::from_secs(set.idle_after));
    if let Some(n) = notifier {
        pipeline = pipeline.with_output(Box::new(output::Outbox(n)));
    }
    pipeline = pipeline.with_output(Box::new(match &set.output {
        // Only what was written after the saved state can come again.
        Some(path) => output::Ndjson::open(path, saver.cp.output_offset)?,
        None => output::Ndjson::stdout(),
    }));
    if let Some(store) = &store {
        let table = AlertTable::open(store).context("opening the alerts table")?;
        pipeline = pipeline.with_output(Box::new(output::LakeAlerts(table)));
    }
    // Resume where the checkpoint stands: no file is read again.
    saver.resume(&mut pipeline)?;
    let (tx, rx) = mpsc::channel::<Wake>();
    let mut follower = Follower::start(
        &args.sources,
        &s3,
        rt.handle(),
        FollowOptions {
            shard,
            ..set.follow_options()?
        },
        tx,
        store.as_ref(),
        &mut pipeline,
        &mut saver,
        &replay,
    )?;
    loop {
        follower.step(&mut pipeline, &mut saver)?;
        // Idle for now: everything done so far is saved.
        saver.save_if_changed(&pipeline)?;
        // Wake on the next file-system event, or rescan after the interval.
        match rx.recv_timeout(Duration::from_millis(set.poll_ms)) {
            Ok(wake) => {
                // Only the file watcher sends here.
                let mut take = |w: Wake| {
                    if let Wake::Fs(e) = w {
                        follower.saw(e);
                    }
                };
                take(wake);
                while let Ok(w) = rx.try_recv() {
                    take(w);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
