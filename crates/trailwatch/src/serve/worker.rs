//! The server's detection and ingest thread: one [`Pipeline`], the same as
//! `watch`'s, for every way events come in. Pushed records arrive as spool
//! files ([`super::push::Spool`]) and go through detection at once; with
//! `--watch`, trail files are followed as `watch` follows them
//! ([`Follower`]). The pipeline observes each event id once
//! ([`crate::pipeline::dedup`]), so an event pushed and later read from
//! the trail counts once toward an alarm, and alerts carry stable ids that
//! every output files once.
//!
//! Progress is kept as `watch` keeps it: a checkpoint and the pipeline's
//! state, saved together ([`Saver`]) in `STATE/pipeline/`. A spool file
//! is marked done in the checkpoint when detected and moved from
//! `pending/` to `detected/` once a save covers it; every
//! `--ingest-interval` the detected files go into the lake in one batch
//! (deduplicated by eventID) and are removed. A restart resumes from the
//! saved state, moves on the spool files it covers, detects the others,
//! and ingests what is left first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use trailwatch_core::activity::Activity;
use trailwatch_core::alert::Alert;
use trailwatch_core::detect::Detector;
use trailwatch_core::event::DecodeOptions;
use trailwatch_core::posture::Posture;
use trailwatch_lake::alerts::AlertTable;
use trailwatch_lake::ingest::{IngestOptions, SourceLocation, SourceObject, ingest};
use trailwatch_lake::read::{TableFilter, table_files};
use trailwatch_lake::state_snapshot;
use trailwatch_lake::store::{S3Options, Store};

use super::metrics::{Metrics, StateStartup};
use super::push::Spool;
use crate::pipeline::Pipeline;
use crate::pipeline::checkpoint::{FileId, Saver};
use crate::pipeline::follow::{FollowOptions, Follower, Wake};
use crate::pipeline::output;
use crate::source::Input;
use crate::source::lake::in_replay_order;

/// How far apart in event time two copies of an event are recognised:
/// CloudTrail delivers log files about 5 minutes after the calls (15 at
/// most, AWS says), so an hour covers a pushed event's trail copy with
/// room, while memory stays at one hour of event ids.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(3600);

/// What the worker needs.
pub struct Worker {
    pub store: Store,
    pub spool: Arc<Spool>,
    /// Where the checkpoint and the pipeline's state are kept.
    pub state: PathBuf,
    pub detectors: Vec<Box<dyn Detector>>,
    /// How late events may come (seconds) before alarms are evaluated
    /// without them, and how long a quiet trail prefix holds time back.
    pub lateness: i64,
    pub idle: Duration,
    /// The notification outbox, when the config has sinks.
    pub notifier: Option<crate::notify::dispatch::Notifier>,
    pub metrics: Arc<Metrics>,
    /// The query engine, told to forget its listings when alerts are filed.
    pub engine: Arc<trailwatch_sql::Engine>,
    pub interval: Duration,
    /// Trail sources to follow (`--watch`), with the watcher's settings.
    pub follow: Option<Follow>,
    /// The security state to rebuild from the lake at start (the
    /// pipeline's posture detector keeps it up to date afterwards).
    pub posture: Arc<std::sync::Mutex<Posture>>,
    /// The overview's activity, brought up and kept the same way.
    pub activity: Arc<std::sync::Mutex<Activity>>,
    pub posture_ready: Arc<std::sync::atomic::AtomicBool>,
    /// Automatic response, when `[respond] auto` names rules.
    pub auto: Option<output::AutoRespond>,
}

/// `serve --watch`: what to follow and how.
#[derive(Debug)]
pub struct Follow {
    pub sources: Vec<String>,
    pub s3: S3Options,
    pub handle: Handle,
    pub options: FollowOptions,
    /// How often S3 prefixes are listed (local folders wake the worker
    /// through the file watcher).
    pub poll: Duration,
    /// A sender for the file watcher's events.
    pub wake: Sender<Wake>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("spool", &self.spool)
            .field("follow", &self.follow)
            .finish()
    }
}

