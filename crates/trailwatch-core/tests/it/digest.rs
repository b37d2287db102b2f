//! Digest validation on chains signed with our own key (spec §8): a clean
//! chain is valid, and every way of tampering is caught with the right
//! verdict.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use trailwatch_core::digest::sign::{DigestSpec, Signer, Written, gzip};
use trailwatch_core::digest::{
    DigestStatus, KeyRing, LocalTrail, LogFileEntry, LogStatus, Options, Report, validate,
};

const ACCOUNT: &str = "111122223333";
const BUCKET: &str = "trail-bucket";
const HOURS: usize = 6;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).unwrap()
}

fn signer() -> Signer {
    Signer::from_pkcs8(&fixture("digest-test-key.pk8")).unwrap()
}

fn keys_valid(from: &str, to: &str) -> KeyRing {
    let mut ring = KeyRing::default();
    let rejected = ring
        .add_json(signer().public_keys_json(from, to).as_bytes())
        .unwrap();
    assert!(rejected.is_empty());
    ring
}

fn keys() -> KeyRing {
    keys_valid("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
}

/// A trail written under a temporary root: `HOURS` hourly digests, each
/// listing the two log files delivered in its hour.
struct Trail {
    dir: tempfile::TempDir,
    logs: Vec<String>,
    digests: Vec<String>,
    written: Vec<Written>,
}

fn hour(h: usize) -> String {
    format!("2024-05-01T{h:02}:00:00Z")
}

fn log_key(h: usize, i: usize) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/05/01/{ACCOUNT}_CloudTrail_us-east-1_20240501T{h:02}{:02}Z_f{i}.json.gz",
        10 + 20 * i
    )
}

fn digest_key(h: usize) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2024/05/01/{ACCOUNT}_CloudTrail-Digest_us-east-1_main_us-east-1_20240501T{:02}0000Z.json.gz",
        h + 1
    )
}

fn log_json(h: usize, i: usize) -> Vec<u8> {
    let records: Vec<String> = (0..20)
        .map(|n| {
            format!(
                r#"{{"eventVersion":"1.08","eventTime":"2024-05-01T{h:02}:{:02}:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","eventID":"e-{h}-{i}-{n}","eventType":"AwsApiCall","recipientAccountId":"{ACCOUNT}"}}"#,
                n
            )
        })
        .collect();
    format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes()
}

fn entry(key: &str, json: &[u8]) -> LogFileEntry {
    LogFileEntry {
        s3_bucket: BUCKET.into(),
        s3_object: key.into(),
        hash_value: trailwatch_core::digest::hash::sha256_hex(json),
        hash_algorithm: Some("SHA-256".into()),
        newest_event_time: None,
        oldest_event_time: None,
    }
}

fn write(root: &Path, key: &str, bytes: &[u8]) {
    let p = root.join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Write the trail; `restart_at` makes that hour's digest a starting one.
fn build_with(restart_at: Option<usize>) -> Trail {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let s = signer();
    let mut logs = Vec::new();
    let mut digests: Vec<String> = Vec::new();
    let mut written: Vec<Written> = Vec::new();
    for h in 0..HOURS {
        let mut entries = Vec::new();
        for i in 0..2 {
            let key = log_key(h, i);
            let json = log_json(h, i);
            write(root, &key, &gzip(&json));
            entries.push(entry(&key, &json));
            logs.push(key);
        }
        let key = digest_key(h);
        let previous = match written.last() {
            Some(w) if restart_at != Some(h) => Some(w.as_previous(BUCKET, &digests[h - 1])),
            _ => None,
        };
        let w = s.digest(&DigestSpec {
            account: ACCOUNT.into(),
            bucket: BUCKET.into(),
            object: key.clone(),
            start: hour(h),
            end: hour(h + 1),
            previous,
            logs: entries,
        });
        write(root, &key, &w.gz);
        write(root, &format!("{key}.signature"), w.signature.as_bytes());
        digests.push(key);
        written.push(w);
    }
    Trail {
        dir,
        logs,
        digests,
        written,
    }
}

fn build() -> Trail {
    build_with(None)
}

impl Trail {
    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root().join(key)
    }

    fn check_with(&self, ring: &KeyRing) -> Report {
        validate(&LocalTrail::new(self.root()), ring, &Options::default()).unwrap()
    }

    fn check(&self) -> Report {
        self.check_with(&keys())
    }
}

