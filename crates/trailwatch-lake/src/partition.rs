//! Hive partitions of the lake: `account=<id>/region=<region>/date=<YYYY-MM-DD>`.
//!
//! `account` is the recipient account, `region` the event's `awsRegion`, and
//! `date` the UTC date of the event's own `eventTime` (not the delivery date
//! in the S3 key, since a file can hold events from earlier days), so that
//! filters on event time prune partitions.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use trailwatch_core::event::Record;

use crate::error::LakeError;
use crate::store::Store;

/// The folder under the lake root that holds the CloudTrail table.
pub const TABLE_DIR: &str = "cloudtrail";

/// One partition of the `cloudtrail` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub account: String,
    pub region: String,
    pub date: String,
}

/// The longest value kept as its own folder name (account ids have 12
/// characters, region names about 15).
const MAX_PLAIN: usize = 64;
/// How much of an unusual value its folder name keeps, for people.
const MAX_HINT: usize = 32;

/// The folder name for a partition value. A value AWS would write (a
/// 12-digit account, a region such as `us-east-1`: lower-case letters,
/// digits and `-`, at most 64 characters) is its own folder name. Anything
/// else — too long, empty, `.`/`..`, upper case, `/`, control characters —
/// is still an event, and often the interesting one (a region AWS never
/// wrote is a sign of a forged log), so it gets a folder of its own:
/// `_` + a readable hint + `_` + 16 hex digits of the value's SHA-256.
/// Plain names never start with `_`, so the two kinds cannot collide, and
/// distinct values get distinct folders (up to a 64-bit hash collision).
/// The original value stays in its column (`awsregion`,
/// `recipientaccountid`), where queries find it.
pub fn folder_name(v: &str) -> String {
    let plain = !v.is_empty()
        && v.len() <= MAX_PLAIN
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !v.starts_with('-');
    if plain {
        return v.to_string();
    }
    let hint: String = v
        .chars()
        .filter_map(|c| {
            let c = c.to_ascii_lowercase();
            (c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-').then_some(c)
        })
        .take(MAX_HINT)
        .collect();
    let digest = Sha256::digest(v.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hint}_{hash}")
}

impl PartitionKey {
    /// The partition of a record. `fallback_account` (from the object key)
    /// is used when the record names no account.
    pub fn of(r: &Record<'_>, fallback_account: Option<&str>) -> PartitionKey {
        let account = r.event.account().or(fallback_account).unwrap_or("unknown");
        PartitionKey {
            account: folder_name(account),
            region: folder_name(&r.event.aws_region),
            date: {
                use chrono::Datelike;
                let d = r.time.date_naive();
                format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
            },
        }
    }

    /// `account=…/region=…/date=…`, relative to the table folder.
    pub fn dir(&self) -> String {
        format!(
            "account={}/region={}/date={}",
            self.account, self.region, self.date
        )
    }

    /// Parse a path that contains `account=…/region=…/date=…`.
    pub fn from_path(path: &str) -> Option<PartitionKey> {
        let mut account = None;
        let mut region = None;
        let mut date = None;
        for part in path.split('/') {
            if let Some(v) = part.strip_prefix("account=") {
                account = Some(v.to_string());
            } else if let Some(v) = part.strip_prefix("region=") {
                region = Some(v.to_string());
            } else if let Some(v) = part.strip_prefix("date=") {
                date = Some(v.to_string());
            }
        }
        Some(PartitionKey {
            account: account?,
            region: region?,
            date: date?,
        })
    }
}

/// Files of each partition of the table.
pub fn partition_files(store: &Store) -> Result<BTreeMap<PartitionKey, Vec<String>>, LakeError> {
    let mut out: BTreeMap<PartitionKey, Vec<String>> = BTreeMap::new();
    for meta in store.list(TABLE_DIR)? {
        let rel = store.rel(&meta.location);
        if !rel.ends_with(".parquet") {
            continue;
        }
        if let Some(pk) = PartitionKey::from_path(&rel) {
            out.entry(pk).or_default().push(rel);
        }
    }
    Ok(out)
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dir_round_trips() {
        let k = PartitionKey {
            account: folder_name("111122223333"),
            region: folder_name("us-east-1"),
            date: "2024-05-01".into(),
        };
        assert_eq!(
            k.dir(),
            "account=111122223333/region=us-east-1/date=2024-05-01"
        );
        let path = format!("cloudtrail/{}/part-1.parquet", k.dir());
        assert_eq!(PartitionKey::from_path(&path), Some(k));
    }

    #[test]
    fn odd_values_get_safe_bounded_distinct_folders() {
        let long = "x".repeat(260);
        let odd = [
            "",
            ".",
            "..",
            "../etc",
            "us/east-1",
            "us_east-1",
            "US-EAST-1",
            "us-east-1\0",
            "us-east-1\u{1b}[2J",
            long.as_str(),
            "-rf",
            "_us-east-1_0123456789abcdef",
        ];
        let mut seen = std::collections::HashSet::new();
        for v in odd {
            let f = folder_name(v);
            assert!(f.starts_with('_'), "{v:?} -> {f}");
            assert!(f.len() <= 1 + MAX_HINT + 1 + 16, "{v:?} -> {f}");
            assert!(
                f.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'_'),
                "{v:?} -> {f}"
            );
            assert!(seen.insert(f.clone()), "{v:?} collides at {f}");
            assert!(!seen.contains(v) || v.starts_with('_'));
        }
        // Ordinary values are their own folders, and never collide with an
        // encoded one.
        assert_eq!(folder_name("us-east-1"), "us-east-1");
        assert!(!seen.contains("us-east-1"));
    }
}