/// The last output, after the lake's table: the query engine forgets its
/// listings, so `/api/alerts` and the dashboard show the alerts just
/// filed at once (not after the listing cache's second), and the alerts
/// are counted for `/metrics`.
struct Filed {
    metrics: Arc<Metrics>,
    engine: Arc<trailwatch_sql::Engine>,
}

impl output::AlertOutput for Filed {
    fn name(&self) -> &str {
        "metrics"
    }

    fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        if !alerts.is_empty() {
            self.engine.forget_listings();
        }
        self.metrics.count_alerts(alerts);
        Ok(())
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

/// A spool file's name, as the checkpoint knows it.
fn spool_id(path: &Path) -> FileId {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    FileId::of(&format!("spool/{name}"), None)
}

/// Spool files detected, waiting for a save to cover them before they
/// move on to `detected/`.
#[derive(Debug, Default)]
struct Held {
    files: Vec<PathBuf>,
    /// The saver's save count when they were last moved.
    saves: u64,
}

impl Held {
    /// After a save: move what it covers on, and let the checkpoint forget
    /// them (the next save drops their names).
    fn after_save(&mut self, saver: &mut Saver, spool: &Spool) {
        if saver.saves != self.saves {
            self.saves = saver.saves;
            self.move_on(saver, spool);
        }
    }

    /// Move the held files on to `detected/` (a save covers them).
    fn move_on(&mut self, saver: &mut Saver, spool: &Spool) {
        for path in self.files.drain(..) {
            saver.cp.forget(&spool_id(&path).name);
            if let Some(name) = path.file_name()
                && let Err(e) = std::fs::rename(&path, spool.detected.join(name))
            {
                tracing::warn!("moving {} out of the spool's pending/: {e}", path.display());
            }
        }
    }
}

impl Worker {
    /// Run until told to stop (or every sender is gone): resume from the
    /// saved state, take up the spool, rebuild the security state, then
    /// detect what comes and ingest it at the interval.
    pub fn run(self, rx: Receiver<Wake>) -> Result<()> {
        let Worker {
            store,
            spool,
            state,
            detectors,
            lateness,
            idle,
            notifier,
            metrics,
            engine,
            interval,
            follow,
            posture,
            activity,
            posture_ready,
            auto,
        } = self;
        crate::private::create_dir_all(&state)
            .with_context(|| format!("creating {}", state.display()))?;
        let (mut saver, replay) = Saver::load(&state, None)?;
        let mut pipeline = pipeline(
            &store, detectors, lateness, idle, notifier, &metrics, &engine,
        )?;
        if let Some(auto) = auto {
            pipeline = pipeline.with_output(Box::new(auto));
        }
        saver.resume(&mut pipeline)?;
        let poll = follow.as_ref().map(|f| f.poll);
        let follower = match follow {
            Some(f) => Some(Follower::start(
                &f.sources,
                &f.s3,
                &f.handle,
                FollowOptions {
                    ingest_interval: interval,
                    ..f.options
                },
                f.wake,
                Some(&store),
                &mut pipeline,
                &mut saver,
                &replay,
            )?),
            None => None,
        };
        let (mut held, waiting) = take_up_spool(&spool, &mut saver);
        ingest_detected(&store, &spool, &metrics);
        // The security state from the lake's history, now that the lake
        // holds everything taken before; pushed records wait in the spool
        // meanwhile (durable, detected just after).
        let kept = Kept {
            posture: &posture,
            activity: &activity,
        };
        let (covered, saved_state_at) = bring_up_state(&store, &kept, &metrics)?;
        posture_ready.store(true, Ordering::Release);
        for path in waiting {
            detect(&mut pipeline, &mut saver, &mut held, &metrics, &path);
        }
        let mut follower = follower;
        if let Some(f) = &mut follower {
            // Ingested before the state came up: among the files it read.
            f.take_ingested();
        }
        let running = Running {
            covered,
            store: &store,
            spool: &spool,
            metrics: &metrics,
            kept,
            pipeline,
            saver,
            held,
            follower,
            poll,
            interval,
            last_ingest: Instant::now(),
            last_step: None,
            fs_news: true,
            saved_state_at,
        };
        running.serve(&rx);
        Ok(())
    }
}

/// The server's pipeline: each event once, however many ways it came in
/// (see the module doc); outputs: the outbox first (it skips ids it has),
/// then the lake's table, then the metrics.
fn pipeline<'s>(
    store: &'s Store,
    detectors: Vec<Box<dyn Detector>>,
    lateness: i64,
    idle: Duration,
    notifier: Option<crate::notify::dispatch::Notifier>,
    metrics: &Arc<Metrics>,
    engine: &Arc<trailwatch_sql::Engine>,
) -> Result<Pipeline<'s>> {
    let mut pipeline = Pipeline::new(detectors, lateness, idle).with_dedup(DEDUP_WINDOW);
    if let Some(n) = notifier {
        pipeline = pipeline.with_output(Box::new(output::Outbox(n)));
    }
    let table = AlertTable::open(store).context("opening the alerts table")?;
    pipeline = pipeline.with_output(Box::new(output::LakeAlerts(table)));
    Ok(pipeline.with_output(Box::new(Filed {
        metrics: metrics.clone(),
        engine: engine.clone(),
    })))
}