fn digest_status(r: &Report, key: &str) -> DigestStatus {
    r.digests
        .iter()
        .find(|d| d.key == key)
        .unwrap_or_else(|| panic!("no verdict for {key}: {r:#?}"))
        .status
        .clone()
}

fn log_status(r: &Report, key: &str) -> LogStatus {
    r.logs
        .iter()
        .find(|l| l.key == key)
        .unwrap_or_else(|| panic!("no verdict for {key}"))
        .status
        .clone()
}

/// Everything except the named keys is valid.
fn only_these_fail(r: &Report, digests: &[&str], logs: &[&str]) {
    for d in &r.digests {
        if !digests.contains(&d.key.as_str()) {
            assert_eq!(d.status, DigestStatus::Valid, "{}", d.key);
        }
    }
    for l in &r.logs {
        if !logs.contains(&l.key.as_str()) {
            assert_eq!(l.status, LogStatus::Valid, "{}", l.key);
        }
    }
}

#[test]
fn a_clean_chain_is_valid() {
    let t = build();
    let r = t.check();
    assert!(r.all_valid(), "{r:#?}");
    assert_eq!(r.summary.digests, HOURS);
    assert_eq!(r.summary.digests_valid, HOURS);
    assert_eq!(r.summary.logs, 2 * HOURS);
    assert_eq!(r.summary.logs_valid, 2 * HOURS);
    assert!(r.gaps.is_empty());
    assert!(r.summary.bytes_hashed > 0);
}

#[test]
fn a_modified_log_is_a_hash_mismatch() {
    let t = build();
    let key = &t.logs[3];
    let mut json = log_json(1, 1);
    json[40] ^= 0x01;
    std::fs::write(t.path(key), gzip(&json)).unwrap();
    let r = t.check();
    assert_eq!(log_status(&r, key), LogStatus::HashMismatch);
    only_these_fail(&r, &[], &[key]);
    assert!(!r.all_valid());
}

#[test]
fn a_deleted_log_is_missing_and_an_inserted_one_not_covered() {
    let t = build();
    std::fs::remove_file(t.path(&t.logs[4])).unwrap();
    let inserted = log_key(3, 2);
    write(t.root(), &inserted, &gzip(&log_json(3, 2)));
    let r = t.check();
    assert_eq!(log_status(&r, &t.logs[4]), LogStatus::Missing);
    assert_eq!(log_status(&r, &inserted), LogStatus::NotCovered);
    assert_eq!(r.summary.not_covered, 1);
    only_these_fail(&r, &[], &[&t.logs[4], &inserted]);
}

#[test]
fn log_files_with_no_digest_at_all_are_not_covered() {
    let t = build();
    for d in &t.digests {
        std::fs::remove_file(t.path(d)).unwrap();
        std::fs::remove_file(t.path(&format!("{d}.signature"))).unwrap();
    }
    let r = t.check();
    assert!(!r.all_valid(), "{r:#?}");
    assert_eq!(r.summary.digests, 0);
    assert_eq!(r.summary.not_covered, 2 * HOURS);
    // A window after the logs holds none of them: nothing to vouch for.
    let later = Options {
        start: Some(
            chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        ),
        ..Options::default()
    };
    let r = validate(&LocalTrail::new(t.root()), &keys(), &later).unwrap();
    assert!(r.all_valid(), "{r:#?}");
    assert_eq!(r.summary.logs, 0);
}

#[test]
fn a_log_delivered_after_the_newest_digest_awaits_one() {
    let t = build();
    let later = log_key(HOURS + 1, 0);
    write(t.root(), &later, &gzip(&log_json(HOURS + 1, 0)));
    let r = t.check();
    assert!(r.all_valid());
    assert_eq!(r.summary.awaiting_digest, 1);
}

