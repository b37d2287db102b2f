//! `trailwatch investigate`: a leaked key's story across two accounts,
//! found whole — and none of the look-alikes that share its names but no
//! credential — over raw files and over the lake, in every format.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::{lake_of, path_str, run, stderr, stdout};

const A: &str = "111111111111";
const B: &str = "222222222222";
const ATTACKER_IP: &str = "198.51.100.66";
const OFFICE_IP: &str = "203.0.113.10";
pub const LEAKED: &str = "AKIALEAKEDKEY0000001";
const SESSION: &str = "ASIASTORYSESSION0001";
const BACKDOOR: &str = "AKIABACKDOOR00000001";
const SECOND: &str = "ASIASTORYSECOND00002";
/// A spreadsheet formula and markup that must stay text.
const FORMULA_AGENT: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";
const MARKUP_AGENT: &str = "</script><img src=x onerror=alert(1)>";

fn identity(kind: &str, account: &str, arn: &str, key: &str) -> Value {
    json!({"type": kind, "principalId": format!("AID{key}"), "arn": arn, "accountId": account, "accessKeyId": key})
}

fn user(account: &str, name: &str, key: &str) -> Value {
    identity(
        "IAMUser",
        account,
        &format!("arn:aws:iam::{account}:user/{name}"),
        key,
    )
}

fn session(account: &str, role: &str, name: &str, key: &str) -> Value {
    identity(
        "AssumedRole",
        account,
        &format!("arn:aws:sts::{account}:assumed-role/{role}/{name}"),
        key,
    )
}

/// One record at minute `min` of 2026-04-01 10:00.
fn record(id: &str, min: u32, who: &Value, account: &str, name: &str, ip: &str) -> Value {
    let source = match name {
        "AssumeRole" | "GetCallerIdentity" => "sts.amazonaws.com",
        "GetObject" | "ListBuckets" => "s3.amazonaws.com",
        "StopLogging" => "cloudtrail.amazonaws.com",
        "ModifySnapshotAttribute" | "DescribeInstances" => "ec2.amazonaws.com",
        _ => "iam.amazonaws.com",
    };
    json!({
        "eventVersion": "1.08", "userIdentity": who,
        "eventTime": format!("2026-04-01T10:{min:02}:00Z"), "eventSource": source,
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.30", "requestID": format!("req-{id}"), "eventID": id,
        "readOnly": matches!(name, "GetCallerIdentity" | "GetObject" | "ListBuckets" | "DescribeInstances"),
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account,
        "eventCategory": "Management",
    })
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

/// The address of a story record (`s…`) or a look-alike (`l…`).
fn ip_of(id: &str) -> &'static str {
    if id.starts_with('s') {
        ATTACKER_IP
    } else {
        OFFICE_IP
    }
}

fn assume(
    id: &str,
    min: u32,
    who: &Value,
    account: &str,
    role: &str,
    name: &str,
    key: &str,
) -> Value {
    let ip = ip_of(id);
    with(
        record(id, min, who, account, "AssumeRole", ip),
        json!({
            "requestParameters": {"roleArn": format!("arn:aws:iam::{B}:role/{role}"), "roleSessionName": name},
            "responseElements": {
                "credentials": {"accessKeyId": key, "expiration": "Apr 1, 2026, 11:00:00 AM"},
                "assumedRoleUser": {"arn": format!("arn:aws:sts::{B}:assumed-role/{role}/{name}"), "assumedRoleId": format!("AROA:{name}")}
            },
        }),
    )
}

fn get_object(id: &str, min: u32, who: &Value, bucket: &str, key: &str, agent: &str) -> Value {
    let ip = ip_of(id);
    with(
        record(id, min, who, B, "GetObject", ip),
        json!({
            "userAgent": agent,
            "requestParameters": {"bucketName": bucket, "key": key},
            "resources": [
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                {"type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}"), "accountId": B}
            ],
        }),
    )
}

