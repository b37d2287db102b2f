//! What a watcher has done, kept small however long it runs. For each trail
//! prefix (account and region) it keeps the delivery stamp up to which every
//! file is done, plus the names of the files done past it; files without
//! CloudTrail's name are kept by name. A file whose stamp lies more than
//! [`SETTLE`] behind the newest done file of its prefix is folded into the
//! stamp, so the checkpoint holds about a day of names per prefix.
//!
//! Beside it, the pipeline's saved state (a snapshot) lets a restart resume
//! where the checkpoint stands instead of replaying every file ever seen.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use trailwatch_core::layout::{DayDir, TrailKey};

use crate::private;

/// How far behind the newest done file of its prefix a file may still
/// land and be taken: files of the same prefix arrive in delivery order
/// within minutes; a day covers a sync tool's backlog and clock skew.
pub const SETTLE: chrono::TimeDelta = chrono::TimeDelta::days(1);

const FILE: &str = "checkpoint.json";
const VERSION: u32 = 2;

/// What identifies a file for the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    /// `account/region` of a CloudTrail file, with its delivery stamp.
    pub trail: Option<(String, String)>,
    pub name: String,
}

impl FileId {
    /// The id of a file called `name` (a path or key) with this trail key.
    pub fn of(name: &str, key: Option<&TrailKey>) -> FileId {
        let base = name.rsplit('/').next().unwrap_or(name).to_string();
        match key.and_then(|k| Some((k, k.delivery_stamp.clone()?))) {
            Some((k, stamp)) => FileId {
                trail: Some((format!("{}/{}", k.account, k.region), stamp)),
                name: base,
            },
            None => FileId {
                trail: None,
                name: name.to_string(),
            },
        }
    }
}

/// The files done of one prefix.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Done {
    /// Every file with a stamp at or before this is done.
    through: String,
    /// Files done past `through`: (stamp, name).
    past: BTreeSet<(String, String)>,
}

fn stamp_time(stamp: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .or_else(|_| NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ"))
        .ok()
        .map(|t| t.and_utc())
}

impl Done {
    fn contains(&self, stamp: &str, name: &str) -> bool {
        stamp <= self.through.as_str() || self.past.contains(&(stamp.to_string(), name.to_string()))
    }

    fn insert(&mut self, stamp: &str, name: &str) {
        if self.contains(stamp, name) {
            return;
        }
        self.past.insert((stamp.to_string(), name.to_string()));
        let Some(newest) = self.past.last().and_then(|(s, _)| stamp_time(s)) else {
            return;
        };
        // Fold what has settled into the stamp.
        while let Some((s, _)) = self.past.first() {
            match stamp_time(s) {
                Some(t) if newest - t > SETTLE => {
                    if let Some((s, _)) = self.past.pop_first()
                        && s > self.through
                    {
                        self.through = s;
                    }
                }
                _ => break,
            }
        }
    }
}

/// The watcher's checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    version: u32,
    /// How many log files were taken in all (for people and tests).
    #[serde(default)]
    pub files: u64,
    /// Log files done, per `account/region`.
    #[serde(default)]
    logs: BTreeMap<String, Done>,
    /// Digest files validated, per `account/region`.
    #[serde(default)]
    digests: BTreeMap<String, Done>,
    /// Files without CloudTrail's name, done, by name.
    #[serde(default)]
    others: BTreeSet<String>,
    /// The pipeline's state as of this checkpoint (a file in the state
    /// folder), when one was saved.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// How long the NDJSON output was when the snapshot was taken.
    #[serde(default)]
    pub output_offset: Option<u64>,
}

/// The first checkpoint format: every file ever processed, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointV1 {
    processed: Vec<String>,
    #[serde(default)]
    digests: Vec<String>,
}

impl Checkpoint {
    fn set(&mut self, digest: bool) -> &mut BTreeMap<String, Done> {
        if digest {
            &mut self.digests
        } else {
            &mut self.logs
        }
    }

    pub fn is_done(&self, id: &FileId, digest: bool) -> bool {
        let set = if digest { &self.digests } else { &self.logs };
        match &id.trail {
            Some((prefix, stamp)) => set.get(prefix).is_some_and(|d| d.contains(stamp, &id.name)),
            None => self.others.contains(&id.name),
        }
    }

