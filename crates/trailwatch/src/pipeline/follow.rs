//! Following trail sources as they grow: the heart of `watch`, and of
//! `serve --watch`. New log files in local folders are noticed through
//! inotify (the `notify` crate, with a full walk every few minutes as a
//! safety net); S3 prefixes are listed every poll. Files are taken in
//! delivery order, each read through completely first (one that is not
//! whole is retried, see [`super::retry`]), then run through the
//! [`Pipeline`]. Digest files are validated as they land when public keys
//! are given, and with a lake the files taken are ingested in batches.
//!
//! A [`Follower`] does one pass over what is new per [`Follower::step`];
//! the caller owns the wait between passes, so a server can wake it for
//! pushed records too (see [`Wake`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::runtime::Handle;
use trailwatch_core::alert::Alert;
use trailwatch_core::digest::alerts::alerts_of as digest_alerts;
use trailwatch_core::digest::{KeyRing, LocalTrail, TrailStore, check_delivered};
use trailwatch_core::event::DecodeOptions;
use trailwatch_core::walk::Unreadable;
use trailwatch_lake::ingest::{IngestOptions, SourceLocation, SourceObject, ingest};
use trailwatch_lake::store::{S3Options, Store};

use super::Pipeline;
use super::checkpoint::{Checkpoint, FileId, Saver};
use super::retry::Retries;
use super::shard::Shard;
use crate::config::WatchSettings;
use crate::public_keys::load_keys;
use crate::source::local::{discover_skipping, input_for};
use crate::source::s3::{self, RegionFolder, region_folders};
use crate::source::s3_trail::S3Trail;
use crate::source::watched::Watched;
use crate::source::{Discovery, Fetched, Input, discover_any, discover_any_skipping};

/// What wakes a follower's owner between passes.
#[derive(Debug)]
pub enum Wake {
    /// The file watcher saw something in a local source.
    Fs(notify::Result<notify::Event>),
    /// A pushed spool file is ready for detection (the server).
    Pushed(PathBuf),
    /// The owner is shutting down: finish and return.
    Stop,
}

/// How a follower works, beyond its sources.
#[derive(Debug)]
pub struct FollowOptions {
    /// After this long failing, a file that cannot be read whole is
    /// reported as an error (and still retried).
    pub stuck_after: Duration,
    /// With a lake: the time between ingests of the files taken.
    pub ingest_interval: Duration,
    /// Validate digests as they land, with these keys.
    pub keys: Option<KeyRing>,
    /// Take only this share of the trail (`watch --shard`).
    pub shard: Option<Shard>,
}

impl FollowOptions {
    /// What the watcher's settings ask for (the public keys loaded); no
    /// shard.
    pub fn from_settings(set: &WatchSettings) -> Result<FollowOptions> {
        Ok(FollowOptions {
            stuck_after: Duration::from_secs(set.stuck_after),
            ingest_interval: Duration::from_secs(set.ingest_interval),
            keys: set.public_keys.as_deref().map(load_keys).transpose()?,
            shard: None,
        })
    }
}

/// The sources being followed and what is known of them.
pub struct Follower<'s> {
    sources: Vec<String>,
    s3: S3Options,
    handle: Handle,
    listing: Listing,
    watched: Watched,
    retries: Retries,
    stuck_after: Duration,
    /// Local files the file watcher saw finished.
    complete: HashSet<PathBuf>,
    /// Entries reported unreadable (each once).
    unreadable: HashSet<PathBuf>,
    keys: Option<KeyRing>,
    digest_stores: Vec<Box<dyn TrailStore>>,
    last_digest_look: Instant,
    digests_waiting: bool,
    lake: Option<LakeSide<'s>>,
    /// Log files taken so far, and their bytes (for the server's metrics).
    pub taken_files: u64,
    pub taken_bytes: u64,
}

impl std::fmt::Debug for Follower<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("sources", &self.sources)
            .finish()
    }
}

