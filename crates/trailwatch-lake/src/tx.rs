//! The lake's one write protocol, used by ingest, compaction and the
//! alerts table alike:
//!
//! 1. **stage**: new files are written under `_staging/<txid>/<final path>`
//!    (and, for a compaction, a marker listing the files it replaces);
//! 2. **commit**: the manifest `_manifest/<txid>.json` is put — the one
//!    atomic step, the commit point;
//! 3. **publish**: staged files are renamed into place, replaced files
//!    deleted, the staging folder removed;
//! 4. **recover** (at the start of every writer): a committed transaction
//!    whose publish a crash interrupted is finished, anything staged by an
//!    uncommitted one is dropped.
//!
//! A kill at any moment therefore leaves the lake as it was before the
//! transaction or as it is after it.

use bytes::Bytes;

use crate::error::LakeError;
use crate::manifest::{self, FileEntry, Operation, STAGING_DIR, Transaction};
use crate::store::Store;

/// The staged marker listing the files a committed compaction deletes.
pub const REMOVES_MARKER: &str = "_compact_removes.json";

/// Now, as the manifest records commit times.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A transaction being written: what it stages lands under its own
/// staging folder until [`Staging::commit`].
#[derive(Debug)]
pub struct Staging<'s> {
    store: &'s Store,
    txid: String,
}

impl<'s> Staging<'s> {
    /// Start a transaction with a fresh id (prefixed with the writer's
    /// name when the lake has several writers).
    pub fn begin(store: &'s Store) -> Staging<'s> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let txid = match store.writer() {
            Some(w) => format!("{w}-{id}"),
            None => id,
        };
        Staging { store, txid }
    }

    pub fn txid(&self) -> &str {
        &self.txid
    }

    /// Stage a table file to appear at `path` on commit. Safe to call from
    /// several threads at once.
    pub fn stage(&self, path: &str, bytes: Bytes, rows: u64) -> Result<FileEntry, LakeError> {
        let len = bytes.len() as u64;
        self.stage_other(path, bytes)?;
        Ok(FileEntry {
            path: path.to_string(),
            rows,
            bytes: len,
        })
    }

    /// Stage a file that is not a table file (a quarantine file).
    pub fn stage_other(&self, path: &str, bytes: Bytes) -> Result<(), LakeError> {
        self.store
            .put_new(&Transaction::staged(&self.txid, path), bytes)
    }

    /// Record the files a committed compaction must delete, so a crash
    /// between commit and publish still deletes them.
    pub fn stage_removals(&self, files: &[String]) -> Result<(), LakeError> {
        let marker = serde_json::to_vec(files)?;
        self.stage_other(REMOVES_MARKER, Bytes::from(marker))
    }

    /// Commit `tx` (its `txid` is set to this transaction's) and publish it.
    pub fn commit(self, mut tx: Transaction) -> Result<Transaction, LakeError> {
        tx.txid = self.txid;
        tx.committed_at = now_rfc3339();
        tx.commit(self.store)?;
        publish(self.store, &tx)?;
        Ok(tx)
    }
}

/// Rename a committed transaction's staged files into place and delete
/// what it replaces.
fn publish(store: &Store, tx: &Transaction) -> Result<(), LakeError> {
    let paths = tx
        .files
        .iter()
        .map(|f| f.path.clone())
        .chain(tx.quarantine.clone());
    for path in paths {
        store.rename(&Transaction::staged(&tx.txid, &path), &path)?;
    }
    if let Operation::Compact { removed } = &tx.operation {
        for f in removed {
            store.delete(f)?;
        }
        store.delete(&Transaction::staged(&tx.txid, REMOVES_MARKER))?;
    }
    store.remove_local_dir(&Transaction::staging_prefix(&tx.txid));
    Ok(())
}

