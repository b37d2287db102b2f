//! `trailwatch rules backtest`: per-rule matches equal to `detect
//! --matches` over the same events, expectations and JUnit for CI, a
//! baseline's gains and losses, noise, an empty window.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::{generate_into, lake_of, path_str, run, sample_trail, shared_dir, stderr};

/// `rules backtest --format json` with `args`, and its exit code.
fn backtest(args: &[&str]) -> (Value, Option<i32>, String) {
    let mut all = vec!["rules", "backtest", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (doc, out.status.code(), stderr(&out))
}

/// Per rule: matches and matches per day, from a backtest.
fn counts(doc: &Value) -> BTreeMap<String, (u64, BTreeMap<String, u64>)> {
    doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["matches"].as_u64().unwrap() > 0)
        .map(|r| {
            let days = r["by_day"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(d, n)| (d.clone(), n.as_u64().unwrap()))
                .collect();
            (
                r["rule_id"].as_str().unwrap().to_string(),
                (r["matches"].as_u64().unwrap(), days),
            )
        })
        .collect()
}

/// The NDJSON lines `detect --format ndjson --lake LAKE` prints with
/// `mode` (`--matches`, `--no-save`) and `rules`.
fn detect_lines(lake: &Path, mode: &str, rules: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "detect",
        mode,
        "--format",
        "ndjson",
        "--lake",
        path_str(lake),
    ];
    args.extend_from_slice(rules);
    let out = run(&args);
    crate::support::json_lines(&String::from_utf8_lossy(&out.stdout))
}