/// At start: spool files the saved state covers move on, held until the
/// next save; the others wait to be detected once the security state is
/// rebuilt.
fn take_up_spool(spool: &Spool, saver: &mut Saver) -> (Held, Vec<PathBuf>) {
    for path in spooled(&spool.detected) {
        saver.cp.forget(&spool_id(&path).name);
    }
    let mut held = Held {
        files: Vec::new(),
        saves: saver.saves,
    };
    let mut waiting = Vec::new();
    for path in spooled(&spool.pending) {
        if saver.cp.is_done(&spool_id(&path), false) {
            held.files.push(path);
        } else {
            waiting.push(path);
        }
    }
    held.move_on(saver, spool);
    (held, waiting)
}

/// What the server keeps in memory from every event it has seen: the
/// security state and the overview's activity, shared with the pages.
#[derive(Clone, Copy)]
struct Kept<'s> {
    posture: &'s std::sync::Mutex<Posture>,
    activity: &'s std::sync::Mutex<Activity>,
}

/// What the lake's snapshot holds: [`Kept`], copied out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Saved {
    posture: Posture,
    activity: Activity,
}

impl Kept<'_> {
    fn posture(&self) -> std::sync::MutexGuard<'_, Posture> {
        self.posture.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn activity(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many events each part has taken: what a save compares to know
    /// whether anything changed.
    fn counts(&self) -> (u64, u64) {
        (self.posture().events, self.activity().events)
    }

    fn copy(&self) -> Saved {
        Saved {
            posture: self.posture().clone(),
            activity: self.activity().clone(),
        }
    }
}

