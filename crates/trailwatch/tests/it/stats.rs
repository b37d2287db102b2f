//! `trailwatch stats`: counts on the sample trail and the real corpora, and
//! exit codes on bad input.

use serde_json::Value;

use crate::support::{
    gzip, path_str, rec, run, run_stdin, sample_trail, shared_dir, stderr, stdout,
};

fn stats_json(args: &[&str]) -> (Value, std::process::Output) {
    let mut all = vec!["stats", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stats JSON: {e}; stderr: {}", stderr(&out)));
    (v, out)
}

#[test]
fn stats_counts_the_sample_trail() {
    let trail = sample_trail();
    let (v, out) = stats_json(&[path_str(&trail)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["files"], 72);
    assert_eq!(v["events"], 4000);
    assert_eq!(v["bad_events"], 0);
    assert_eq!(v["accounts"], 3);
    assert_eq!(v["regions"], 3);
    assert_eq!(v["first_event_time"], "2026-04-01T00:00:00Z");
    assert_eq!(
        v["skipped_other_files"], 1,
        "planted-incidents.json is not trail data"
    );
    assert!(v["bytes_read"].as_u64().is_some_and(|b| b > 100_000));
}

#[test]
fn stats_table_is_the_default_format() {
    let out = run(&["stats", path_str(&sample_trail())]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("events             4000"), "{text}");
    assert!(
        text.contains("time span          2026-04-01T00:00:00Z .. "),
        "{text}"
    );
}

#[test]
fn zoneless_event_times_are_read_as_utc_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One record per line, as Panther's and Snowflake's exports write
    // them: eventTime with a space and no zone.
    let lines: Vec<String> = (0..10)
        .map(|i| {
            let r = rec(i);
            if i < 4 {
                r.replace("2024-05-01T12:", "2024-05-01 12:")
                    .replace("Z\",\"eventSource", ".250\",\"eventSource")
            } else {
                r
            }
        })
        .collect();
    std::fs::write(dir.path().join("export.ndjson"), lines.join("\n")).expect("write");
    let (v, out) = stats_json(&[path_str(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["events"], 10);
    assert_eq!(v["bad_events"], 0);
    assert_eq!(v["zoneless_event_times"], 4);
    assert_eq!(v["first_event_time"], "2024-05-01T12:00:00Z");
    let table = run(&["stats", path_str(dir.path())]);
    assert!(
        stdout(&table).contains("zone-less times    4"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn bad_input_exits_2_names_the_file_and_keeps_good_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{{\"Records\":[{}]}}",
        (0..100).map(rec).collect::<Vec<_>>().join(",")
    );
    let gz = gzip(body.as_bytes());
    std::fs::write(dir.path().join("good.json.gz"), &gz).expect("write");
    std::fs::write(dir.path().join("cut.json.gz"), &gz[..gz.len() / 2]).expect("write");
    let broken = body.replacen(
        r#""eventTime":"2024-05-01T12:00:05Z""#,
        r#""eventTime":5"#,
        1,
    );
    std::fs::write(dir.path().join("types.json"), broken).expect("write");
    let (v, out) = stats_json(&[path_str(dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(v["files"], 3);
    assert_eq!(v["bad_events"], 1);
    assert_eq!(v["files_with_errors"], 2);
    let recovered = v["events"].as_u64().expect("count");
    assert!(recovered > 100 + 99 && recovered < 300, "{recovered}");
    let err = stderr(&out);
    assert!(err.contains("cut.json.gz after "), "{err}");
    assert!(
        err.contains("failed to decode record 5 (byte ")
            && err
                .contains("types.json: invalid type: integer `5`, expected a string at eventTime"),
        "{err}"
    );
    let (_, allowed) = stats_json(&["--allow-bad", path_str(dir.path())]);
    assert_eq!(allowed.status.code(), Some(0));
}

#[test]
fn stdin_is_a_source() {
    let body = format!("{}\n{}\n", rec(1), rec(2));
    let out = run_stdin(&["stats", "--format", "json", "-"], &gzip(body.as_bytes()));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["events"], 2);
}

#[test]
fn missing_source_is_a_usage_error() {
    let out = run(&["stats", "/nonexistent/trail"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read source /nonexistent/trail"));
}

#[test]
fn real_corpora_give_the_documented_counts() {
    let Some(shared) = shared_dir() else { return };
    let invictus = shared.join("corpora/invictus-aws/CloudTrail");
    let (v, out) = stats_json(&[path_str(&invictus)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (
            v["files"].as_u64(),
            v["events"].as_u64(),
            v["bad_events"].as_u64()
        ),
        (Some(55), Some(2900), Some(0))
    );
    let stratus = shared.join("corpora/stratus-red-team");
    let (v, out) = stats_json(&[path_str(&stratus)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (
            v["files"].as_u64(),
            v["events"].as_u64(),
            v["bad_events"].as_u64()
        ),
        (Some(35), Some(310), Some(0))
    );
}