impl<'s> Follower<'s> {
    /// Start following `sources`: watch and list them, rebuild the
    /// pipeline's state by replaying a first-format checkpoint's files when
    /// the saver has no snapshot (`replay`), and ingest into the lake the
    /// files checkpointed but not in it yet. The pipeline has been resumed
    /// from the saver's snapshot already, if there is one.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        sources: &[String],
        s3: &S3Options,
        handle: &Handle,
        opts: FollowOptions,
        wake: Sender<Wake>,
        store: Option<&'s Store>,
        pipeline: &mut Pipeline<'_>,
        saver: &mut Saver,
        replay: &[String],
    ) -> Result<Follower<'s>> {
        // Each folder is watched as the walk enters it, before it is read: a
        // file that lands meanwhile is in the listing or raises an event.
        let mut watched = Watched::new(sources, move |e| {
            let _ = wake.send(Wake::Fs(e));
        })?;
        let found = discover_new(sources, s3, handle, &saver.cp, &mut watched)?;
        if saver.cp.snapshot.is_none() && !replay.is_empty() {
            // A checkpoint of the first format lists every file processed:
            // rebuild the state by replaying them, once, in their order.
            let by_key: HashMap<String, &Input> =
                found.inputs.iter().map(|i| (i.name(), i)).collect();
            for k in replay {
                if let Some(input) = by_key.get(k) {
                    let fetched = match input.fetch() {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::warn!("not replaying {k}: {e}");
                            continue;
                        }
                    };
                    let alerts = take_file(pipeline, input, &fetched);
                    pipeline.emit(&alerts)?;
                    saver.cp.mark_done(&file_id(input), false);
                }
            }
            saver.save(pipeline)?;
        }
        let mut lake = store.map(|store| LakeSide {
            store,
            pending: Vec::new(),
            last_ingest: Instant::now(),
            interval: opts.ingest_interval,
            written: Vec::new(),
        });
        if let Some(l) = &mut lake {
            for input in found
                .inputs
                .iter()
                .filter(|i| saver.cp.is_done(&file_id(i), false))
            {
                l.took(input)?;
            }
            // Files checkpointed before a kill but not yet ingested go in
            // now; the ones already in the lake are skipped without being
            // read.
            l.ingest_due(true)?;
        }
        let listing = Listing::new(sources, found, &saver.cp, opts.shard);
        let digest_stores: Vec<Box<dyn TrailStore>> = match &opts.keys {
            Some(_) => sources
                .iter()
                .map(|s| digest_store(s, s3, handle))
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        tracing::info!(
            files = saver.cp.files,
            folders = watched.count(),
            "watching {}",
            sources.join(", ")
        );
        Ok(Follower {
            sources: sources.to_vec(),
            s3: s3.clone(),
            handle: handle.clone(),
            listing,
            watched,
            retries: Retries::default(),
            stuck_after: opts.stuck_after,
            complete: HashSet::new(),
            unreadable: HashSet::new(),
            keys: opts.keys,
            digest_stores,
            last_digest_look: Instant::now(),
            digests_waiting: true,
            lake,
            taken_files: 0,
            taken_bytes: 0,
        })
    }

    /// Note what the file watcher saw.
    pub fn saw(&mut self, event: notify::Result<notify::Event>) {
        if let Ok(e) = event {
            note_complete(&e, &mut self.complete);
            self.listing.saw(&e);
        }
    }

    /// One pass: validate new digests, take every new file that is whole
    /// (alerts emitted, the checkpoint marked, saved every so often by
    /// `saver`), and ingest into the lake when due.
    pub fn step(&mut self, pipeline: &mut Pipeline<'_>, saver: &mut Saver) -> Result<()> {
        self.digests_if_due(pipeline, saver)?;
        self.relist(saver)?;
        // Take new files in delivery order (the stamp in CloudTrail's file
        // names), not path order, so event time advances as it did live.
        let mut pending: Vec<Input> = self.listing.pending().cloned().collect();
        pending.sort_by_key(Input::delivery_order);
        // Every prefix with a file waiting holds alarms back until read,
        // so a batch's first files do not run ahead of the others'.
        for input in &pending {
            pipeline.expect(input);
        }
        for input in &pending {
            if !self.take(input, pipeline, saver)? {
                break;
            }
        }
        if let Some(l) = &mut self.lake {
            l.ingest_due(false)?;
        }
        Ok(())
    }

    /// Digests are listed when one may have landed: at start, when the
    /// file watcher saw one, on each full walk, and every minute for S3.
    fn digests_if_due(&mut self, pipeline: &mut Pipeline<'_>, saver: &mut Saver) -> Result<()> {
        let digests_due = self.listing.take_digest_news()
            || self.last_digest_look.elapsed() >= Duration::from_secs(60)
            || self.digests_waiting;
        if let Some(keys) = self.keys.as_ref().filter(|_| digests_due) {
            let look = check_new_digests(&self.sources, &self.digest_stores, keys, &mut saver.cp)?;
            pipeline.emit(&look.alerts)?;
            if look.checked > 0 {
                saver.changed();
            }
            self.digests_waiting = look.young > 0;
            self.last_digest_look = Instant::now();
        }
        Ok(())
    }

    /// The listing brought up to date; entries that cannot be read are
    /// reported, each once.
    fn relist(&mut self, saver: &Saver) -> Result<()> {
        let unread = self.listing.refresh(
            &self.sources,
            &self.s3,
            &self.handle,
            &saver.cp,
            &mut self.watched,
        )?;
        // An entry that vanished mid-walk (a sync tool's temporary file
        // renamed into place) is not unreadable, just gone.
        for u in unread
            .into_iter()
            .filter(|u| u.path.symlink_metadata().is_ok())
        {
            if self.unreadable.insert(u.path.clone()) {
                tracing::error!("cannot read {}: {}", u.path.display(), u.reason);
            }
        }
        Ok(())
    }

    /// Take one pending file if it is whole: false when later files must
    /// wait for it (it is still being written).
    fn take(
        &mut self,
        input: &Input,
        pipeline: &mut Pipeline<'_>,
        saver: &mut Saver,
    ) -> Result<bool> {
        let k = input.name();
        let id = file_id(input);
        if saver.cp.is_done(&id, false) {
            return Ok(true);
        }
        // A file being retried waits out its backoff, unless the file
        // watcher has since seen it closed after writing or renamed into
        // place (then it is likely whole now).
        let canonical = match input {
            Input::File { path, .. } => std::fs::canonicalize(path).ok(),
            _ => None,
        };
        let touched = canonical
            .as_ref()
            .is_some_and(|p| self.complete.contains(p));
        if self.retries.waiting(&k) && !touched {
            return Ok(true);
        }
        if still_being_written(input, &self.complete) {
            // Later files wait for it, so event time advances in delivery
            // order (a file in a folder created a moment ago has no watcher
            // event yet and waits out the half second).
            return Ok(false);
        }
        // A file that cannot be read whole is not done: it is retried (its
        // alerts come when it is complete), and later files go on.
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
                self.listing.done(&k);
                self.retries.done(&k);
                return Ok(true);
            }
            Err(e) => {
                self.retries.failed(&k, &e.to_string(), self.stuck_after);
                if let Some(p) = &canonical {
                    self.complete.remove(p);
                }
                return Ok(true);
            }
        };
        self.retries.done(&k);
        let alerts = take_file(pipeline, input, &fetched);
        pipeline.emit(&alerts)?;
        if let Some(l) = &mut self.lake {
            l.took(input)?;
        }
        saver.cp.mark_done(&id, false);
        saver.cp.files += 1;
        self.taken_files += 1;
        self.taken_bytes += input.size().unwrap_or(0);
        self.listing.done(&k);
        saver.changed();
        saver.save_if_due(pipeline)?;
        if let Some(p) = &canonical {
            self.complete.remove(p);
        }
        Ok(true)
    }

    /// The lake files ingested from the files taken since the last call,
    /// and whether every file taken is in the lake now (none waits for
    /// the next ingest).
    pub fn take_ingested(&mut self) -> (Vec<String>, bool) {
        match &mut self.lake {
            Some(l) => (std::mem::take(&mut l.written), l.pending.is_empty()),
            None => (Vec::new(), true),
        }
    }

    /// Ingest what waits for the lake now (on the way out).
    pub fn flush(&mut self) -> Result<()> {
        match &mut self.lake {
            Some(l) => l.ingest_due(true),
            None => Ok(()),
        }
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
    /// This watcher's share of the trail (`--shard`); others are left to
    /// the other watchers.
    shard: Option<Shard>,
}

