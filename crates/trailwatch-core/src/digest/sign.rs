//! Writing signed digest files the way CloudTrail does (`digest-validation.md`
//! §8), with a key of one's own: for tests, and for the sample trail, so
//! that `verify` has a real chain to check. Signatures are RSASSA-PKCS1-v1_5
//! with SHA-256, which is deterministic: the same inputs give the same bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest as _, Md5};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use super::hash::{Hashed, hash_gzip, hex, sha256_hex};
use super::model::LogFileEntry;
use crate::layout::{self, ObjectKind};

/// A private key that signs digests.
#[derive(Debug)]
pub struct Signer {
    key: RsaKeyPair,
    fingerprint: String,
}

/// The link from a digest to the one before it.
#[derive(Debug, Clone)]
pub struct Previous {
    pub bucket: String,
    pub object: String,
    /// SHA-256 hex of the previous digest's uncompressed bytes.
    pub sha256: String,
    /// The previous digest's signature, hex.
    pub signature: String,
}

/// What goes into one digest.
#[derive(Debug, Clone)]
pub struct DigestSpec {
    pub account: String,
    pub bucket: String,
    /// The digest's own key in the bucket.
    pub object: String,
    pub start: String,
    pub end: String,
    pub previous: Option<Previous>,
    pub logs: Vec<LogFileEntry>,
}

/// A digest as written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The uncompressed JSON (what is hashed and signed).
    pub json: Vec<u8>,
    /// The object's bytes (gzip).
    pub gz: Vec<u8>,
    pub sha256: String,
    /// The signature, hex, as in `x-amz-meta-signature`.
    pub signature: String,
}

impl Written {
    /// The link a following digest records to this one.
    pub fn as_previous(&self, bucket: &str, object: &str) -> Previous {
        Previous {
            bucket: bucket.into(),
            object: object.into(),
            sha256: self.sha256.clone(),
            signature: self.signature.clone(),
        }
    }
}

/// Gzip bytes the way CloudTrail's objects are: one member.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

impl Signer {
    /// A signer from a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Signer, ring::error::KeyRejected> {
        let key = RsaKeyPair::from_pkcs8(der)?;
        let fingerprint = hex(&Md5::digest(key.public().as_ref()));
        Ok(Signer { key, fingerprint })
    }

    /// MD5 of the public key's PKCS#1 DER, as CloudTrail fingerprints keys.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The public key as `aws cloudtrail list-public-keys` would print it.
    pub fn public_keys_json(&self, valid_from: &str, valid_to: &str) -> String {
        let value = base64::engine::general_purpose::STANDARD.encode(self.key.public().as_ref());
        let doc = json!({"PublicKeyList": [{
            "Value": value,
            "ValidityStartTime": valid_from,
            "ValidityEndTime": valid_to,
            "Fingerprint": self.fingerprint,
        }]});
        format!("{doc:#}\n")
    }

    /// Sign `data` (SHA256withRSA).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        // Signing fails only for a wrong buffer size, sized just above.
        let _ = self.key.sign(&RSA_PKCS1_SHA256, &rng, data, &mut sig);
        sig
    }

    /// Write one digest: JSON, gzip, and the signature over its string to sign.
    pub fn digest(&self, spec: &DigestSpec) -> Written {
        let events = |pick: fn(&LogFileEntry) -> Option<&String>, newest: bool| {
            let mut times: Vec<&String> = spec.logs.iter().filter_map(pick).collect();
            times.sort();
            let t = if newest { times.last() } else { times.first() };
            t.map_or(Value::Null, |t| Value::String((*t).clone()))
        };
        let prev = spec.previous.as_ref();
        let logs: Vec<Value> = spec
            .logs
            .iter()
            .map(|l| {
                json!({
                    "s3Bucket": l.s3_bucket,
                    "s3Object": l.s3_object,
                    "hashValue": l.hash_value,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": l.newest_event_time,
                    "oldestEventTime": l.oldest_event_time,
                })
            })
            .collect();
        let doc = json!({
            "awsAccountId": spec.account,
            "digestStartTime": spec.start,
            "digestEndTime": spec.end,
            "digestS3Bucket": spec.bucket,
            "digestS3Object": spec.object,
            "digestPublicKeyFingerprint": self.fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": events(|l| l.newest_event_time.as_ref(), true),
            "oldestEventTime": events(|l| l.oldest_event_time.as_ref(), false),
            "previousDigestS3Bucket": prev.map(|p| p.bucket.clone()),
            "previousDigestS3Object": prev.map(|p| p.object.clone()),
            "previousDigestHashValue": prev.map(|p| p.sha256.clone()),
            "previousDigestHashAlgorithm": prev.map(|_| "SHA-256"),
            "previousDigestSignature": prev.map(|p| p.signature.clone()),
            "logFiles": logs,
        });
        let json = doc.to_string().into_bytes();
        let sha256 = sha256_hex(&json);
        let data = format!(
            "{}\n{}/{}\n{}\n{}",
            spec.end,
            spec.bucket,
            spec.object,
            sha256,
            prev.map_or("null", |p| p.signature.as_str())
        );
        let signature = hex(&self.sign(data.as_bytes()));
        Written {
            gz: gzip(&json),
            json,
            sha256,
            signature,
        }
    }
}

