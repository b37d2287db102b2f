//! The durable outbox: every (sink, alert) to deliver, on disk before any
//! sink hears of it, until the sink acknowledges it or it is given up on.
//!
//! The outbox is a journal, `journal.ndjson`, of operations: `enqueue`
//! (with the alert), `ack`, `retry` (attempts, next try, last error),
//! `dead`, and `seen` (ids delivered or given up on before the last
//! compaction). Each batch of operations is appended and synced as one
//! write, so a storm of alerts costs one sync, not one per alert. Opening
//! replays the journal (a torn last line from a kill is cut off) and
//! compacts it: a new journal with the pending entries and the seen ids is
//! written aside and renamed over the old one.
//!
//! An alert id is enqueued at most once per sink: pending ids, and ids
//! delivered or dead within the last [`SEEN_FOR`], are remembered (longer
//! than any replay can bring an alert back), so the memory stops growing. Given-up alerts are also appended to
//! `dead-letter.ndjson` with the reason. `status.json` keeps each sink's
//! last error and last success for `trailwatch notify status`.
//!
//! One process delivers from an outbox at a time: an exclusive lock on
//! `.lock` is held while it is open (the OS drops it when a process dies).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use trailwatch_core::alert::Alert;

use super::now_rfc3339;
use crate::private;

/// One alert waiting for one sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub enqueued_ms: i64,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub alert: Alert,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Op {
    Enqueue {
        sink: String,
        entry: Entry,
    },
    Ack {
        sink: String,
        ids: Vec<String>,
    },
    Retry {
        sink: String,
        id: String,
        attempts: u32,
        next_ms: i64,
        error: String,
    },
    Dead {
        sink: String,
        id: String,
    },
    Seen {
        sink: String,
        ids: Vec<String>,
        /// When they were seen (epoch ms; absent in older journals).
        #[serde(default)]
        at: Option<i64>,
    },
}

/// How long delivered and dead ids are remembered: a watcher's replay
/// after a crash (alerts since its last saved state, late data within a
/// day) never brings back an alert older than this.
pub const SEEN_FOR: i64 = 15 * 86_400_000;

/// A line of `dead-letter.ndjson`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    pub dead_at: String,
    pub sink: String,
    pub attempts: u32,
    pub reason: String,
    pub alert: Alert,
}

/// A sink's last outcomes, for `notify status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SinkStatus {
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub last_success_at: Option<String>,
    pub delivered: u64,
}

#[derive(Debug, Default)]
struct SinkQueue {
    pending: BTreeMap<u64, Entry>,
    by_id: HashMap<String, u64>,
    /// Delivered or given up on, with when (epoch ms).
    seen: HashMap<String, i64>,
}

#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    journal: File,
    queues: BTreeMap<String, SinkQueue>,
    next_seq: u64,
    status: BTreeMap<String, SinkStatus>,
    /// Holds the exclusive lock for as long as the outbox is open.
    _lock: File,
}

