//! The server's detection and ingest thread. Pushed records arrive as
//! spool files ([`super::push::Spool`]); each goes through the detection
//! pipeline at once (the same [`Pipeline`] as `watch`, alerts filed in
//! the lake's `alerts` table), then moves to `detected/`; every
//! `--ingest-interval` the detected files are ingested into the lake in
//! one batch (deduplicated by eventID, idempotent by file) and removed.
//! On start, files left by a previous run are finished first: `pending/`
//! through detection, `detected/` into the lake.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use trailwatch_core::alert::Alert;
use trailwatch_core::detect::Detector;
use trailwatch_core::event::DecodeOptions;
use trailwatch_lake::alerts::AlertTable;
use trailwatch_lake::ingest::{IngestOptions, SourceLocation, SourceObject, ingest};
use trailwatch_lake::store::Store;

use super::metrics::Metrics;
use super::push::Spool;
use crate::pipeline::Pipeline;
use crate::pipeline::output;
use crate::source::Input;

/// What the worker needs.
pub struct Worker {
    pub store: Store,
    pub spool: Arc<Spool>,
    pub detectors: Vec<Box<dyn Detector>>,
    pub metrics: Arc<Metrics>,
    pub interval: Duration,
    /// The notification outbox, when the config has sinks.
    pub notifier: Option<crate::notify::dispatch::Notifier>,
    /// The security state to rebuild from the lake at start (the
    /// pipeline's posture detector keeps it up to date afterwards).
    pub posture: Arc<std::sync::Mutex<trailwatch_core::posture::Posture>>,
    pub posture_ready: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("spool", &self.spool)
            .finish()
    }
}

/// The spool files in `dir`, oldest first (names start with the time).
fn spooled(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "json")
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| !n.starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

impl Worker {
    /// Run until the sending side closes.
    pub fn run(self, rx: Receiver<PathBuf>) -> Result<()> {
        let Worker {
            store,
            spool,
            detectors,
            metrics,
            interval,
            notifier,
            posture,
            posture_ready,
        } = self;
        // The security state from the lake's history, once; pushed records
        // wait in the spool meanwhile (durable, detected just after).
        let mut rebuilt = trailwatch_core::posture::Posture::default();
        let started = Instant::now();
        crate::source::lake::each_lake_record(
            &store,
            &trailwatch_lake::read::TableFilter::default(),
            DecodeOptions::default(),
            |r| rebuilt.apply(r),
        )
        .context("rebuilding the security state from the lake")?;
        tracing::info!(
            events = rebuilt.events,
            seconds = started.elapsed().as_secs_f64(),
            "security state rebuilt from the lake"
        );
        save_state(&store, &rebuilt);
        let mut saved_at = rebuilt.events;
        *posture.lock().unwrap_or_else(|e| e.into_inner()) = rebuilt;
        posture_ready.store(true, Ordering::Release);
        let table = AlertTable::open(&store).context("opening the alerts table")?;
        // Pushed events arrive within seconds: alarms wait a minute for
        // stragglers; a source silent for 15 minutes does not hold time.
        let mut pipeline = Pipeline::new(detectors, 60, Duration::from_secs(900));
        // The outbox first (it skips ids it has), then the lake's table.
        if let Some(n) = notifier {
            pipeline = pipeline.with_output(Box::new(output::Outbox(n)));
        }
        pipeline = pipeline.with_output(Box::new(output::LakeAlerts(table)));
        for path in spooled(&spool.pending) {
            detect(&mut pipeline, &spool, &metrics, &path);
        }
        let mut last_ingest = Instant::now();
        ingest_detected(&store, &spool, &metrics);
        loop {
            let wait = interval.saturating_sub(last_ingest.elapsed());
            match rx.recv_timeout(wait.max(Duration::from_millis(10))) {
                Ok(path) => detect(&mut pipeline, &spool, &metrics, &path),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    ingest_detected(&store, &spool, &metrics);
                    return Ok(());
                }
            }
            if last_ingest.elapsed() >= interval {
                ingest_detected(&store, &spool, &metrics);
                last_ingest = Instant::now();
                // The state tables follow the state, at the ingest pace.
                let now = posture.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if now.events != saved_at {
                    save_state(&store, &now);
                    saved_at = now.events;
                }
            }
        }
    }
}

/// The security state as the lake's `state_*` tables.
fn save_state(store: &Store, p: &trailwatch_core::posture::Posture) {
    if let Err(e) = trailwatch_lake::state_tables::save(store, |t| crate::cli::state::rows(p, t)) {
        tracing::error!("saving the state tables: {e}");
    }
}

/// One spool file through detection; then on to `detected/`.
fn detect(pipeline: &mut Pipeline<'_>, spool: &Spool, metrics: &Metrics, path: &Path) {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let input = Input::File {
        path: path.to_path_buf(),
        key: None,
        size,
    };
    let mut alerts: Vec<Alert> = Vec::new();
    match input.open(DecodeOptions::default()) {
        Ok(dec) => {
            let problems = pipeline.take(&input, dec, &mut alerts);
            if problems > 0 {
                metrics
                    .push_bad_records
                    .fetch_add(problems, Ordering::Relaxed);
            }
        }
        Err(e) => tracing::warn!("reading {}: {e}", path.display()),
    }
    pipeline.advance(&mut alerts);
    if !alerts.is_empty() {
        if let Err(e) = pipeline.emit(&alerts) {
            // Left in pending/: taken again at the next start.
            tracing::error!("filing alerts: {e:#}");
            return;
        }
        metrics.count_alerts(&alerts);
    }
    if let Some(name) = path.file_name()
        && let Err(e) = std::fs::rename(path, spool.detected.join(name))
    {
        tracing::warn!("moving {} out of the spool's pending/: {e}", path.display());
    }
}

/// Every detected spool file into the lake, in one batch; then removed.
fn ingest_detected(store: &Store, spool: &Spool, metrics: &Metrics) {
    let files = spooled(&spool.detected);
    if files.is_empty() {
        return;
    }
    let objects: Vec<SourceObject> = files
        .iter()
        .map(|p| SourceObject {
            key: p.display().to_string(),
            size: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            version: String::new(),
            location: SourceLocation::Local(p.clone()),
            fallback_account: None,
        })
        .collect();
    match ingest(store, objects, &IngestOptions::default(), &|_| {}) {
        Ok(summary) => {
            metrics
                .lake_events
                .fetch_add(summary.events, Ordering::Relaxed);
            metrics
                .lake_duplicates
                .fetch_add(summary.duplicates, Ordering::Relaxed);
            metrics
                .quarantined
                .fetch_add(summary.quarantined, Ordering::Relaxed);
            for f in &files {
                let _ = std::fs::remove_file(f);
            }
            tracing::debug!(
                files = files.len(),
                events = summary.events,
                duplicates = summary.duplicates,
                "pushed events ingested"
            );
        }
        // Kept in detected/: tried again at the next interval.
        Err(e) => tracing::error!("ingesting pushed events into {}: {e:#}", store.display),
    }
}
