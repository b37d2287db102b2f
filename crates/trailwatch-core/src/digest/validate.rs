//! Validating a trail offline (`digest-validation.md` §3, §5, §6), stricter
//! than `aws cloudtrail validate-logs`:
//!
//! - every digest is checked on its own: readable, at the location it
//!   names, signed (SHA256withRSA only) by a known, valid key;
//! - the chain is then checked link by link: each `previousDigestHashValue`
//!   must be the hash of the digest it names, a named digest that is absent
//!   is *missing*, and a chain that restarts is a *gap*;
//! - every log file a valid digest lists is hashed (decompressed, streamed,
//!   in parallel) and must match;
//! - every log file present that no digest lists, and that was delivered
//!   before the newest digest of its account and region ended, is
//!   *not covered*: it was inserted.
//!
//! A digest whose own signature is not at hand (a local copy made without
//! `fetch-signatures`) is checked with the signature its successor records
//! in `previousDigestSignature`, which that successor's own signature
//! covers.
//!
//! Storage is behind [`TrailStore`], so the same code validates a local
//! copy and an S3 bucket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use super::hash::{Hashed, gunzip_small, hash_gzip, sha256_hex};
use super::keys::{KeyRing, verify_sha256_rsa};
use super::model::{Digest, DigestName, LogFileEntry, stamp_of, trail_relative};
use crate::layout::{self, ObjectKind};

/// The largest digest accepted (decompressed); real ones are kilobytes.
const DIGEST_LIMIT: u64 = 16 * 1024 * 1024;

/// The most compressed bytes of one digest file read. A real digest lists
/// an hour of one region's log files and is a few kilobytes; memory stays
/// bounded however large a file named like a digest is.
pub const DIGEST_BYTES: u64 = 4 * 1024 * 1024;

/// The error of [`TrailStore::read`] for an object over its limit.
pub fn too_large(key: &str, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{key} is larger than {limit} bytes, more than any digest file"),
    )
}

/// Where a trail's objects are read from. Keys are the store's own: paths
/// relative to a local copy's root, or object keys in a bucket.
pub trait TrailStore: Sync {
    /// The bucket, when the store is one (then digest locations are
    /// compared in full; a local copy compares from `AWSLogs/` on).
    fn bucket(&self) -> Option<&str>;
    /// Every object key under the store.
    fn keys(&self) -> io::Result<Vec<String>>;
    /// A small object's bytes; `None` when it does not exist. More than
    /// `limit` bytes is an error ([`too_large`]) raised before they are
    /// held in memory.
    fn read(&self, key: &str, limit: u64) -> io::Result<Option<Vec<u8>>>;
    /// A digest's signature (hex), from S3 metadata or a local sidecar.
    fn signature(&self, key: &str) -> io::Result<Option<String>>;
    /// Stream an object; `None` when it does not exist.
    fn open(&self, key: &str) -> io::Result<Option<Box<dyn Read + Send>>>;
}

/// What was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Digests that end at or after this time.
    pub start: Option<DateTime<Utc>>,
    /// Digests that end before this time plus an hour (late deliveries).
    pub end: Option<DateTime<Utc>>,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The verdict on one digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum DigestStatus {
    Valid,
    /// Unreadable gzip or JSON, or a required field missing.
    InvalidFormat(String),
    /// The digest names another location than the one it sits at.
    Moved(String),
    /// No signature in metadata, sidecar, or a successor.
    NoSignature,
    /// No key with its fingerprint, or none valid at its time.
    UnknownKey(String),
    BadSignature,
    /// Its `previousDigestHashValue` is not the hash of the digest it names.
    BrokenChain(String),
    /// Named by its successor, but absent.
    Missing,
}

impl DigestStatus {
    pub fn is_valid(&self) -> bool {
        *self == DigestStatus::Valid
    }
}

