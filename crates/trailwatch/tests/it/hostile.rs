//! Hostile input and unlucky operators, end to end: each test is one class
//! of the hardening pass (issue #12) — odd partition values, unreadable
//! and special files, symlinks, terminal escapes, huge times, quotes in
//! paths, runaway queries, oversized digests, private state.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    bin, duckdb_ddl_file, gzip, have_tool, path_str, python, python_has, run, sample_trail, stderr,
    stdout,
};

/// A record with the given region, account, user agent and eventID.
fn odd_rec(i: usize, region: &str, account: &str, agent: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/u{i}\u{1b}]0;pwned\u{7}"), "accountId": "111122223333"},
        "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "DeleteBucketPolicy",
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": agent,
        "eventID": format!("odd-{i}"),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    })
    .to_string()
}

/// Ingest `src` into the lake at `lake`.
fn ingest(src: &Path, lake: &Path) {
    let out = run(&["ingest", path_str(src), "--lake", path_str(lake)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn no_raw_escapes(text: &[u8], what: &str) {
    for b in [0x1b_u8, 0x07, 0x00, 0x9b] {
        assert!(!text.contains(&b), "{what} printed byte {b:#x}");
    }
}

#[test]
fn odd_partition_values_get_folders_of_their_own_and_keep_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let long = "r".repeat(260);
    let regions = [
        long.as_str(),
        "us/east-1",
        "us_east-1",
        ".",
        "..",
        "us-east-1\u{1}",
        "US-EAST-1",
        "us-east-1",
    ];
    let mut lines: Vec<String> = regions
        .iter()
        .enumerate()
        .map(|(i, r)| odd_rec(i, r, "111122223333", "aws-cli"))
        .collect();
    lines.push(odd_rec(100, "us-east-1", &"9".repeat(300), "aws-cli"));
    let src = dir.path().join("odd.json");
    std::fs::write(&src, lines.join("\n")).unwrap();
    let lake = dir.path().join("lake");
    for _ in 0..2 {
        // Twice: a poison value once failed every rerun too.
        let out = run(&[
            "ingest",
            path_str(&src),
            "--lake",
            path_str(&lake),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(crate::support::lake_event_ids(&lake).len(), lines.len());
    let mut folders = std::collections::BTreeSet::new();
    for f in crate::support::files_under(&lake.join("cloudtrail")) {
        for part in f.strip_prefix(&lake).unwrap().iter() {
            let part = part.to_string_lossy();
            assert!(part.len() <= 100, "{part}");
            if let Some(v) = part.strip_prefix("region=") {
                folders.insert(v.to_string());
            }
        }
    }
    assert_eq!(folders.len(), regions.len(), "{folders:?}");
    let out = run(&[
        "query",
        "--lake",
        path_str(&lake),
        "--format",
        "json",
        "SELECT awsregion, region FROM cloudtrail_logs WHERE recipientaccountid = '111122223333'",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<String> = rows
        .iter()
        .map(|r| r["awsregion"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn record_text_never_reaches_the_terminal_as_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let agent = "curl\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J";
    let lines: Vec<String> = (0..3)
        .map(|i| odd_rec(i, "us-east-1\0", "111122223333", agent))
        .collect();
    let src = dir.path().join("esc.json");
    std::fs::write(&src, lines.join("\n")).unwrap();
    let out = run(&["cat", "--format", "table", path_str(&src)]);
    assert!(out.status.success(), "{}", stderr(&out));
    no_raw_escapes(&out.stdout, "cat --format table");
    assert!(stdout(&out).contains("\\u{0}"), "{}", stdout(&out));
    let out = run(&["detect", "--pack", "all", "--matches", path_str(&src)]);
    no_raw_escapes(&out.stdout, "detect --matches");
    let out = run(&["detect", "--pack", "all", path_str(&src)]);
    no_raw_escapes(&out.stdout, "detect");
    assert!(stdout(&out).contains("\\u{1b}]0;pwned"), "{}", stdout(&out));
    let lake = dir.path().join("lake");
    ingest(&src, &lake);
    let out = run(&[
        "query",
        "--lake",
        path_str(&lake),
        "--format",
        "table",
        "SELECT useragent, awsregion, useridentity.arn FROM cloudtrail_logs",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    no_raw_escapes(&out.stdout, "query --format table");
    assert!(stdout(&out).contains("\\u{1b}]52"), "{}", stdout(&out));
}

#[test]
fn huge_times_are_usage_errors_not_panics() {
    let lake = tempfile::tempdir().unwrap();
    let sample = sample_trail();
    for args in [
        vec!["detect", "--since", "9999999999999h", path_str(&sample)],
        vec!["detect", "--since", "-9999999999999d", path_str(&sample)],
        vec![
            "top",
            "callers",
            "--since",
            "9999999999999h",
            "--lake",
            path_str(lake.path()),
        ],
        vec![
            "verify",
            path_str(&sample),
            "--public-keys",
            path_str(&sample),
            "--start-time",
            "9223372036854775807d",
        ],
        vec![
            "audit",
            "trail",
            "--data",
            path_str(&sample),
            "--min-gap-hours",
            "9223372036854775807",
        ],
        vec![
            "generate",
            "--days",
            "4000000000",
            "--out",
            path_str(lake.path()),
        ],
        vec![
            "watch",
            path_str(&sample),
            "--state",
            path_str(lake.path()),
            "--lateness",
            "9223372036854775807",
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn lake_ddl_escapes_a_quote_in_the_lake_path() {
    if !python_has("duckdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("o'brien/lake");
    ingest(&sample_trail(), &lake);
    for engine in ["athena", "trino", "spark"] {
        let ddl = run(&["lake", "ddl", "--engine", engine, "--lake", path_str(&lake)]);
        let text = stdout(&ddl);
        assert!(!text.contains("o'brien"), "{engine}: {text}");
    }
    let sql = duckdb_ddl_file(&lake);
    let script = r#"
import duckdb, sys
con = duckdb.connect()
con.execute(open(sys.argv[1]).read())
print(con.execute("select count(*) from cloudtrail_logs").fetchone()[0])
"#;
    let out = python(script, &[path_str(&sql)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4000");
}

/// Run trailwatch without the power to read what root can: as `nobody`
/// (through setpriv, with a copy of the binary it can execute) when the
/// tests run as root, else as the user. None when that is not possible.
fn unprivileged(dir: &Path) -> Option<Command> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some(bin());
    }
    if !have_tool(
        Command::new("setpriv").arg("--version"),
        "setpriv (util-linux)",
    ) {
        return None;
    }
    let copy = dir.join("trailwatch");
    if !copy.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_trailwatch"), &copy).ok()?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).ok()?;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(copy);
    Some(cmd)
}

/// Run `args` through [`unprivileged`]. The binary was copied a moment
/// ago: a child that another test forked meanwhile can still hold the
/// copy's write descriptor (until it execs), and exec then fails with
/// "Text file busy", so that is retried.
fn run_unprivileged(dir: &Path, args: &[&str]) -> Output {
    for _ in 0..20 {
        let out = unprivileged(dir).unwrap().args(args).output().unwrap();
        if !stderr(&out).contains("Text file busy") {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the copied binary stayed busy");
}

fn open_up(root: &Path) {
    for e in walkdir::WalkDir::new(root) {
        let e = e.unwrap();
        let mode = if e.file_type().is_dir() { 0o777 } else { 0o644 };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn an_unreadable_file_or_folder_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let bins = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bins.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(_) = unprivileged(bins.path()) else {
        return;
    };
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..4 {
        std::fs::write(src.join(format!("ok{i}.json")), crate::support::rec(i)).unwrap();
    }
    std::fs::write(src.join("sub/hidden.json"), crate::support::rec(10)).unwrap();
    std::fs::write(src.join("locked.json"), crate::support::rec(11)).unwrap();
    open_up(dir.path());
    std::fs::set_permissions(
        src.join("locked.json"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::set_permissions(src.join("sub"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let lake = dir.path().join("lake");
    let out = run_unprivileged(
        bins.path(),
        &[
            "ingest",
            path_str(&src),
            "--lake",
            path_str(&lake),
            "--allow-bad",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["events"], 4, "{summary}");
    assert_eq!(summary["quarantined"], 2, "{summary}");
    let quarantine: String = crate::support::files_under(&lake.join("_quarantine"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        quarantine.contains("locked.json") && quarantine.contains("sub"),
        "{quarantine}"
    );
    assert!(stderr(&out).contains("locked.json"), "{}", stderr(&out));
    let out = run_unprivileged(bins.path(), &["stats", "--format", "json", path_str(&src)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "unreadable input is an input error"
    );
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["events"], 4, "{stats}");
    assert_eq!(stats["files_with_errors"], 2, "{stats}");
    std::fs::set_permissions(src.join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn symlinked_files_and_folders_are_read_and_loops_reported() {
    let sample = sample_trail();
    let staged = tempfile::tempdir().unwrap();
    let all = run(&["stats", "--format", "json", path_str(&sample)]);
    let all: Value = serde_json::from_slice(&all.stdout).unwrap();
    // A folder of links: one to the whole AWSLogs tree, one loop.
    std::os::unix::fs::symlink(sample.join("AWSLogs"), staged.path().join("AWSLogs")).unwrap();
    std::os::unix::fs::symlink(staged.path(), staged.path().join("AWSLogs-loop")).unwrap();
    let out = run(&["stats", "--format", "json", path_str(staged.path())]);
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["events"], all["events"], "{got}");
    assert_eq!(got["files"], all["files"], "{got}");
    assert!(stderr(&out).contains("loop"), "{}", stderr(&out));
    // Links to single files.
    let files = tempfile::tempdir().unwrap();
    let mut n = 0;
    for f in crate::support::files_under(&sample.join("AWSLogs"))
        .iter()
        .take(5)
    {
        std::os::unix::fs::symlink(f, files.path().join(f.file_name().unwrap())).unwrap();
        n += 1;
    }
    let out = run(&["stats", "--format", "json", path_str(files.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["files"], n, "{got}");
}

fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_query_timeout_stops_any_statement_and_fifos_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest(&sample_trail(), &lake);
    let started = Instant::now();
    let child = bin()
        .args(["query", "--lake", path_str(&lake), "--timeout", "3"])
        .arg("SELECT max(a.eventid || b.eventid || c.eventid) FROM cloudtrail_logs a, cloudtrail_logs b, cloudtrail_logs c")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("3s") || stderr(&out).contains("time"),
        "{}",
        stderr(&out)
    );

    // A raw table over a folder holding a FIFO reads the files beside it.
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(raw.join("a.json"), gzip(crate::support::rec(1).as_bytes())).unwrap();
    let made = Command::new("mkfifo").arg(raw.join("b.json")).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: mkfifo is not available");
        return;
    }
    let ddl = format!(
        "CREATE EXTERNAL TABLE t (eventID STRING) ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe' LOCATION '{}'; SELECT count(*) AS n FROM t",
        path_str(&raw)
    );
    let child = bin()
        .args([
            "query",
            "--lake",
            path_str(&lake),
            "--timeout",
            "20",
            "--format",
            "csv",
            &ddl,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_deadline(child, Duration::from_secs(40));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "n\n1");
}

#[test]
fn verify_memory_stays_bounded_whatever_a_digest_file_holds() {
    if !have_tool(Command::new("python3").arg("--version"), "python3") {
        return;
    }
    let signed = tempfile::tempdir().unwrap();
    let key = crate::support::repo_root().join("examples/keys/demo-signing-key.pk8");
    let made = run(&[
        "generate",
        "-q",
        "--events",
        "600",
        "--days",
        "1",
        "--out",
        path_str(signed.path()),
        "--signing-key",
        path_str(&key),
    ]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let digest_dir: PathBuf = crate::support::files_under(signed.path())
        .into_iter()
        .find(|p| path_str(p).contains("CloudTrail-Digest"))
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    // A digest replaced by 1 GiB (sparse) of something else.
    let big: PathBuf = crate::support::files_under(&digest_dir)
        .into_iter()
        .find(|p| path_str(p).ends_with(".json.gz"))
        .unwrap();
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    let keys = crate::support::files_under(signed.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "public-keys.json"))
        .unwrap();
    let script = r#"
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(p.stdout.decode(errors="replace"))
"#;
    let out = python(
        script,
        &[
            env!("CARGO_BIN_EXE_trailwatch"),
            "verify",
            path_str(signed.path()),
            "--public-keys",
            path_str(&keys),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let code: i32 = parts.next().unwrap().parse().unwrap();
    let rss_kb: u64 = parts.next().unwrap().parse().unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, 1, "the oversized digest is invalid: {report}");
    assert!(report.contains("larger than"), "{report}");
    assert!(rss_kb < 300 * 1024, "peak RSS {rss_kb} KiB");
}

#[test]
fn a_broken_checkpoint_is_refused_naming_the_file_and_state_is_private() {
    let state = tempfile::tempdir().unwrap();
    let watched = tempfile::tempdir().unwrap();
    let st = state.path().join("state");
    std::fs::create_dir_all(&st).unwrap();
    std::fs::write(st.join("checkpoint.json"), b"{\"processed\": [").unwrap();
    let out = run(&["watch", path_str(watched.path()), "--state", path_str(&st)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(path_str(&st.join("checkpoint.json"))),
        "{}",
        stderr(&out)
    );

    // A fresh state folder and output are the owner's alone.
    let fresh = state.path().join("fresh/state");
    let output = state.path().join("alerts.ndjson");
    let mut child = bin()
        .args([
            "watch",
            "-q",
            path_str(&sample_trail()),
            "--state",
            path_str(&fresh),
        ])
        .args(["--output", path_str(&output), "--poll-ms", "100"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fresh.join("checkpoint.json").exists() {
        assert!(Instant::now() < deadline, "no checkpoint written");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("checkpoint.json")), 0o600);
    assert_eq!(mode(&output), 0o600);
}
