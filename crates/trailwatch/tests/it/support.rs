//! Running the binary and finding test data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
}

/// Run with arguments; returns the finished process output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("trailwatch runs")
}

/// Run with bytes on stdin.
pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trailwatch starts");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("trailwatch finishes")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn sample_trail() -> PathBuf {
    repo_root().join("examples/sample-trail")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `../shared` beside the repository, if present. When absent, tests that
/// need it skip with a visible message unless `TRAILWATCH_REQUIRE_SHARED=1`
/// (set by `.ci/run`) turns the skip into a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("TRAILWATCH_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("../shared is required (TRAILWATCH_REQUIRE_SHARED=1) but {dir:?} is missing");
    }
    eprintln!("SKIPPED: ../shared not found at {dir:?}; corpus tests did not run");
    None
}

/// A valid record whose eventID is `id-<i>`.
pub fn rec(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{i}","accountId":"111122223333"}},"eventTime":"2024-05-01T12:00:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","requestParameters":null,"responseElements":null,"eventID":"id-{i}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#,
        i % 60
    )
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("in-memory");
    enc.finish().expect("in-memory")
}

/// Every eventID stored in a local lake, with multiplicity, sorted.
pub fn lake_event_ids(lake: &Path) -> Vec<String> {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut ids = Vec::new();
    let table = lake.join("cloudtrail");
    if !table.exists() {
        return ids;
    }
    for entry in walkdir::WalkDir::new(table) {
        let entry = entry.expect("walk lake");
        if entry.path().extension().is_none_or(|x| x != "parquet") {
            continue;
        }
        let file = std::fs::File::open(entry.path()).expect("open parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let col = batch
                .column_by_name("eventid")
                .expect("eventid")
                .as_string::<i32>();
            for i in 0..col.len() {
                ids.push(col.value(i).to_string());
            }
        }
    }
    ids.sort();
    ids
}

/// Every eventID in a trail, decoded with `trailwatch cat`, sorted.
pub fn source_event_ids(src: &Path) -> Vec<String> {
    let out = run(&["cat", path_str(src)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["eventID"].as_str().expect("eventID").to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// Whether an external tool the tests use is present. Missing tools skip
/// the test visibly, unless `TRAILWATCH_REQUIRE_TOOLS=1` (set by `.ci/run`,
/// which installs them) turns that into a failure.
pub fn have_tool(check: &mut Command, what: &str) -> bool {
    let ok = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("TRAILWATCH_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("{what} is required (TRAILWATCH_REQUIRE_TOOLS=1) but is not installed");
        }
        eprintln!("SKIPPED: {what} is not installed; install it (see .ci/run) to run this test");
    }
    ok
}

pub fn python_has(module: &str) -> bool {
    have_tool(
        Command::new("python3").args(["-c", &format!("import {module}")]),
        &format!("python3 module {module}"),
    )
}