#[test]
fn trailing_bytes_after_the_gzip_stream_are_caught() {
    let t = build();
    let key = &t.logs[0];
    let mut bytes = std::fs::read(t.path(key)).unwrap();
    bytes.extend_from_slice(b"appended");
    std::fs::write(t.path(key), bytes).unwrap();
    assert_eq!(log_status(&t.check(), key), LogStatus::TrailingData);
}

#[test]
fn a_modified_digest_fails_its_signature() {
    let t = build();
    let key = &t.digests[2];
    // Change one listed hash, as an attacker covering a modified log would.
    let json = String::from_utf8(t.written[2].json.clone()).unwrap();
    let at = json.find("\"hashValue\":\"").unwrap() + 13;
    let mut forged = json.into_bytes();
    forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(t.path(key), gzip(&forged)).unwrap();
    let r = t.check();
    assert_eq!(digest_status(&r, key), DigestStatus::BadSignature);
    // Its successor's hash of it no longer matches either; the successor
    // itself is still authentic, and says so by its own signature.
    assert!(matches!(
        digest_status(&r, &t.digests[3]),
        DigestStatus::BrokenChain(_)
    ));
}

#[test]
fn a_deleted_digest_in_the_middle_is_missing_and_a_gap() {
    let t = build();
    let key = t.digests[2].clone();
    std::fs::remove_file(t.path(&key)).unwrap();
    std::fs::remove_file(t.path(&format!("{key}.signature"))).unwrap();
    let r = t.check();
    assert_eq!(digest_status(&r, &key), DigestStatus::Missing);
    assert_eq!(r.gaps.len(), 1, "{:#?}", r.gaps);
    assert_eq!(r.gaps[0].from, hour(2));
    assert_eq!(r.gaps[0].to, hour(3));
    // The logs only the deleted digest listed are no longer vouched for.
    assert_eq!(log_status(&r, &t.logs[4]), LogStatus::NotCovered);
    only_these_fail(&r, &[&key], &[&t.logs[4], &t.logs[5]]);
}

#[test]
fn a_swapped_signature_is_a_bad_signature() {
    let t = build();
    let key = &t.digests[4];
    std::fs::write(
        t.path(&format!("{key}.signature")),
        t.written[3].signature.as_bytes(),
    )
    .unwrap();
    let r = t.check();
    assert_eq!(digest_status(&r, key), DigestStatus::BadSignature);
    only_these_fail(&r, &[key], &[]);
}

