//! `trailwatch watch`'s loop: the trail followed as files land, through
//! the pipeline, to the outputs (the notification outbox, the NDJSON
//! output, the lake's `alerts` table), with the checkpoint saved whenever
//! the watcher is idle. See `cli/watch.rs` for the guarantees a user
//! relies on (restart-safe, nothing dropped or repeated).

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use trailwatch_core::detect::Detector;
use trailwatch_lake::alerts::AlertTable;
use trailwatch_lake::store::{S3Options, Store};

use super::checkpoint::Saver;
use super::follow::{FollowOptions, Follower, Wake};
use super::shard::Shard;
use super::{Pipeline, output};
use crate::config::WatchSettings;
use crate::notify::SinkContext;
use crate::notify::config::NotifyConfig;
use crate::notify::dispatch::Notifier;

/// What a watcher follows and where its alerts go.
#[derive(Debug)]
pub struct Watch {
    /// Folders or `s3://bucket/prefix`es.
    pub sources: Vec<String>,
    pub settings: WatchSettings,
    /// The checkpoint's folder (created already).
    pub state: PathBuf,
    pub s3: S3Options,
    /// The lake to ingest into and file alerts in.
    pub lake: Option<String>,
    pub notify: NotifyConfig,
    pub shard: Option<Shard>,
    /// Responses, when `[respond] auto` names rules that act alone.
    pub responder: Arc<crate::respond::Responder>,
}

/// Watch until the file watcher's channel closes (or an error).
pub fn run(w: Watch, mut detectors: Vec<Box<dyn Detector>>) -> Result<()> {
    let set = &w.settings;
    let (mut saver, replay) = Saver::load(&w.state, set.output.clone())?;
    let rt = crate::runtime::for_storage()?;
    let ctx = SinkContext { aws: w.s3.clone() };
    let notifier = Notifier::for_config(w.notify.clone(), &ctx)?;
    // Delivery runs beside the watch loop, on the runtime's workers.
    let _delivery = notifier.clone().map(|n| {
        rt.spawn(async move {
            n.deliver(false, None).await;
        })
    });
    let store = match &w.lake {
        Some(location) => Some(
            Store::open(location, &w.s3, rt.handle().clone())
                .with_context(|| format!("opening the lake {location}"))?,
        ),
        None => None,
    };
    // Sharded watchers write one lake side by side: each names its
    // transactions, and recovers only its own after a crash.
    let store = match (store, w.shard) {
        (Some(store), Some(s)) => Some(store.with_writer(&s.writer())?),
        (store, _) => store,
    };
    if let Some(s) = w.shard {
        tracing::info!("taking shard {s} of the trail (by {:?})", s.by);
    }
    let auto = output::AutoRespond::attach(
        w.responder.clone(),
        &mut detectors,
        rt.handle().clone(),
        store.clone(),
    );
    // Outputs in this order: the outbox first (a crash after it and before
    // the file repeats nothing: the outbox skips ids it has), then the
    // NDJSON output, then the lake's table.
    let mut pipeline = Pipeline::new(detectors, set.lateness, Duration::from_secs(set.idle_after));
    if let Some(n) = notifier {
        pipeline = pipeline.with_output(Box::new(output::Outbox(n)));
    }
    pipeline = pipeline.with_output(Box::new(match &set.output {
        // Only what was written after the saved state can come again.
        Some(path) => output::Ndjson::open(path, saver.cp.output_offset, set.ocsf)?,
        None => output::Ndjson::stdout(set.ocsf),
    }));
    if let Some(store) = &store {
        let table = AlertTable::open(store).context("opening the alerts table")?;
        pipeline = pipeline.with_output(Box::new(output::LakeAlerts(table)));
    }
    // Automatic responses last: the alerts are filed before anything is
    // changed.
    if let Some(auto) = auto {
        pipeline = pipeline.with_output(Box::new(auto));
    }
    // Resume where the checkpoint stands: no file is read again.
    saver.resume(&mut pipeline)?;
    let (tx, rx) = mpsc::channel::<Wake>();
    let mut follower = Follower::start(
        &w.sources,
        &w.s3,
        rt.handle(),
        FollowOptions {
            shard: w.shard,
            ..FollowOptions::from_settings(set)?
        },
        tx,
        store.as_ref(),
        &mut pipeline,
        &mut saver,
        &replay,
    )?;
    let mut status = Status::new(set.output.as_deref());
    loop {
        follower.step(&mut pipeline, &mut saver)?;
        status.say(follower.taken_files, pipeline.emitted());
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
    Ok(())
}

/// What the watcher says on stderr while it works, so a watcher writing
/// its alerts to a file is not silent: a line when files were read, at
/// most every [`Status::EVERY`].
struct Status {
    output: String,
    files: u64,
    alerts: u64,
    said: Option<Instant>,
}

impl Status {
    const EVERY: Duration = Duration::from_secs(10);

    fn new(output: Option<&std::path::Path>) -> Status {
        Status {
            output: output.map_or_else(|| "stdout".to_string(), |p| p.display().to_string()),
            files: 0,
            alerts: 0,
            said: None,
        }
    }

    fn say(&mut self, files: u64, alerts: u64) {
        if files == self.files || self.said.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return;
        }
        tracing::info!(
            "read {} new log files ({files} this run); {} new alerts to {} ({alerts} this run)",
            files - self.files,
            alerts - self.alerts,
            self.output
        );
        (self.files, self.alerts, self.said) = (files, alerts, Some(Instant::now()));
    }
}
