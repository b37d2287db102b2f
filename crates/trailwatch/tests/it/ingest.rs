//! `trailwatch ingest`: idempotent, deduplicated, quarantining, and exactly
//! once across kill -9 at any moment.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    bin, generate_into, lake_event_ids, path_str, rec, run, sample_trail, shared_dir,
    source_event_ids, stderr,
};

fn ingest_json(src: &str, lake: &Path, extra: &[&str]) -> (Value, std::process::Output) {
    let mut args = vec!["ingest", "--json", "--lake", path_str(lake), src];
    args.extend_from_slice(extra);
    let out = run(&args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ingest JSON: {e}; stderr: {}", stderr(&out)));
    (v, out)
}

#[test]
fn ingesting_the_sample_twice_stores_each_event_once() {
    let lake = tempfile::tempdir().expect("tempdir");
    let trail = sample_trail();
    let (v, out) = ingest_json(path_str(&trail), lake.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["files"], 72);
    assert_eq!(v["events"], 4000);
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["quarantined"], 0);
    let (again, out) = ingest_json(path_str(&trail), lake.path(), &[]);
    assert!(out.status.success());
    assert_eq!(again["events"], 0);
    assert_eq!(again["files_already_ingested"], 72);
    assert_eq!(lake_event_ids(lake.path()), source_event_ids(&trail));
    // Hive layout, partitioned by the event's own date.
    assert!(
        lake.path()
            .join("cloudtrail/account=111111111111/region=us-east-1/date=2026-04-01")
            .is_dir()
    );
    assert!(
        !lake.path().join("_staging").exists(),
        "no staging debris after a clean run"
    );
}