/// The security state and the activity brought up to date from the lake,
/// shared, and saved as the `state_*` tables and a new snapshot: taken
/// from the lake's snapshot plus the files it does not cover, or rebuilt
/// from every event when there is none or it no longer matches the lake
/// (see [`trailwatch_lake::state_snapshot`]). Returns the files they now
/// cover and the security state's events.
fn bring_up_state(store: &Store, kept: &Kept<'_>, metrics: &Metrics) -> Result<(Covered, u64)> {
    let started = Instant::now();
    let mut live =
        table_files(store, &TableFilter::default()).context("listing the lake's files")?;
    in_replay_order(&mut live);
    let snapshot = state_snapshot::load(store).context("reading the state snapshot")?;
    let from_snapshot = snapshot.as_ref().and_then(|s| {
        let todo: Vec<String> = s.uncovered(&live)?.into_iter().cloned().collect();
        match serde_json::from_value::<Saved>(s.state.clone()) {
            Ok(saved) => Some((saved, todo)),
            Err(e) => {
                tracing::warn!("the state snapshot cannot be taken back ({e}): rebuilding");
                None
            }
        }
    });
    let resumed = from_snapshot.is_some();
    let (mut saved, todo) = from_snapshot.unwrap_or_else(|| (Saved::default(), live.clone()));
    let now = chrono::Utc::now();
    crate::source::lake::each_file_record(
        store,
        &todo,
        DecodeOptions::default(),
        &mut |_, _| {},
        |r| {
            saved.posture.apply(r);
            saved.activity.apply(r, now);
        },
    )
    .context("bringing the security state up to date from the lake")?;
    let startup = StateStartup {
        from_snapshot: resumed,
        files: live.len() as u64,
        files_read: todo.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        events = saved.posture.events,
        files_read = startup.files_read,
        files = startup.files,
        from_snapshot = resumed,
        seconds = startup.seconds,
        "security state ready"
    );
    *metrics
        .state_startup
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(startup);
    let mut covered = Covered {
        files: live.into_iter().collect(),
        saved_at: None,
        lost: false,
    };
    save_state(store, &saved.posture);
    covered.save(store, &saved);
    let events = saved.posture.events;
    *kept.posture() = saved.posture;
    *kept.activity() = saved.activity;
    Ok((covered, events))
}

/// The lake files whose every event the in-memory state has applied, and
/// what the state had taken ([`Kept::counts`]) when a snapshot of it was
/// last saved.
struct Covered {
    files: BTreeSet<String>,
    saved_at: Option<((u64, u64), usize)>,
    /// The files no longer say what the state holds (see
    /// [`Running::follow_the_lake`]): no more snapshots.
    lost: bool,
}

impl Covered {
    /// Save a snapshot of the kept state covering these files, unless the
    /// last one saved is the same.
    fn save_kept(&mut self, store: &Store, kept: &Kept<'_>) {
        if !self.lost && self.saved_at != Some((kept.counts(), self.files.len())) {
            self.save(store, &kept.copy());
        }
    }

    fn save(&mut self, store: &Store, state: &Saved) {
        let now = (
            (state.posture.events, state.activity.events),
            self.files.len(),
        );
        if self.saved_at == Some(now) || self.lost {
            return;
        }
        let saved = serde_json::to_value(state)
            .map_err(trailwatch_lake::LakeError::from)
            .and_then(|v| {
                state_snapshot::save(store, &state_snapshot::Snapshot::new(self.files.clone(), v))
            });
        match saved {
            Ok(()) => self.saved_at = Some(now),
            Err(e) => tracing::error!("saving the state snapshot: {e}"),
        }
    }
}

/// The worker's loop once started: the pipeline and its checkpoint, the
/// spool files held for a save, the trail follower, and the clocks of
/// the periodic work.
struct Running<'s> {
    store: &'s Store,
    spool: &'s Spool,
    metrics: &'s Metrics,
    kept: Kept<'s>,
    pipeline: Pipeline<'s>,
    saver: Saver,
    held: Held,
    follower: Option<Follower<'s>>,
    poll: Option<Duration>,
    interval: Duration,
    last_ingest: Instant,
    last_step: Option<Instant>,
    /// The file watcher saw something since the last step.
    fs_news: bool,
    /// The events the state tables were last saved at.
    saved_state_at: u64,
    /// What the security state covers of the lake, for its snapshot.
    covered: Covered,
}