/// The verdict on one log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum LogStatus {
    Valid,
    HashMismatch,
    Missing,
    TrailingData,
    InvalidFormat(String),
    /// Present, delivered while digests were being written, listed by none.
    NotCovered,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigestResult {
    pub key: String,
    pub account: String,
    pub region: String,
    pub trail: String,
    pub backfill: bool,
    pub start: Option<String>,
    pub end: Option<String>,
    pub log_files: usize,
    #[serde(flatten)]
    pub status: DigestStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogResult {
    pub key: String,
    /// The digest that lists it (none for a file not covered).
    pub digest: Option<String>,
    #[serde(flatten)]
    pub status: LogStatus,
}

/// A stretch of time no digest chain covers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gap {
    pub account: String,
    pub region: String,
    pub trail: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub digests: usize,
    pub digests_valid: usize,
    pub logs: usize,
    pub logs_valid: usize,
    pub not_covered: usize,
    pub gaps: usize,
    /// Log files delivered after the newest digest: not yet vouched for.
    pub awaiting_digest: usize,
    pub bytes_hashed: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub summary: Summary,
    pub digests: Vec<DigestResult>,
    pub logs: Vec<LogResult>,
    pub gaps: Vec<Gap>,
}

impl Report {
    /// True when every digest and log file is valid (gaps are reported,
    /// not failed, as aws-cli does: logging may have been off).
    pub fn all_valid(&self) -> bool {
        self.digests.iter().all(|d| d.status.is_valid())
            && self.logs.iter().all(|l| l.status == LogStatus::Valid)
    }
}

/// One digest, read and checked on its own.
struct Checked {
    key: String,
    name: DigestName,
    digest: Option<Digest>,
    sha256: String,
    signature: Option<String>,
    /// Set when a check on its own already failed.
    status: Option<DigestStatus>,
}

/// Where `object` (a key as a digest names it) sits in this store, given
/// the store key of the digest that names it.
fn sibling_key(digest_key: &str, object: &str) -> String {
    let base_len = digest_key.len() - trail_relative(digest_key).len();
    format!("{}{}", &digest_key[..base_len], trail_relative(object))
}

fn in_window(stamp: &str, opts: &Options) -> bool {
    let fmt = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    opts.start.is_none_or(|s| stamp >= fmt(s).as_str())
        && opts
            .end
            .is_none_or(|e| stamp <= fmt(e + chrono::Duration::hours(1)).as_str())
}

fn check_alone(store: &dyn TrailStore, key: &str, name: DigestName) -> io::Result<Checked> {
    let mut c = Checked {
        key: key.to_string(),
        name,
        digest: None,
        sha256: String::new(),
        signature: None,
        status: None,
    };
    let gz = match store.read(key, DIGEST_BYTES) {
        Ok(Some(gz)) => gz,
        Ok(None) => {
            c.status = Some(DigestStatus::Missing);
            return Ok(c);
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            c.status = Some(DigestStatus::InvalidFormat(e.to_string()));
            return Ok(c);
        }
        Err(e) => return Err(e),
    };
    let raw = match gunzip_small(&gz, DIGEST_LIMIT) {
        Ok(r) => r,
        Err(e) => {
            c.status = Some(DigestStatus::InvalidFormat(e));
            return Ok(c);
        }
    };
    c.sha256 = sha256_hex(&raw);
    let d = match Digest::parse(&raw) {
        Ok(d) => d,
        Err(e) => {
            c.status = Some(DigestStatus::InvalidFormat(e.to_string()));
            return Ok(c);
        }
    };
    let here_ok = match store.bucket() {
        Some(bucket) => d.digest_s3_bucket == bucket && d.digest_s3_object == key,
        None => trail_relative(&d.digest_s3_object) == trail_relative(key),
    };
    if !here_ok {
        c.status = Some(DigestStatus::Moved(format!(
            "written to s3://{}/{}",
            d.digest_s3_bucket, d.digest_s3_object
        )));
    }
    c.signature = store.signature(key)?;
    c.digest = Some(d);
    Ok(c)
}