pub const JOURNAL: &str = "journal.ndjson";
pub const DEAD_LETTERS: &str = "dead-letter.ndjson";
pub const STATUS: &str = "status.json";

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Replay a journal's complete lines; returns the queues and the byte
/// length of the complete part.
fn replay(text: &[u8], path: &Path) -> (BTreeMap<String, SinkQueue>, u64, usize) {
    // Acks and deads carry no time: they count as seen now, the time of
    // this replay (at most SEEN_FOR more of memory).
    let now = chrono::Utc::now().timestamp_millis();
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut queues: BTreeMap<String, SinkQueue> = BTreeMap::new();
    let mut next_seq = 0;
    for (i, line) in text[..complete].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let op = match serde_json::from_slice::<Op>(line) {
            Ok(op) => op,
            Err(e) => {
                tracing::warn!("{}:{}: unreadable, skipped: {e}", path.display(), i + 1);
                continue;
            }
        };
        match op {
            Op::Enqueue { sink, entry } => {
                let q = queues.entry(sink).or_default();
                next_seq = next_seq.max(entry.seq + 1);
                q.by_id.insert(entry.alert.alert_id.clone(), entry.seq);
                q.pending.insert(entry.seq, entry);
            }
            Op::Ack { sink, ids } => {
                let q = queues.entry(sink).or_default();
                for id in ids {
                    if let Some(seq) = q.by_id.remove(&id) {
                        q.pending.remove(&seq);
                    }
                    q.seen.insert(id, now);
                }
            }
            Op::Dead { sink, id } => {
                let q = queues.entry(sink).or_default();
                if let Some(seq) = q.by_id.remove(&id) {
                    q.pending.remove(&seq);
                }
                q.seen.insert(id, now);
            }
            Op::Retry {
                sink,
                id,
                attempts,
                next_ms,
                error,
            } => {
                let q = queues.entry(sink).or_default();
                if let Some(e) = q.by_id.get(&id).and_then(|s| q.pending.get_mut(s)) {
                    e.attempts = attempts;
                    e.next_attempt_ms = next_ms;
                    e.last_error = Some(error);
                }
            }
            Op::Seen { sink, ids, at } => {
                let at = at.unwrap_or(now);
                queues
                    .entry(sink)
                    .or_default()
                    .seen
                    .extend(ids.into_iter().map(|id| (id, at)));
            }
        }
    }
    (queues, next_seq, complete)
}

fn encode(ops: &[Op]) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    for op in ops {
        serde_json::to_writer(&mut text, op)?;
        text.push(b'\n');
    }
    Ok(text)
}

impl Outbox {
    /// Open (creating) the outbox in `dir`, recover it, and compact it.
    pub fn open(dir: &Path) -> Result<Outbox> {
        private::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = private::create(&dir.join(".lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another trailwatch process is delivering from the outbox {}",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", dir.display()));
            }
        }
        let path = dir.join(JOURNAL);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let (queues, next_seq, _) = replay(&text, &path);
        // Compact: the pending entries and the seen ids, written aside and
        // renamed over the journal (a kill leaves either whole file).
        let mut ops = Vec::new();
        let now = chrono::Utc::now().timestamp_millis();
        let mut queues = queues;
        for (sink, q) in &mut queues {
            // Ids seen longer ago than SEEN_FOR are forgotten; the rest are
            // kept with their time, grouped by day.
            q.seen.retain(|_, at| now - *at <= SEEN_FOR);
            let mut by_day: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            for (id, at) in &q.seen {
                by_day
                    .entry(*at - at.rem_euclid(86_400_000))
                    .or_default()
                    .push(id.clone());
            }
            for (day, mut ids) in by_day {
                ids.sort();
                ops.push(Op::Seen {
                    sink: sink.clone(),
                    ids,
                    at: Some(day),
                });
            }
            for e in q.pending.values() {
                ops.push(Op::Enqueue {
                    sink: sink.clone(),
                    entry: e.clone(),
                });
            }
        }
        let tmp = dir.join("journal.ndjson.tmp");
        let mut f = private::create(&tmp)?;
        f.write_all(&encode(&ops)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
        let journal = OpenOptions::new().append(true).open(&path)?;
        let status = std::fs::read(dir.join(STATUS))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Outbox {
            dir: dir.to_path_buf(),
            journal,
            queues,
            next_seq,
            status,
            _lock: lock,
        })
    }

    fn append(&mut self, ops: &[Op]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        self.journal
            .write_all(&encode(ops)?)
            .and_then(|()| self.journal.sync_data())
            .context("writing the outbox journal")
    }

