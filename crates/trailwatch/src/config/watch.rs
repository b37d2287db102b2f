//! `[watch]`: the watcher's settings (each also a flag of `watch`, under
//! the flag's name; `serve --watch` uses them too), with their defaults
//! and ranges. Durations read as the flags do ([`super::duration`]).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;

use super::duration::{DurationValue, shown};
use super::{Config, Row, Setting};

/// `[watch]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WatchSection {
    state: Option<Spanned<PathBuf>>,
    output: Option<Spanned<PathBuf>>,
    lateness: Option<Spanned<DurationValue>>,
    late_horizon: Option<Spanned<DurationValue>>,
    idle_after: Option<Spanned<DurationValue>>,
    stuck_after: Option<Spanned<DurationValue>>,
    /// `--poll`; `poll_ms` is the name it had before durations took units
    /// (bare numbers are milliseconds under either).
    #[serde(alias = "poll_ms")]
    poll: Option<Spanned<DurationValue>>,
    ingest_interval: Option<Spanned<DurationValue>>,
    public_keys: Option<Spanned<PathBuf>>,
}

/// What the command line says (durations already in the section's units:
/// seconds, `poll_ms` milliseconds); each given flag overrides the file.
#[derive(Debug, Clone, Default)]
pub struct WatchFlags {
    pub state: Option<PathBuf>,
    pub output: Option<PathBuf>,
    /// `--format ocsf`: alerts as OCSF Detection Findings.
    pub ocsf: bool,
    pub lateness: Option<u64>,
    pub late_horizon: Option<u64>,
    pub idle_after: Option<u64>,
    pub stuck_after: Option<u64>,
    pub poll_ms: Option<u64>,
    pub ingest_interval: Option<u64>,
    pub public_keys: Option<PathBuf>,
}

/// Two weeks in seconds: CloudWatch Logs' limit for late events, and the
/// longest of the watcher's durations.
const TWO_WEEKS: u64 = 1_209_600;

/// The watcher's settings in force: each a flag, else `[watch]` in the
/// config, else the default; numbers within their ranges.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// Needed by `watch` (an error there when absent).
    pub state: Option<PathBuf>,
    pub output: Option<PathBuf>,
    /// Alerts written as OCSF Detection Findings (`--format ocsf`).
    pub ocsf: bool,
    /// Seconds.
    pub lateness: i64,
    /// Seconds.
    pub late_horizon: u64,
    /// Seconds.
    pub idle_after: u64,
    /// Seconds.
    pub stuck_after: u64,
    pub poll_ms: u64,
    /// Seconds.
    pub ingest_interval: u64,
    pub public_keys: Option<PathBuf>,
    /// Where each came from, for `config check`.
    rows: Vec<Row>,
}

impl WatchSettings {
    pub fn resolve(flags: &WatchFlags, cfg: &Config) -> Result<WatchSettings> {
        let w = &cfg.raw.watch;
        let state = cfg.pick_opt(flags.state.clone(), &w.state);
        let output = cfg.pick_opt(flags.output.clone(), &w.output);
        let public_keys = cfg.pick_opt(flags.public_keys.clone(), &w.public_keys);
        let secs = Duration::from_secs(1);
        // Every duration is counted as i64 so that a negative one is
        // refused by its range with the usual message; ranges start at 0.
        let num = |key: &str,
                   flag: Option<u64>,
                   file: &Option<Spanned<DurationValue>>,
                   unit: Duration,
                   default: u64,
                   range: std::ops::RangeInclusive<u64>|
         -> Result<Setting<i64>> {
            let file = cfg.duration_in(key, file, unit)?;
            let range = *range.start() as i64..=*range.end() as i64;
            cfg.pick_in(key, flag.map(|v| v as i64), &file, default as i64, range)
        };
        let lateness = num(
            "watch.lateness",
            flags.lateness,
            &w.lateness,
            secs,
            300,
            0..=TWO_WEEKS,
        )?;
        let horizon = num(
            "watch.late_horizon",
            flags.late_horizon,
            &w.late_horizon,
            secs,
            TWO_WEEKS,
            3600..=TWO_WEEKS,
        )?;
        let idle = num(
            "watch.idle_after",
            flags.idle_after,
            &w.idle_after,
            secs,
            900,
            1..=TWO_WEEKS,
        )?;
        let stuck = num(
            "watch.stuck_after",
            flags.stuck_after,
            &w.stuck_after,
            secs,
            600,
            1..=TWO_WEEKS,
        )?;
        let millis = Duration::from_millis(1);
        let poll = num(
            "watch.poll",
            flags.poll_ms,
            &w.poll,
            millis,
            1000,
            1..=86_400_000,
        )?;
        let ingest = num(
            "watch.ingest_interval",
            flags.ingest_interval,
            &w.ingest_interval,
            secs,
            60,
            0..=86_400,
        )?;
        let row = |key: &str, s: &Setting<i64>, unit: Duration| {
            Row::new(key, shown(s.value, unit), s.from.clone())
        };
        let rows = vec![
            Row::path("watch.state", &state),
            Row::path("watch.output", &output),
            row("watch.lateness", &lateness, secs),
            row("watch.late_horizon", &horizon, secs),
            row("watch.idle_after", &idle, secs),
            row("watch.stuck_after", &stuck, secs),
            row("watch.poll", &poll, millis),
            row("watch.ingest_interval", &ingest, secs),
            Row::path("watch.public_keys", &public_keys),
        ];
        Ok(WatchSettings {
            state: state.map(|s| s.value),
            output: output.map(|s| s.value),
            ocsf: flags.ocsf,
            lateness: lateness.value,
            // In range, so not negative.
            late_horizon: horizon.value as u64,
            idle_after: idle.value as u64,
            stuck_after: stuck.value as u64,
            poll_ms: poll.value as u64,
            ingest_interval: ingest.value as u64,
            public_keys: public_keys.map(|s| s.value),
            rows,
        })
    }

    /// `[watch]`'s rows of `config check`.
    pub fn rows(&self) -> Vec<Row> {
        self.rows.clone()
    }
}