fn verify(keys: &KeyRing, c: &Checked, signature: &str) -> DigestStatus {
    let Some(d) = &c.digest else {
        return DigestStatus::InvalidFormat("unreadable".into());
    };
    let at = DateTime::parse_from_rfc3339(&d.digest_end_time)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let key = match keys.find(&d.digest_public_key_fingerprint, at) {
        Ok(k) => k,
        Err(e) => return DigestStatus::UnknownKey(e.to_string()),
    };
    let Some(sig) = unhex(signature.trim()) else {
        return DigestStatus::BadSignature;
    };
    let data = super::model::string_to_sign(d, &c.sha256);
    if verify_sha256_rsa(key, data.as_bytes(), &sig) {
        DigestStatus::Valid
    } else {
        DigestStatus::BadSignature
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn log_status(
    store: &dyn TrailStore,
    key: &str,
    entry: &LogFileEntry,
) -> io::Result<(LogStatus, u64)> {
    let Some(reader) = store.open(key)? else {
        return Ok((LogStatus::Missing, 0));
    };
    Ok(match hash_gzip(reader)? {
        Hashed::Ok { sha256, bytes } if sha256.eq_ignore_ascii_case(&entry.hash_value) => {
            (LogStatus::Valid, bytes)
        }
        Hashed::Ok { bytes, .. } => (LogStatus::HashMismatch, bytes),
        Hashed::TrailingData => (LogStatus::TrailingData, 0),
        Hashed::BadFormat(e) => (LogStatus::InvalidFormat(e), 0),
    })
}

/// A log file's delivery stamp as a digest-comparable `YYYYMMDDTHHMMSSZ`.
fn log_stamp(stamp: &str) -> String {
    match stamp.len() {
        14 => format!("{}00Z", &stamp[..13]),
        _ => stamp.to_string(),
    }
}

/// The store's keys in the window: digests (sorted by trail and time)
/// and log files, of the account and region asked for.
type Listed = (Vec<(String, DigestName)>, Vec<(String, layout::TrailKey)>);

/// Validate every digest (in the window) of the store and the log files,
/// in steps: list, check each digest alone, follow the chains, hash the
/// log files valid digests list, and find the log files none lists.
pub fn validate(store: &dyn TrailStore, keys: &KeyRing, opts: &Options) -> io::Result<Report> {
    let (names, log_keys) = list(store, opts)?;
    let mut checked: Vec<Checked> = names
        .into_par_iter()
        .map(|(k, n)| check_alone(store, &k, n))
        .collect::<io::Result<_>>()?;
    // Index by trail-relative key, to follow previousDigestS3Object.
    let index: HashMap<String, usize> = checked
        .iter()
        .enumerate()
        .map(|(i, c)| (trail_relative(&c.key).to_string(), i))
        .collect();
    check_signatures(&mut checked, &index, keys);
    let (gaps, missing) = follow_chains(&mut checked, &index, opts);
    let (mut report, covered) = hash_logs(store, &checked)?;
    report.logs.extend(uncovered_logs(
        &checked,
        &log_keys,
        &covered,
        opts,
        &mut report.summary,
    ));
    for c in &checked {
        let status = c.status.clone().unwrap_or(DigestStatus::Missing);
        report.digests.push(result_of(c, status));
    }
    for (key, n) in missing {
        report.digests.push(DigestResult {
            key,
            account: n.account,
            region: n.region,
            trail: n.trail,
            backfill: n.backfill,
            start: None,
            end: None,
            log_files: 0,
            status: DigestStatus::Missing,
        });
    }
    report.gaps = gaps;
    Ok(finish(report))
}

fn list(store: &dyn TrailStore, opts: &Options) -> io::Result<Listed> {
    let mut names = Vec::new();
    let mut log_keys = Vec::new();
    for k in store.keys()? {
        if k.ends_with(".signature") {
            continue;
        }
        match layout::parse_key(&k) {
            Some(t) if t.kind == ObjectKind::Digest => {
                if let Some(n) = DigestName::parse(&k)
                    && in_window(&n.stamp, opts)
                    && opts.account.as_ref().is_none_or(|a| *a == n.account)
                    && opts.region.as_ref().is_none_or(|r| *r == n.region)
                {
                    names.push((k, n));
                }
            }
            Some(t)
                if t.kind == ObjectKind::Log
                    && opts.account.as_ref().is_none_or(|a| *a == t.account)
                    && opts.region.as_ref().is_none_or(|r| *r == t.region) =>
            {
                log_keys.push((k, t));
            }
            _ => {}
        }
    }
    names.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok((names, log_keys))
}

/// Each digest's signature checked: its own (the S3 object's), else the
/// one its successor records for it.
fn check_signatures(checked: &mut [Checked], index: &HashMap<String, usize>, keys: &KeyRing) {
    let mut vouched: HashMap<usize, String> = HashMap::new();
    for c in checked.iter() {
        if let Some(d) = &c.digest
            && let Some((_, object)) = d.previous()
            && let Some(&p) = index.get(trail_relative(object))
            && let Some(sig) = &d.previous_digest_signature
        {
            vouched.insert(p, sig.clone());
        }
    }
    let statuses: Vec<DigestStatus> = checked
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            if let Some(s) = &c.status {
                return s.clone();
            }
            match c.signature.as_ref().or(vouched.get(&i)) {
                Some(sig) => verify(keys, c, sig),
                None => DigestStatus::NoSignature,
            }
        })
        .collect();
    for (c, s) in checked.iter_mut().zip(statuses) {
        c.status = Some(s);
    }
}

