//! The lake's manifest: one JSON object per committed transaction under
//! `_manifest/`. Writing it is the commit point of an ingest: Parquet files
//! are staged first, the manifest is put atomically, then the staged files
//! are published. It also records which source objects were ingested (key,
//! size and version: mtime or ETag), so re-ingesting them adds nothing.

use std::collections::HashMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::LakeError;
use crate::store::Store;

pub const MANIFEST_DIR: &str = "_manifest";
pub const STAGING_DIR: &str = "_staging";
pub const QUARANTINE_DIR: &str = "_quarantine";

/// A source object as ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub key: String,
    pub size: u64,
    /// `mtime:<ns>` for local files, `etag:<etag>` for S3 objects.
    pub version: String,
}

/// A file the transaction added, relative to the lake root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

/// What the transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    Ingest,
    /// Compaction replaces `removed` with `files` without changing events.
    Compact {
        removed: Vec<String>,
    },
    /// Alerts appended to the `alerts` table.
    Alerts,
    /// Responses filed in the `responses` table.
    Responses,
}

/// One committed transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub version: u32,
    pub txid: String,
    pub committed_at: String,
    pub operation: Operation,
    pub sources: Vec<SourceEntry>,
    pub files: Vec<FileEntry>,
    /// Quarantine file (relative to the root) holding undecodable records.
    pub quarantine: Option<String>,
    pub records: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

impl Transaction {
    pub fn manifest_path(txid: &str) -> String {
        format!("{MANIFEST_DIR}/{txid}.json")
    }

    pub fn staging_prefix(txid: &str) -> String {
        format!("{STAGING_DIR}/{txid}")
    }

    /// Where a final path is staged before the commit.
    pub fn staged(txid: &str, final_path: &str) -> String {
        format!("{STAGING_DIR}/{txid}/{final_path}")
    }

    /// Commit: put the manifest atomically, and only if no manifest of that
    /// name exists (a conditional write), so no commit overwrites another.
    pub fn commit(&self, store: &Store) -> Result<(), LakeError> {
        let json = serde_json::to_vec_pretty(self)?;
        store.put_new(&Self::manifest_path(&self.txid), Bytes::from(json))
    }
}

/// Every committed transaction, oldest first.
pub fn load_all(store: &Store) -> Result<Vec<Transaction>, LakeError> {
    let mut out = Vec::new();
    for meta in store.list(MANIFEST_DIR)? {
        let rel = store.rel(&meta.location);
        if !rel.ends_with(".json") {
            continue;
        }
        let bytes = store.get(&rel)?;
        let tx: Transaction = serde_json::from_slice(&bytes).map_err(|e| LakeError::Manifest {
            path: rel.clone(),
            message: e.to_string(),
        })?;
        out.push(tx);
    }
    out.sort_by(|a, b| {
        a.committed_at
            .cmp(&b.committed_at)
            .then(a.txid.cmp(&b.txid))
    });
    Ok(out)
}

/// Which source objects are already in the lake: key → (size, version).
#[derive(Debug, Default)]
pub struct SourceIndex(HashMap<String, (u64, String)>);

impl SourceIndex {
    pub fn from_transactions(txs: &[Transaction]) -> SourceIndex {
        let mut map = HashMap::new();
        for tx in txs {
            for s in &tx.sources {
                map.insert(s.key.clone(), (s.size, s.version.clone()));
            }
        }
        SourceIndex(map)
    }

    /// True when this exact object (same size and version) was ingested.
    pub fn contains(&self, s: &SourceEntry) -> bool {
        self.0
            .get(&s.key)
            .is_some_and(|(size, version)| *size == s.size && *version == s.version)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
