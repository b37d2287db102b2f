//! `trailwatch detect` and `trailwatch rules` on the sample trail and the
//! seed files: planted incidents are found, replays repeat exactly.

use serde_json::Value;

use crate::support::{
    RULE_WITH_A_WRONG_EXAMPLE, bin, detect_json, files_under, generate_into, lake_alert_ids,
    moto_with_boto3, path_str, repo_root, run, s3_env, s3_upload, sample_geoip, sample_trail,
    shared_dir, stderr, stdout,
};

#[test]
fn fail_on_alerts_makes_findings_exit_1() {
    let trail = sample_trail();
    let found = run(&[
        "detect",
        "--fail-on-alerts",
        "--pack",
        "essential",
        path_str(&trail),
    ]);
    assert_eq!(found.status.code(), Some(1));
    let quiet = run(&[
        "detect",
        "--fail-on-alerts",
        "--pack",
        "none",
        path_str(&trail),
    ]);
    assert_eq!(quiet.status.code(), Some(0));
}

#[test]
fn planted_incidents_are_detected_by_the_rules_that_claim_them() {
    let trail = sample_trail();
    let geo_dir = tempfile::tempdir().expect("tempdir");
    let geo = sample_geoip(geo_dir.path());
    let mut args = vec!["--pack", "all", path_str(&trail)];
    if let Some(g) = &geo {
        args.extend(["--geoip", path_str(g)]);
    }
    let alerts = detect_json(&args);
    let incidents: Vec<Value> = serde_json::from_slice(
        &std::fs::read(trail.join("planted-incidents.json")).expect("incident list"),
    )
    .expect("json");
    let known: Vec<String> = {
        let out = run(&["rules", "list", "--pack", "all"]);
        stdout(&out)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    let mut checked = 0;
    for inc in &incidents {
        let ids: Vec<&str> = inc["event_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for rule in inc["detected_by"]
            .as_array()
            .expect("rules")
            .iter()
            .filter_map(Value::as_str)
        {
            assert!(
                known.iter().any(|k| k == rule),
                "incident {} names {rule}, which is no rule",
                inc["name"]
            );
            if rule == "impossible-travel" && geo.is_none() {
                continue; // no GeoIP database could be built (SKIPPED above)
            }
            let hit = alerts.iter().any(|a| {
                a["rule_id"] == rule
                    && a["event_ids"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|x| ids.contains(&x.as_str().unwrap_or(""))))
            });
            assert!(hit, "incident {} not detected by {rule}", inc["name"]);
            checked += 1;
        }
    }
    assert!(checked >= 25, "checked {checked}");
}

#[test]
fn replaying_the_sample_twice_gives_the_same_alerts() {
    let trail = sample_trail();
    let a = run(&["detect", "--format", "ndjson", path_str(&trail)]);
    let b = run(&["detect", "--format", "ndjson", path_str(&trail)]);
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn matches_lists_every_match_with_the_audit_keys() {
    let out = run(&[
        "detect",
        "--matches",
        "--format",
        "ndjson",
        "--pack",
        "essential",
        path_str(&sample_trail()),
    ]);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(lines.len() > 10);
    for m in &lines {
        for key in ["rule_id", "event_id", "event_time", "severity"] {
            assert!(m.get(key).is_some(), "{key} missing in {m}");
        }
    }
    let failures = lines
        .iter()
        .filter(|m| m["rule_id"] == "console-login-failures")
        .count();
    assert_eq!(failures, 6);
}

/// `--matches` lists Sigma rules' matches too (each alert of a Sigma rule
/// that alerts on its own is one of its matches), and says that the
/// correlation detections have none to list.
#[test]
fn matches_list_sigma_rules_and_say_what_they_cannot_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = dir.path().join("stop.yml");
    std::fs::write(
        &own,
        "title: Trail stopped\nid: t-stop-1\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventName: StopLogging}\n  condition: sel\nlevel: high\n",
    )
    .expect("write");
    let sigma = repo_root().join("examples/sigma");
    let trail = sample_trail();
    let args = |matches: bool| {
        let mut a = vec!["detect", "--pack", "correlation", "--rules", path_str(&own)];
        a.extend(["--rules", path_str(&sigma)]);
        if matches {
            a.push("--matches");
        }
        a.extend(["--format", "ndjson", path_str(&trail)]);
        run(&a)
    };
    let alerts = args(false);
    let matches = args(true);
    assert!(matches.status.success(), "{}", stderr(&matches));
    let ids = |out: &std::process::Output, key: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = stdout(out)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .filter(|m| m["kind"].as_str().is_none_or(|k| k == "finding"))
            .map(|m| {
                let event = match &m[key] {
                    Value::Array(ids) => ids.first().cloned().unwrap_or_default(),
                    other => other.clone(),
                };
                (
                    m["rule_id"].as_str().unwrap_or("").to_string(),
                    event.to_string(),
                )
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let found = ids(&alerts, "event_ids");
    let listed = ids(&matches, "event_id");
    assert!(
        !found.is_empty(),
        "the sample's Sigma rules alert: {}",
        stdout(&alerts)
    );
    for f in &found {
        assert!(listed.contains(f), "{f:?} is an alert but not a match");
    }
    // A rule a correlation names raises no alert of its own, but its
    // matches are listed.
    assert!(
        listed
            .iter()
            .any(|(rule, _)| rule == "5c3b8e44-1f0a-4a8e-8a57-0d6c2e7b9f12"),
        "{listed:?}"
    );
    assert!(
        stderr(&matches).contains("correlation detections")
            && stderr(&matches).contains("not listed"),
        "{}",
        stderr(&matches)
    );
}

#[test]
fn since_filters_by_event_time() {
    let alerts = detect_json(&[
        "--pack",
        "essential",
        "--since",
        "2026-04-04",
        path_str(&sample_trail()),
    ]);
    assert!(
        alerts
            .iter()
            .all(|a| a["alert_time"].as_str().is_some_and(|t| t >= "2026-04-04"))
    );
    assert!(!alerts.is_empty());
}

#[test]
fn rules_test_passes_for_every_built_in_pack() {
    let out = run(&["rules", "test", "--pack", "all"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains(" passed, 0 failed"));
}

#[test]
fn rules_test_reports_a_rule_whose_examples_disagree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mine.yaml");
    std::fs::write(&file, RULE_WITH_A_WRONG_EXAMPLE).expect("write");
    let out = run(&["rules", "test", path_str(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAIL  my-rule: example 0 should fire but did not fire"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn seed_terraform_imports_and_detect_uses_it() {
    let Some(shared) = shared_dir() else { return };
    let tf = shared.join("seed-terraform.tf");
    let out = run(&["rules", "import-terraform", path_str(&tf)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("- id: root-account-usage"), "{text}");
    assert!(text.contains(r#"actions: ["security_alerts"]"#), "{text}");
    // What it prints is a rule file: saved, it loads as it is.
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("imported.yaml");
    std::fs::write(&saved, &text).expect("write");
    let check = run(&["rules", "check", path_str(&saved)]);
    assert!(
        check.status.success(),
        "{}\n{}",
        stdout(&check),
        stderr(&check)
    );
    assert!(
        stdout(&check).contains("1 loaded, 0 skipped"),
        "{}",
        stdout(&check)
    );
    let alerts = detect_json(&[
        "--pack",
        "none",
        "--rules",
        path_str(&tf),
        path_str(&sample_trail()),
    ]);
    assert!(
        alerts
            .iter()
            .any(|a| a["rule_id"] == "root-account-usage" && a["state"] == "ALARM")
    );
    let _ = repo_root();
}

#[test]
fn stratus_red_team_techniques_fire_the_rules_that_cover_them() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("corpora/stratus-red-team");
    let cases = [
        (
            "aws.defense-evasion.cloudtrail-stop.json",
            "cloudtrail-stopped",
        ),
        (
            "aws.defense-evasion.cloudtrail-delete.json",
            "cloudtrail-tampering",
        ),
        (
            "aws.defense-evasion.cloudtrail-event-selectors.json",
            "cloudtrail-tampering",
        ),
        ("aws.defense-evasion.organizations-leave.json", "cis-4.15"),
        (
            "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
            "security-group-open-to-world",
        ),
        (
            "aws.initial-access.console-login-without-mfa.json",
            "console-login-without-mfa",
        ),
        (
            "aws.persistence.iam-create-admin-user.json",
            "iam-policy-changes",
        ),
        (
            "aws.persistence.iam-create-user-login-profile.json",
            "login-profile-created-for-other-user",
        ),
        (
            "aws.privilege-escalation.iam-update-user-login-profile.json",
            "login-profile-created-for-other-user",
        ),
    ];
    for (file, rule) in cases {
        let alerts = detect_json(&["--pack", "all", path_str(&dir.join(file))]);
        assert!(
            alerts
                .iter()
                .any(|a| a["rule_id"] == rule && a["state"] == "ALARM"),
            "{file} did not fire {rule}"
        );
    }
}

/// What identifies an alert's content, whatever order evidence came in.
fn alert_keys(alerts: &[Value]) -> Vec<(String, String, String, u64)> {
    let mut keys: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                a["alert_id"].as_str().unwrap().to_string(),
                a["rule_id"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
                a["event_count"].as_u64().unwrap(),
            )
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn detect_over_the_lake_gives_the_raw_trails_alerts_and_saves_them_once() {
    let trail = sample_trail();
    let lake = tempfile::tempdir().unwrap();
    let lake_s = path_str(lake.path());
    let ingest = run(&["ingest", "-q", "--lake", lake_s, path_str(&trail)]);
    assert_eq!(ingest.status.code(), Some(0), "{}", stderr(&ingest));
    let raw = detect_json(&["--pack", "all", path_str(&trail)]);
    assert!(raw.len() > 10);
    let from_lake = detect_json(&["--pack", "all", "--lake", lake_s]);
    assert_eq!(alert_keys(&from_lake), alert_keys(&raw));
    // The alerts table holds each alert once, and a second replay adds none.
    let mut expected: Vec<String> = raw
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(lake_alert_ids(lake.path()), expected);
    detect_json(&["--pack", "all", "--lake", lake_s]);
    assert_eq!(lake_alert_ids(lake.path()), expected);
    // --since prunes by partition date and by event time, as for raw files.
    let since = detect_json(&[
        "--pack",
        "all",
        "--since",
        "2026-04-02",
        "--no-save",
        "--lake",
        lake_s,
    ]);
    let raw_since = detect_json(&["--pack", "all", "--since", "2026-04-02", path_str(&trail)]);
    assert_eq!(alert_keys(&since), alert_keys(&raw_since));
    assert!(since.len() < raw.len());
}

/// A trail's records, in delivery order, as one NDJSON file outside the
/// trail layout.
fn records_in_delivery_order(trail: &std::path::Path, out: &std::path::Path) {
    use std::io::{Read, Write};
    let stamp = |p: &std::path::Path| {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let stamp = name.split('_').nth(3).unwrap_or_default().to_string();
        (stamp, name)
    };
    let mut files: Vec<_> = files_under(trail)
        .into_iter()
        .filter(|p| {
            p.to_string_lossy().ends_with(".json.gz") && !p.to_string_lossy().contains("Digest")
        })
        .collect();
    files.sort_by_key(|p| stamp(p));
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for f in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        for r in doc["Records"].as_array().unwrap() {
            writeln!(w, "{r}").unwrap();
        }
    }
}

/// A replay of trail files evaluates as it goes (event time moves on as
/// every prefix's files are read, so memory stays bounded); the same
/// records in one file outside the trail layout are evaluated at the end.
/// Both give the same alerts, the correlation detections' too (they
/// forget idle state at whole hours of event time, whatever steps event
/// time moved on in).
#[test]
fn a_replay_evaluating_as_it_goes_gives_what_evaluating_at_the_end_gives() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    generate_into(&trail, 30000, 3, 11, &[]);
    let all = dir.path().join("all.ndjson");
    records_in_delivery_order(&trail, &all);
    let packs = "essential,cis,correlation,responder";
    let as_it_goes = detect_json(&["--pack", packs, path_str(&trail)]);
    let at_the_end = detect_json(&["--pack", packs, path_str(&all)]);
    assert!(as_it_goes.len() > 20, "{} alerts", as_it_goes.len());
    assert!(as_it_goes.iter().any(|a| a["kind"] == "alarm"));
    assert!(as_it_goes.iter().any(|a| a["kind"] == "correlation"));
    let (a, b) = (alert_keys(&as_it_goes), alert_keys(&at_the_end));
    let only = |x: &[(String, String, String, u64)], y: &[(String, String, String, u64)]| {
        x.iter()
            .filter(|k| !y.contains(k))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        a == b,
        "only as it goes: {:?}\nonly at the end: {:?}",
        only(&a, &b),
        only(&b, &a)
    );
}

#[test]
fn no_save_leaves_the_alerts_table_alone_and_sources_exclude_lake() {
    let trail = sample_trail();
    let lake = tempfile::tempdir().unwrap();
    let lake_s = path_str(lake.path());
    run(&["ingest", "-q", "--lake", lake_s, path_str(&trail)]);
    let alerts = detect_json(&["--pack", "essential", "--no-save", "--lake", lake_s]);
    assert!(!alerts.is_empty());
    assert!(lake_alert_ids(lake.path()).is_empty());
    let both = run(&["detect", "--lake", lake_s, path_str(&trail)]);
    assert_eq!(both.status.code(), Some(2));
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    let neither = run(&["detect"]);
    assert_eq!(neither.status.code(), Some(2));
}

#[test]
fn detect_reads_an_s3_prefix_like_a_local_trail() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let trail = sample_trail();
    s3_upload(&endpoint, "trail", "logs/", &trail, &files_under(&trail));
    let local = detect_json(&["--pack", "all", path_str(&trail)]);
    let out = s3_env(&mut bin())
        .args([
            "detect",
            "--format",
            "json",
            "--pack",
            "all",
            "--endpoint-url",
            &endpoint,
            "s3://trail/logs/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let remote: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(alert_keys(&remote), alert_keys(&local));
}

/// Sigma rules (SigmaHQ's, from `../shared/sigma`) load beside the
/// built-in packs, by content; where a Sigma rule and a built-in rule
/// describe the same thing, both fire on the same events of the sample.
#[test]
fn sigma_rules_run_beside_the_packs_and_agree_with_them_on_the_sample() {
    let Some(shared) = shared_dir() else { return };
    let sigma = shared.join("sigma");
    let alerts = detect_json(&[
        "--pack",
        "essential,responder",
        "--rules",
        path_str(&sigma),
        path_str(&sample_trail()),
    ]);
    let events_of = |rule: &str| -> std::collections::BTreeSet<String> {
        alerts
            .iter()
            .filter(|a| a["rule_id"] == rule)
            .flat_map(|a| a["event_ids"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect()
    };
    // (built-in rule, SigmaHQ rule id): a stopped or deleted trail, a
    // deleted GuardDuty detector.
    for (builtin, sigma_id) in [
        ("cloudtrail-stopped", "4db60cc0-36fb-42b7-9b58-a5b53019fb74"),
        ("guardduty-disabled", "d2656e78-c069-4571-8220-9e0ab5913f19"),
    ] {
        let ours = events_of(builtin);
        let theirs = events_of(sigma_id);
        assert!(!ours.is_empty(), "{builtin} fired on nothing");
        assert!(
            ours.is_subset(&theirs),
            "{builtin}: {ours:?} vs Sigma {theirs:?}"
        );
    }
    let trail_stop = alerts
        .iter()
        .find(|a| a["rule_id"] == "4db60cc0-36fb-42b7-9b58-a5b53019fb74")
        .expect("sigma alert");
    assert_eq!(trail_stop["title"], "AWS CloudTrail Important Change");
    assert_eq!(trail_stop["severity"], "P3", "level medium is P3");
    assert!(
        trail_stop["dimensions"]["tags"]
            .as_str()
            .unwrap_or("")
            .contains("attack.")
    );
}

#[test]
fn a_sigma_rule_that_cannot_load_is_reported_and_the_others_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("good.yml"),
        "title: Trail stopped\nid: good-1\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventName: StopLogging}\n  condition: sel\nlevel: critical\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("bad.yml"),
        "title: Broken\nid: bad-1\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventName|nosuch: x}\n  condition: sel\n",
    )
    .expect("write");
    let out = run(&[
        "detect",
        "--format",
        "json",
        "--pack",
        "none",
        "--rules",
        path_str(dir.path()),
        path_str(&sample_trail()),
    ]);
    // The others ran (their alerts are below); the exit says one was
    // skipped, as for a rule file of any language (issue #40, item 13).
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("bad.yml") && err.contains("bad-1") && err.contains("nosuch"),
        "{err}"
    );
    let alerts: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        alerts
            .iter()
            .any(|a| a["rule_id"] == "good-1" && a["severity"] == "P1")
    );
}

/// Which SigmaHQ rules fire on which Stratus Red Team technique, kept as
/// a snapshot (`tests/fixtures/sigma-stratus-snapshot.json`; regenerate
/// it deliberately when the rules or the matcher change). Techniques
/// with no entry are those no SigmaHQ CloudTrail rule in `../shared/sigma`
/// covers, or whose trace does not meet the rule (see the README).
#[test]
fn sigma_rules_on_stratus_red_team_match_the_snapshot() {
    let Some(shared) = shared_dir() else { return };
    let snapshot: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_slice(
        &std::fs::read(
            repo_root().join("crates/trailwatch/tests/fixtures/sigma-stratus-snapshot.json"),
        )
        .expect("snapshot"),
    )
    .expect("json");
    let sigma = shared.join("sigma");
    let mut checked = 0;
    for (technique, expected) in &snapshot {
        let file = shared.join(format!("corpora/stratus-red-team/{technique}.json"));
        let alerts = detect_json(&[
            "--pack",
            "none",
            "--rules",
            path_str(&sigma),
            path_str(&file),
        ]);
        let mut fired: Vec<String> = alerts
            .iter()
            .filter_map(|a| a["rule_id"].as_str().map(str::to_string))
            .collect();
        fired.sort();
        fired.dedup();
        assert_eq!(&fired, expected, "{technique}");
        checked += 1;
    }
    assert_eq!(checked, 35);
}

#[test]
fn rules_check_lists_every_rule_and_exits_1_on_a_skipped_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("good.yml"),
        "title: Trail stopped\nid: good-1\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventName: StopLogging}\n  condition: sel\n",
    )
    .expect("write");
    let ok = run(&["rules", "check", path_str(dir.path()), "--format", "json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    std::fs::write(
        dir.path().join("bad.yml"),
        "title: Broken\nid: bad-1\nlogsource: {product: aws}\n\
         detection:\n  sel: {eventName: x}\n  condition: sel and missing\n",
    )
    .expect("write");
    let out = run(&["rules", "check", path_str(dir.path()), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let status: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(status, [("bad-1", "skipped"), ("good-1", "loaded")]);
    assert!(rows[0]["reason"].as_str().unwrap_or("").contains("missing"));
    assert!(rows[0]["file"].as_str().unwrap_or("").ends_with("bad.yml"));
}

/// The example Sigma correlation rules (`examples/sigma/`) find the
/// sample trail's brute-force sign-ins and backdoor user, each once, as
/// correlation alerts citing their events; the detection rules they name
/// raise nothing of their own.
#[test]
fn sigma_correlation_rules_find_the_sample_trails_planted_sequences() {
    let alerts = detect_json(&[
        "--pack",
        "none",
        "--rules",
        path_str(&repo_root().join("examples/sigma")),
        path_str(&sample_trail()),
    ]);
    let got: Vec<(&str, &str, u64)> = alerts
        .iter()
        .map(|a| {
            (
                a["rule_id"].as_str().unwrap_or(""),
                a["kind"].as_str().unwrap_or(""),
                a["event_count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("0b8f3c0e-6d3a-4c61-9b55-2f7d8c1a9e01", "correlation", 5),
            ("7e2d6a90-3c4b-4f0e-b1a8-6c9d2e3f4a23", "correlation", 3)
        ],
        "{alerts:#?}"
    );
    assert_eq!(
        alerts[0]["dimensions"]["userIdentity.arn"],
        "arn:aws:iam::111111111111:user/carol"
    );
    assert_eq!(
        alerts[1]["dimensions"]["requestParameters.userName"],
        "svc-backup"
    );
    assert_eq!(alerts[1]["event_ids"].as_array().map(Vec::len), Some(3));
    assert!(
        alerts[1]["query"]
            .as_str()
            .unwrap_or("")
            .contains("WHERE eventid IN ("),
        "{}",
        alerts[1]["query"]
    );
}

/// More alerts than `detect` holds in memory (a Sigma rule matching every
/// record of a 40,000-record trail) are spilled to sorted runs and merged:
/// every alert is printed once, in time, rule and id order, and the JSON
/// array form holds the same alerts.
#[test]
fn more_alerts_than_memory_holds_come_out_complete_and_sorted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("trail");
    let out = run(&[
        "generate",
        "--events",
        "40000",
        "--days",
        "2",
        "--seed",
        "3",
        "--out",
        path_str(&trail),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rule = dir.path().join("every.yml");
    std::fs::write(
        &rule,
        "title: Every record\nid: every-1\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventID|exists: true}\n  condition: sel\nlevel: low\n",
    )
    .expect("write");
    let args = [
        "--pack",
        "none",
        "--rules",
        path_str(&rule),
        path_str(&trail),
    ];
    let out = run(&[&["detect", "-q", "--format", "ndjson"][..], &args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(alerts.len(), 40_000);
    let keys: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|a| {
            (
                a["alert_time"].as_str().unwrap_or(""),
                a["rule_id"].as_str().unwrap_or(""),
                a["alert_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "not in order");
    let ids: std::collections::HashSet<&str> = keys.iter().map(|k| k.2).collect();
    assert_eq!(ids.len(), 40_000, "an alert twice");
    let json = run(&[&["detect", "-q", "--format", "json"][..], &args].concat());
    let array: Vec<Value> = serde_json::from_slice(&json.stdout).expect("json array");
    assert_eq!(array, alerts);
}

/// Correlations link across files: one naming a rule in another file
/// loads; one naming a rule no file holds is skipped with the reason.
#[test]
fn rules_check_links_correlations_across_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a_base.yml"),
        "title: Key created\nid: base-1\nname: key_created\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventName: CreateAccessKey}\n  condition: sel\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b_corr.yml"),
        "title: Many keys\nid: corr-1\ncorrelation: {type: event_count, rules: [key_created], group-by: [userIdentity.arn], timespan: 1h, condition: {gte: 3}}\n\
         ---\ntitle: Keys then nothing\nid: corr-2\ncorrelation: {type: temporal, rules: [key_created, no_such_rule], timespan: 1h}\n",
    )
    .expect("write");
    let out = run(&["rules", "check", path_str(dir.path()), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let status: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("base-1", "loaded"),
            ("corr-1", "loaded"),
            ("corr-2", "skipped")
        ]
    );
    let reason = rows[2]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("no_such_rule"), "{reason}");
    assert!(
        rows[2]["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("b_corr.yml")
    );
}

/// A rule file's text reaches the terminal escaped: a title carrying an
/// escape sequence is listed with it shown as `\u{1b}`.
#[test]
fn rule_text_is_listed_with_control_characters_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = dir.path().join("evil.yml");
    std::fs::write(
        &rule,
        "title: \"Trail \\e]52;c;ZXZpbA==\\a stopped\"\nid: evil-1\nlogsource: {product: aws, service: cloudtrail}\n\
         detection:\n  sel: {eventName: StopLogging}\n  condition: sel\n",
    )
    .expect("write");
    for args in [
        vec![
            "rules",
            "list",
            "--pack",
            "none",
            "--rules",
            path_str(&rule),
        ],
        vec![
            "rules",
            "show",
            "evil-1",
            "--pack",
            "none",
            "--rules",
            path_str(&rule),
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("\\u{1b}]52"), "{text}");
    }
}

/// A rule file that cannot be loaded is reported and the other rules
/// still run, as for a Sigma rule; the exit says something was skipped.
/// `--strict` stops at it.
#[test]
fn a_broken_rule_file_is_reported_and_the_rest_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "rules:\n  - id: [not, an, id\n").expect("write");
    let trail = sample_trail();
    let args = |strict: bool| {
        let mut a = vec![
            "detect",
            "--pack",
            "essential",
            "--rules",
            path_str(&broken),
            "--format",
            "ndjson",
        ];
        if strict {
            a.push("--strict");
        }
        a.push(path_str(&trail));
        run(&a)
    };
    let out = args(false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.yaml"), "{}", stderr(&out));
    let alerts = stdout(&out).lines().count();
    assert!(alerts > 5, "the packs still ran: {alerts} alerts");
    let out = args(true);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.yaml"), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 0, "{}", stdout(&out));
}

/// An empty window says why, as `top` does: the sample's events are in
/// April 2026, so the last day holds none; the hint gives their span and
/// a --since that finds them (and, over the lake, what it holds).
#[test]
fn an_empty_window_says_why_and_what_to_give() {
    let trail = sample_trail();
    let out = run(&[
        "detect",
        "--since",
        "24h",
        "--format",
        "json",
        path_str(&trail),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");
    let err = stderr(&out);
    assert!(
        err.contains("no events at or after") && err.contains("try --since 2026-"),
        "{err}"
    );
    let lake = crate::support::lake_of(&trail);
    let out = run(&["detect", "--lake", path_str(lake.path()), "--since", "30d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the lake holds none from"),
        "{}",
        stderr(&out)
    );
    // A window with events says nothing of the kind.
    let out = run(&[
        "detect",
        "--since",
        "2026-01-01",
        "--format",
        "json",
        path_str(&trail),
    ]);
    assert!(
        !stderr(&out).contains("no events at or after"),
        "{}",
        stderr(&out)
    );
}

/// The table a person reads: a header row, the rule column aligned
/// whatever the rule id, a Sigma rule (its id a UUID) shown by its
/// title, and a footer that says how many returns to OK it leaves out.
#[test]
fn the_alert_table_has_a_header_aligned_columns_titles_and_says_what_it_hides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sigma = dir.path().join("stop.yml");
    std::fs::write(
        &sigma,
        "title: CloudTrail logging stopped by someone\nid: 4d5ce2a4-6e1c-4a1e-9e55-0a4fd2b6c3f1\nstatus: test\nlevel: high\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventName: StopLogging\n  condition: selection\n",
    )
    .expect("write");
    let trail = sample_trail();
    let out = run(&[
        "detect",
        "-q",
        "--rules",
        path_str(&sigma),
        path_str(&trail),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("TIME ") && lines[0].contains("RULE"),
        "{}",
        lines[0]
    );
    let rows = &lines[1..lines.len() - 1];
    assert!(rows.len() > 10, "{text}");
    // Every row's event count sits in the same column, in characters (a
    // title cut short ends in an ellipsis).
    let column = |l: &str| {
        l[..l.find(" events  ").expect("an events column")]
            .chars()
            .count()
    };
    let first = column(rows[0]);
    for r in rows {
        assert_eq!(column(r), first, "misaligned:\n{}\n{r}", rows[0]);
    }
    assert!(
        rows.iter()
            .any(|r| r.contains("CloudTrail logging stopped by someo…")),
        "the Sigma rule's title: {text}"
    );
    assert!(!text.contains("4d5ce2a4-6e1c"), "not its UUID: {text}");
    // The footer: shown of all, and why the rest are not there.
    let footer = lines[lines.len() - 1];
    let all = detect_json(&["--rules", path_str(&sigma), path_str(&trail)]);
    let ok = all.iter().filter(|a| a["state"] == "OK").count();
    assert!(ok > 0, "the sample has returns to OK");
    assert_eq!(
        footer,
        format!(
            "{} shown of {} alerts; {ok} returns to OK are not in the table (--format json lists every alert)",
            rows.len(),
            all.len()
        )
    );
}

/// The default packs are what needs a look: the sample's planted
/// incidents without the CIS monitoring alarms' routine noise, which
/// `--pack all` (or `cis`) adds.
#[test]
fn the_default_packs_leave_out_the_cis_alarms_and_stay_readable() {
    let trail = sample_trail();
    let open = |alerts: &[Value]| -> Vec<Value> {
        alerts
            .iter()
            .filter(|a| a["state"] != "OK")
            .cloned()
            .collect()
    };
    let default = open(&detect_json(&[path_str(&trail)]));
    let all = open(&detect_json(&["--pack", "all", path_str(&trail)]));
    let cis = |v: &[Value]| {
        v.iter()
            .filter(|a| a["rule_id"].as_str().is_some_and(|r| r.starts_with("cis-")))
            .count()
    };
    assert_eq!(cis(&default), 0);
    assert!(cis(&all) > 50, "{}", cis(&all));
    assert!(default.len() <= 40, "{} alerts by default", default.len());
    for rule in [
        "root-account-usage",
        "cloudtrail-stopped",
        "privilege-escalation",
        "guardduty-disabled",
    ] {
        assert!(
            default.iter().any(|a| a["rule_id"] == rule),
            "{rule} missing by default"
        );
    }
}
