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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use tokio::runtime::Handle;
use trailwatch_core::alert::Alert;
use trailwatch_core::digest::alerts::alerts_of as digest_alerts;
use trailwatch_core::digest::{KeyRing, LocalTrail, TrailStore, check_delivered};
use trailwatch_core::event::DecodeOptions;
use trailwatch_lake::alerts::AlertTable;
use trailwatch_lake::ingest::{IngestOptions, SourceLocation, SourceObject, ingest};
use trailwatch_lake::store::{S3Options, Store};

use super::lake_args::{LakeArgs, runtime};
use super::rule_args::RuleArgs;
use super::verify::load_keys;
use crate::config::{Config, Setting, Source};
use crate::notify::SinkContext;
use crate::notify::dispatch::Notifier;
use crate::pipeline::checkpoint::{Checkpoint, FileId};
use crate::pipeline::retry::Retries;
use crate::pipeline::{Pipeline, output};
use crate::private;
use crate::source::local::{discover_skipping, input_for};
use crate::source::s3::{self, RegionFolder, region_folders};
use crate::source::s3_trail::S3Trail;
use crate::source::watched::Watched;
use crate::source::{Discovery, Fetched, Input, discover_any, discover_any_skipping};
use trailwatch_core::walk::Unreadable;

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
    /// How late events may arrive, in seconds: alarms are evaluated up to the
    /// newest event time minus this.
    /// Default 300.
    #[arg(long, value_name = "SECONDS")]
    pub lateness: Option<i64>,
    /// A trail prefix (account and region) with no new file for this many
    /// seconds stops holding back alarm evaluation for the others.
    /// Default 900.
    #[arg(long, value_name = "SECONDS")]
    pub idle_after: Option<u64>,
    /// How far behind (in event time) a sample may land and still re-open
    /// an alarm's evaluation; older alarm state is forgotten, which bounds
    /// the saved state. Default 1209600 (14 days, CloudWatch Logs' limit).
    #[arg(long, value_name = "SECONDS")]
    pub late_horizon: Option<u64>,
    /// A file that cannot be read completely (still being written, a
    /// failed GET, truncated gzip) is retried with backoff; after this many
    /// seconds of failing it is reported as an error (and still retried).
    /// Default 600.
    #[arg(long, value_name = "SECONDS")]
    pub stuck_after: Option<u64>,
    /// Rescan interval in milliseconds (inotify wakes the watcher sooner
    /// for local folders; S3 prefixes are listed this often).
    /// Default 1000.
    #[arg(long, value_name = "MS")]
    pub poll_ms: Option<u64>,
    /// Also ingest the watched files into this lake (a folder or
    /// s3://bucket/prefix) and append alerts to its `alerts` table.
    #[arg(long, value_name = "LAKE")]
    pub lake: Option<String>,
    /// With --lake: seconds between ingests of the files seen meanwhile.
    /// Default 60.
    #[arg(long, value_name = "SECONDS", requires = "lake")]
    pub ingest_interval: Option<u64>,
    /// S3 endpoint (for S3-compatible servers); also AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Validate each digest file as it lands, with these public keys (the
    /// JSON of `aws cloudtrail list-public-keys`, or a folder of them):
    /// tampering raises a P1 `log-tampering` alert.
    #[arg(long, value_name = "FILE|DIR")]
    pub public_keys: Option<PathBuf>,
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
            endpoint_url: None,
            public_keys: None,
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
}

/// Run one fetched file through the pipeline and advance event time;
/// returns the alerts it caused now.
fn take_file(pipeline: &mut Pipeline<'_>, input: &Input, fetched: &Fetched) -> Vec<Alert> {
    let mut alerts = Vec::new();
    match fetched.open(DecodeOptions::default()) {
        Ok(dec) => {
            pipeline.take(input, dec, &mut alerts);
        }
        Err(e) => tracing::error!("{e}"),
    }
    pipeline.advance(&mut alerts);
    alerts
}

/// A local file may still be being copied in. One the file watcher saw
/// closed after writing, or renamed into place, is complete; otherwise a
/// file modified in the last half second is left for a later scan. S3
/// objects appear whole.
fn still_being_written(input: &Input, complete: &HashSet<PathBuf>) -> bool {
    let Input::File { path, .. } = input else {
        return false;
    };
    if std::fs::canonicalize(path).is_ok_and(|p| complete.contains(&p)) {
        return false;
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < Duration::from_millis(500))
}

