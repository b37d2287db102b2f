//! `trailwatch audit trail`: the seed's Terraform passes, a weakened trail
//! fails with the right findings, AWS CLI JSON is read, and the data's
//! blind spots (undelivered regions, delivery gaps) are found.

use serde_json::Value;

use crate::support::{gzip, path_str, rec, run, shared_dir, stderr, stdout};

fn audit_json(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["audit", "trail", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (out.status.code(), json)
}

fn failed(report: &Value) -> Vec<String> {
    let mut f: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect();
    f.sort();
    f
}

#[test]
fn the_seed_terraform_passes_and_a_weakened_copy_fails_with_the_right_findings() {
    let Some(shared) = shared_dir() else { return };
    let seed = shared.join("seed-terraform.tf");
    let (code, report) = audit_json(&[path_str(&seed)]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 9);
    assert!(failed(&report).is_empty());
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "pass")
    );
    let weak = std::fs::read_to_string(&seed)
        .unwrap()
        .replace(
            "is_multi_region_trail         = true",
            "is_multi_region_trail         = false",
        )
        .replace(
            "enable_log_file_validation    = true",
            "enable_log_file_validation    = false",
        );
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("main.tf");
    std::fs::write(&tf, weak).unwrap();
    let (code, report) = audit_json(&[path_str(&tf)]);
    assert_eq!(code, Some(1));
    assert_eq!(failed(&report), ["log-file-validation", "multi-region"]);
    let text = stdout(&run(&["audit", "trail", path_str(&tf)]));
    assert!(text.contains("FAIL    P1 log-file-validation"), "{text}");
    assert!(
        text.contains("fix: set enable_log_file_validation = true"),
        "{text}"
    );
}

#[test]
fn describe_trails_json_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let trails = dir.path().join("describe-trails.json");
    std::fs::write(
        &trails,
        r#"{"trailList":[{"Name":"legacy","S3BucketName":"old-logs","IsMultiRegionTrail":false,
            "IsOrganizationTrail":false,"LogFileValidationEnabled":true,
            "IncludeGlobalServiceEvents":true,"HomeRegion":"us-east-1",
            "TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/legacy"}]}"#,
    )
    .unwrap();
    let selectors = dir.path().join("get-event-selectors.json");
    std::fs::write(
        &selectors,
        r#"{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/legacy",
            "EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,"DataResources":[]}]}"#,
    )
    .unwrap();
    let (code, report) = audit_json(&[path_str(&trails), path_str(&selectors)]);
    assert_eq!(code, Some(1));
    assert_eq!(
        failed(&report),
        [
            "cloudwatch-logs",
            "management-events",
            "multi-region",
            "organization",
            "s3-data-events"
        ]
    );
    let bad = dir.path().join("other.json");
    std::fs::write(&bad, r#"{"Something":"else"}"#).unwrap();
    let out = run(&["audit", "trail", path_str(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not describe-trails"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn blind_spots_in_the_data_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let acct = "111122223333";
    // us-east-1 delivers every 5 minutes, then nothing for 10 hours.
    let mut minute = 0;
    for i in 0..30 {
        if i == 20 {
            minute += 600;
        }
        let (h, m) = (minute / 60, minute % 60);
        let day = 1 + h / 24;
        let path = dir.path().join(format!(
            "AWSLogs/{acct}/CloudTrail/us-east-1/2024/05/{day:02}/{acct}_CloudTrail_us-east-1_202405{day:02}T{:02}{m:02}Z_f{i}.json.gz",
            h % 24
        ));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut records = vec![rec(i)];
        if i == 7 {
            // An event naming a resource in a region the trail never delivers.
            records.push(rec(1000).replace(
                r#""requestParameters":null"#,
                r#""requestParameters":{"instanceArn":"arn:aws:ec2:ap-south-1:111122223333:instance/i-0abc"}"#,
            ));
        }
        std::fs::write(
            &path,
            gzip(format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes()),
        )
        .unwrap();
        minute += 5;
    }
    let (code, report) = audit_json(&["--data", path_str(dir.path())]);
    assert_eq!(code, Some(1), "{report:#}");
    let spots = report["blind_spots"].as_array().unwrap();
    assert_eq!(spots.len(), 2, "{spots:#?}");
    let region = spots
        .iter()
        .find(|s| s["kind"] == "undelivered-region")
        .unwrap();
    assert_eq!(region["region"], "ap-south-1");
    assert_eq!(region["account"], acct);
    let gap = spots.iter().find(|s| s["kind"] == "delivery-gap").unwrap();
    assert_eq!(gap["region"], "us-east-1");
    assert!(gap["detail"].as_str().unwrap().contains("(10 h;"), "{gap}");
}
