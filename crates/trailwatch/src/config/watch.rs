//! `[watch]`: the watcher's settings (each also a flag of `watch`; `serve
//! --watch` uses them too), with their defaults and ranges.

use std::path::PathBuf;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;

use super::{Config, Row, Setting};

/// `[watch]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WatchSection {
    state: Option<Spanned<PathBuf>>,
    output: Option<Spanned<PathBuf>>,
    lateness: Option<Spanned<i64>>,
    late_horizon: Option<Spanned<u64>>,
    idle_after: Option<Spanned<u64>>,
    stuck_after: Option<Spanned<u64>>,
    poll_ms: Option<Spanned<u64>>,
    ingest_interval: Option<Spanned<u64>>,
    public_keys: Option<Spanned<PathBuf>>,
}

/// What the command line says (durations already in the section's units:
/// seconds, `poll_ms` milliseconds); each given flag overrides the file.
#[derive(Debug, Clone, Default)]
pub struct WatchFlags {
    pub state: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub lateness: Option<i64>,
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
        let lateness = cfg.pick_in(
            "watch.lateness",
            flags.lateness,
            &w.lateness,
            300,
            0..=TWO_WEEKS as i64,
        )?;
        let num = |key: &str,
                   flag: Option<u64>,
                   file: &Option<Spanned<u64>>,
                   default: u64,
                   range: std::ops::RangeInclusive<u64>|
         -> Result<Setting<u64>> { cfg.pick_in(key, flag, file, default, range) };
        let horizon = num(
            "watch.late_horizon",
            flags.late_horizon,
            &w.late_horizon,
            TWO_WEEKS,
            3600..=TWO_WEEKS,
        )?;
        let idle = num(
            "watch.idle_after",
            flags.idle_after,
            &w.idle_after,
            900,
            1..=TWO_WEEKS,
        )?;
        let stuck = num(
            "watch.stuck_after",
            flags.stuck_after,
            &w.stuck_after,
            600,
            1..=TWO_WEEKS,
        )?;
        let poll = num(
            "watch.poll_ms",
            flags.poll_ms,
            &w.poll_ms,
            1000,
            1..=86_400_000,
        )?;
        let ingest = num(
            "watch.ingest_interval",
            flags.ingest_interval,
            &w.ingest_interval,
            60,
            0..=86_400,
        )?;
        let shown =
            |key: &str, s: &Setting<u64>| Row::new(key, s.value.to_string(), s.from.clone());
        let rows = vec![
            Row::path("watch.state", &state),
            Row::path("watch.output", &output),
            Row::new(
                "watch.lateness",
                lateness.value.to_string(),
                lateness.from.clone(),
            ),
            shown("watch.late_horizon", &horizon),
            shown("watch.idle_after", &idle),
            shown("watch.stuck_after", &stuck),
            shown("watch.poll_ms", &poll),
            shown("watch.ingest_interval", &ingest),
            Row::path("watch.public_keys", &public_keys),
        ];
        Ok(WatchSettings {
            state: state.map(|s| s.value),
            output: output.map(|s| s.value),
            lateness: lateness.value,
            late_horizon: horizon.value,
            idle_after: idle.value,
            stuck_after: stuck.value,
            poll_ms: poll.value,
            ingest_interval: ingest.value,
            public_keys: public_keys.map(|s| s.value),
            rows,
        })
    }

    /// `[watch]`'s rows of `config check`.
    pub fn rows(&self) -> Vec<Row> {
        self.rows.clone()
    }
}