/// Paths the file watcher reports as finished: closed after writing, or
/// renamed into place.
fn note_complete(event: &notify::Event, complete: &mut HashSet<PathBuf>) {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    let done = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => true,
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            // paths are [from, to]: only the destination is complete.
            if let Some(to) = event.paths.last()
                && let Ok(p) = std::fs::canonicalize(to)
            {
                complete.insert(p);
            }
            return;
        }
        _ => false,
    };
    if done {
        for p in &event.paths {
            if let Ok(p) = std::fs::canonicalize(p) {
                complete.insert(p);
            }
        }
    }
}

/// Whether `rel` (a folder's path below its source folder) is a trail
/// year, month or day folder whose files are all done.
fn done_folder(cp: &Checkpoint, rel: &str) -> bool {
    trailwatch_core::layout::parse_day_dir(rel).is_some_and(|day| cp.day_done(&day))
}

/// Walk the sources, watching each folder before reading it and not
/// entering trail day folders the checkpoint has done (so a restart or
/// rescan costs the days in flight, not the whole history).
fn discover_new(
    sources: &[String],
    s3: &S3Options,
    handle: &Handle,
    cp: &Checkpoint,
    watched: &mut Watched,
) -> Result<Discovery> {
    discover_any_skipping(
        sources,
        false,
        s3,
        handle,
        &|rel| done_folder(cp, rel),
        &mut |d| watched.folder(d),
    )
}

/// How often local folders are walked in full, as a safety net: between
/// walks, new files are known from the file watcher's events.
const RESCAN: Duration = Duration::from_secs(300);

/// What the watcher knows its sources hold and has not taken yet. Local
/// folders are walked in full only at start and every [`RESCAN`] (and when
/// the kernel's event queue overflowed); between walks the file watcher's
/// events name the new files, and the new folders to watch and read. S3
/// prefixes have their recent days listed every poll.
struct Listing {
    /// Inputs not yet done, by name.
    pending: BTreeMap<String, Input>,
    /// Local roots as given, canonical, and whether each is a trail folder.
    roots: Vec<(PathBuf, PathBuf, bool)>,
    /// Paths the file watcher reported since the last look.
    seen: Vec<PathBuf>,
    last_walk: Instant,
    /// Whether events were lost (the kernel's queue overflowed): walk now.
    rescan_now: bool,
    /// Whether a digest file may have landed since the last look.
    digest_news: bool,
    /// The S3 sources.
    remote: Vec<String>,
    /// For each S3 source, its trail's region folders (from the last full
    /// listing): between full listings only their recent days are listed.
    s3_folders: BTreeMap<String, Vec<RegionFolder>>,
}

impl Listing {
    fn new(sources: &[String], found: Discovery, cp: &Checkpoint) -> Listing {
        let roots = sources
            .iter()
            .filter(|s| !s.starts_with("s3://"))
            .map(|s| {
                let given = PathBuf::from(s);
                let canonical = std::fs::canonicalize(&given).unwrap_or_else(|_| given.clone());
                (given, canonical, false)
            })
            .collect();
        let mut l = Listing {
            pending: BTreeMap::new(),
            roots,
            seen: Vec::new(),
            last_walk: Instant::now(),
            rescan_now: false,
            digest_news: true,
            remote: sources
                .iter()
                .filter(|s| s.starts_with("s3://"))
                .cloned()
                .collect(),
            s3_folders: BTreeMap::new(),
        };
        l.take(found, cp);
        l
    }

    /// Keep what a discovery found that is not done; learn which roots are
    /// trail folders.
    fn take(&mut self, found: Discovery, cp: &Checkpoint) -> Vec<Unreadable> {
        self.s3_folders.clear();
        for url in &self.remote {
            let mine: Vec<SourceObject> = found
                .inputs
                .iter()
                .filter_map(|i| match i {
                    Input::Object { object, .. } if object.key.starts_with(url.as_str()) => {
                        Some(object.clone())
                    }
                    _ => None,
                })
                .collect();
            self.s3_folders.insert(url.clone(), region_folders(&mine));
        }
        for (given, _, trail) in &mut self.roots {
            *trail = found.inputs.iter().any(|i| match i {
                Input::File { path, key, .. } => key.is_some() && path.starts_with(&*given),
                _ => false,
            });
        }
        for input in found.inputs {
            if !cp.is_done(&file_id(&input), false) {
                self.pending.insert(input.name(), input);
            }
        }
        found.unreadable
    }