    /// Put alerts in the outbox for their sinks, durably; an id already
    /// pending, delivered or given up on for that sink is skipped. Returns
    /// how many (sink, alert) entries were added.
    pub fn enqueue(&mut self, items: &[(String, Alert)]) -> Result<usize> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut ops = Vec::new();
        let mut fresh: HashSet<(&str, &str)> = HashSet::new();
        for (sink, alert) in items {
            let known = self.queues.get(sink).is_some_and(|q| {
                q.by_id.contains_key(&alert.alert_id) || q.seen.contains_key(&alert.alert_id)
            });
            if known || !fresh.insert((sink.as_str(), alert.alert_id.as_str())) {
                continue;
            }
            let entry = Entry {
                seq: self.next_seq,
                enqueued_ms: now,
                attempts: 0,
                next_attempt_ms: now,
                last_error: None,
                alert: alert.clone(),
            };
            self.next_seq += 1;
            ops.push(Op::Enqueue {
                sink: sink.clone(),
                entry,
            });
        }
        self.append(&ops)?;
        let added = ops.len();
        for op in ops {
            if let Op::Enqueue { sink, entry } = op {
                let q = self.queues.entry(sink).or_default();
                q.by_id.insert(entry.alert.alert_id.clone(), entry.seq);
                q.pending.insert(entry.seq, entry);
            }
        }
        Ok(added)
    }

    /// Up to `limit` of a sink's entries due by `now_ms`, oldest first.
    pub fn due(&self, sink: &str, now_ms: i64, limit: usize) -> Vec<Entry> {
        self.queues
            .get(sink)
            .map(|q| {
                q.pending
                    .values()
                    .filter(|e| e.next_attempt_ms <= now_ms)
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The ids (and last errors) of a sink's entries enqueued before
    /// `cutoff_ms` that have failed, or all of them when `failing`.
    pub fn expired(
        &self,
        sink: &str,
        cutoff_ms: i64,
        failing: bool,
    ) -> Vec<(String, Option<String>)> {
        self.queues
            .get(sink)
            .map(|q| {
                q.pending
                    .values()
                    // Entries are in enqueue order: stop at the first young one.
                    .take_while(|e| e.enqueued_ms < cutoff_ms)
                    .filter(|e| failing || e.attempts > 0)
                    .map(|e| (e.alert.alert_id.clone(), e.last_error.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A sink's pending entries, oldest first.
    #[cfg(test)]
    pub fn pending(&self, sink: &str) -> Vec<Entry> {
        self.queues
            .get(sink)
            .map(|q| q.pending.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn pending_count(&self, sink: &str) -> usize {
        self.queues.get(sink).map_or(0, |q| q.pending.len())
    }

    /// Every sink with entries pending.
    pub fn total_pending(&self) -> usize {
        self.queues.values().map(|q| q.pending.len()).sum()
    }

    fn forget(&mut self, sink: &str, ids: &[String]) {
        if let Some(q) = self.queues.get_mut(sink) {
            for id in ids {
                if let Some(seq) = q.by_id.remove(id) {
                    q.pending.remove(&seq);
                }
                q.seen
                    .insert(id.clone(), chrono::Utc::now().timestamp_millis());
            }
        }
    }

    /// The sink acknowledged these alerts.
    pub fn ack(&mut self, sink: &str, ids: &[String]) -> Result<()> {
        self.append(&[Op::Ack {
            sink: sink.into(),
            ids: ids.to_vec(),
        }])?;
        self.forget(sink, ids);
        let s = self.status.entry(sink.to_string()).or_default();
        s.last_success_at = Some(now_rfc3339());
        s.delivered += ids.len() as u64;
        self.save_status();
        Ok(())
    }

    /// A failed attempt: try again at `next_ms`.
    pub fn retry(&mut self, sink: &str, ids: &[String], next_ms: i64, error: &str) -> Result<()> {
        let mut ops = Vec::new();
        if let Some(q) = self.queues.get_mut(sink) {
            for id in ids {
                if let Some(e) = q.by_id.get(id).and_then(|s| q.pending.get_mut(s)) {
                    e.attempts += 1;
                    e.next_attempt_ms = next_ms;
                    e.last_error = Some(error.to_string());
                    ops.push(Op::Retry {
                        sink: sink.into(),
                        id: id.clone(),
                        attempts: e.attempts,
                        next_ms,
                        error: error.to_string(),
                    });
                }
            }
        }
        self.append(&ops)?;
        self.note_error(sink, error);
        Ok(())
    }

    /// Record a sink's failure for `notify status`.
    pub fn note_error(&mut self, sink: &str, error: &str) {
        let s = self.status.entry(sink.to_string()).or_default();
        s.last_error = Some(error.to_string());
        s.last_error_at = Some(now_rfc3339());
        self.save_status();
    }

    /// Give up on these alerts: append them to the dead letters, then
    /// drop them from the queue.
    pub fn dead_letter(&mut self, sink: &str, ids: &[String], reason: &str) -> Result<()> {
        let Some(q) = self.queues.get(sink) else {
            return Ok(());
        };
        let mut lines = Vec::new();
        for id in ids {
            if let Some(e) = q.by_id.get(id).and_then(|s| q.pending.get(s)) {
                let letter = DeadLetter {
                    dead_at: now_rfc3339(),
                    sink: sink.to_string(),
                    attempts: e.attempts,
                    reason: reason.to_string(),
                    alert: e.alert.clone(),
                };
                serde_json::to_writer(&mut lines, &letter)?;
                lines.push(b'\n');
            }
        }
        let path = self.dir.join(DEAD_LETTERS);
        let mut f = private::append(&path)?;
        f.write_all(&lines)?;
        f.sync_data()
            .with_context(|| format!("writing {}", path.display()))?;
        let ops: Vec<Op> = ids
            .iter()
            .map(|id| Op::Dead {
                sink: sink.into(),
                id: id.clone(),
            })
            .collect();
        self.append(&ops)?;
        self.forget(sink, ids);
        self.note_error(sink, reason);
        Ok(())
    }

    fn save_status(&self) {
        // Best effort: status is for people, the journal is the truth.
        let tmp = self.dir.join("status.json.tmp");
        if let Ok(json) = serde_json::to_vec_pretty(&self.status)
            && private::create(&tmp)
                .and_then(|mut f| f.write_all(&json))
                .is_ok()
        {
            let _ = std::fs::rename(&tmp, self.dir.join(STATUS));
        }
    }
}

/// What `notify status` shows for one sink, read without taking the lock.
#[derive(Debug, Default, Serialize)]
pub struct StatusRow {
    pub sink: String,
    pub pending: usize,
    pub oldest_pending: Option<String>,
    pub dead_letters: usize,
    #[serde(flatten)]
    pub status: SinkStatus,
}

/// The outbox's state per sink, read from its files (a delivering process
/// may hold the lock meanwhile).
pub fn read_status(dir: &Path, sinks: &[String]) -> Result<Vec<StatusRow>> {
    let path = dir.join(JOURNAL);
    let text = std::fs::read(&path).unwrap_or_default();
    let (queues, _, _) = replay(&text, &path);
    let status: BTreeMap<String, SinkStatus> = std::fs::read(dir.join(STATUS))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut dead: HashMap<String, usize> = HashMap::new();
    if let Ok(f) = File::open(dir.join(DEAD_LETTERS)) {
        for line in BufReader::new(f).lines() {
            if let Ok(d) = serde_json::from_str::<DeadLetter>(&line?) {
                *dead.entry(d.sink).or_default() += 1;
            }
        }
    }
    let mut names: Vec<String> = sinks.to_vec();
    for n in queues.keys().chain(status.keys()) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    Ok(names
        .into_iter()
        .map(|sink| {
            let q = queues.get(&sink);
            let oldest = q
                .and_then(|q| q.pending.values().map(|e| e.enqueued_ms).min())
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            StatusRow {
                pending: q.map_or(0, |q| q.pending.len()),
                oldest_pending: oldest,
                dead_letters: dead.get(&sink).copied().unwrap_or(0),
                status: status.get(&sink).cloned().unwrap_or_default(),
                sink,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str) -> Alert {
        let mut a = crate::notify::message::Message::test().alerts.remove(0);
        a.alert_id = id.into();
        a
    }

    fn items(sink: &str, ids: &[&str]) -> Vec<(String, Alert)> {
        ids.iter().map(|i| (sink.to_string(), alert(i))).collect()
    }

    #[test]
    fn an_id_is_enqueued_once_per_sink_ever() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(dir.path()).unwrap();
        assert_eq!(o.enqueue(&items("a", &["1", "2", "2"])).unwrap(), 2);
        assert_eq!(o.enqueue(&items("b", &["1"])).unwrap(), 1);
        assert_eq!(o.enqueue(&items("a", &["1"])).unwrap(), 0);
        o.ack("a", &["1".into()]).unwrap();
        assert_eq!(
            o.enqueue(&items("a", &["1"])).unwrap(),
            0,
            "delivered ids stay known"
        );
        drop(o);
        // Reopened (and compacted): still known, still pending.
        let mut o = Outbox::open(dir.path()).unwrap();
        assert_eq!(o.enqueue(&items("a", &["1", "2", "3"])).unwrap(), 1);
        let ids: Vec<String> = o
            .pending("a")
            .iter()
            .map(|e| e.alert.alert_id.clone())
            .collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!(o.pending_count("b"), 1);
    }

    #[test]
    fn a_torn_journal_line_is_ignored_and_retries_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(dir.path()).unwrap();
        o.enqueue(&items("a", &["1", "2"])).unwrap();
        o.retry("a", &["1".into()], 12_345, "HTTP 503").unwrap();
        drop(o);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL))
            .unwrap();
        f.write_all(br#"{"op":"ack","sink":"a","ids":["#).unwrap();
        let o = Outbox::open(dir.path()).unwrap();
        let p = o.pending("a");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].attempts, 1);
        assert_eq!(p[0].next_attempt_ms, 12_345);
        assert_eq!(p[0].last_error.as_deref(), Some("HTTP 503"));
    }

    #[test]
    fn dead_letters_are_written_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(dir.path()).unwrap();
        o.enqueue(&items("a", &["1", "2"])).unwrap();
        o.dead_letter("a", &["1".into()], "HTTP 400").unwrap();
        assert!(
            Outbox::open(dir.path()).is_err(),
            "the outbox is locked while open"
        );
        let rows = read_status(dir.path(), &["a".into()]).unwrap();
        assert_eq!(rows[0].pending, 1);
        assert_eq!(rows[0].dead_letters, 1);
        assert_eq!(rows[0].status.last_error.as_deref(), Some("HTTP 400"));
        assert_eq!(o.enqueue(&items("a", &["1"])).unwrap(), 0);
    }

    #[test]
    fn delivered_ids_are_forgotten_after_the_memory_bound_so_it_stops_growing() {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let old = Op::Seen {
            sink: "a".into(),
            ids: vec!["old".into()],
            at: Some(now - SEEN_FOR - 86_400_000),
        };
        let recent = Op::Seen {
            sink: "a".into(),
            ids: vec!["recent".into()],
            at: Some(now - 86_400_000),
        };
        std::fs::write(dir.path().join(JOURNAL), encode(&[old, recent]).unwrap()).unwrap();
        let mut o = Outbox::open(dir.path()).unwrap();
        // The recent id is still known; the old one has been forgotten.
        assert_eq!(o.enqueue(&items("a", &["recent"])).unwrap(), 0);
        assert_eq!(o.enqueue(&items("a", &["old"])).unwrap(), 1);
        drop(o);
        let text = std::fs::read_to_string(dir.path().join(JOURNAL)).unwrap();
        assert!(text.contains("recent") && text.contains("\"at\""), "{text}");
    }
}
