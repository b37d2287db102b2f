//! Hive partitions of the lake: `account=<id>/region=<region>/date=<YYYY-MM-DD>`.
//!
//! `account` is the recipient account, `region` the event's `awsRegion`, and
//! `date` the UTC date of the event's own `eventTime` (not the delivery date
//! in the S3 key, since a file can hold events from earlier days), so that
//! filters on event time prune partitions.

use std::fmt;

use trailwatch_core::event::Record;

/// The folder under the lake root that holds the CloudTrail table.
pub const TABLE_DIR: &str = "cloudtrail";

/// One partition of the `cloudtrail` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub account: String,
    pub region: String,
    pub date: String,
}

/// Characters allowed in a partition value as written; anything else is
/// replaced so a hostile value cannot escape its folder.
fn clean(v: &str) -> String {
    let s: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "unknown".into()
    } else {
        s
    }
}

impl PartitionKey {
    /// The partition of a record. `fallback_account` (from the object key)
    /// is used when the record names no account.
    pub fn of(r: &Record<'_>, fallback_account: Option<&str>) -> PartitionKey {
        let account = r.event.account().or(fallback_account).unwrap_or("unknown");
        PartitionKey {
            account: clean(account),
            region: clean(&r.event.aws_region),
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

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dir_round_trips_and_cleans_hostile_values() {
        let k = PartitionKey {
            account: clean("111122223333"),
            region: clean("../etc"),
            date: "2024-05-01".into(),
        };
        assert_eq!(
            k.dir(),
            "account=111122223333/region=.._etc/date=2024-05-01"
        );
        let path = format!("cloudtrail/{}/part-1.parquet", k.dir());
        assert_eq!(PartitionKey::from_path(&path), Some(k));
        assert_eq!(clean(".."), "unknown");
    }
}