/// The same from `detect --matches` over the same events.
fn detect_counts(lake: &Path, rules: &[&str]) -> BTreeMap<String, (u64, BTreeMap<String, u64>)> {
    let mut counts: BTreeMap<String, (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    for m in detect_lines(lake, "--matches", rules) {
        let c = counts
            .entry(m["rule_id"].as_str().unwrap().to_string())
            .or_default();
        c.0 += 1;
        let day = m["event_time"].as_str().unwrap()[..10].to_string();
        *c.1.entry(day).or_default() += 1;
    }
    counts
}

fn assert_same_as_detect(lake: &Path, rules: &[&str]) -> usize {
    let mut args = vec!["--lake", path_str(lake)];
    args.extend_from_slice(rules);
    let (doc, _, err) = backtest(&args);
    assert!(doc.is_object(), "{err}");
    let ours = counts(&doc);
    assert_eq!(ours, detect_counts(lake, rules));
    ours.len()
}

#[test]
fn match_counts_equal_detect_matches_for_every_pack_rule_and_sigma_rule() {
    let sample = lake_of(&sample_trail());
    let rules = ["--pack", "all"];
    let matched = assert_same_as_detect(sample.path(), &rules);
    assert!(matched >= 20, "{matched} rules matched on the sample");
    let trail = tempfile::tempdir().unwrap();
    generate_into(trail.path(), 30_000, 3, 7, &[]);
    let generated = lake_of(trail.path());
    assert_same_as_detect(generated.path(), &rules);
    let Some(shared) = shared_dir() else { return };
    let sigma = shared.join("sigma");
    let sigma_rules = ["--pack", "none", "--rules", path_str(&sigma)];
    let matched = assert_same_as_detect(sample.path(), &sigma_rules);
    assert!(
        matched >= 3,
        "{matched} SigmaHQ rules matched on the sample"
    );
    assert_same_as_detect(generated.path(), &sigma_rules);
}

/// Per rule, the alerts `detect` raises over the lake (returns to OK not
/// counted).
fn detect_alerts(lake: &Path, rules: &[&str]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for a in detect_lines(lake, "--no-save", rules) {
        if a["state"] != "OK" {
            *counts
                .entry(a["rule_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

/// Pattern rules alone are backtested through the prefilter (the few
/// columns they judge by, the whole record only of the rows that pass):
/// the same matches, days and alerts as `detect`, which reads every record.
#[test]
fn the_prefiltered_backtest_of_the_pattern_packs_equals_detect() {
    let trail = tempfile::tempdir().unwrap();
    generate_into(trail.path(), 30_000, 3, 11, &[]);
    let generated = lake_of(trail.path());
    for lake in [lake_of(&sample_trail()), generated] {
        let rules = ["--pack", "essential,cis,responder"];
        let matched = assert_same_as_detect(lake.path(), &rules);
        assert!(matched >= 15, "{matched}");
        let (doc, _, _) = backtest(&[
            "--lake",
            path_str(lake.path()),
            "--pack",
            "essential,cis,responder",
        ]);
        let alerts: BTreeMap<String, u64> = doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["alerts"].as_u64().unwrap() > 0)
            .map(|r| {
                (
                    r["rule_id"].as_str().unwrap().to_string(),
                    r["alerts"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(alerts, detect_alerts(lake.path(), &rules));
        let out = run(&[
            "query",
            "--lake",
            path_str(lake.path()),
            "--format",
            "csv",
            "SELECT count(*) FROM cloudtrail_logs",
        ]);
        let events: u64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(doc["events"], events);
    }
}

#[test]
fn a_rule_s_result_has_its_days_principals_addresses_and_alerts() {
    let sample = lake_of(&sample_trail());
    let (doc, code, err) = backtest(&["--lake", path_str(sample.path()), "--pack", "essential"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(doc["events"], 4000);
    let rule = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == "console-login-failures")
        .unwrap()
        .clone();
    assert_eq!(rule["matches"], 6);
    // Six findings and one alarm (five failures in five minutes).
    assert_eq!(rule["alerts"], 7);
    assert_eq!(
        rule["top_principals"][0]["value"],
        "arn:aws:iam::111111111111:user/carol"
    );
    assert_eq!(rule["top_principals"][0]["matches"], 5);
    assert_eq!(rule["top_ips"][0]["value"], "45.155.205.233");
    assert_eq!(rule["by_day"].as_object().unwrap().len(), 1);
    assert!(rule["first_match"].as_str().unwrap() <= rule["last_match"].as_str().unwrap());
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn expectations_pass_and_fail_with_junit_for_ci() {
    let sample = lake_of(&sample_trail());
    let lake = path_str(sample.path());
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let met = write(
        dir.path(),
        "met.yaml",
        "expect:\n  - rule: console-login-failures\n    min: 6\n    max: 6\n    alerts_min: 1\n  - rule: cloudtrail-stopped\n    min: 1\n    must_match: [34c7bc81-d824-4ac4-8db6-b06ffadf82f2]\n",
    );
    let (doc, code, err) = backtest(&[
        "--lake",
        lake,
        "--pack",
        "essential",
        "--expect",
        path_str(&met),
        "--junit",
        path_str(&junit),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        doc["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["met"] == true),
        "{doc}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"0\""), "{xml}");
    let unmet = write(
        dir.path(),
        "unmet.yaml",
        "expect:\n  - rule: console-login-failures\n    max: 2\n  - rule: cloudtrail-stopped\n    must_not_match: [34c7bc81-d824-4ac4-8db6-b06ffadf82f2]\n  - rule: root-account-usage\n    min: 1\n",
    );
    let (doc, code, _) = backtest(&[
        "--lake",
        lake,
        "--pack",
        "essential",
        "--expect",
        path_str(&unmet),
        "--junit",
        path_str(&junit),
    ]);
    assert_eq!(code, Some(1));
    let failures: Vec<String> = doc["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            e["failures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        failures,
        [
            "matches: 6, 4 more than the maximum 2",
            "matched 34c7bc81-d824-4ac4-8db6-b06ffadf82f2, which it must not"
        ]
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"3\" failures=\"2\""), "{xml}");
    assert!(
        xml.contains("<failure message=\"matches: 6, 4 more than the maximum 2\">"),
        "{xml}"
    );
    // An unknown rule is an error naming the file and line.
    let unknown = write(
        dir.path(),
        "unknown.yaml",
        "expect:\n  - rule: root-account-usage\n  - rule: no-such-rule\n    min: 1\n",
    );
    let (_, code, err) = backtest(&[
        "--lake",
        lake,
        "--pack",
        "essential",
        "--expect",
        path_str(&unknown),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown.yaml:3: no rule no-such-rule is in force"),
        "{err}"
    );
}

#[test]
fn a_baseline_shows_what_a_changed_rule_gains_and_loses() {
    let sample = lake_of(&sample_trail());
    let lake = path_str(sample.path());
    let dir = tempfile::tempdir().unwrap();
    let rule = |pattern: &str| {
        format!(
            "rules:\n  - id: iam-writes\n    title: IAM writes\n    severity: P3\n    pattern: '{pattern}'\n"
        )
    };
    let old = write(
        dir.path(),
        "old.yaml",
        &rule(r#"{ $.eventName = "CreateUser" || $.eventName = "PutUserPolicy" }"#),
    );
    let new = write(
        dir.path(),
        "new.yaml",
        &rule(r#"{ $.eventName = "CreateUser" || $.eventName = "CreateAccessKey" }"#),
    );
    let (doc, code, err) = backtest(&[
        "--lake",
        lake,
        "--pack",
        "none",
        "--rules",
        path_str(&new),
        "--baseline",
        path_str(&old),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let diff = &doc["baseline"][0];
    assert_eq!(diff["rule_id"], "iam-writes");
    // The events of each call in the lake: what the new version gains
    // (CreateAccessKey) and loses (PutUserPolicy).
    let events_of = |name: &str| {
        let out = run(&[
            "query",
            "--lake",
            lake,
            "--format",
            "csv",
            &format!("SELECT count(*) FROM cloudtrail_logs WHERE eventname = '{name}'"),
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let (keys, policies) = (events_of("CreateAccessKey"), events_of("PutUserPolicy"));
    assert!(keys > 0 && policies > 0);
    assert_eq!(diff["gained"], keys);
    assert_eq!(diff["lost"], policies);
    assert_eq!(
        diff["gained_ids"].as_array().unwrap().len() as u64,
        keys.min(20)
    );
}

#[test]
fn noise_and_an_empty_window_are_said() {
    let sample = lake_of(&sample_trail());
    let lake = path_str(sample.path());
    let (doc, code, _) = backtest(&["--lake", lake, "--pack", "cis", "--noise-budget", "20"]);
    assert_eq!(code, Some(0));
    let noisy: Vec<&str> = doc["noisy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["rule"].as_str().unwrap())
        .collect();
    assert_eq!(noisy, ["cis-4.1"]);
    let (doc, code, err) = backtest(&["--lake", lake, "--since", "2027-01-01"]);
    assert_eq!(code, Some(0));
    assert_eq!(doc["events"], 0);
    assert!(
        err.contains("no events in the window; the lake holds the days 2026-04-01 to 2026-04-04"),
        "{err}"
    );
}

#[test]
fn coverage_names_each_rule_s_techniques_and_writes_a_navigator_layer() {
    let out = run(&["rules", "coverage", "--pack", "all", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every built-in rule and correlation names its techniques.
    assert_eq!(
        doc["rules_without_techniques"],
        serde_json::json!([]),
        "{doc}"
    );
    let covered = |t: &str| {
        doc["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["technique"] == t)
            .map(|c| {
                c["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert!(covered("T1562.008").contains(&"cloudtrail-stopped".to_string()));
    assert!(covered("T1110").contains(&"console-login-failures".to_string()));
    // Sigma rules by their attack.tNNNN tags.
    let dir = tempfile::tempdir().unwrap();
    let sigma = write(
        dir.path(),
        "s.yml",
        "title: t\nid: 11111111-2222-3333-4444-555555555555\ntags: [attack.defense-evasion, attack.t1562.008]\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: StopLogging}\n  condition: sel\nlevel: high\n",
    );
    let out = run(&[
        "rules",
        "coverage",
        "--pack",
        "none",
        "--rules",
        path_str(&sigma),
        "--format",
        "navigator",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let layer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(layer["name"].is_string());
    assert_eq!(layer["versions"]["layer"], "4.5");
    assert_eq!(layer["domain"], "enterprise-attack");
    assert_eq!(
        layer["techniques"],
        serde_json::json!([
            {"techniqueID": "T1562.008", "score": 1, "comment": "11111111-2222-3333-4444-555555555555", "enabled": true}
        ])
    );
    // A technique id that is not one is refused where the rule is read.
    let bad = write(
        dir.path(),
        "bad.yaml",
        "rules:\n  - id: r\n    title: r\n    severity: P3\n    techniques: [T15]\n    pattern: '{ $.eventName = \"X\" }'\n",
    );
    let out = run(&["rules", "check", path_str(&bad)]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("technique \"T15\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_rule_that_fails_to_load_is_reported_and_the_rest_run() {
    let sample = lake_of(&sample_trail());
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good.yaml",
        "rules:\n  - id: logins\n    title: logins\n    severity: P3\n    pattern: '{ $.eventName = \"ConsoleLogin\" }'\n",
    );
    write(
        dir.path(),
        "bad.yaml",
        "rules:\n  - id: broken\n    title: broken\n    severity: P3\n    pattern: '{ $.eventName = '\n",
    );
    let (doc, code, err) = backtest(&[
        "--lake",
        path_str(sample.path()),
        "--pack",
        "none",
        "--rules",
        path_str(dir.path()),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.yaml"), "{err}");
    let rules: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["logins"]);
    assert!(doc["rules"][0]["matches"].as_u64().unwrap() > 0);
}
