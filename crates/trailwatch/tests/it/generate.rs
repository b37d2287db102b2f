//! `trailwatch generate`: deterministic, and the checked-in sample is exactly
//! what the default options produce.

use std::path::Path;

use walkdir::WalkDir;

use crate::support::{path_str, run, sample_trail, stderr, stdout};

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = WalkDir::new(root)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            (rel, std::fs::read(e.path()).expect("read"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn default_generation_reproduces_the_checked_in_sample() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["generate", "--out", path_str(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fresh = files(dir.path());
    let checked_in = files(&sample_trail());
    assert_eq!(fresh.len(), checked_in.len());
    for ((a, da), (b, db)) in fresh.iter().zip(&checked_in) {
        assert_eq!(a, b);
        assert!(
            da == db,
            "{a} differs: regenerate the sample with `trailwatch generate --out examples/sample-trail`"
        );
    }
}

#[test]
fn other_seeds_give_other_trails_with_the_requested_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&[
        "generate",
        "--events",
        "20000",
        "--days",
        "2",
        "--seed",
        "7",
        "--out",
        path_str(dir.path()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stats = run(&["stats", "--format", "json", path_str(dir.path())]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).expect("json");
    assert_eq!(v["events"], 20000);
    assert_eq!(v["bad_events"], 0);
    let incidents: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("planted-incidents.json")).expect("incident list"),
    )
    .expect("json");
    assert_eq!(incidents.as_array().map(Vec::len), Some(12));
}

/// Fewer events than the planted incidents take is refused with the
/// number needed, rather than writing more than was asked.
#[test]
fn fewer_events_than_the_incidents_take_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&[
        "generate",
        "-q",
        "--events",
        "0",
        "--out",
        path_str(dir.path()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--events 0") && err.contains("at least"),
        "{err}"
    );
}