/// The story (event ids `s…`) and the look-alikes (`l…`).
pub fn story_records() -> Vec<Value> {
    let leaked = user(A, "dev-ci", LEAKED);
    let session1 = session(B, "deploy", "ci", SESSION);
    let backdoor = user(B, "backdoor", BACKDOOR);
    let session2 = session(B, "admin-ops", "ops", SECOND);
    let admin = user(A, "admin", "AKIAADMINKEY00000001");
    let legit = user(A, "release", "AKIALEGITUSER0000001");
    let cross = assume("s02", 2, &leaked, A, "deploy", "ci", SESSION);
    // The role's account logs the same call: the caller is an account.
    let mut cross_in_b = cross.clone();
    cross_in_b["eventID"] = json!("s03");
    cross_in_b["recipientAccountId"] = json!(B);
    cross_in_b["userIdentity"] =
        json!({"type": "AWSAccount", "principalId": "AIDLEAKED", "accountId": A});
    let cross = with(cross, json!({"sharedEventID": "shared-1"}));
    let cross_in_b = with(cross_in_b, json!({"sharedEventID": "shared-1"}));
    vec![
        with(
            record("s01", 1, &leaked, A, "GetCallerIdentity", ATTACKER_IP),
            json!({"userAgent": FORMULA_AGENT}),
        ),
        cross,
        cross_in_b,
        with(
            record("s04", 4, &session1, B, "CreateUser", ATTACKER_IP),
            json!({"requestParameters": {"userName": "backdoor"},
                   "userAgent": "curl/8\u{1b}[31m-red"}),
        ),
        with(
            record("s05", 5, &session1, B, "CreateAccessKey", ATTACKER_IP),
            json!({"requestParameters": {"userName": "backdoor"},
                   "responseElements": {"accessKey": {"accessKeyId": BACKDOOR, "userName": "backdoor", "status": "Active"}}}),
        ),
        with(
            record("s06", 6, &session1, B, "AttachUserPolicy", ATTACKER_IP),
            json!({"requestParameters": {"userName": "backdoor", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}),
        ),
        record("s07", 7, &backdoor, B, "ListBuckets", ATTACKER_IP),
        get_object("s08", 8, &backdoor, "b-finance", "q1.csv", MARKUP_AGENT),
        get_object(
            "s09",
            8,
            &backdoor,
            "b-finance",
            "q2.csv",
            "aws-cli/2.15.30",
        ),
        get_object(
            "s10",
            8,
            &backdoor,
            "b-finance",
            "q3.csv",
            "aws-cli/2.15.30",
        ),
        get_object("s11", 9, &backdoor, "b-hr", "staff.csv", "aws-cli/2.15.30"),
        assume("s12", 10, &backdoor, B, "admin-ops", "ops", SECOND),
        with(
            record(
                "s13",
                11,
                &session2,
                B,
                "ModifySnapshotAttribute",
                ATTACKER_IP,
            ),
            json!({"requestParameters": {"snapshotId": "snap-0123", "attributeType": "CREATE_VOLUME_PERMISSION",
                   "createVolumePermission": {"add": {"items": [{"userId": "999999999999"}]}}}}),
        ),
        with(
            record("s14", 12, &session2, B, "StopLogging", ATTACKER_IP),
            json!({"requestParameters": {"name": "org-trail"}}),
        ),
        // Look-alikes: the same role and session name from another key…
        assume("l01", 3, &legit, A, "deploy", "ci", "ASIALOOKALIKE0000001"),
        record(
            "l02",
            5,
            &session(B, "deploy", "ci", "ASIALOOKALIKE0000001"),
            B,
            "DescribeInstances",
            OFFICE_IP,
        ),
        // …another key of the leaked key's user…
        record(
            "l03",
            6,
            &user(A, "dev-ci", "AKIADEVCISECOND00001"),
            A,
            "ListBuckets",
            OFFICE_IP,
        ),
        // …a user called backdoor made by someone else, with its own key…
        with(
            record("l04", 7, &admin, A, "CreateUser", OFFICE_IP),
            json!({"requestParameters": {"userName": "backdoor"}}),
        ),
        with(
            record("l05", 7, &admin, A, "CreateAccessKey", OFFICE_IP),
            json!({"requestParameters": {"userName": "backdoor"},
                   "responseElements": {"accessKey": {"accessKeyId": "AKIALOOKBACKDOOR0001", "userName": "backdoor"}}}),
        ),
        get_object(
            "l06",
            8,
            &user(A, "backdoor", "AKIALOOKBACKDOOR0001"),
            "b-finance",
            "q1.csv",
            "aws-cli/2.15.30",
        ),
        // …and the same snapshot shared and logging stopped by another.
        with(
            record("l07", 13, &admin, B, "ModifySnapshotAttribute", OFFICE_IP),
            json!({"requestParameters": {"snapshotId": "snap-0123",
                   "createVolumePermission": {"add": {"items": [{"userId": "999999999999"}]}}}}),
        ),
        with(
            record("l08", 14, &admin, A, "StopLogging", OFFICE_IP),
            json!({"requestParameters": {"name": "org-trail"}}),
        ),
        // The attacker's address was never seen before the story.
        record("l09", 0, &admin, A, "ListUsers", OFFICE_IP),
    ]
}

/// The story's event ids, in time order.
pub fn story_ids() -> Vec<String> {
    (1..=14).map(|i| format!("s{i:02}")).collect()
}

/// The trail as CloudTrail log files (one per account) under `dir`.
pub fn write_story(dir: &Path) {
    for account in [A, B] {
        let records: Vec<Value> = story_records()
            .into_iter()
            .filter(|r| r["recipientAccountId"] == json!(account))
            .collect();
        let folder = dir.join(format!("AWSLogs/{account}/CloudTrail/us-east-1/2026/04/01"));
        std::fs::create_dir_all(&folder).unwrap();
        let file = folder.join(format!(
            "{account}_CloudTrail_us-east-1_20260401T1015Z_story.json"
        ));
        std::fs::write(file, json!({"Records": records}).to_string()).unwrap();
    }
}

fn investigate(args: &[&str]) -> (Value, String) {
    let mut all = vec!["investigate", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (
        serde_json::from_slice(&out.stdout).expect("json report"),
        stderr(&out),
    )
}

fn ids(report: &Value) -> Vec<String> {
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect()
}

fn keys(report: &Value) -> Vec<(String, u64, Option<String>)> {
    report["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["access_key_id"].as_str().unwrap().to_string(),
                c["depth"].as_u64().unwrap(),
                c["parent"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// What every reader must find for the leaked key: the whole story, in
/// order, and nothing of the look-alikes.
pub fn assert_the_story(report: &Value) {
    assert_eq!(ids(report), story_ids(), "{report:#}");
    assert_eq!(
        keys(report),
        [
            (LEAKED.to_string(), 0, None),
            (SESSION.to_string(), 1, Some(LEAKED.to_string())),
            (BACKDOOR.to_string(), 2, Some(SESSION.to_string())),
            (SECOND.to_string(), 3, Some(BACKDOOR.to_string())),
        ]
    );
    let creds = &report["credentials"];
    assert_eq!(creds[1]["issued_by_event"], "s02");
    assert_eq!(
        creds[1]["principal"],
        format!("arn:aws:sts::{B}:assumed-role/deploy/ci")
    );
    assert_eq!(creds[2]["kind"], "long-term");
    assert_eq!(
        creds[2]["principal"],
        format!("arn:aws:iam::{B}:user/backdoor")
    );
    let created: Vec<(String, String)> = report["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().into(),
                c["event_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("user", "s04"),
        ("access-key", "s05"),
        ("policy-attachment", "s06"),
        ("snapshot-shared", "s13"),
    ];
    assert_eq!(created, want.map(|(k, e)| (k.to_string(), e.to_string())));
    assert_eq!(report["tampering"][0]["event_id"], "s14");
    assert_eq!(report["tampering"].as_array().unwrap().len(), 1);
    let finance = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "arn:aws:s3:::b-finance")
        .expect("the bucket, not its objects");
    assert_eq!(
        (finance["reads"].as_u64(), finance["writes"].as_u64()),
        (Some(3), Some(0))
    );
    let ips: Vec<&Value> = report["source_ips"].as_array().unwrap().iter().collect();
    assert_eq!(ips.len(), 1, "{ips:?}");
    assert_eq!(ips[0]["ip"], ATTACKER_IP);
    assert_eq!(ips[0]["new"], true);
    let accounts: BTreeSet<&str> = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, BTreeSet::from([A, B]));
}

#[test]
fn a_leaked_key_s_story_is_found_whole_over_files_and_the_lake() {
    let trail = tempfile::tempdir().unwrap();
    write_story(trail.path());
    let (from_files, _) = investigate(&["--access-key", LEAKED, path_str(trail.path())]);
    assert_the_story(&from_files);
    let lake = lake_of(trail.path());
    let (from_lake, _) = investigate(&["--access-key", LEAKED, "--lake", path_str(lake.path())]);
    assert_the_story(&from_lake);
    // The lake adds when each value was first seen there.
    assert_eq!(
        from_lake["source_ips"][0]["first_seen_in_lake"],
        "2026-04-01T10:01:00Z"
    );
    assert_eq!(
        from_lake["regions"][0]["first_seen_in_lake"],
        "2026-04-01T10:00:00Z"
    );
    assert_eq!(from_lake["regions"][0]["new"], false);
    // A lake written before the identity copies answers the same.
    crate::query::as_written_before_the_copies(lake.path());
    let (from_old, _) = investigate(&["--access-key", LEAKED, "--lake", path_str(lake.path())]);
    assert_the_story(&from_old);
}

#[test]
fn the_other_subjects_start_from_their_credentials() {
    let trail = tempfile::tempdir().unwrap();
    write_story(trail.path());
    let lake = lake_of(trail.path());
    let lake = path_str(lake.path());
    // From the address: every credential used there, hence the story.
    let (by_ip, _) = investigate(&["--ip", ATTACKER_IP, "--lake", lake]);
    assert_eq!(ids(&by_ip), story_ids());
    // From the second session: only what it and its minted keys did.
    let arn = format!("arn:aws:sts::{B}:assumed-role/admin-ops/ops");
    let (by_session, _) = investigate(&["--session", &arn, "--lake", lake]);
    assert_eq!(ids(&by_session), ["s13", "s14"]);
    // A principal is every key it used: both of dev-ci's.
    let arn = format!("arn:aws:iam::{A}:user/dev-ci");
    let (by_user, _) = investigate(&["--principal", &arn, "--lake", lake, "--depth", "0"]);
    let found: BTreeSet<String> = ids(&by_user).into_iter().collect();
    assert_eq!(
        found,
        BTreeSet::from(["s01".into(), "s02".into(), "s03".into(), "l03".into()])
    );
    assert_eq!(by_user["not_followed"][0]["access_key_id"], SESSION);
}

#[test]
fn the_depth_limit_and_an_unknown_key_are_said() {
    let trail = tempfile::tempdir().unwrap();
    write_story(trail.path());
    let (shallow, _) = investigate(&[
        "--access-key",
        LEAKED,
        "--depth",
        "1",
        path_str(trail.path()),
    ]);
    assert_eq!(ids(&shallow), ["s01", "s02", "s03", "s04", "s05", "s06"]);
    assert_eq!(shallow["not_followed"][0]["access_key_id"], BACKDOOR);
    assert!(
        shallow["notes"][0]
            .as_str()
            .unwrap()
            .contains("depth limit (1)"),
        "{shallow}"
    );
    let lake = lake_of(trail.path());
    let out = run(&[
        "investigate",
        "--access-key",
        "AKIANOSUCHKEY0000000",
        "--lake",
        path_str(lake.path()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("no event of access key AKIANOSUCHKEY0000000 at all; the lake spans 2026-04-01T10:00:00Z to 2026-04-01T10:14:00Z"),
        "{text}"
    );
    let out = run(&[
        "investigate",
        "--access-key",
        LEAKED,
        "--since",
        "2026-04-02",
        "--lake",
        path_str(lake.path()),
    ]);
    assert!(
        stdout(&out).contains("since 2026-04-02T00:00:00Z; the lake spans"),
        "{}",
        stdout(&out)
    );
    // Stdin cannot be read once per hop.
    let out = run(&["investigate", "--access-key", LEAKED, "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stdin only once"), "{}", stderr(&out));
}

#[test]
fn every_format_carries_the_story_and_keeps_record_text_inert() {
    let trail = tempfile::tempdir().unwrap();
    write_story(trail.path());
    let src = path_str(trail.path());
    let format = |f: &str| {
        let out = run(&["investigate", "--access-key", LEAKED, "--format", f, src]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    // CSV: one row per event, Suzaku's column names, formulas defused.
    let csv = format("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "Timestamp",
        "EventName",
        "EventSource",
        "SrcIP",
        "AWS-Region",
        "UserARN",
        "UserAccessKeyID",
        "UserAgent",
        "ErrorCode",
        "EventID",
        "RuleTitle",
    ] {
        assert!(header.iter().any(|h| h == col), "{col} in {header:?}");
    }
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let csv_ids: Vec<&str> = rows.iter().map(|r| &r[at("EventID")]).collect();
    assert_eq!(csv_ids, story_ids());
    assert_eq!(&rows[0][at("UserAgent")], format!("'{FORMULA_AGENT}"));
    // Timesketch: JSONL with message, datetime and timestamp_desc.
    let sketch = format("timesketch");
    let lines: Vec<Value> = sketch
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 14);
    for l in &lines {
        assert!(
            l["message"].is_string()
                && l["datetime"].is_string()
                && l["timestamp_desc"].is_string(),
            "{l}"
        );
    }
    assert_eq!(lines[12]["event_id"], "s13");
    // HTML: self-contained, the report inside as data, markup as text.
    let html = format("html");
    assert!(
        !html.contains(MARKUP_AGENT),
        "markup from a record reached the page"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no fetch from anywhere"
    );
    let start = html.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_the_story(&data);
    // The terminal: control characters escaped, repeats collapsed.
    let table = format("table");
    assert!(
        !table.contains('\u{1b}'),
        "an escape sequence reached the terminal"
    );
    assert!(table.contains("GetObject ×3"), "{table}");
    assert!(table.contains(SECOND), "{table}");
}

#[test]
fn a_broken_file_is_reported_once_and_the_story_is_still_found() {
    let trail = tempfile::tempdir().unwrap();
    write_story(trail.path());
    let broken = trail
        .path()
        .join("AWSLogs/222222222222/CloudTrail/us-east-1/2026/04/01/broken.json.gz");
    std::fs::write(
        &broken,
        &crate::support::gzip(br#"{"Records":[{"eventVersion":"1.08""#)[..20],
    )
    .unwrap();
    let src = path_str(trail.path());
    let out = run(&[
        "investigate",
        "--access-key",
        LEAKED,
        "--format",
        "json",
        src,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("broken.json.gz").count(),
        1,
        "{}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_the_story(&report);
    let out = run(&[
        "investigate",
        "--access-key",
        LEAKED,
        "--allow-bad",
        "--format",
        "json",
        src,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// The README's two walkthroughs, on the sample trail with every pack's
/// alerts filed: what they say is what `investigate` finds.
#[test]
fn the_readme_walkthroughs_hold_on_the_sample_trail() {
    let lake = lake_of(&crate::support::sample_trail());
    crate::support::file_alerts(lake.path());
    let lake = path_str(lake.path());
    // The intern's escalation: one key, six events from a new address,
    // the admin policy it gave itself, the alerts it raised.
    let (intern, _) = investigate(&[
        "--lake",
        lake,
        "--alert",
        "09178c809af4bec75f5b98e86176c90f",
    ]);
    assert_eq!(
        keys(&intern),
        [("AKIALFFZH6XH5MCCCKW6".to_string(), 0, None)]
    );
    assert_eq!(
        intern["credentials"][0]["principal"],
        "arn:aws:iam::111111111111:user/intern"
    );
    let names: Vec<&str> = intern["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ListSecrets",
            "ListAttachedUserPolicies",
            "GetSecretValue",
            "CreatePolicyVersion",
            "AttachUserPolicy",
            "GetSecretValue"
        ]
    );
    assert_eq!(intern["source_ips"][0]["ip"], "102.129.153.8");
    assert_eq!(intern["source_ips"][0]["new"], true);
    // With a GeoIP database, each address is placed.
    let places = tempfile::tempdir().unwrap();
    if let Some(db) = crate::support::sample_geoip(places.path()) {
        let (placed, _) = investigate(&[
            "--lake",
            lake,
            "--ip",
            "102.129.153.8",
            "--geoip",
            path_str(&db),
        ]);
        let geo = placed["source_ips"][0]["geo"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(geo.contains("Buenaventura Lakes"), "{placed:#}");
    }
    let created: Vec<&str> = intern["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        created.contains(&"arn:aws:iam::aws:policy/AdministratorAccess to user intern"),
        "{created:?}"
    );
    let rules: BTreeSet<&str> = intern["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains("privilege-escalation") && rules.contains("iam-policy-changes"),
        "{rules:?}"
    );
    // The exfiltration: the alert's evidence holds the instance's own key
    // and the stolen one; the stolen one's story is the download.
    let (alert, _) = investigate(&[
        "--lake",
        lake,
        "--alert",
        "94537254d4a97326bb3e519a98b1d941",
    ]);
    let found: BTreeSet<String> = keys(&alert).into_iter().map(|k| k.0).collect();
    assert!(
        found.contains("ASIAT25UA6UNXR17CM0W") && found.contains("ASIATSVE09G7UTZOD9ZV"),
        "{found:?}"
    );
    let (stolen, _) = investigate(&["--lake", lake, "--access-key", "ASIATSVE09G7UTZOD9ZV"]);
    assert_eq!(stolen["events"].as_array().unwrap().len(), 241);
    assert_eq!(
        stolen["resources"][0]["resource"],
        "arn:aws:s3:::acme-prod-customer-data"
    );
    assert_eq!(stolen["resources"][0]["reads"], 240);
    assert_eq!(stolen["user_agents"][0]["new"], true);
    assert_eq!(
        stolen["source_ips"][0]["first_seen_in_lake"],
        "2026-04-02T19:12:00Z"
    );
    // What else came from that address: four keys, the tampering.
    let (ip, _) = investigate(&["--lake", lake, "--ip", "91.219.236.18"]);
    assert_eq!(ip["credentials"].as_array().unwrap().len(), 4);
    let tampering: BTreeSet<&str> = ip["tampering"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tampering,
        BTreeSet::from([
            "StopLogging",
            "DeleteTrail",
            "DeleteDetector",
            "StopConfigurationRecorder"
        ])
    );
}

/// The HTML report opens offline in headless Chromium and draws the chain,
/// the chart and the tables from its own bytes (the screenshot goes to
/// `target/screenshots/8-investigate-html.png`).
#[test]
fn the_html_report_draws_itself_offline_in_a_real_browser() {
    if !crate::support::have_browser() {
        return;
    }
    let trail = tempfile::tempdir().unwrap();
    write_story(trail.path());
    let page = trail.path().join("story.html");
    let out = run(&[
        "investigate",
        "--access-key",
        LEAKED,
        "--format",
        "html",
        "--output",
        path_str(&page),
        path_str(trail.path()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shot = crate::support::screenshots().join("8-investigate-html.png");
    crate::support::browser_fixture("report_html.py", &[path_str(&page), "4", path_str(&shot)]);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}
