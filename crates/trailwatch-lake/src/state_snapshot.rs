//! The security state saved with the position it covers:
//! `state/snapshot.json` holds the state (as its owner serialises it) and
//! the lake's `cloudtrail` files whose every event it has applied. A
//! server starting on the lake takes the state back and applies only the
//! files it does not cover, instead of reading every event of the lake.
//!
//! The snapshot is one object, replaced whole (a reader sees the old one or
//! the new one). `lake compact` keeps it current: files it merges that the
//! snapshot covers are replaced by the file they became. When a covered file
//! is gone for any other reason (a crash between a compaction's commit and
//! that update, files deleted by hand), the snapshot no longer says what it
//! covers and the state is rebuilt from every event, as without one.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::LakeError;
use crate::store::Store;

/// Where the snapshot lives (beside the state tables, outside any of them).
pub const SNAPSHOT: &str = "state/snapshot.json";

/// The snapshot's format; another version is ignored (the state is rebuilt).
/// Version 2: the state is the security state and the overview's activity
/// (version 1 held the security state alone).
const VERSION: u32 = 2;

/// A saved state and the files it covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// `cloudtrail/…/part-….parquet` paths, relative to the lake.
    pub covers: BTreeSet<String>,
    /// The state, as its owner serialised it.
    pub state: serde_json::Value,
}

impl Snapshot {
    pub fn new(covers: BTreeSet<String>, state: serde_json::Value) -> Snapshot {
        Snapshot {
            version: VERSION,
            covers,
            state,
        }
    }

    /// The files of `live` this snapshot does not cover, in `live`'s
    /// order; `None` when a file it covers is no longer live (it cannot
    /// say what it covers any more).
    pub fn uncovered<'a>(&self, live: &'a [String]) -> Option<Vec<&'a String>> {
        let present: BTreeSet<&String> = live.iter().collect();
        if !self.covers.iter().all(|c| present.contains(c)) {
            return None;
        }
        Some(live.iter().filter(|f| !self.covers.contains(*f)).collect())
    }
}

/// The lake's snapshot, if it has one in the current format. A snapshot
/// that cannot be read is reported and treated as absent: the state is
/// then rebuilt, never taken from a file half understood.
pub fn load(store: &Store) -> Result<Option<Snapshot>, LakeError> {
    if !store.exists(SNAPSHOT)? {
        return Ok(None);
    }
    let bytes = store.get(SNAPSHOT)?;
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(s) if s.version == VERSION => Ok(Some(s)),
        Ok(s) => {
            tracing::warn!(
                "{}/{SNAPSHOT} is of version {}, not {VERSION}: not used",
                store.display,
                s.version
            );
            Ok(None)
        }
        Err(e) => {
            tracing::warn!(
                "{}/{SNAPSHOT} cannot be read ({e}): not used",
                store.display
            );
            Ok(None)
        }
    }
}

/// Replace the lake's snapshot.
pub fn save(store: &Store, snapshot: &Snapshot) -> Result<(), LakeError> {
    store.put(SNAPSHOT, Bytes::from(serde_json::to_vec(snapshot)?))
}

impl Snapshot {
    /// After a compaction replaced `removed` by `added`: a snapshot
    /// covering every removed file covers what they became (true: changed).
    /// One that covered only some is left as it is (it no longer matches
    /// the lake and will not be used).
    pub fn compacted(&mut self, removed: &[String], added: &[String]) -> bool {
        if removed.is_empty() || !removed.iter().all(|f| self.covers.contains(f)) {
            return false;
        }
        for f in removed {
            self.covers.remove(f);
        }
        self.covers.extend(added.iter().cloned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    fn set(xs: &[&str]) -> BTreeSet<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_snapshot_says_what_it_does_not_cover_until_a_covered_file_is_gone() {
        let snap = Snapshot::new(set(&["a", "b"]), serde_json::json!({"n": 1}));
        let live: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(snap.uncovered(&live), Some(vec![&live[2]]));
        let without_b: Vec<String> = ["a", "c"].map(String::from).to_vec();
        assert_eq!(snap.uncovered(&without_b), None);
    }

    #[test]
    fn compaction_carries_the_snapshot_over_to_the_merged_file_and_bad_ones_are_ignored() {
        let (_rt, _dir, store) = temp_store();
        assert!(load(&store).expect("load").is_none());
        save(
            &store,
            &Snapshot::new(set(&["a", "b", "c"]), serde_json::json!(7)),
        )
        .expect("save");
        // Merging files it covers: the merged one is covered instead.
        let mut snap = load(&store).expect("load").expect("a snapshot");
        assert!(snap.compacted(&["a".into(), "b".into()], &["ab".into()]));
        save(&store, &snap).expect("save");
        let mut snap = load(&store).expect("load").expect("a snapshot");
        assert_eq!(snap.covers, set(&["ab", "c"]));
        assert_eq!(snap.state, serde_json::json!(7));
        // Merging one it covers with one it does not: left alone.
        assert!(!snap.compacted(&["c".into(), "d".into()], &["cd".into()]));
        assert_eq!(snap.covers, set(&["ab", "c"]));
        // A snapshot of another version, or unreadable, is not used.
        store
            .put(
                SNAPSHOT,
                Bytes::from_static(b"{\"version\":99,\"covers\":[],\"state\":null}"),
            )
            .expect("put");
        assert!(load(&store).expect("load").is_none());
        store
            .put(SNAPSHOT, Bytes::from_static(b"{not json"))
            .expect("put");
        assert!(load(&store).expect("load").is_none());
    }
}
