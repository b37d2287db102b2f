//! `trailwatch verify` on a generated, signed trail: local copies and a
//! real S3-compatible server (moto), where signatures live in object
//! metadata; and `verify fetch-signatures`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{
    bin, files_under, moto_with_boto3, path_str, python, repo_root, run, s3_env, stderr, stdout,
};

fn signing_key() -> PathBuf {
    repo_root().join("examples/keys/demo-signing-key.pk8")
}

/// A small signed trail: logs, hourly digests, sidecars, public-keys.json.
fn signed_trail() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "generate",
        "-q",
        "--events",
        "1200",
        "--days",
        "2",
        "--out",
        path_str(dir.path()),
        "--signing-key",
        path_str(&signing_key()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

fn verify(root: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let keys = root.join("public-keys.json");
    let mut args = vec!["verify", path_str(root), "--public-keys", path_str(&keys)];
    args.extend_from_slice(extra);
    let out = run(&args);
    (out.status.code(), stdout(&out))
}

fn logs(root: &Path) -> Vec<PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.contains("/CloudTrail/") && s.ends_with(".json.gz")
        })
        .collect()
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn a_clean_signed_trail_verifies_and_tampering_exits_1_with_the_verdict() {
    let t = signed_trail();
    let root = t.path();
    let (code, text) = verify(root, &[]);
    assert_eq!(code, Some(0), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.contains("(0 invalid, 0 missing)"), "{last}");
    assert!(last.contains("0 not covered"), "{last}");
    // Insert a log (a copy of one under another name) and delete another.
    let files = logs(root);
    let inserted = files[0].with_file_name(
        files[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json.gz", "X.json.gz")
            .replace("Z_", "Z_zz"),
    );
    std::fs::copy(&files[0], &inserted).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    let (code, json) = verify(root, &["--format", "json"]);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(&json).unwrap();
    let status_of = |key: &str| {
        report["logs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == key)
            .map(|l| l["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of(&rel(root, &files[1])).as_deref(), Some("missing"));
    assert_eq!(
        status_of(&rel(root, &inserted)).as_deref(),
        Some("not_covered")
    );
    assert_eq!(report["summary"]["not_covered"], 1);
    assert_eq!(report["summary"]["gaps"], 0);
}

#[test]
fn verify_needs_keys_and_a_folder() {
    let out = run(&[
        "verify",
        "/nonexistent-trail",
        "--public-keys",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let t = signed_trail();
    let out = bin()
        .args(["verify", path_str(t.path())])
        .env_remove("TRAILWATCH_PUBLIC_KEYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--public-keys"), "{}", stderr(&out));
}

const S3_PUT_SIGNED: &str = r#"
import boto3, os, sys
endpoint, bucket, root = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket=bucket)
for dirpath, _, files in os.walk(os.path.join(root, "AWSLogs")):
    for f in files:
        if f.endswith(".signature"):
            continue
        p = os.path.join(dirpath, f)
        extra = {}
        if os.path.exists(p + ".signature"):
            sig = open(p + ".signature").read().strip()
            extra = {"Metadata": {"signature": sig, "signature-algorithm": "SHA256withRSA"}}
        s3.upload_file(p, bucket, os.path.relpath(p, root), ExtraArgs=extra)
"#;

const S3_TAMPER: &str = r#"
import boto3, sys, gzip
endpoint, bucket, key = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body.replace(b"eventTime", b"eventTimf", 1)))
"#;

#[test]
fn s3_digests_are_checked_with_their_metadata_signatures() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let t = signed_trail();
    let root = t.path();
    let keys = root.join("public-keys.json");
    // Where the digests say they were written, and a copy elsewhere.
    for bucket in ["trailwatch-sample-trail", "elsewhere"] {
        let put = python(S3_PUT_SIGNED, &[&endpoint, bucket, path_str(root)]);
        assert!(
            put.status.success(),
            "{}",
            String::from_utf8_lossy(&put.stderr)
        );
    }
    let verify_s3 = |url: &str| {
        let out = s3_env(&mut bin())
            .args(["verify", "--endpoint-url", &endpoint, "--public-keys"])
            .arg(&keys)
            .arg(url)
            .output()
            .unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, text, err) = verify_s3("s3://trailwatch-sample-trail/");
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("(0 invalid, 0 missing)"),
        "{text}"
    );
    // A copy in another bucket: every digest "has been moved".
    let (code, text, _) = verify_s3("s3://elsewhere/");
    assert_eq!(code, Some(1));
    assert!(
        text.contains("has been moved from its original location"),
        "{text}"
    );

    // fetch-signatures saves the metadata signatures as sidecars that match
    // the ones the trail was signed with.
    let local = tempfile::tempdir().unwrap();
    let out = s3_env(&mut bin())
        .args([
            "verify",
            "fetch-signatures",
            "--endpoint-url",
            &endpoint,
            "s3://trailwatch-sample-trail/",
            path_str(local.path()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut fetched = 0;
    for f in files_under(local.path()) {
        let r = rel(local.path(), &f);
        let original = std::fs::read_to_string(root.join(&r)).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap().trim(), original.trim());
        fetched += 1;
    }
    assert!(fetched > 20, "{fetched}");

    // Tamper with one log object in place: caught through S3 too.
    let victim = rel(root, &logs(root)[2]);
    let tamper = python(S3_TAMPER, &[&endpoint, "trailwatch-sample-trail", &victim]);
    assert!(
        tamper.status.success(),
        "{}",
        String::from_utf8_lossy(&tamper.stderr)
    );
    let (code, text, _) = verify_s3("s3://trailwatch-sample-trail/");
    assert_eq!(code, Some(1));
    assert!(
        text.lines()
            .any(|l| l.contains(&victim) && l.contains("hash value doesn't match")),
        "{text}"
    );
}