impl Running<'_> {
    /// Take what comes until told to stop (or every sender is gone):
    /// pushed records, file-system news, and the trail every poll; save
    /// and ingest as they fall due; then stop cleanly.
    fn serve(mut self, rx: &Receiver<Wake>) {
        loop {
            self.follow_if_due();
            let wait = self.wait();
            let mut idle = false;
            match rx.recv_timeout(wait) {
                Ok(Wake::Pushed(path)) => self.detect(&path),
                Ok(Wake::Fs(e)) => {
                    if let Some(f) = &mut self.follower {
                        f.saw(e);
                    }
                    self.fs_news = true;
                }
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => idle = true,
            }
            self.save(idle);
            self.ingest_if_due();
        }
        self.stop();
    }

    /// Follow the trail when the file watcher saw something, and every
    /// poll (S3 prefixes are listed then).
    fn follow_if_due(&mut self) {
        if let (Some(f), Some(poll)) = (&mut self.follower, self.poll)
            && (self.fs_news || self.last_step.is_none_or(|t| t.elapsed() >= poll))
        {
            if let Err(e) = f.step(&mut self.pipeline, &mut self.saver) {
                tracing::error!("following the trail: {e:#}");
            }
            self.last_step = Some(Instant::now());
            self.fs_news = false;
            self.metrics
                .watched_files
                .store(f.taken_files, Ordering::Relaxed);
            self.metrics
                .watched_bytes
                .store(f.taken_bytes, Ordering::Relaxed);
        }
        self.metrics
            .detect_duplicates
            .store(self.pipeline.duplicates(), Ordering::Relaxed);
    }

    /// How long to wait for news: until the next ingest, save or poll.
    fn wait(&self) -> Duration {
        let mut wait = self.interval.saturating_sub(self.last_ingest.elapsed());
        if let Some(d) = self.saver.due_in() {
            wait = wait.min(d);
        }
        if let (Some(poll), Some(t)) = (self.poll, self.last_step) {
            wait = wait.min(poll.saturating_sub(t.elapsed()));
        }
        wait.max(Duration::from_millis(5))
    }

    fn detect(&mut self, path: &Path) {
        detect(
            &mut self.pipeline,
            &mut self.saver,
            &mut self.held,
            self.metrics,
            path,
        );
    }

    /// Pushes come in bursts: a save every couple of seconds while they
    /// do, and one as soon as they pause (`idle`).
    fn save(&mut self, idle: bool) {
        let saved = if idle {
            self.saver.save_if_changed(&self.pipeline)
        } else {
            self.saver.save_if_due(&self.pipeline)
        };
        if let Err(e) = saved {
            tracing::error!("saving the pipeline's state: {e:#}");
        }
        self.held.after_save(&mut self.saver, self.spool);
    }

    /// Every interval: the detected spool files into the lake, and the
    /// state tables when the state changed (copied out under a short
    /// lock).
    fn ingest_if_due(&mut self) {
        if self.last_ingest.elapsed() < self.interval {
            return;
        }
        let written = ingest_detected(self.store, self.spool, self.metrics);
        self.covered.files.extend(written);
        self.last_ingest = Instant::now();
        self.follow_the_lake();
        let changed = {
            let p = self.kept.posture();
            (p.events != self.saved_state_at).then(|| p.clone())
        };
        if let Some(now) = &changed {
            save_state(self.store, now);
            self.saved_state_at = now.events;
        }
        self.snapshot_if_settled();
    }

    /// Apply the files other processes committed to the lake since the
    /// last look (`trailwatch ingest` from cron, another watcher), so the
    /// security state and the overview follow the lake, not only what the
    /// server took itself. A compaction while the server runs replaces
    /// files it covers by files it cannot tell from new ones: from then on
    /// it stops following the lake and saving snapshots (`lake compact`
    /// carried the last one over to what it merged), and the next start
    /// takes what is new.
    fn follow_the_lake(&mut self) {
        if let Some(f) = &mut self.follower {
            self.covered.files.extend(f.take_ingested().0);
        }
        if self.covered.lost {
            return;
        }
        let mut live = match table_files(self.store, &TableFilter::default()) {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!("listing the lake's files: {e}");
                return;
            }
        };
        let present: BTreeSet<&String> = live.iter().collect();
        if !self.covered.files.iter().all(|f| present.contains(f)) {
            tracing::warn!(
                "the lake was compacted while the server ran: files others add are taken at the next start"
            );
            self.covered.lost = true;
            return;
        }
        live.retain(|f| !self.covered.files.contains(f));
        if live.is_empty() {
            return;
        }
        in_replay_order(&mut live);
        let now = chrono::Utc::now();
        let kept = self.kept;
        let applied = crate::source::lake::each_file_record(
            self.store,
            &live,
            DecodeOptions::default(),
            &mut |_, _| {},
            |r| {
                kept.posture().apply(r);
                kept.activity().apply(r, now);
            },
        );
        match applied {
            Ok(_) => {
                tracing::info!(files = live.len(), "took the lake files others added");
                self.covered.files.extend(live);
            }
            // Not covered: tried again at the next interval (from the start
            // of each file, so a file half applied would count twice: stop
            // following instead).
            Err(e) => {
                tracing::error!("reading the lake files others added: {e:#}");
                self.covered.lost = true;
            }
        }
    }

    /// Save the state's snapshot when every event it has applied is in the
    /// lake (nothing detected waits for a save or an ingest): otherwise a
    /// restart would apply those events a second time, from the files
    /// they land in.
    fn snapshot_if_settled(&mut self) {
        let (written, all_in) = match &mut self.follower {
            Some(f) => f.take_ingested(),
            None => (Vec::new(), true),
        };
        self.covered.files.extend(written);
        let settled =
            all_in && self.held.files.is_empty() && spooled(&self.spool.detected).is_empty();
        if !settled {
            return;
        }
        self.covered.save_kept(self.store, &self.kept);
    }

    /// Stopping: the state saved, what was detected ingested, the watched
    /// files flushed into the lake.
    fn stop(mut self) {
        if let Err(e) = self.saver.save(&self.pipeline) {
            tracing::error!("saving the pipeline's state: {e:#}");
        }
        self.held.after_save(&mut self.saver, self.spool);
        let written = ingest_detected(self.store, self.spool, self.metrics);
        self.covered.files.extend(written);
        if let Some(f) = &mut self.follower
            && let Err(e) = f.flush()
        {
            tracing::error!("ingesting the watched files: {e:#}");
        }
        self.snapshot_if_settled();
    }
}