/// Which trail the digests of [`sign_trail`] belong to.
#[derive(Debug, Clone)]
pub struct TrailSpec {
    pub bucket: String,
    pub trail: String,
    pub home_region: String,
}

fn walk_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Parse a log file's delivery stamp (`YYYYMMDDTHHMMZ`) into its hour.
fn delivery_hour(stamp: &str) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(stamp.get(..8)?, "%Y%m%d").ok()?;
    let hour: u32 = stamp.get(9..11)?.parse().ok()?;
    Some(day.and_hms_opt(hour, 0, 0)?.and_utc())
}

/// Write hourly digest files (and `.signature` sidecars) for every log file
/// under `root`, as CloudTrail would have: one chain per account and
/// region, a digest for every hour from the first delivery to the last
/// (empty hours included), each listing the logs delivered in its hour.
/// Returns the digest keys written.
pub fn sign_trail(root: &Path, signer: &Signer, spec: &TrailSpec) -> io::Result<Vec<String>> {
    let mut files = Vec::new();
    walk_files(root, root, &mut files)?;
    files.sort();
    // (org prefix, account, region) -> hour -> logs delivered in it
    type Chain = BTreeMap<DateTime<Utc>, Vec<String>>;
    let mut chains: BTreeMap<(String, String, String), Chain> = BTreeMap::new();
    for key in files {
        let Some(t) = layout::parse_key(&key) else {
            continue;
        };
        if t.kind != ObjectKind::Log || !key.starts_with("AWSLogs/") {
            continue;
        }
        let Some(hour) = t.delivery_stamp.as_deref().and_then(delivery_hour) else {
            continue;
        };
        let org = t.org_id.map(|o| format!("{o}/")).unwrap_or_default();
        chains
            .entry((org, t.account, t.region))
            .or_default()
            .entry(hour)
            .or_default()
            .push(key);
    }
    let mut written_keys = Vec::new();
    for ((org, account, region), hours) in chains {
        let (Some(first), Some(last)) =
            (hours.keys().next().copied(), hours.keys().last().copied())
        else {
            continue;
        };
        let mut previous: Option<Previous> = None;
        let mut hour = first;
        while hour <= last {
            let end = hour + Duration::hours(1);
            let mut logs = Vec::new();
            for key in hours.get(&hour).map(Vec::as_slice).unwrap_or_default() {
                let file = std::fs::File::open(root.join(key))?;
                let Hashed::Ok { sha256, .. } = hash_gzip(file)? else {
                    return Err(io::Error::other(format!("{key} is not a valid gzip file")));
                };
                logs.push(LogFileEntry {
                    s3_bucket: spec.bucket.clone(),
                    s3_object: key.clone(),
                    hash_value: sha256,
                    hash_algorithm: Some("SHA-256".into()),
                    newest_event_time: None,
                    oldest_event_time: None,
                });
            }
            let key = format!(
                "AWSLogs/{org}{account}/CloudTrail-Digest/{region}/{}/{account}_CloudTrail-Digest_{region}_{}_{}_{}.json.gz",
                end.format("%Y/%m/%d"),
                spec.trail,
                spec.home_region,
                end.format("%Y%m%dT%H%M%SZ"),
            );
            let w = signer.digest(&DigestSpec {
                account: account.clone(),
                bucket: spec.bucket.clone(),
                object: key.clone(),
                start: hour.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                end: end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                previous: previous.take(),
                logs,
            });
            let path = root.join(&key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &w.gz)?;
            std::fs::write(root.join(format!("{key}.signature")), &w.signature)?;
            previous = Some(w.as_previous(&spec.bucket, &key));
            written_keys.push(key);
            hour = end;
        }
    }
    Ok(written_keys)
}