/// The chains, link by link, per account, region and trail (backfill
/// digests stand alone): the gaps, the digests missing from them, and
/// valid digests whose predecessor's hash does not match marked broken.
fn follow_chains(
    checked: &mut [Checked],
    index: &HashMap<String, usize>,
    opts: &Options,
) -> (Vec<Gap>, BTreeMap<String, DigestName>) {
    let mut gaps = Vec::new();
    let mut missing: BTreeMap<String, DigestName> = BTreeMap::new();
    let mut broken: Vec<(usize, String)> = Vec::new();
    let mut chains: BTreeMap<(String, String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, c) in checked.iter().enumerate() {
        if !c.name.backfill {
            chains.entry(c.name.chain()).or_default().push(i);
        }
    }
    let window_start = opts.start.map(|s| s.format("%Y%m%dT%H%M%SZ").to_string());
    for members in chains.values() {
        for (pos, &i) in members.iter().enumerate() {
            let c = &checked[i];
            let Some(d) = &c.digest else { continue };
            let gap = |from: String, reason: String| Gap {
                account: c.name.account.clone(),
                region: c.name.region.clone(),
                trail: c.name.trail.clone(),
                from,
                to: d.digest_start_time.clone(),
                reason,
            };
            match d.previous() {
                Some((_, object)) => match index.get(trail_relative(object)) {
                    Some(&p) => {
                        let prev = &checked[p];
                        if let Some(h) = &d.previous_digest_hash_value
                            && !prev.sha256.is_empty()
                            && !h.eq_ignore_ascii_case(&prev.sha256)
                        {
                            broken.push((
                                i,
                                format!("previousDigestHashValue is not the hash of {}", prev.key),
                            ));
                        }
                    }
                    None => {
                        let prev_name = DigestName::parse(object);
                        let before_window = match (&prev_name, &window_start) {
                            (Some(n), Some(ws)) => n.stamp < *ws,
                            _ => false,
                        };
                        if !before_window && let Some(n) = prev_name {
                            let key = sibling_key(&c.key, object);
                            let from = members
                                .get(pos.wrapping_sub(1))
                                .and_then(|&o| checked[o].digest.as_ref())
                                .map(|o| o.digest_end_time.clone())
                                .unwrap_or_else(|| n.stamp.clone());
                            gaps.push(gap(from, format!("digest {key} is missing (deleted?)")));
                            missing.insert(key, n);
                        }
                    }
                },
                None => {
                    // A starting digest after others: the chain restarted.
                    if pos > 0
                        && let Some(prev) = checked[members[pos - 1]].digest.as_ref()
                    {
                        gaps.push(gap(
                            prev.digest_end_time.clone(),
                            "the chain restarts: logging or log file validation was off".into(),
                        ));
                    }
                }
            }
        }
    }
    for (i, why) in broken {
        if checked[i]
            .status
            .as_ref()
            .is_some_and(DigestStatus::is_valid)
        {
            checked[i].status = Some(DigestStatus::BrokenChain(why));
        }
    }
    (gaps, missing)
}