#[test]
fn an_expired_or_unknown_key_is_refused() {
    let t = build();
    let expired = keys_valid("2023-01-01T00:00:00Z", "2024-04-30T00:00:00Z");
    let r = t.check_with(&expired);
    for d in &r.digests {
        assert!(
            matches!(&d.status, DigestStatus::UnknownKey(m) if m.contains("not valid at")),
            "{:?}",
            d.status
        );
    }
    // Logs of digests that cannot be trusted are not hashed.
    assert!(r.logs.is_empty());
    let other = Signer::from_pkcs8(&fixture("digest-other-key.pk8")).unwrap();
    let mut ring = KeyRing::default();
    ring.add_json(
        other
            .public_keys_json("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
            .as_bytes(),
    )
    .unwrap();
    let r = t.check_with(&ring);
    assert!(matches!(
        digest_status(&r, &t.digests[0]),
        DigestStatus::UnknownKey(m) if m.contains("not found")
    ));
}

#[test]
fn a_moved_digest_is_reported_as_moved_and_its_place_as_missing() {
    let t = build();
    let from = t.digests[3].clone();
    let to = from.replace(
        "main_us-east-1_20240501T040000Z",
        "main_us-east-1_20240501T043000Z",
    );
    std::fs::rename(t.path(&from), t.path(&to)).unwrap();
    std::fs::rename(
        t.path(&format!("{from}.signature")),
        t.path(&format!("{to}.signature")),
    )
    .unwrap();
    let r = t.check();
    assert!(matches!(digest_status(&r, &to), DigestStatus::Moved(_)));
    assert_eq!(digest_status(&r, &from), DigestStatus::Missing);
}

#[test]
fn a_chain_that_restarts_is_a_gap_not_a_failure() {
    let t = build_with(Some(3));
    let r = t.check();
    assert!(r.all_valid(), "{r:#?}");
    assert_eq!(r.gaps.len(), 1);
    assert_eq!(
        (r.gaps[0].from.as_str(), r.gaps[0].to.as_str()),
        ("2024-05-01T03:00:00Z", "2024-05-01T03:00:00Z")
    );
    assert!(r.gaps[0].reason.contains("restarts"));
}

#[test]
fn without_sidecars_the_successor_vouches_for_each_digest_but_the_newest() {
    let t = build();
    for key in &t.digests {
        std::fs::remove_file(t.path(&format!("{key}.signature"))).unwrap();
    }
    let r = t.check();
    let newest = t.digests.last().unwrap();
    assert_eq!(digest_status(&r, newest), DigestStatus::NoSignature);
    only_these_fail(
        &r,
        &[newest],
        &[&t.logs[2 * HOURS - 2], &t.logs[2 * HOURS - 1]],
    );
}

/// Sign `data` with OpenSSL (an independent implementation) using the
/// test key and `digest` (sha256, sha1); `None`, visibly, without openssl.
fn openssl_sign(data: &[u8], digest: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tosign");
    std::fs::write(&input, data).unwrap();
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digest-test-key.pk8");
    let out = std::process::Command::new("openssl")
        .args(["dgst", &format!("-{digest}"), "-keyform", "DER", "-sign"])
        .arg(&key)
        .arg(&input)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(o.stdout.iter().map(|b| format!("{b:02x}")).collect()),
        _ => {
            if std::env::var("TRAILWATCH_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
                panic!("openssl is required (TRAILWATCH_REQUIRE_TOOLS=1) but did not run");
            }
            eprintln!("SKIPPED: openssl is not installed; the OpenSSL cross-check needs it");
            None
        }
    }
}

#[test]
fn openssl_signatures_verify_with_sha256_and_are_refused_with_sha1() {
    let t = build();
    let key = &t.digests[1];
    let digest = trailwatch_core::digest::Digest::parse(&t.written[1].json).unwrap();
    let data = trailwatch_core::digest::string_to_sign(&digest, &t.written[1].sha256);
    let Some(sha256) = openssl_sign(data.as_bytes(), "sha256") else {
        return;
    };
    // RSASSA-PKCS1-v1_5 is deterministic: OpenSSL and we agree byte for byte.
    assert_eq!(sha256, t.written[1].signature);
    let sha1 = openssl_sign(data.as_bytes(), "sha1").unwrap();
    std::fs::write(t.path(&format!("{key}.signature")), sha1).unwrap();
    // aws-cli would accept a SHA-1 signature; we insist on SHA-256.
    assert_eq!(digest_status(&t.check(), key), DigestStatus::BadSignature);
}

