//! The digest file (`digest-validation.md` §1–3): its JSON fields, what its
//! key says, and the exact string CloudTrail signs.

use serde::Deserialize;

/// One log file a digest vouches for.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    pub s3_bucket: String,
    pub s3_object: String,
    /// Lowercase hex SHA-256 of the decompressed log file.
    pub hash_value: String,
    #[serde(default)]
    pub hash_algorithm: Option<String>,
    #[serde(default)]
    pub newest_event_time: Option<String>,
    #[serde(default)]
    pub oldest_event_time: Option<String>,
}

/// A digest file's JSON. Fields the validator needs are required; a digest
/// without them is reported as invalid, never guessed at.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    #[serde(default)]
    pub aws_account_id: Option<String>,
    pub digest_start_time: String,
    pub digest_end_time: String,
    #[serde(rename = "digestS3Bucket")]
    pub digest_s3_bucket: String,
    #[serde(rename = "digestS3Object")]
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    #[serde(default, rename = "previousDigestS3Bucket")]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default, rename = "previousDigestS3Object")]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    /// JSON null in a starting digest.
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

impl Digest {
    /// Parse the uncompressed digest bytes.
    pub fn parse(bytes: &[u8]) -> Result<Digest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The previous digest's location, when this is not a starting digest.
    pub fn previous(&self) -> Option<(&str, &str)> {
        match (
            &self.previous_digest_s3_bucket,
            &self.previous_digest_s3_object,
        ) {
            (Some(b), Some(o)) => Some((b, o)),
            _ => None,
        }
    }
}

/// The data CloudTrail signs: four lines, no trailing newline (§3).
pub fn string_to_sign(d: &Digest, digest_sha256_hex: &str) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        d.digest_end_time,
        d.digest_s3_bucket,
        d.digest_s3_object,
        digest_sha256_hex,
        d.previous_digest_signature.as_deref().unwrap_or("null")
    )
}

/// What a digest's key says: which chain it belongs to and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DigestName {
    pub account: String,
    /// The region whose logs the digest covers.
    pub region: String,
    pub trail: String,
    pub home_region: String,
    /// `digestEndTime` as `YYYYMMDDTHHMMSSZ`; sorts as time.
    pub stamp: String,
    pub backfill: bool,
}

impl DigestName {
    /// Parse a digest key or file name:
    /// `<acct>_CloudTrail-Digest_<region>_<trail>_<home>_<stamp>[_backfill].json.gz`.
    pub fn parse(key: &str) -> Option<DigestName> {
        let file = key.rsplit('/').next()?;
        let stem = file
            .strip_suffix(".json.gz")
            .or_else(|| file.strip_suffix(".json"))?;
        let (stem, backfill) = match stem.strip_suffix("_backfill") {
            Some(s) => (s, true),
            None => (stem, false),
        };
        let (rest, stamp) = stem.rsplit_once('_')?;
        let valid_stamp = stamp.len() == 16
            && stamp.as_bytes()[8] == b'T'
            && stamp.ends_with('Z')
            && stamp[..8].bytes().all(|b| b.is_ascii_digit())
            && stamp[9..15].bytes().all(|b| b.is_ascii_digit());
        if !valid_stamp {
            return None;
        }
        let (account, rest) = rest.split_once("_CloudTrail-Digest_")?;
        // An organization trail's files may carry the org id before the account.
        let account = account.rsplit('_').next()?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (region, rest) = rest.split_once('_')?;
        let (trail, home_region) = rest.rsplit_once('_')?;
        Some(DigestName {
            account: account.into(),
            region: region.into(),
            trail: trail.into(),
            home_region: home_region.into(),
            stamp: stamp.into(),
            backfill,
        })
    }

    /// The chain this digest belongs to: one per account, region and trail.
    pub fn chain(&self) -> (String, String, String, String) {
        (
            self.account.clone(),
            self.region.clone(),
            self.trail.clone(),
            self.home_region.clone(),
        )
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` as the `YYYYMMDDTHHMMSSZ` stamp of key names.
pub fn stamp_of(time: &str) -> String {
    time.chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// The part of a key from `AWSLogs/` on: where an object sits relative to
/// the trail's root, whatever bucket prefix or local folder holds it.
pub fn trail_relative(key: &str) -> &str {
    if key.starts_with("AWSLogs/") {
        return key;
    }
    match key.find("/AWSLogs/") {
        Some(i) => &key[i + 1..],
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_matches_the_cli_fixture() {
        // The aws-cli unit test's fixture (spec §3).
        let d = Digest {
            aws_account_id: None,
            digest_start_time: String::new(),
            digest_end_time: "a".into(),
            digest_s3_bucket: "b".into(),
            digest_s3_object: "c".into(),
            digest_public_key_fingerprint: String::new(),
            digest_signature_algorithm: None,
            previous_digest_s3_bucket: None,
            previous_digest_s3_object: None,
            previous_digest_hash_value: None,
            previous_digest_signature: None,
            log_files: Vec::new(),
        };
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(string_to_sign(&d, abc), format!("a\nb/c\n{abc}\nnull"));
    }

    #[test]
    fn digest_names_give_their_chain_and_time() {
        let n = DigestName::parse("AWSLogs/o-abc/111122223333/CloudTrail-Digest/eu-west-1/2024/05/01/111122223333_CloudTrail-Digest_eu-west-1_org_trail_us-east-1_20240501T010000Z.json.gz").unwrap();
        assert_eq!(n.account, "111122223333");
        assert_eq!(n.region, "eu-west-1");
        assert_eq!(n.trail, "org_trail");
        assert_eq!(n.home_region, "us-east-1");
        assert_eq!(n.stamp, "20240501T010000Z");
        assert!(!n.backfill);
        let b = DigestName::parse(
            "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T010000Z_backfill.json.gz",
        )
        .unwrap();
        assert!(b.backfill);
        assert!(
            DigestName::parse("111122223333_CloudTrail_us-east-1_20240501T0100Z_x.json.gz")
                .is_none()
        );
        assert_eq!(stamp_of("2024-05-01T01:00:00Z"), "20240501T010000Z");
        assert_eq!(trail_relative("p/q/AWSLogs/1/x"), "AWSLogs/1/x");
    }

    #[test]
    fn a_digest_without_required_fields_is_an_error() {
        assert!(Digest::parse(br#"{"digestEndTime":"x"}"#).is_err());
    }
}
