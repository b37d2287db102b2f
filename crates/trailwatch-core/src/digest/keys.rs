//! CloudTrail's public keys, as `aws cloudtrail list-public-keys` prints
//! them (`digest-validation.md` §4): base64 DER, PKCS#1 or SPKI, each used
//! only when the MD5 of its DER equals its fingerprint, and chosen by
//! fingerprint and validity time.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use md5::{Digest as _, Md5};
use serde::Deserialize;

/// How far outside its validity a key is still accepted: digests are
/// delivered up to an hour after the period they cover, and aws-cli loads
/// keys for two hours past the end of the range it validates.
pub const ROTATION_TOLERANCE_HOURS: i64 = 2;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedKey {
    value: String,
    #[serde(default)]
    validity_start_time: Option<String>,
    #[serde(default)]
    validity_end_time: Option<String>,
    fingerprint: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyList {
    public_key_list: Vec<ListedKey>,
}

/// A usable public key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub fingerprint: String,
    /// PKCS#1 `RSAPublicKey` DER (SPKI keys are unwrapped to it).
    pub pkcs1_der: Vec<u8>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// Why a listed key was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not valid JSON of `aws cloudtrail list-public-keys`: {0}")]
    Format(String),
    #[error("key {fingerprint}: Value is not base64")]
    Base64 { fingerprint: String },
    #[error("key {fingerprint}: the MD5 of its DER is {actual}, not its fingerprint")]
    Fingerprint { fingerprint: String, actual: String },
    #[error("key {fingerprint}: neither PKCS#1 nor SPKI RSA DER")]
    Der { fingerprint: String },
}

/// Why no key could check a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    #[error("public key not found for fingerprint {0}")]
    NotFound(String),
    #[error("public key {fingerprint} is not valid at {at} (valid {from} to {to})")]
    Expired {
        fingerprint: String,
        at: String,
        from: String,
        to: String,
    },
}