#[test]
fn spki_public_keys_are_accepted_like_pkcs1_ones() {
    use base64::Engine as _;
    let der = fixture("digest-test-key.spki.der");
    let fp = md5_hex(&der);
    let doc = format!(
        r#"{{"PublicKeyList":[{{"Value":"{}","ValidityStartTime":"2024-01-01T00:00:00Z","ValidityEndTime":"2025-01-01T00:00:00Z","Fingerprint":"{fp}"}}]}}"#,
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let mut ring = KeyRing::default();
    assert!(ring.add_json(doc.as_bytes()).unwrap().is_empty());
    let at = chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let key = ring.find(&fp, at).unwrap();
    let sig = signer().sign(b"hello");
    assert!(trailwatch_core::digest::keys::verify_sha256_rsa(
        key, b"hello", &sig
    ));
    assert!(!trailwatch_core::digest::keys::verify_sha256_rsa(
        key, b"hellO", &sig
    ));
}

/// The decompressed bytes, or None when the stream does not decompress.
fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()
        .map(|_| out)
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn bad_digest_json_is_reported_and_the_run_goes_on() {
    let t = build();
    let key = &t.digests[1];
    std::fs::write(t.path(key), gzip(b"{ not json")).unwrap();
    let key2 = &t.digests[4];
    std::fs::write(t.path(key2), b"not gzip at all").unwrap();
    let r = t.check();
    assert!(matches!(
        digest_status(&r, key),
        DigestStatus::InvalidFormat(_)
    ));
    assert!(matches!(
        digest_status(&r, key2),
        DigestStatus::InvalidFormat(_)
    ));
    assert_eq!(digest_status(&r, &t.digests[0]), DigestStatus::Valid);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Flipping any bit of any byte of any log file's content is caught.
    #[test]
    fn any_single_byte_flip_in_a_log_is_detected(
        file in 0usize..(2 * HOURS),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let t = build();
        let key = &t.logs[file];
        let (h, i) = (file / 2, file % 2);
        let mut json = log_json(h, i);
        let pos = at.index(json.len());
        json[pos] ^= 1 << bit;
        std::fs::write(t.path(key), gzip(&json)).unwrap();
        let r = t.check();
        prop_assert_eq!(log_status(&r, key), LogStatus::HashMismatch);
    }

    /// So is any flip in the compressed bytes after the gzip header (whose
    /// mtime, flags and OS bytes CloudTrail's hash does not cover) that
    /// changes the file's content. CloudTrail hashes the uncompressed log,
    /// so a flip that decompresses to the same bytes (a padding bit after
    /// the last deflate block) is rightly valid and is not a case here.
    #[test]
    fn any_flip_in_the_compressed_stream_is_detected(
        file in 0usize..(2 * HOURS),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let t = build();
        let key = &t.logs[file];
        let mut bytes = std::fs::read(t.path(key)).unwrap();
        let original = gunzip(&bytes);
        let pos = 10 + at.index(bytes.len() - 10);
        bytes[pos] ^= 1 << bit;
        prop_assume!(gunzip(&bytes) != original);
        std::fs::write(t.path(key), &bytes).unwrap();
        let r = t.check();
        prop_assert_ne!(log_status(&r, key), LogStatus::Valid);
    }
}

#[test]
fn a_delivered_digest_is_checked_on_its_own_as_it_lands() {
    use trailwatch_core::digest::check_delivered;
    let t = build();
    let store = LocalTrail::new(t.root());
    let r = check_delivered(&store, &keys(), &t.digests[3]).unwrap();
    assert!(r.all_valid());
    assert_eq!(r.digests.len(), 1);
    assert_eq!(r.digests[0].key, t.digests[3]);
    assert_eq!(r.logs.len(), 2);
    // A tampered log it lists is caught at once.
    std::fs::write(t.path(&t.logs[6]), gzip(b"{\"Records\":[]}")).unwrap();
    let r = check_delivered(&store, &keys(), &t.digests[3]).unwrap();
    assert_eq!(log_status(&r, &t.logs[6]), LogStatus::HashMismatch);
    // Its predecessor deleted: missing, and a gap.
    std::fs::remove_file(t.path(&t.digests[2])).unwrap();
    let r = check_delivered(&store, &keys(), &t.digests[3]).unwrap();
    assert_eq!(digest_status(&r, &t.digests[2]), DigestStatus::Missing);
    assert_eq!(r.gaps.len(), 1);
}

#[test]
fn without_a_sidecar_the_delivered_digest_vouches_for_its_predecessor() {
    use trailwatch_core::digest::check_delivered;
    let t = build();
    for key in &t.digests {
        std::fs::remove_file(t.path(&format!("{key}.signature"))).unwrap();
    }
    let store = LocalTrail::new(t.root());
    let r = check_delivered(&store, &keys(), &t.digests[4]).unwrap();
    assert_eq!(r.digests.len(), 1);
    assert_eq!(r.digests[0].key, t.digests[3]);
    assert!(r.all_valid());
    // A modified predecessor fails the signature its successor recorded.
    let mut json = t.written[3].json.clone();
    let at = json.len() - 3;
    json[at] ^= 1;
    std::fs::write(t.path(&t.digests[3]), gzip(&json)).unwrap();
    let r = check_delivered(&store, &keys(), &t.digests[4]).unwrap();
    assert!(!r.all_valid());
}