/// Keep `input` for taking, unless it is done or another shard's.
fn offer(
    pending: &mut BTreeMap<String, Input>,
    shard: Option<Shard>,
    input: Input,
    cp: &Checkpoint,
) {
    if !cp.is_done(&file_id(&input), false) && shard.is_none_or(|s| s.owns(&input)) {
        pending.insert(input.name(), input);
    }
}

impl Listing {
    fn new(sources: &[String], found: Discovery, cp: &Checkpoint, shard: Option<Shard>) -> Listing {
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
            shard,
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
            offer(&mut self.pending, self.shard, input, cp);
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
                    offer(&mut self.pending, self.shard, input, cp);
                }
                continue;
            }
            // Only this shard's region folders are listed.
            let from: Vec<(RegionFolder, Option<String>)> = folders
                .into_iter()
                .filter(|f| {
                    self.shard
                        .is_none_or(|s| s.owns_prefix(&f.account, &f.region))
                })
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
                offer(&mut self.pending, self.shard, input, cp);
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
                    if !*trail || input.trail_key().is_some() {
                        offer(&mut self.pending, self.shard, input, cp);
                    }
                }
                unread.extend(found.unreadable);
            } else if let Some(input) = input_for(given, &named, *trail) {
                offer(&mut self.pending, self.shard, input, cp);
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
    /// Table files its ingests committed, until taken
    /// ([`Follower::take_ingested`]).
    written: Vec<String>,
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
        self.written.extend(summary.written.iter().cloned());
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

/// The checkpoint's id of an input.
pub fn file_id(input: &Input) -> FileId {
    FileId::of(&input.name(), input.trail_key())
}