fn time(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Read one DER length at `pos`; returns (length, position after it).
fn der_len(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let first = *b.get(pos)?;
    if first < 0x80 {
        return Some((first as usize, pos + 1));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *b.get(pos + 1 + i)? as usize;
    }
    Some((len, pos + 1 + n))
}

/// Read a DER element of `tag` at `pos`; returns (content range, end).
fn der_element(b: &[u8], pos: usize, tag: u8) -> Option<(std::ops::Range<usize>, usize)> {
    if *b.get(pos)? != tag {
        return None;
    }
    let (len, start) = der_len(b, pos + 1)?;
    let end = start.checked_add(len)?;
    (end <= b.len()).then_some((start..end, end))
}

/// The PKCS#1 `RSAPublicKey` inside DER that is either that already
/// (`SEQUENCE { INTEGER n, INTEGER e }`) or an X.509 SubjectPublicKeyInfo
/// (`SEQUENCE { SEQUENCE { algorithm }, BIT STRING { 0, RSAPublicKey } }`).
/// Only the outer structure is walked; ring parses the key itself.
pub fn pkcs1_of(der: &[u8]) -> Option<Vec<u8>> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    let (outer, end) = der_element(der, 0, SEQUENCE)?;
    if end != der.len() {
        return None;
    }
    match *der.get(outer.start)? {
        INTEGER => Some(der.to_vec()),
        SEQUENCE => {
            let (_, after_alg) = der_element(der, outer.start, SEQUENCE)?;
            let (bits, _) = der_element(der, after_alg, BIT_STRING)?;
            // The first content byte counts unused bits; it must be 0.
            if der.get(bits.start)? != &0 {
                return None;
            }
            let inner = &der[bits.start + 1..bits.end];
            let (seq, inner_end) = der_element(inner, 0, SEQUENCE)?;
            (inner_end == inner.len() && inner.get(seq.start) == Some(&INTEGER))
                .then(|| inner.to_vec())
        }
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys to check digests with.
#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    keys: Vec<PublicKey>,
}

impl KeyRing {
    /// Add the keys of one `list-public-keys` JSON document. Keys that fail
    /// their checks are left out and returned, so the caller can report them.
    pub fn add_json(&mut self, text: &[u8]) -> Result<Vec<KeyError>, KeyError> {
        let list: KeyList =
            serde_json::from_slice(text).map_err(|e| KeyError::Format(e.to_string()))?;
        let mut rejected = Vec::new();
        for k in list.public_key_list {
            match Self::check(&k) {
                Ok(key) => self.keys.push(key),
                Err(e) => rejected.push(e),
            }
        }
        Ok(rejected)
    }

    fn check(k: &ListedKey) -> Result<PublicKey, KeyError> {
        let fingerprint = k.fingerprint.to_ascii_lowercase();
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut der = b64.decode(k.value.trim()).map_err(|_| KeyError::Base64 {
            fingerprint: fingerprint.clone(),
        })?;
        // An SDK may hand over base64 text of the DER once more (§4).
        if !der.is_empty()
            && der
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
            && let Ok(inner) = b64.decode(&der)
        {
            der = inner;
        }
        let actual = hex(&Md5::digest(&der));
        if actual != fingerprint {
            return Err(KeyError::Fingerprint {
                fingerprint,
                actual,
            });
        }
        let pkcs1_der = pkcs1_of(&der).ok_or_else(|| KeyError::Der {
            fingerprint: fingerprint.clone(),
        })?;
        Ok(PublicKey {
            fingerprint,
            pkcs1_der,
            valid_from: time(&k.validity_start_time),
            valid_to: time(&k.validity_end_time),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this fingerprint that was valid at `at` (within the
    /// rotation tolerance).
    pub fn find(&self, fingerprint: &str, at: DateTime<Utc>) -> Result<&PublicKey, KeyLookupError> {
        let fp = fingerprint.to_ascii_lowercase();
        let tolerance = Duration::hours(ROTATION_TOLERANCE_HOURS);
        let mut seen = None;
        for k in self.keys.iter().filter(|k| k.fingerprint == fp) {
            let after_start = k.valid_from.is_none_or(|f| at >= f - tolerance);
            let before_end = k.valid_to.is_none_or(|t| at <= t + tolerance);
            if after_start && before_end {
                return Ok(k);
            }
            seen = Some(k);
        }
        let show = |t: Option<DateTime<Utc>>| t.map_or("-".to_string(), |t| t.to_rfc3339());
        match seen {
            Some(k) => Err(KeyLookupError::Expired {
                fingerprint: fp,
                at: at.to_rfc3339(),
                from: show(k.valid_from),
                to: show(k.valid_to),
            }),
            None => Err(KeyLookupError::NotFound(fp)),
        }
    }
}

/// Verify an RSASSA-PKCS1-v1_5 signature with SHA-256 (only: a signature
/// made with another hash fails, unlike in aws-cli).
pub fn verify_sha256_rsa(key: &PublicKey, data: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &key.pkcs1_der,
    )
    .verify(data, signature)
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_bad_structures_are_handled() {
        assert_eq!(der_len(&[0x05], 0), Some((5, 1)));
        assert_eq!(der_len(&[0x82, 0x01, 0x0a], 0), Some((266, 3)));
        assert_eq!(der_len(&[0x80], 0), None);
        assert!(pkcs1_of(&[]).is_none());
        assert!(pkcs1_of(&[0x30, 0x05, 0x02]).is_none());
        assert!(pkcs1_of(&[0x04, 0x00]).is_none());
        // SEQUENCE { INTEGER 5, INTEGER 3 } is taken as PKCS#1 as it is.
        let tiny = [0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03];
        assert_eq!(pkcs1_of(&tiny).unwrap(), tiny.to_vec());
        // The same wrapped as SPKI unwraps to it.
        let mut spki = vec![0x30, 0x12, 0x30, 0x05, 0x06, 0x01, 0x2a, 0x05, 0x00];
        spki.extend([0x03, 0x09, 0x00]);
        spki.extend(tiny);
        assert_eq!(pkcs1_of(&spki).unwrap(), tiny.to_vec());
    }

    #[test]
    fn keys_with_a_wrong_fingerprint_or_bad_base64_are_rejected() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03];
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let fp = hex(&Md5::digest(der));
        let json = format!(
            r#"{{"PublicKeyList":[
              {{"Value":"{b64}","Fingerprint":"{fp}","ValidityStartTime":"2024-01-01T00:00:00Z","ValidityEndTime":"2024-02-01T00:00:00Z"}},
              {{"Value":"{b64}","Fingerprint":"00000000000000000000000000000000"}},
              {{"Value":"@@@","Fingerprint":"{fp}"}}]}}"#
        );
        let mut ring = KeyRing::default();
        let rejected = ring.add_json(json.as_bytes()).unwrap();
        assert_eq!(ring.len(), 1);
        assert_eq!(rejected.len(), 2);
        assert!(matches!(rejected[0], KeyError::Fingerprint { .. }));
        assert!(matches!(rejected[1], KeyError::Base64 { .. }));
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(ring.find(&fp, at("2024-01-15T00:00:00Z")).is_ok());
        // Two hours of tolerance around the validity period, no more.
        assert!(ring.find(&fp, at("2024-02-01T01:59:00Z")).is_ok());
        assert!(matches!(
            ring.find(&fp, at("2024-02-01T03:00:00Z")),
            Err(KeyLookupError::Expired { .. })
        ));
        assert!(matches!(
            ring.find("ffff", at("2024-01-15T00:00:00Z")),
            Err(KeyLookupError::NotFound(_))
        ));
        assert!(ring.add_json(b"{}").is_err());
    }
}