    /// Whether every file (log or digest, as the folder holds) delivered in
    /// a trail's year, month or day folder is done: its period lies wholly
    /// before the done stamp's. A watcher need not watch or enter such a
    /// folder at all.
    pub fn day_done(&self, day: &DayDir) -> bool {
        let set = if day.digest {
            &self.digests
        } else {
            &self.logs
        };
        set.get(&format!("{}/{}", day.account, day.region))
            .and_then(|d| d.through.get(..day.period.len()))
            .is_some_and(|through| day.period.as_str() < through)
    }

    /// The delivery day (`YYYY/MM/DD`) from which new files of this account
    /// and region can still come: the day before the newest done file's
    /// (files land up to [`SETTLE`] late). None before any is done.
    pub fn listing_day(&self, account: &str, region: &str) -> Option<String> {
        let d = self.logs.get(&format!("{account}/{region}"))?;
        let newest = d
            .past
            .last()
            .map_or(d.through.as_str(), |(s, _)| s.as_str());
        let day = chrono::NaiveDate::parse_from_str(newest.get(..8)?, "%Y%m%d").ok()?;
        let from = day.checked_sub_days(chrono::Days::new(1))?;
        Some(from.format("%Y/%m/%d").to_string())
    }

    pub fn mark_done(&mut self, id: &FileId, digest: bool) {
        match &id.trail {
            Some((prefix, stamp)) => self
                .set(digest)
                .entry(prefix.clone())
                .or_default()
                .insert(stamp, &id.name),
            None => {
                self.others.insert(id.name.clone());
            }
        }
    }

    /// Drop a file without CloudTrail's name from the done list (the
    /// server's spool files, once moved on).
    pub fn forget(&mut self, name: &str) {
        self.others.remove(name);
    }

    /// Read the checkpoint in `state` (none yet: empty). A first-format
    /// checkpoint is taken over; the names it lists are returned so the
    /// caller can replay them (it has no snapshot).
    pub fn load(state: &Path) -> Result<(Checkpoint, Vec<String>)> {
        let path = state.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((
                    Checkpoint {
                        version: VERSION,
                        ..Checkpoint::default()
                    },
                    Vec::new(),
                ));
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the checkpoint {}", path.display()));
            }
        };
        let broken = || {
            format!(
                "reading the checkpoint {} (remove it to start over)",
                path.display()
            )
        };
        if let Ok(v1) = serde_json::from_slice::<CheckpointV1>(&bytes) {
            let cp = Checkpoint {
                version: VERSION,
                ..Checkpoint::default()
            };
            let _ = v1.digests;
            return Ok((cp, v1.processed));
        }
        let cp: Checkpoint = serde_json::from_slice(&bytes).with_context(broken)?;
        Ok((cp, Vec::new()))
    }

    /// Save the checkpoint and, with it, the pipeline's state: the state
    /// file first, then the checkpoint naming it (renamed into place), then
    /// older state files are removed. A kill at any moment leaves a
    /// checkpoint and the state it names.
    pub fn save(&mut self, state: &Path, snapshot: Option<&[u8]>) -> Result<()> {
        if let Some(bytes) = snapshot {
            let name = format!("pipeline-{}.state", uuid_like());
            write_synced(&state.join(&name), bytes)?;
            let old = self.snapshot.replace(name);
            self.save_file(state)?;
            if let Some(old) = old {
                let _ = std::fs::remove_file(state.join(old));
            }
            Ok(())
        } else {
            self.save_file(state)
        }
    }

    fn save_file(&self, state: &Path) -> Result<()> {
        let json = serde_json::to_vec(self)?;
        let tmp = state.join(format!("{FILE}.tmp"));
        write_synced(&tmp, &json)?;
        std::fs::rename(&tmp, state.join(FILE))
            .with_context(|| format!("saving the checkpoint in {}", state.display()))?;
        Ok(())
    }

    /// The saved pipeline state this checkpoint names.
    pub fn snapshot_bytes(&self, state: &Path) -> Result<Option<Vec<u8>>> {
        let Some(name) = &self.snapshot else {
            return Ok(None);
        };
        let path: PathBuf = state.join(name);
        std::fs::read(&path)
            .map(Some)
            .with_context(|| format!("reading the saved state {}", path.display()))
    }
}

/// How often at most the checkpoint and the pipeline's state are saved
/// while work goes on (and always when it pauses): a crash costs re-reading
/// at most this much, never an alert.
pub const SAVE_EVERY: Duration = Duration::from_secs(2);

/// The checkpoint and the pipeline's state, saved together: every
/// [`SAVE_EVERY`] at most while work goes on, and when it pauses.
#[derive(Debug)]
pub struct Saver {
    /// The state folder.
    pub state: PathBuf,
    pub cp: Checkpoint,
    /// The NDJSON output, whose length is saved with the state.
    output: Option<PathBuf>,
    last_save: Instant,
    unsaved: bool,
    /// How many saves so far (a caller can act after each).
    pub saves: u64,
}