    /// Note a file-system event's paths.
    fn saw(&mut self, event: &notify::Event) {
        use notify::EventKind;
        use notify::event::{AccessKind, AccessMode, ModifyKind};
        // Only what can bring a new file or folder: reading a folder raises
        // access events too, and taking those would make every walk
        // trigger another.
        let arrival = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        );
        if event.need_rescan() {
            self.rescan_now = true;
        }
        if arrival {
            self.digest_news |= event
                .paths
                .iter()
                .any(|p| p.to_string_lossy().contains("CloudTrail-Digest"));
            self.seen.extend(event.paths.iter().cloned());
        }
    }

    /// Whether a digest may have landed since the last call.
    fn take_digest_news(&mut self) -> bool {
        std::mem::take(&mut self.digest_news)
    }

    /// Bring the listing up to date: a full walk when due, else the paths
    /// the file watcher reported; S3 prefixes are listed every time.
    fn refresh(
        &mut self,
        sources: &[String],
        s3: &S3Options,
        handle: &Handle,
        cp: &Checkpoint,
        watched: &mut Watched,
    ) -> Result<Vec<Unreadable>> {
        if self.rescan_now || self.last_walk.elapsed() >= RESCAN {
            self.last_walk = Instant::now();
            self.rescan_now = false;
            self.seen.clear();
            self.digest_news = true;
            // Days done since the last walk need no watch any more.
            watched.forget(&|rel| done_folder(cp, rel));
            let found = discover_new(sources, s3, handle, cp, watched)?;
            return Ok(self.take(found, cp));
        }
        let mut unread = Vec::new();
        for url in &self.remote {
            let folders = self.s3_folders.get(url).cloned().unwrap_or_default();
            if folders.is_empty() {
                // No trail layout known yet: the whole prefix.
                let found = discover_any(std::slice::from_ref(url), false, s3, handle)?;
                for input in found.inputs {
                    if !cp.is_done(&file_id(&input), false) {
                        self.pending.insert(input.name(), input);
                    }
                }
                continue;
            }
            let from: Vec<(RegionFolder, Option<String>)> = folders
                .into_iter()
                .map(|f| {
                    let day = cp.listing_day(&f.account, &f.region);
                    (f, day)
                })
                .collect();
            let mut skipped = s3::Skipped::default();
            let (objects, calls) = s3::list_from_days(url, s3, handle, &from, &mut skipped)?;
            tracing::trace!(url, calls, objects = objects.len(), "listed recent days");
            for object in objects {
                let key = match &object.location {
                    SourceLocation::Object { path, .. } => {
                        trailwatch_core::layout::parse_key(path.as_ref())
                    }
                    _ => None,
                };
                let input = Input::Object {
                    object,
                    key,
                    handle: handle.clone(),
                };
                if !cp.is_done(&file_id(&input), false) {
                    self.pending.insert(input.name(), input);
                }
            }
        }
        for path in std::mem::take(&mut self.seen) {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let Some((given, root, trail)) = self
                .roots
                .iter()
                .find(|(_, root, _)| canonical.starts_with(root))
            else {
                continue;
            };
            let Ok(rel) = canonical.strip_prefix(root) else {
                continue;
            };
            let named = given.join(rel);
            if canonical.is_dir() {
                // A new folder: watched, then read (what landed in it
                // before the watch is in the walk, what lands after raises
                // an event).
                let found = match discover_skipping(
                    &[named.display().to_string()],
                    false,
                    &|_| false,
                    &mut |d| watched.folder(d),
                ) {
                    Ok(f) => f,
                    // Gone again, or not readable: the full walk reports it.
                    Err(_) => continue,
                };
                for input in found.inputs {
                    if (!*trail || input.trail_key().is_some())
                        && !cp.is_done(&file_id(&input), false)
                    {
                        self.pending.insert(input.name(), input);
                    }
                }
                unread.extend(found.unreadable);
            } else if let Some(input) = input_for(given, &named, *trail)
                && !cp.is_done(&file_id(&input), false)
            {
                self.pending.insert(input.name(), input);
            }
        }
        Ok(unread)
    }

    fn pending(&self) -> impl Iterator<Item = &Input> {
        self.pending.values()
    }

    fn done(&mut self, name: &str) {
        self.pending.remove(name);
    }
}