/// The security state as the lake's `state_*` tables.
fn save_state(store: &Store, p: &Posture) {
    if let Err(e) =
        trailwatch_lake::state_tables::save(store, |t| trailwatch_core::posture::rows(p, t))
    {
        tracing::error!("saving the state tables: {e}");
    }
}

/// One spool file through detection; marked done in the checkpoint, and
/// held until a save covers it.
fn detect(
    pipeline: &mut Pipeline<'_>,
    saver: &mut Saver,
    held: &mut Held,
    metrics: &Metrics,
    path: &Path,
) {
    // A file pushed while the worker started is both in its first look at
    // pending/ and in the channel: detected once.
    if saver.cp.is_done(&spool_id(path), false) || !path.exists() {
        return;
    }
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
    if let Err(e) = pipeline.emit(&alerts) {
        // Not marked done: detected again at the next start.
        tracing::error!("filing alerts: {e:#}");
        return;
    }
    saver.cp.mark_done(&spool_id(path), false);
    saver.changed();
    held.files.push(path.to_path_buf());
}

/// Every detected spool file into the lake, in one batch; then removed.
/// Returns the table files it committed.
fn ingest_detected(store: &Store, spool: &Spool, metrics: &Metrics) -> Vec<String> {
    let files = spooled(&spool.detected);
    if files.is_empty() {
        return Vec::new();
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
            summary.written
        }
        // Kept in detected/: tried again at the next interval.
        Err(e) => {
            tracing::error!("ingesting pushed events into {}: {e:#}", store.display);
            Vec::new()
        }
    }
}