impl Saver {
    /// The checkpoint in `state` (see [`Checkpoint::load`] for the names
    /// returned).
    pub fn load(state: &Path, output: Option<PathBuf>) -> Result<(Saver, Vec<String>)> {
        let (cp, replay) = Checkpoint::load(state)?;
        Ok((
            Saver {
                state: state.to_path_buf(),
                cp,
                output,
                last_save: Instant::now(),
                unsaved: false,
                saves: 0,
            },
            replay,
        ))
    }

    /// Continue the pipeline from the saved state, if there is one.
    pub fn resume(&self, pipeline: &mut super::Pipeline<'_>) -> Result<bool> {
        let Some(saved) = self.cp.snapshot_bytes(&self.state)? else {
            return Ok(false);
        };
        pipeline.restore(&saved).with_context(|| {
            format!(
                "restoring the saved state {} (remove {} to start over)",
                self.state
                    .join(self.cp.snapshot.as_deref().unwrap_or_default())
                    .display(),
                self.state.join(FILE).display()
            )
        })?;
        Ok(true)
    }

    /// Something was done that the next save must cover.
    pub fn changed(&mut self) {
        self.unsaved = true;
    }

    /// Save now.
    pub fn save(&mut self, pipeline: &super::Pipeline<'_>) -> Result<()> {
        self.cp.output_offset = self
            .output
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len());
        self.cp.save(&self.state, Some(&pipeline.save()?))?;
        self.last_save = Instant::now();
        self.unsaved = false;
        self.saves += 1;
        Ok(())
    }

    /// Save if something changed and the last save is [`SAVE_EVERY`] ago.
    pub fn save_if_due(&mut self, pipeline: &super::Pipeline<'_>) -> Result<()> {
        if self.unsaved && self.last_save.elapsed() >= SAVE_EVERY {
            self.save(pipeline)?;
        }
        Ok(())
    }

    /// Save if something changed (the work has paused).
    pub fn save_if_changed(&mut self, pipeline: &super::Pipeline<'_>) -> Result<()> {
        if self.unsaved {
            self.save(pipeline)?;
        }
        Ok(())
    }

    /// How long until a save is due (`None`: nothing to save).
    pub fn due_in(&self) -> Option<Duration> {
        self.unsaved
            .then(|| SAVE_EVERY.saturating_sub(self.last_save.elapsed()))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = private::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_data()?;
    Ok(())
}

/// A name unique enough for a state file: time and process id.
fn uuid_like() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(prefix: &str, stamp: &str, name: &str) -> FileId {
        FileId {
            trail: Some((prefix.into(), stamp.into())),
            name: name.into(),
        }
    }

    #[test]
    fn a_year_of_files_keeps_about_a_day_of_names() {
        let mut cp = Checkpoint::default();
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .unwrap_or_default();
        for i in 0..(365 * 288) {
            let t = start + chrono::TimeDelta::minutes(5 * i);
            let stamp = t.format("%Y%m%dT%H%MZ").to_string();
            cp.mark_done(
                &id("111122223333/us-east-1", &stamp, &format!("f{i}.json.gz")),
                false,
            );
        }
        let done = &cp.logs["111122223333/us-east-1"];
        assert!(done.past.len() <= 300, "{}", done.past.len());
        assert!(cp.is_done(
            &id("111122223333/us-east-1", "20260105T0000Z", "old.json.gz"),
            false
        ));
        assert!(!cp.is_done(
            &id("111122223333/us-east-1", "20270101T0000Z", "new.json.gz"),
            false
        ));
        assert!(!cp.is_done(
            &id("111122223333/eu-west-1", "20260105T0000Z", "x.json.gz"),
            false
        ));
        let json = serde_json::to_vec(&cp).unwrap_or_default();
        assert!(json.len() < 64 * 1024, "{} bytes", json.len());
    }

    #[test]
    fn a_late_file_within_the_settle_window_is_still_taken() {
        let mut cp = Checkpoint::default();
        cp.mark_done(&id("a/r", "20260101T1200Z", "b.json.gz"), false);
        assert!(!cp.is_done(&id("a/r", "20260101T1155Z", "a.json.gz"), false));
        cp.mark_done(&id("a/r", "20260101T1155Z", "a.json.gz"), false);
        assert!(cp.is_done(&id("a/r", "20260101T1155Z", "a.json.gz"), false));
    }
}