/// The lake side of `watch --lake`: the files waiting to be ingested (the
/// alerts go to the lake through the pipeline's outputs).
struct LakeSide<'s> {
    store: &'s Store,
    pending: Vec<SourceObject>,
    last_ingest: Instant,
    interval: Duration,
}

impl LakeSide<'_> {
    /// Record a processed file: its events go in at the next ingest.
    fn took(&mut self, input: &Input) -> Result<()> {
        match input.source_object() {
            Ok(o) => self.pending.push(o),
            // Gone since it was read (moved away by whoever wrote it).
            Err(e) => tracing::warn!("not ingesting {}: {e:#}", input.name()),
        }
        Ok(())
    }

    fn ingest_due(&mut self, force: bool) -> Result<()> {
        if self.pending.is_empty() || (!force && self.last_ingest.elapsed() < self.interval) {
            return Ok(());
        }
        let summary = ingest(
            self.store,
            std::mem::take(&mut self.pending),
            &IngestOptions::default(),
            &|_| {},
        )
        .with_context(|| format!("ingesting into {}", self.store.display))?;
        self.last_ingest = Instant::now();
        tracing::info!(
            files = summary.files,
            events = summary.events,
            "ingested into {}",
            self.store.display
        );
        Ok(())
    }
}

/// A source as a store of digests to validate.
fn digest_store(source: &str, s3: &S3Options, handle: &Handle) -> Result<Box<dyn TrailStore>> {
    Ok(if source.starts_with("s3://") {
        Box::new(S3Trail::open(source, s3, handle.clone())?)
    } else {
        Box::new(LocalTrail::new(source))
    })
}

/// What a look for new digests found.
struct DigestLook {
    alerts: Vec<Alert>,
    /// Digests validated now.
    checked: usize,
    /// Local digests too fresh to take yet (still being copied?).
    young: usize,
}

/// Validate digests that landed since the last look.
fn check_new_digests(
    sources: &[String],
    stores: &[Box<dyn TrailStore>],
    keys: &KeyRing,
    cp: &mut Checkpoint,
) -> Result<DigestLook> {
    let mut look = DigestLook {
        alerts: Vec::new(),
        checked: 0,
        young: 0,
    };
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (i, store) in stores.iter().enumerate() {
        let id = |k: &str| FileId::of(k, trailwatch_core::layout::parse_key(k).as_ref());
        let unchecked: Vec<String> = store
            .keys()?
            .into_iter()
            .filter(|k| k.contains("/CloudTrail-Digest/") && k.ends_with(".json.gz"))
            .filter(|k| !cp.is_done(&id(k), true))
            .collect();
        // A local digest may still be being copied in: take it once it has
        // not changed for a second (S3 objects appear whole).
        let (mut new, young): (Vec<String>, Vec<String>) = unchecked.into_iter().partition(|k| {
            sources[i].starts_with("s3://")
                || std::fs::metadata(Path::new(&sources[i]).join(k))
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= Duration::from_secs(1))
        });
        look.young += young.len();
        // Oldest first (key names end in the digest's end time).
        new.sort_by_key(|k| k.rsplit('_').next().map(str::to_string));
        for key in new {
            let report = check_delivered(store.as_ref(), keys, &key)
                .with_context(|| format!("validating {key}"))?;
            let found = digest_alerts(&report, &now);
            tracing::info!(digest = key, problems = found.len(), "digest validated");
            look.alerts.extend(found);
            cp.mark_done(&id(&key), true);
            look.checked += 1;
        }
    }
    Ok(look)
}

/// How often at most the checkpoint and the pipeline's state are saved
/// while files keep coming (and always when the watcher goes idle): a
/// crash costs re-reading at most this much, never an alert.
const SAVE_EVERY: Duration = Duration::from_secs(2);

