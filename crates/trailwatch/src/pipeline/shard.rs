//! Sharded watching: several `watch` processes split one trail between
//! them (`--shard i/n`), each taking the log files of its share of the
//! trail's prefixes and writing to the same lake.
//!
//! A file's shard is a stable hash (the first 8 bytes of SHA-256, as a
//! big-endian number, modulo n) of its prefix's account — by default — or
//! of its account and region (`--shard-by region`). By account keeps every
//! region of an account on one shard, and with them the principals that
//! live in that account: a principal's correlation state (impossible
//! travel, escalation, exfiltration, persistence) stays on one shard. By
//! region spreads a trail with few accounts wider, at the cost of a
//! principal's regions being correlated apart. Files outside CloudTrail's
//! layout (no `AWSLogs/<account>/CloudTrail/<region>/` in the key, no
//! CloudTrail file name) are split by their name.
//!
//! The hash depends on nothing but the prefix, so every watcher, on any
//! machine and any version, agrees on the owner of every file.

use std::fmt;
use std::str::FromStr;

use crate::source::Input;

/// What a file's shard is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShardBy {
    /// The account: all regions of an account on one shard.
    Account,
    /// The account and the region.
    Region,
}

/// This watcher's share: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
    pub by: ShardBy,
}

impl FromStr for Shard {
    type Err = String;

    /// `i/n`, 1 ≤ i ≤ n ≤ 1024.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: use i/n, e.g. 1/3 (1 ≤ i ≤ n ≤ 1024)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > 1024 {
            return Err(bad());
        }
        Ok(Shard {
            index,
            count,
            by: ShardBy::Account,
        })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard (0-based) of a key among `count`.
pub fn shard_of(key: &str, count: u64) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first) % count.max(1)
}

impl Shard {
    /// The key a file's shard is computed from.
    pub fn key_of(&self, input: &Input) -> String {
        match (input.trail_key(), self.by) {
            (Some(k), ShardBy::Account) => k.account.clone(),
            (Some(k), ShardBy::Region) => format!("{}/{}", k.account, k.region),
            (None, _) => input.name(),
        }
    }

    /// Whether this watcher takes `input`.
    pub fn owns(&self, input: &Input) -> bool {
        shard_of(&self.key_of(input), self.count) == self.index - 1
    }

    /// Whether this watcher takes the files of a trail prefix.
    pub fn owns_prefix(&self, account: &str, region: &str) -> bool {
        let key = match self.by {
            ShardBy::Account => account.to_string(),
            ShardBy::Region => format!("{account}/{region}"),
        };
        shard_of(&key, self.count) == self.index - 1
    }

    /// This watcher's name as a writer of the lake (it prefixes its
    /// transactions): `shard-2of3`.
    pub fn writer(&self) -> String {
        format!("shard-{}of{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_written_i_of_n() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!((s.index, s.count), (2, 3));
        assert_eq!(s.to_string(), "2/3");
        assert_eq!(s.writer(), "shard-2of3");
        for bad in ["0/2", "3/2", "1", "a/2", "1/0", "1/2000", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    /// The hash is pinned: watchers of different versions or machines
    /// must agree on every file's owner.
    #[test]
    fn the_shard_of_a_prefix_never_changes() {
        assert_eq!(shard_of("111111111111", 2), shard_of("111111111111", 2));
        let pinned: Vec<u64> = ["111111111111", "222222222222", "123456789012"]
            .iter()
            .map(|a| shard_of(a, 1000))
            .collect();
        assert_eq!(pinned, PINNED);
        // Every key has exactly one owner.
        for key in ["111111111111", "222222222222/eu-west-1", "x.json"] {
            let owners = (0..5).filter(|&i| shard_of(key, 5) == i).count();
            assert_eq!(owners, 1);
        }
    }

    /// SHA-256 of each account, first 8 bytes big-endian, modulo 1000
    /// (computed apart, with Python's hashlib).
    const PINNED: [u64; 3] = [226, 615, 834];

    /// Keys spread: 1,000 accounts over 4 shards, none far from a quarter.
    #[test]
    fn accounts_spread_evenly() {
        let mut counts = [0u32; 4];
        for a in 0..1000u64 {
            counts[shard_of(&format!("{:012}", 100_000_000_000 + a * 7919), 4) as usize] += 1;
        }
        for c in counts {
            assert!((200..300).contains(&c), "{counts:?}");
        }
    }
}