/// The log files valid digests list, hashed in parallel: a report with
/// their results and the bytes hashed, and every log file any digest
/// lists (trail-relative keys).
fn hash_logs(store: &dyn TrailStore, checked: &[Checked]) -> io::Result<(Report, HashSet<String>)> {
    let mut covered: HashSet<String> = HashSet::new();
    let mut jobs: Vec<(String, String, &LogFileEntry)> = Vec::new();
    for c in checked {
        let Some(d) = &c.digest else { continue };
        for entry in &d.log_files {
            covered.insert(trail_relative(&entry.s3_object).to_string());
            if c.status.as_ref().is_some_and(DigestStatus::is_valid) {
                jobs.push((c.key.clone(), sibling_key(&c.key, &entry.s3_object), entry));
            }
        }
    }
    let hashed: Vec<(LogResult, u64)> = jobs
        .par_iter()
        .map(|(digest, key, entry)| {
            let (status, bytes) = log_status(store, key, entry)?;
            Ok((
                LogResult {
                    key: key.clone(),
                    digest: Some(digest.clone()),
                    status,
                },
                bytes,
            ))
        })
        .collect::<io::Result<_>>()?;
    let mut report = Report::default();
    report.summary.bytes_hashed = hashed.iter().map(|(_, b)| b).sum();
    report.logs = hashed.into_iter().map(|(l, _)| l).collect();
    Ok((report, covered))
}

/// Log files present that no digest lists: inside the digests' span they
/// are not covered (inserted, or their digest is gone); after the newest
/// digest they are only awaiting theirs (counted in `summary`). In a trail
/// (account and region) with no digest at all, every log file in the
/// window is not covered: nothing vouches for any of them, as `aws
/// cloudtrail validate-logs` reports it.
fn uncovered_logs(
    checked: &[Checked],
    log_keys: &[(String, layout::TrailKey)],
    covered: &HashSet<String>,
    opts: &Options,
    summary: &mut Summary,
) -> Vec<LogResult> {
    let mut newest: HashMap<(String, String), String> = HashMap::new();
    let mut oldest: HashMap<(String, String), String> = HashMap::new();
    for c in checked.iter().filter(|c| c.digest.is_some()) {
        let k = (c.name.account.clone(), c.name.region.clone());
        let n = newest
            .entry(k.clone())
            .or_insert_with(|| c.name.stamp.clone());
        if c.name.stamp > *n {
            *n = c.name.stamp.clone();
        }
        if let Some(d) = &c.digest {
            let start = stamp_of(&d.digest_start_time);
            let o = oldest.entry(k).or_insert_with(|| start.clone());
            if start < *o {
                *o = start;
            }
        }
    }
    let mut out = Vec::new();
    for (key, t) in log_keys {
        if covered.contains(trail_relative(key)) {
            continue;
        }
        let Some(stamp) = t.delivery_stamp.as_deref().map(log_stamp) else {
            continue;
        };
        let chain = (t.account.clone(), t.region.clone());
        let not_covered = LogResult {
            key: key.clone(),
            digest: None,
            status: LogStatus::NotCovered,
        };
        let (Some(new), Some(old)) = (newest.get(&chain), oldest.get(&chain)) else {
            if in_window(&stamp, opts) {
                out.push(not_covered);
            }
            continue;
        };
        if stamp > *new {
            summary.awaiting_digest += 1;
        } else if stamp >= *old {
            out.push(not_covered);
        }
    }
    out
}

