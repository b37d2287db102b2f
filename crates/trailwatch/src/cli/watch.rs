//! `trailwatch watch`: live alerting on local trail folders.
//!
//! New log files are noticed through inotify (the `notify` crate, with a
//! rescan every `--poll-ms` as a safety net) and decoded in path order.
//! Findings are emitted at once; alarms are evaluated on event time up to a
//! watermark (the newest event time seen, minus `--lateness`), exactly as a
//! replay would evaluate them. Alerts are appended to `--output` (NDJSON)
//! and flushed before the checkpoint records the file as done, and a restart
//! replays the checkpointed files to rebuild alarm state, emitting only
//! alerts whose stable id the output does not hold yet: a kill at any moment
//! neither drops nor repeats alerts.

use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use notify::{RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use trailwatch_core::alarm::minute_of;
use trailwatch_core::event::DecodeOptions;
use trailwatch_core::rules::{Alert, Engine};

use super::rule_args::RuleArgs;
use crate::source::{Input, discover, each_record};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Folders to follow (a local copy or mount of the trail bucket).
    #[arg(required = true, value_name = "DIR")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Where alerts go, as NDJSON (appended). Default: stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where the checkpoint lives (created if missing).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// How late events may arrive, in seconds: alarms are evaluated up to the
    /// newest event time minus this.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub lateness: i64,
    /// Rescan interval in milliseconds (inotify wakes the watcher sooner).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub poll_ms: u64,
}

/// What has been done, persisted after every file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checkpoint {
    /// Files fully processed, in processing order.
    processed: Vec<String>,
}

struct Sink {
    file: Option<File>,
    emitted: HashSet<String>,
}

impl Sink {
    /// Open the output, learning which alert ids it already holds; a torn
    /// last line (a kill mid-write) is cut off.
    fn open(path: Option<&Path>) -> Result<Sink> {
        let mut emitted = HashSet::new();
        let Some(path) = path else {
            return Ok(Sink {
                file: None,
                emitted,
            });
        };
        if path.exists() {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            for line in BufReader::new(&text[..complete]).lines() {
                let line = line?;
                if let Ok(a) = serde_json::from_str::<Alert>(&line) {
                    emitted.insert(a.alert_id);
                }
            }
            if complete < text.len() {
                let f = OpenOptions::new().write(true).open(path)?;
                f.set_len(complete as u64)?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Sink {
            file: Some(file),
            emitted,
        })
    }

    /// Write alerts not yet emitted, durably, before the caller checkpoints.
    fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        let mut text = Vec::new();
        for a in alerts {
            if self.emitted.insert(a.alert_id.clone()) {
                serde_json::to_writer(&mut text, a)?;
                text.push(b'\n');
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        match &mut self.file {
            Some(f) => {
                f.write_all(&text)?;
                f.sync_data()?;
            }
            None => {
                let mut out = io::stdout().lock();
                out.write_all(&text)?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

fn save(state: &Path, cp: &Checkpoint) -> Result<()> {
    let tmp = state.join("checkpoint.json.tmp");
    let json = serde_json::to_vec(cp)?;
    let mut f = File::create(&tmp)?;
    f.write_all(&json)?;
    f.sync_data()?;
    std::fs::rename(&tmp, state.join("checkpoint.json"))?;
    Ok(())
}

/// Run one file through the engine; returns the alerts it caused now.
fn process(
    engine: &mut Engine,
    input: &Input,
    lateness: i64,
    newest: &mut Option<i64>,
) -> Result<Vec<Alert>> {
    let mut alerts = Vec::new();
    each_record(std::slice::from_ref(input), DecodeOptions::default(), |r| {
        let ms = r.time.timestamp_millis();
        *newest = Some(newest.map_or(ms, |n| n.max(ms)));
        engine.observe(r, &mut alerts, None);
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap_or_else(|never| match never {});
    if let Some(n) = newest {
        alerts.extend(engine.advance(minute_of(*n - lateness * 1000)));
    }
    Ok(alerts)
}

/// A file modified in the last half second may still be being copied in;
/// it is taken on a later scan.
fn still_being_written(input: &Input) -> bool {
    let Input::File { path, .. } = input else {
        return false;
    };
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < Duration::from_millis(500))
}

fn delivery_order(input: &Input) -> (String, String) {
    match input {
        Input::File { key: Some(k), .. } => {
            (k.delivery_stamp.clone().unwrap_or_default(), key(input))
        }
        _ => (String::new(), key(input)),
    }
}

fn key(input: &Input) -> String {
    match input {
        Input::Stdin => "-".into(),
        Input::File { path, .. } => path.display().to_string(),
    }
}

pub fn run(args: &WatchArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("creating {}", args.state.display()))?;
    let mut cp: Checkpoint = match std::fs::read(args.state.join("checkpoint.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).context("reading the checkpoint")?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Checkpoint::default(),
        Err(e) => return Err(e).context("reading the checkpoint"),
    };
    let mut sink = Sink::open(args.output.as_deref())?;
    let mut engine = Engine::new(args.rules.load()?);
    let mut newest: Option<i64> = None;
    let mut done: BTreeSet<String> = BTreeSet::new();
    // Rebuild alarm state from what was processed before; alerts a kill kept
    // from reaching the output are emitted now, the rest are known ids.
    // Replay in the order the files were first processed, so alarm state
    // and alert ids come out exactly as they did.
    let found = discover(&args.sources, false)?;
    let by_key: std::collections::HashMap<String, &Input> =
        found.inputs.iter().map(|i| (key(i), i)).collect();
    for k in &cp.processed {
        if let Some(input) = by_key.get(k) {
            let alerts = process(&mut engine, input, args.lateness, &mut newest)?;
            sink.emit(&alerts)?;
            done.insert(k.clone());
        }
    }
    tracing::info!(files = done.len(), "watching {}", args.sources.join(", "));
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("starting the file watcher")?;
    for s in &args.sources {
        watcher
            .watch(Path::new(s), RecursiveMode::Recursive)
            .with_context(|| format!("watching {s}"))?;
    }
    loop {
        let mut found = discover(&args.sources, false)?;
        // Take new files in delivery order (the stamp in CloudTrail's file
        // names), not path order, so event time advances as it did live.
        found.inputs.sort_by_key(delivery_order);
        for input in &found.inputs {
            let k = key(input);
            if done.contains(&k) || still_being_written(input) {
                continue;
            }
            let alerts = process(&mut engine, input, args.lateness, &mut newest)?;
            sink.emit(&alerts)?;
            cp.processed.push(k.clone());
            save(&args.state, &cp)?;
            done.insert(k);
        }
        // Wake on the next file-system event, or rescan after the interval.
        match rx.recv_timeout(Duration::from_millis(args.poll_ms)) {
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => while rx.try_recv().is_ok() {},
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