/// The checkpoint's id of an input.
fn file_id(input: &Input) -> FileId {
    FileId::of(&input.name(), input.trail_key())
}

pub fn run(args: &WatchArgs, cfg: &Config) -> Result<ExitCode> {
    let set = Settings::resolve(args, cfg, None)?;
    let state = set
        .state
        .clone()
        .context("--state DIR is needed (or `state` in the config's [watch])")?;
    private::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let (mut cp, replay) = Checkpoint::load(&state)?;
    let rt = runtime()?;
    let endpoint = cfg
        .endpoint_url(args.endpoint_url.as_deref())
        .map(|s| s.value);
    let s3 = S3Options {
        endpoint: endpoint.clone(),
    };
    let ctx = SinkContext {
        endpoint_url: endpoint.clone(),
    };
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
                endpoint_url: endpoint.clone(),
            }
            .open(cfg, rt.handle().clone())?,
        ),
        None => None,
    };
    let mut lake = store.as_ref().map(|store| LakeSide {
        store,
        pending: Vec::new(),
        last_ingest: Instant::now(),
        interval: Duration::from_secs(set.ingest_interval),
    });
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
        Some(path) => output::Ndjson::open(path, cp.output_offset)?,
        None => output::Ndjson::stdout(),
    }));
    if let Some(store) = &store {
        let table = AlertTable::open(store).context("opening the alerts table")?;
        pipeline = pipeline.with_output(Box::new(output::LakeAlerts(table)));
    }
    let mut retries = Retries::default();
    let stuck_after = Duration::from_secs(set.stuck_after);
    let save_now = |cp: &mut Checkpoint, pipeline: &Pipeline<'_>| -> Result<()> {
        cp.output_offset = set
            .output
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len());
        cp.save(&state, Some(&pipeline.save()?))
    };
    // Each folder is watched as the walk enters it, before it is read: a
    // file that lands meanwhile is in the listing or raises an event.
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watched = Watched::new(&args.sources, tx)?;
    let found = discover_new(&args.sources, &s3, rt.handle(), &cp, &mut watched)?;
    if let Some(saved) = cp.snapshot_bytes(&state)? {
        // Resume where the checkpoint stands: no file is read again.
        pipeline.restore(&saved).with_context(|| {
            format!(
                "restoring the watcher's saved state {} (remove {} to start over)",
                state
                    .join(cp.snapshot.as_deref().unwrap_or_default())
                    .display(),
                state.join("checkpoint.json").display()
            )
        })?;
    } else if !replay.is_empty() {
        // A checkpoint of the first format lists every file processed:
        // rebuild the state by replaying them, once, in their order.
        let by_key: HashMap<String, &Input> = found.inputs.iter().map(|i| (i.name(), i)).collect();
        for k in &replay {
            if let Some(input) = by_key.get(k) {
                let fetched = match input.fetch() {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!("not replaying {k}: {e}");
                        continue;
                    }
                };
                let alerts = take_file(&mut pipeline, input, &fetched);
                pipeline.emit(&alerts)?;
                cp.mark_done(&file_id(input), false);
            }
        }
        save_now(&mut cp, &pipeline)?;
    }
    if let Some(l) = &mut lake {
        for input in found
            .inputs
            .iter()
            .filter(|i| cp.is_done(&file_id(i), false))
        {
            l.took(input)?;
        }
        // Files checkpointed before a kill but not yet ingested go in now;
        // the ones already in the lake are skipped without being read.
        l.ingest_due(true)?;
    }
    let mut listing = Listing::new(&args.sources, found, &cp);
    let mut last_digest_look = Instant::now();
    let mut digests_waiting = true;
    tracing::info!(
        files = cp.files,
        folders = watched.count(),
        "watching {}",
        args.sources.join(", ")
    );
    let mut last_save = Instant::now();
    let mut unsaved = false;
    let mut complete: HashSet<PathBuf> = HashSet::new();
    let mut unreadable: HashSet<PathBuf> = HashSet::new();
    let keys = set.public_keys.as_deref().map(load_keys).transpose()?;
    let digest_stores: Vec<Box<dyn TrailStore>> = match &keys {
        Some(_) => args
            .sources
            .iter()
            .map(|s| digest_store(s, &s3, rt.handle()))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    loop {
        // Digests are listed when one may have landed: at start, when the
        // file watcher saw one, on each full walk, and every minute for S3.
        let digests_due = listing.take_digest_news()
            || last_digest_look.elapsed() >= Duration::from_secs(60)
            || digests_waiting;
        if let Some(keys) = keys.as_ref().filter(|_| digests_due) {
            let look = check_new_digests(&args.sources, &digest_stores, keys, &mut cp)?;
            pipeline.emit(&look.alerts)?;
            unsaved |= look.checked > 0;
            digests_waiting = look.young > 0;
            last_digest_look = Instant::now();
        }
        let unread = listing.refresh(&args.sources, &s3, rt.handle(), &cp, &mut watched)?;
        // An entry that vanished mid-walk (a sync tool's temporary file
        // renamed into place) is not unreadable, just gone.
        for u in unread
            .into_iter()
            .filter(|u| u.path.symlink_metadata().is_ok())
        {
            if unreadable.insert(u.path.clone()) {
                tracing::error!("cannot read {}: {}", u.path.display(), u.reason);
            }
        }
        // Take new files in delivery order (the stamp in CloudTrail's file
        // names), not path order, so event time advances as it did live.
        let mut pending: Vec<Input> = listing.pending().cloned().collect();
        pending.sort_by_key(Input::delivery_order);
        for input in &pending {
            let k = input.name();
            let id = file_id(input);
            if cp.is_done(&id, false) {
                continue;
            }
            // A file being retried waits out its backoff, unless the file
            // watcher has since seen it closed after writing or renamed
            // into place (then it is likely whole now).
            let canonical = match input {
                Input::File { path, .. } => std::fs::canonicalize(path).ok(),
                _ => None,
            };
            let touched = canonical.as_ref().is_some_and(|p| complete.contains(p));
            if retries.waiting(&k) && !touched {
                continue;
            }
            if still_being_written(input, &complete) {
                // Later files wait for it, so event time advances in
                // delivery order (a file in a folder created a moment ago
                // has no watcher event yet and waits out the half second).
                break;
            }
            // A file that cannot be read whole is not done: it is retried
            // (its alerts come when it is complete), and later files go on.
            let problem = match input.fetch() {
                Ok(f) => match f.incomplete(DecodeOptions::default()) {
                    None => Ok(f),
                    Some(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            let fetched = match problem {
                Ok(f) => f,
                Err(_) if matches!(input, Input::File { path, .. } if !path.exists()) => {
                    // Moved away since it was listed: nothing to take.
                    listing.done(&k);
                    retries.done(&k);
                    continue;
                }
                Err(e) => {
                    retries.failed(&k, &e.to_string(), stuck_after);
                    if let Some(p) = &canonical {
                        complete.remove(p);
                    }
                    continue;
                }
            };
            retries.done(&k);
            let alerts = take_file(&mut pipeline, input, &fetched);
            pipeline.emit(&alerts)?;
            if let Some(l) = &mut lake {
                l.took(input)?;
            }
            cp.mark_done(&id, false);
            cp.files += 1;
            listing.done(&k);
            unsaved = true;
            if last_save.elapsed() >= SAVE_EVERY {
                save_now(&mut cp, &pipeline)?;
                last_save = Instant::now();
                unsaved = false;
            }
            if let Input::File { path, .. } = input
                && let Ok(p) = std::fs::canonicalize(path)
            {
                complete.remove(&p);
            }
        }
        if unsaved {
            // Idle for now: everything done so far is saved.
            save_now(&mut cp, &pipeline)?;
            last_save = Instant::now();
            unsaved = false;
        }
        if let Some(l) = &mut lake {
            l.ingest_due(false)?;
        }
        // Wake on the next file-system event, or rescan after the interval.
        match rx.recv_timeout(Duration::from_millis(set.poll_ms)) {
            Ok(event) => {
                if let Ok(e) = event {
                    note_complete(&e, &mut complete);
                    listing.saw(&e);
                }
                while let Ok(event) = rx.try_recv() {
                    if let Ok(e) = event {
                        note_complete(&e, &mut complete);
                        listing.saw(&e);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