fn result_of(c: &Checked, status: DigestStatus) -> DigestResult {
    let d = c.digest.as_ref();
    DigestResult {
        key: c.key.clone(),
        account: c.name.account.clone(),
        region: c.name.region.clone(),
        trail: c.name.trail.clone(),
        backfill: c.name.backfill,
        start: d.map(|d| d.digest_start_time.clone()),
        end: d.map(|d| d.digest_end_time.clone()),
        log_files: d.map_or(0, |d| d.log_files.len()),
        status,
    }
}

/// Check one newly delivered digest, for live watching (`watch`).
///
/// With its own signature at hand (S3 metadata, or a sidecar), the digest
/// itself is verified, with its link to the digest before it and the log
/// files it lists. Without one (a synced local copy has no metadata), the
/// digest before it is verified instead, with the signature this one
/// records for it: each digest is then checked when its successor lands.
/// Returns the verdicts reached, which may be none.
pub fn check_delivered(store: &dyn TrailStore, keys: &KeyRing, key: &str) -> io::Result<Report> {
    let mut report = Report::default();
    let Some(name) = DigestName::parse(key) else {
        return Ok(report);
    };
    let c = check_alone(store, key, name)?;
    let previous = match c.digest.as_ref().and_then(Digest::previous) {
        Some((_, object)) => {
            let pkey = sibling_key(key, object);
            match DigestName::parse(&pkey) {
                Some(n) => Some(check_alone(store, &pkey, n)?),
                None => None,
            }
        }
        None => None,
    };
    // Which digest is judged now, and with which signature.
    let (judged, signature) = match (&c.status, &c.signature, &previous) {
        (Some(early), _, _) => {
            report.digests.push(result_of(&c, early.clone()));
            return Ok(finish(report));
        }
        (None, Some(sig), _) => (&c, sig.clone()),
        (None, None, Some(p)) => match c
            .digest
            .as_ref()
            .and_then(|d| d.previous_digest_signature.clone())
        {
            Some(sig) => (p, sig),
            None => return Ok(report),
        },
        (None, None, None) => return Ok(report),
    };
    let mut status = match &judged.status {
        Some(s) => s.clone(),
        None => verify(keys, judged, &signature),
    };
    // The link between this digest and the one before it.
    if let (Some(d), Some(p)) = (&c.digest, &previous) {
        if p.status == Some(DigestStatus::Missing) {
            report.digests.push(result_of(p, DigestStatus::Missing));
            report.gaps.push(Gap {
                account: c.name.account.clone(),
                region: c.name.region.clone(),
                trail: c.name.trail.clone(),
                from: p.name.stamp.clone(),
                to: d.digest_start_time.clone(),
                reason: format!("digest {} is missing (deleted?)", p.key),
            });
        } else if let Some(h) = &d.previous_digest_hash_value
            && !h.eq_ignore_ascii_case(&p.sha256)
            && status.is_valid()
        {
            status = DigestStatus::BrokenChain(format!(
                "previousDigestHashValue of {} is not the hash of {}",
                c.key, p.key
            ));
        }
    }
    if status.is_valid()
        && let Some(d) = &judged.digest
    {
        for entry in &d.log_files {
            let lkey = sibling_key(&judged.key, &entry.s3_object);
            let (s, bytes) = log_status(store, &lkey, entry)?;
            report.summary.bytes_hashed += bytes;
            report.logs.push(LogResult {
                key: lkey,
                digest: Some(judged.key.clone()),
                status: s,
            });
        }
    }
    report.digests.push(result_of(judged, status));
    Ok(finish(report))
}

/// Fill in the summary counts.
fn finish(mut report: Report) -> Report {
    let s = &mut report.summary;
    s.digests = report.digests.len();
    s.digests_valid = report
        .digests
        .iter()
        .filter(|d| d.status.is_valid())
        .count();
    s.logs = report.logs.len();
    s.logs_valid = report
        .logs
        .iter()
        .filter(|l| l.status == LogStatus::Valid)
        .count();
    s.not_covered = report
        .logs
        .iter()
        .filter(|l| l.status == LogStatus::NotCovered)
        .count();
    s.gaps = report.gaps.len();
    report
}
