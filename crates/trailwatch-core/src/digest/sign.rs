//! Writing signed digest files the way CloudTrail does (`digest-validation.md`
//! §8), with a key of one's own: for tests, and for the sample trail, so
//! that `verify` has a real chain to check. Signatures are RSASSA-PKCS1-v1_5
//! with SHA-256, which is deterministic: the same inputs give the same bytes.

use std::io::Write;

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest as _, Md5};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use super::hash::{hex, sha256_hex};
use super::model::LogFileEntry;

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
    pub fn from_pkcs8(der: &[u8]) -> Result<Signer, String> {
        let key = RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
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
