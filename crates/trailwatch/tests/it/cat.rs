//! `trailwatch cat`: every record out, one per line, exactly as it came in.

use std::collections::HashSet;

use serde_json::Value;

use crate::support::{path_str, rec, run, run_stdin, sample_trail, shared_dir, stderr, stdout};

#[test]
fn ndjson_prints_every_record_once() {
    let out = run(&["cat", path_str(&sample_trail())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut ids = HashSet::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(ids.insert(v["eventID"].as_str().expect("eventID").to_string()));
    }
    assert_eq!(ids.len(), 4000);
}

#[test]
fn pretty_printed_input_comes_out_one_record_per_line_with_values_intact() {
    let Some(shared) = shared_dir() else { return };
    let file = shared.join("corpora/stratus-red-team/aws.defense-evasion.cloudtrail-stop.json");
    let out = run(&["cat", path_str(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1);
    let original: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("corpus is JSON");
    let printed: Value = serde_json::from_str(text.trim()).expect("JSON line");
    assert_eq!(printed, original[0]);
}

#[test]
fn json_format_is_one_array() {
    let body = format!("{}\n{}\n", rec(1), rec(2));
    let out = run_stdin(&["cat", "--format", "json", "-"], body.as_bytes());
    let v: Value = serde_json::from_slice(&out.stdout).expect("an array");
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    assert_eq!(v[1]["eventID"], "id-2");
}

#[test]
fn table_format_has_a_header_and_a_row_per_record() {
    let out = run_stdin(&["cat", "--format", "table", "-"], rec(3).as_bytes());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("EVENT TIME           ACCOUNT"));
    assert!(
        lines[1].starts_with("2024-05-01T12:00:03Z 111122223333 us-east-1      s3"),
        "{}",
        lines[1]
    );
}

#[test]
fn help_lists_the_commands() {
    let out = run(&["--help"]);
    let text = stdout(&out);
    for cmd in [
        "cat", "stats", "generate", "ingest", "query", "detect", "watch", "verify",
    ] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
}

#[test]
fn a_closed_stdout_ends_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for args in [
        vec!["cat", path_str(&sample_trail())],
        vec!["rules", "list"],
    ] {
        let mut child = crate::support::bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("one line");
        // The reader is dropped here: the pipe closes, as with `| head -1`.
        let out = child.wait_with_output().expect("exit");
        assert!(!first.is_empty());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("Broken pipe"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