/// Finish or discard transactions a crash interrupted. Safe to run anytime
/// no other writer is active; a named writer (several writing at once,
/// [`Store::with_writer`]) touches only its own transactions, whose ids
/// carry its name.
pub fn recover(store: &Store) -> Result<(), LakeError> {
    let staged = store.list(STAGING_DIR)?;
    if staged.is_empty() {
        if store.writer().is_none() {
            store.remove_local_dir(STAGING_DIR);
        }
        return Ok(());
    }
    // A named writer's transaction ids start with its name and a `-`.
    let mine = |txid: &str| {
        store
            .writer()
            .is_none_or(|w| txid.strip_prefix(w).is_some_and(|r| r.starts_with('-')))
    };
    let committed: std::collections::HashSet<String> = manifest::load_all(store)?
        .into_iter()
        .map(|t| t.txid)
        .collect();
    for meta in staged {
        let rel = store.rel(&meta.location);
        let Some(rest) = rel.strip_prefix(&format!("{STAGING_DIR}/")) else {
            continue;
        };
        let Some((txid, final_path)) = rest.split_once('/') else {
            if store.writer().is_none() {
                store.delete(&rel)?;
            }
            continue;
        };
        if !mine(txid) {
            continue;
        }
        if final_path == REMOVES_MARKER {
            // A compaction's pending deletions: finish them if it committed.
            if committed.contains(txid) {
                let files: Vec<String> =
                    serde_json::from_slice(&store.get(&rel)?).map_err(|e| LakeError::BadFile {
                        path: rel.clone(),
                        message: e.to_string(),
                    })?;
                for f in files {
                    store.delete(&f)?;
                }
            }
            store.delete(&rel)?;
            continue;
        }
        if committed.contains(txid) && !store.exists(final_path)? {
            tracing::info!(
                txid,
                path = final_path,
                "publishing a committed file after a crash"
            );
            store.rename(&rel, final_path)?;
        } else {
            tracing::debug!(txid, path = %rel, "removing staging debris");
            store.delete(&rel)?;
        }
    }
    // Everything staged was published or dropped; interrupted local puts
    // may have left temporary files that object_store does not list. With
    // several writers, the others' staging stays.
    if store.writer().is_none() {
        store.remove_local_dir(STAGING_DIR);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    fn empty_ingest() -> Transaction {
        Transaction {
            version: 1,
            txid: String::new(),
            committed_at: String::new(),
            operation: Operation::Ingest,
            sources: Vec::new(),
            files: Vec::new(),
            quarantine: None,
            records: 0,
            duplicates: 0,
            quarantined: 0,
        }
    }

    /// Writers of one lake (sharded watchers): each recovers only its own
    /// interrupted transactions, never another's work in progress.
    #[test]
    fn a_named_writer_recovers_only_its_own_transactions() {
        let (_rt, _dir, store) = temp_store();
        let one = store.clone().with_writer("s1of2").unwrap();
        let two = store.clone().with_writer("s2of2").unwrap();
        let in_progress = Staging::begin(&two);
        assert!(
            in_progress.txid().starts_with("s2of2-"),
            "{}",
            in_progress.txid()
        );
        in_progress
            .stage("cloudtrail/x/part-a.parquet", Bytes::from_static(b"a"), 1)
            .unwrap();
        let staged = Transaction::staged(in_progress.txid(), "cloudtrail/x/part-a.parquet");
        // Writer one's crash debris, and writer one's recovery.
        let debris = Staging::begin(&one);
        debris
            .stage("cloudtrail/y/part-b.parquet", Bytes::from_static(b"b"), 1)
            .unwrap();
        recover(&one).unwrap();
        assert!(
            store.exists(&staged).unwrap(),
            "writer two's staging was touched"
        );
        let gone = Transaction::staged(debris.txid(), "cloudtrail/y/part-b.parquet");
        assert!(!store.exists(&gone).unwrap(), "writer one's debris stays");
        // A writer whose name is a prefix of another's is still another.
        let s1 = store.clone().with_writer("s1").unwrap();
        recover(&s1).unwrap();
        assert!(store.exists(&staged).unwrap());
        recover(&two).unwrap();
        assert!(!store.exists(&staged).unwrap());
        assert!(store.clone().with_writer("a/b").is_err());
        assert!(store.clone().with_writer("").is_err());
    }

    /// A commit is a conditional write: a second manifest of the same name
    /// is refused and the first stays as it was.
    #[test]
    fn a_commit_never_overwrites_another() {
        let (_rt, _dir, store) = temp_store();
        let staging = Staging::begin(&store);
        let txid = staging.txid().to_string();
        staging.commit(empty_ingest()).unwrap();
        let before = store.get(&Transaction::manifest_path(&txid)).unwrap();
        let mut again = empty_ingest();
        again.txid = txid.clone();
        again.committed_at = "2000-01-01T00:00:00Z".into();
        let err = again.commit(&store).unwrap_err().to_string();
        assert!(err.contains("exists already"), "{err}");
        assert_eq!(
            store.get(&Transaction::manifest_path(&txid)).unwrap(),
            before
        );
        store.put_new("a", Bytes::from_static(b"1")).unwrap();
        assert!(store.put_new("a", Bytes::from_static(b"2")).is_err());
        assert_eq!(store.get("a").unwrap(), Bytes::from_static(b"1"));
    }
}