#[test]
fn one_event_in_two_files_is_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!("{{\"Records\":[{},{}]}}", rec(1), rec(2));
    std::fs::write(dir.path().join("a.json"), &body).expect("write");
    std::fs::write(
        dir.path().join("b.json"),
        format!("{}\n{}\n", rec(2), rec(3)),
    )
    .expect("write");
    let lake = tempfile::tempdir().expect("tempdir");
    let (v, out) = ingest_json(path_str(dir.path()), lake.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (v["events"].as_u64(), v["duplicates"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(lake_event_ids(lake.path()), vec!["id-1", "id-2", "id-3"]);
}

#[test]
fn undecodable_records_are_quarantined_with_reason_source_and_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = rec(2).replace(r#""eventTime":"2024-05-01T12:00:02Z""#, r#""eventTime":7"#);
    let body = format!("{{\"Records\":[{},{bad},{}]}}", rec(1), rec(3));
    let file = dir.path().join("mixed.json");
    std::fs::write(&file, &body).expect("write");
    let lake = tempfile::tempdir().expect("tempdir");
    let (v, out) = ingest_json(path_str(dir.path()), lake.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "quarantine makes the exit non-zero"
    );
    assert_eq!(
        (v["events"].as_u64(), v["quarantined"].as_u64()),
        (Some(2), Some(1))
    );
    let qdir = lake.path().join("_quarantine");
    let entries: Vec<_> = std::fs::read_dir(&qdir).expect("quarantine dir").collect();
    assert_eq!(entries.len(), 1);
    let text = std::fs::read_to_string(entries[0].as_ref().expect("entry").path()).expect("read");
    let q: Value = serde_json::from_str(text.trim()).expect("one JSON line");
    let abs = std::fs::canonicalize(&file).expect("abs");
    assert_eq!(q["source"], abs.display().to_string());
    assert_eq!(q["record"], 1);
    assert_eq!(q["offset"].as_u64(), body.find(&bad).map(|o| o as u64));
    assert!(
        q["reason"]
            .as_str()
            .expect("reason")
            .ends_with("expected a string at eventTime")
    );
    assert_eq!(q["raw"], bad);
    // --allow-bad: the same situation exits 0.
    let lake2 = tempfile::tempdir().expect("tempdir");
    let (_, out) = ingest_json(path_str(dir.path()), lake2.path(), &["--allow-bad"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn stdin_is_ingested() {
    let lake = tempfile::tempdir().expect("tempdir");
    let out = crate::support::run_stdin(
        &["ingest", "--json", "--lake", path_str(lake.path()), "-"],
        format!("{}\n{}\n", rec(5), rec(6)).as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lake_event_ids(lake.path()), vec!["id-5", "id-6"]);
}

/// Deterministic pseudo-random delays, so a failure can be replayed.
fn delays(n: usize, seed: u64, max_ms: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % max_ms
        })
        .collect()
}

fn kill_after(args: &[&str], ms: u64) {
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(ms));
    // SIGKILL on Unix: no chance to clean up.
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn kill_9_at_random_moments_neither_loses_nor_duplicates_events() {
    let trail = tempfile::tempdir().expect("tempdir");
    generate_into(trail.path(), 30000, 3, 9, &[]);
    let lake = tempfile::tempdir().expect("tempdir");
    let src = path_str(trail.path());
    let lk = path_str(lake.path());
    // Small transactions: many commit points to be killed around.
    let args = ["ingest", "-q", "--tx-bytes", "60000", "--lake", lk, src];
    for ms in delays(12, 0x9e37_79b9, 900) {
        kill_after(&args, 30 + ms);
    }
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = source_event_ids(trail.path());
    assert_eq!(expected.len(), 30000);
    assert_eq!(
        lake_event_ids(lake.path()),
        expected,
        "after kills during ingest"
    );
    // Compaction is crash-safe the same way.
    let compact = ["lake", "compact", "-q", "--lake", lk];
    for ms in delays(6, 0x51ed_270b, 400) {
        kill_after(&compact, 10 + ms);
    }
    let out = run(&compact);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        lake_event_ids(lake.path()),
        expected,
        "after kills during compaction"
    );
    let again = run(&["ingest", "--json", "--lake", lk, src]);
    let v: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(v["events"], 0);
}

/// Every file of `from`, copied under `to` with another name: the same
/// events delivered again, which only the eventID check can catch.
fn redeliver(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy();
        if path.is_dir() {
            let sub = to.join(name.as_ref());
            std::fs::create_dir_all(&sub).expect("mkdir");
            redeliver(&path, &sub);
        } else {
            std::fs::copy(&path, to.join(format!("again-{name}"))).expect("copy");
        }
    }
}

/// The copies' events are found in the partitions' stored files (not in a
/// set held in memory across the run), so a second delivery under other
/// names, killed at random moments, still stores each event once.
#[test]
fn events_delivered_again_under_other_names_are_stored_once_across_kills() {
    let trail = tempfile::tempdir().expect("tempdir");
    generate_into(trail.path(), 8000, 2, 5, &[]);
    let again = tempfile::tempdir().expect("tempdir");
    redeliver(trail.path(), again.path());
    let lake = tempfile::tempdir().expect("tempdir");
    let lk = path_str(lake.path());
    let (first, _) = ingest_json(path_str(trail.path()), lake.path(), &[]);
    assert_eq!(first["events"], 8000);
    let args = [
        "ingest",
        "-q",
        "--tx-bytes",
        "40000",
        "--lake",
        lk,
        path_str(again.path()),
    ];
    for ms in delays(8, 0x2545_f491, 600) {
        kill_after(&args, 30 + ms);
    }
    let (v, out) = ingest_json(
        path_str(again.path()),
        lake.path(),
        &["--tx-bytes", "40000"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["events"], 0, "{v}");
    assert_eq!(lake_event_ids(lake.path()), source_event_ids(trail.path()));
}

#[test]
fn real_corpora_ingest_with_the_documented_counts() {
    let Some(shared) = shared_dir() else { return };
    let lake = tempfile::tempdir().expect("tempdir");
    let invictus = shared.join("corpora/invictus-aws/CloudTrail");
    let stratus = shared.join("corpora/stratus-red-team");
    let (v, out) = ingest_json(path_str(&invictus), lake.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["events"], 2900);
    let (v, out) = ingest_json(path_str(&stratus), lake.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["events"], 310);
    assert_eq!(lake_event_ids(lake.path()).len(), 3210);
    let (v, _) = ingest_json(path_str(&invictus), lake.path(), &[]);
    assert_eq!(v["events"], 0);
}
