//! The correlation pack: impossible travel, privilege escalation,
//! exfiltration and persistence, on scenarios that must fire and
//! look-alikes that must not, on the sample trail's planted incidents,
//! on the real Stratus Red Team traces, and live (`watch`) as in replay.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::support::{
    detect_json, geoip_db, ingest_sample, path_str, run, sample_geoip, sample_trail, shared_dir,
    stderr, stdout,
};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// One CloudTrail record.
fn ev(time: &str, name: &str, source: &str, who: &Value, ip: &str, params: Value) -> Value {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    json!({
        "eventVersion": "1.09", "eventTime": time, "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "aws-cli/2",
        "userIdentity": who, "requestParameters": params, "responseElements": null,
        "eventID": format!("00000000-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333", "readOnly": false,
    })
}

fn user(name: &str) -> Value {
    json!({"type": "IAMUser", "principalId": format!("AIDA{name}"), "arn": format!("arn:aws:iam::111122223333:user/{name}"),
           "accountId": "111122223333", "accessKeyId": format!("AKIA{name}"), "userName": name})
}

fn role(name: &str, session: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::111122223333:assumed-role/{name}/{session}"),
           "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE",
           "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::111122223333:role/{name}"), "userName": name}}})
}

fn login(time: &str, who: &str, ip: &str, ok: bool) -> Value {
    let mut e = ev(
        time,
        "ConsoleLogin",
        "signin.amazonaws.com",
        &user(who),
        ip,
        Value::Null,
    );
    e["eventType"] = json!("AwsConsoleSignIn");
    e["responseElements"] = json!({"ConsoleLogin": if ok { "Success" } else { "Failure" }});
    if !ok {
        e["errorMessage"] = json!("Failed authentication");
    }
    e
}

/// Write records as a CloudTrail log file.
fn trail(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        serde_json::to_vec(&json!({"Records": records})).expect("json"),
    )
    .expect("write");
    p
}

/// The correlation alerts `detect` raises over `src` with `extra` flags.
fn correlate(src: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--pack", "correlation", path_str(src)];
    args.extend_from_slice(extra);
    detect_json(&args)
}

fn rules_of(alerts: &[Value]) -> Vec<&str> {
    alerts
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .collect()
}

/// London, Paris (340 km away), Tokyo, two London addresses, a VPN range
/// and an IPv6 range in Sydney.
fn places(dir: &Path) -> Option<PathBuf> {
    geoip_db(
        &dir.join("places.mmdb"),
        &[
            ("81.2.69.0/24", "London", "GB", 51.5074, -0.1278),
            ("81.2.70.0/24", "London", "GB", 51.5080, -0.1300),
            ("88.160.0.0/16", "Paris", "FR", 48.8566, 2.3522),
            ("126.0.0.0/8", "Tokyo", "JP", 35.6762, 139.6503),
            ("185.199.108.0/22", "Frankfurt", "DE", 50.1109, 8.6821),
            ("2001:4860::/32", "Sydney", "AU", -33.8688, 151.2093),
        ],
    )
}

#[test]
fn impossible_travel_fires_across_countries_and_stays_quiet_for_one_city_a_vpn_and_failed_logins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(db) = places(dir.path()) else { return };
    let db = path_str(&db).to_string();
    // alice: London, then Tokyo 30 minutes later (9,560 km): fires.
    // bob: two London addresses minutes apart: quiet.
    // carol: London, then the VPN egress in Frankfurt (allow-listed): quiet.
    // dave: London, then a failed sign-in from Tokyo: quiet.
    // erin: London, then Paris after 3 hours (113 km/h): quiet; then
    //   Sydney over IPv6 ten minutes later: fires.
    let records = vec![
        login("2024-05-01T08:00:00Z", "alice", "81.2.69.10", true),
        ev(
            "2024-05-01T08:30:00Z",
            "ListBuckets",
            "s3.amazonaws.com",
            &user("alice"),
            "126.1.2.3",
            Value::Null,
        ),
        login("2024-05-01T09:00:00Z", "bob", "81.2.69.20", true),
        login("2024-05-01T09:05:00Z", "bob", "81.2.70.20", true),
        login("2024-05-01T10:00:00Z", "carol", "81.2.69.30", true),
        ev(
            "2024-05-01T10:05:00Z",
            "ListUsers",
            "iam.amazonaws.com",
            &user("carol"),
            "185.199.108.5",
            Value::Null,
        ),
        login("2024-05-01T11:00:00Z", "dave", "81.2.69.40", true),
        login("2024-05-01T11:10:00Z", "dave", "126.9.9.9", false),
        login("2024-05-01T12:00:00Z", "erin", "81.2.69.50", true),
        ev(
            "2024-05-01T15:00:00Z",
            "ListBuckets",
            "s3.amazonaws.com",
            &user("erin"),
            "88.160.1.1",
            Value::Null,
        ),
        ev(
            "2024-05-01T15:10:00Z",
            "ListBuckets",
            "s3.amazonaws.com",
            &user("erin"),
            "2001:4860:4860::8888",
            Value::Null,
        ),
        // Not places: an AWS service's name and a private address.
        ev(
            "2024-05-01T15:11:00Z",
            "ListBuckets",
            "s3.amazonaws.com",
            &user("erin"),
            "AWS Internal",
            Value::Null,
        ),
        ev(
            "2024-05-01T15:12:00Z",
            "ListBuckets",
            "s3.amazonaws.com",
            &user("erin"),
            "10.1.2.3",
            Value::Null,
        ),
    ];
    let src = trail(dir.path(), "travel.json", &records);
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "[correlate]\ntravel_allow = [\"185.199.108.0/22\"]\n").expect("config");
    let alerts = correlate(&src, &["--geoip", &db, "--config", path_str(&cfg)]);
    let travel: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule_id"] == "impossible-travel")
        .collect();
    let who: Vec<&str> = travel
        .iter()
        .filter_map(|a| a["dimensions"]["identity"].as_str())
        .collect();
    assert_eq!(
        who,
        [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/erin"
        ],
        "{travel:#?}"
    );
    let a = travel[0];
    assert_eq!(a["kind"], "correlation");
    assert_eq!(a["dimensions"]["from_location"], "London, GB");
    assert_eq!(a["dimensions"]["to_location"], "Tokyo, JP");
    let km: f64 = a["dimensions"]["distance_km"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .expect("km");
    assert!((km - 9560.0).abs() < 60.0, "{km}");
    let text = a["description"].as_str().unwrap_or_default();
    assert!(
        text.contains("81.2.69.10") && text.contains("126.1.2.3"),
        "{text}"
    );
    assert!(
        a["query"]
            .as_str()
            .unwrap_or_default()
            .contains("user/alice")
    );
    assert_eq!(travel[1]["dimensions"]["to_location"], "Sydney, AU");

    // Without the allow-list, carol's VPN hop (London to Frankfurt in five
    // minutes) is impossible too.
    let open = correlate(&src, &["--geoip", &db]);
    assert!(
        open.iter()
            .any(|a| a["dimensions"]["identity"] == "arn:aws:iam::111122223333:user/carol")
    );
}

#[test]
fn without_a_geoip_database_impossible_travel_says_it_is_disabled() {
    let listed = run(&["rules", "list", "--pack", "correlation"]);
    let text = stdout(&listed);
    let line = text
        .lines()
        .find(|l| l.starts_with("impossible-travel"))
        .expect("listed");
    assert!(line.contains("disabled: no GeoIP database"), "{line}");
    for id in ["privilege-escalation", "s3-exfiltration", "iam-persistence"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(id) && l.contains("correlation")),
            "{text}"
        );
    }
    let out = run(&["detect", "--pack", "correlation", path_str(&sample_trail())]);
    assert!(
        stderr(&out).contains("impossible-travel is disabled: no GeoIP database"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn privilege_escalation_paths_fire_and_ordinary_admin_work_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    let with = |mut v: Value, k: &str, x: &str| {
        v[k] = json!(x);
        v
    };
    let records = vec![
        // alice is an admin; she grants bob admin: ordinary admin work.
        ev(
            "2024-05-01T08:00:00Z",
            "PutUserPolicy",
            "iam.amazonaws.com",
            &user("root-admin"),
            "81.2.69.1",
            json!({"userName": "alice", "policyName": "all", "policyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}),
        ),
        ev(
            "2024-05-01T09:00:00Z",
            "AttachUserPolicy",
            "iam.amazonaws.com",
            &user("alice"),
            "81.2.69.1",
            with(admin.clone(), "userName", "bob"),
        ),
        ev(
            "2024-05-01T09:01:00Z",
            "CreateAccessKey",
            "iam.amazonaws.com",
            &user("alice"),
            "81.2.69.1",
            json!({"userName": "bob"}),
        ),
        // mallory attaches admin to herself: fires.
        ev(
            "2024-05-01T10:00:00Z",
            "AttachUserPolicy",
            "iam.amazonaws.com",
            &user("mallory"),
            "81.2.69.2",
            with(admin.clone(), "userName", "mallory"),
        ),
        // trent opens the ops role's trust policy to his account and assumes it.
        ev(
            "2024-05-01T11:00:00Z",
            "UpdateAssumeRolePolicy",
            "iam.amazonaws.com",
            &user("trent"),
            "81.2.69.3",
            json!({"roleName": "ops", "policyDocument": "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A111122223333%3Auser%2Ftrent%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"}),
        ),
        ev(
            "2024-05-01T11:05:00Z",
            "AssumeRole",
            "sts.amazonaws.com",
            &user("trent"),
            "81.2.69.3",
            json!({"roleArn": "arn:aws:iam::111122223333:role/ops", "roleSessionName": "t"}),
        ),
        // victor makes a narrow new default version of a policy nobody is
        // known to hold: quiet.
        ev(
            "2024-05-01T12:00:00Z",
            "CreatePolicyVersion",
            "iam.amazonaws.com",
            &user("victor"),
            "81.2.69.4",
            json!({"policyArn": "arn:aws:iam::111122223333:policy/read", "setAsDefault": true,
                  "policyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"}),
        ),
        // wendy holds policy ops-policy, then makes it *:* by default.
        ev(
            "2024-05-01T13:00:00Z",
            "AttachUserPolicy",
            "iam.amazonaws.com",
            &user("root-admin"),
            "81.2.69.1",
            json!({"userName": "wendy", "policyArn": "arn:aws:iam::111122223333:policy/ops-policy"}),
        ),
        ev(
            "2024-05-01T13:30:00Z",
            "CreatePolicyVersion",
            "iam.amazonaws.com",
            &user("wendy"),
            "81.2.69.5",
            json!({"policyArn": "arn:aws:iam::111122223333:policy/ops-policy", "setAsDefault": true,
                  "policyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*:*\",\"Resource\":\"*\"}]}"}),
        ),
        // gina was added to devs; she attaches admin to devs: fires.
        ev(
            "2024-05-01T14:00:00Z",
            "AddUserToGroup",
            "iam.amazonaws.com",
            &user("root-admin"),
            "81.2.69.1",
            json!({"userName": "gina", "groupName": "devs"}),
        ),
        ev(
            "2024-05-01T14:10:00Z",
            "AttachGroupPolicy",
            "iam.amazonaws.com",
            &user("gina"),
            "81.2.69.6",
            with(admin.clone(), "groupName", "devs"),
        ),
        // hank assumes the build role, then gives it admin: one hop, fires.
        ev(
            "2024-05-01T15:00:00Z",
            "AssumeRole",
            "sts.amazonaws.com",
            &user("hank"),
            "81.2.69.7",
            json!({"roleArn": "arn:aws:iam::111122223333:role/build", "roleSessionName": "h"}),
        ),
        ev(
            "2024-05-01T15:10:00Z",
            "AttachRolePolicy",
            "iam.amazonaws.com",
            &user("hank"),
            "81.2.69.7",
            with(admin.clone(), "roleName", "build"),
        ),
        // ivan gives admin to a role he was never seen assuming: quiet.
        ev(
            "2024-05-01T16:00:00Z",
            "AttachRolePolicy",
            "iam.amazonaws.com",
            &user("ivan"),
            "81.2.69.8",
            with(admin.clone(), "roleName", "other"),
        ),
    ];
    let src = trail(dir.path(), "esc.json", &records);
    let alerts = correlate(&src, &[]);
    let esc: Vec<(&str, &str)> = alerts
        .iter()
        .filter(|a| a["rule_id"] == "privilege-escalation")
        .map(|a| {
            (
                a["dimensions"]["identity"].as_str().unwrap_or(""),
                a["dimensions"]["path"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        esc,
        [
            ("arn:aws:iam::111122223333:user/mallory", "self-grant"),
            ("arn:aws:iam::111122223333:user/trent", "trust-then-assume"),
            ("arn:aws:iam::111122223333:user/wendy", "policy-version"),
            ("arn:aws:iam::111122223333:user/gina", "self-grant"),
            ("arn:aws:iam::111122223333:user/hank", "self-grant"),
        ],
        "{alerts:#?}"
    );
    let trent = alerts
        .iter()
        .find(|a| a["dimensions"]["path"] == "trust-then-assume")
        .expect("trent");
    assert_eq!(
        trent["event_ids"].as_array().map(Vec::len),
        Some(2),
        "the chain cites both events"
    );
}

/// `probe` refused `refusals` times (ListSecrets, ListAttachedUserPolicies
/// and GetSecretValue in turn, a second apart from 10:00), then creating
/// an access key at 10:05.
fn probing(refusals: usize) -> Vec<Value> {
    let mut records = Vec::new();
    for i in 0..refusals {
        let api = ["ListSecrets", "ListAttachedUserPolicies", "GetSecretValue"][i % 3];
        let mut e = ev(
            &format!("2024-05-01T10:{:02}:{:02}Z", i / 60, i % 60),
            api,
            "iam.amazonaws.com",
            &user("probe"),
            "81.2.69.9",
            Value::Null,
        );
        e["errorCode"] = json!("AccessDenied");
        records.push(e);
    }
    records.push(ev(
        "2024-05-01T10:05:00Z",
        "CreateAccessKey",
        "iam.amazonaws.com",
        &user("probe"),
        "81.2.69.9",
        Value::Null,
    ));
    records
}

#[test]
fn escalation_probing_with_refusals_before_success_fires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut records = probing(3);
    // The same success without the refusals: one API of twenty, quiet.
    records.push(ev(
        "2024-05-01T10:05:00Z",
        "CreateAccessKey",
        "iam.amazonaws.com",
        &user("calm"),
        "81.2.69.9",
        Value::Null,
    ));
    let alerts = correlate(&trail(dir.path(), "probe.json", &records), &[]);
    let probing: Vec<&str> = alerts
        .iter()
        .filter(|a| a["dimensions"]["path"] == "escalation-probing")
        .filter_map(|a| a["dimensions"]["identity"].as_str())
        .collect();
    assert_eq!(
        probing,
        ["arn:aws:iam::111122223333:user/probe"],
        "{alerts:#?}"
    );
}

#[test]
fn a_long_probing_story_cites_its_first_steps_and_the_last_and_counts_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = probing(60);
    let success = records[60]["eventID"].as_str().expect("id").to_string();
    let alerts = correlate(&trail(dir.path(), "probe.json", &records), &[]);
    let a = alerts
        .iter()
        .find(|a| a["dimensions"]["path"] == "escalation-probing")
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    let ids = a["event_ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 20, "at most EVIDENCE_IDS cited");
    assert_eq!(ids.last().and_then(Value::as_str), Some(success.as_str()));
    assert_eq!(a["event_count"], 61);
    assert!(
        a["description"]
            .as_str()
            .unwrap_or("")
            .contains("… 41 more")
    );
}

#[test]
fn exfiltration_fires_on_a_burst_and_shares_and_not_on_downloads_that_fit_the_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut records = Vec::new();
    let get = |t: String, who: &Value, n: usize| {
        let mut e = ev(
            &t,
            "GetObject",
            "s3.amazonaws.com",
            who,
            "81.2.69.7",
            json!({"bucketName": "data", "key": format!("k{n}")}),
        );
        e["additionalEventData"] = json!({"bytesTransferredOut": 1000});
        e["readOnly"] = json!(true);
        e
    };
    // batch: 300 objects an hour, every hour for two days, then 320: fits.
    // thief: 5 an hour for two days, then 400 in ten minutes: fires.
    for h in 0..49 {
        let (batch, thief) = if h < 48 { (300, 5) } else { (320, 400) };
        for i in 0..batch {
            let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").expect("t")
                + chrono::TimeDelta::hours(h)
                + chrono::TimeDelta::milliseconds(i * 3000);
            records.push(get(
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                &role("batch", "i-0123456789abcdef0"),
                i as usize,
            ));
        }
        for i in 0..thief {
            let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").expect("t")
                + chrono::TimeDelta::hours(h)
                + chrono::TimeDelta::milliseconds(i * 1500);
            records.push(get(
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                &user("thief"),
                i as usize,
            ));
        }
    }
    // A snapshot shared with another account fires; with a trusted one not.
    let share = |to: &str| {
        json!({"snapshotId": "snap-1", "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {"add": {"items": [{"userId": to}]}}})
    };
    records.push(ev(
        "2024-05-03T02:00:00Z",
        "ModifySnapshotAttribute",
        "ec2.amazonaws.com",
        &user("ops"),
        "81.2.69.8",
        share("999988887777"),
    ));
    records.push(ev(
        "2024-05-03T02:01:00Z",
        "ModifySnapshotAttribute",
        "ec2.amazonaws.com",
        &user("ops"),
        "81.2.69.8",
        share("444455556666"),
    ));
    // An object copied into another account's bucket, and replication
    // set up towards another account: both fire.
    let mut copy = ev(
        "2024-05-03T03:00:00Z",
        "CopyObject",
        "s3.amazonaws.com",
        &user("ops2"),
        "81.2.69.8",
        json!({"bucketName": "drop-zone", "key": "dump.sql", "x-amz-copy-source": "data/dump.sql"}),
    );
    copy["resources"] = json!([
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::drop-zone/dump.sql"},
        {"accountId": "999988887777", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::drop-zone"},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::data"}
    ]);
    records.push(copy);
    records.push(ev("2024-05-03T04:00:00Z", "PutBucketReplication", "s3.amazonaws.com", &user("ops3"), "81.2.69.8",
        json!({"bucketName": "data", "ReplicationConfiguration": {"Role": "arn:aws:iam::111122223333:role/r",
            "Rule": {"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::elsewhere", "Account": "999988887777"}}}})));
    // A copy within the account: quiet.
    let mut inside = ev(
        "2024-05-03T05:00:00Z",
        "CopyObject",
        "s3.amazonaws.com",
        &user("ops4"),
        "81.2.69.8",
        json!({"bucketName": "backup", "key": "k", "x-amz-copy-source": "data/k"}),
    );
    inside["resources"] = json!([{"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::backup"}]);
    records.push(inside);
    let src = trail(dir.path(), "exfil.json", &records);
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "[correlate]\ntrusted_accounts = [\"444455556666\"]\n").expect("config");
    let alerts = correlate(&src, &["--config", path_str(&cfg)]);
    let exfil: Vec<(&str, &str)> = alerts
        .iter()
        .filter(|a| a["rule_id"] == "s3-exfiltration")
        .map(|a| {
            (
                a["dimensions"]["identity"].as_str().unwrap_or(""),
                a["dimensions"]["path"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        exfil,
        [
            ("arn:aws:iam::111122223333:user/thief", "volume"),
            ("arn:aws:iam::111122223333:user/ops", "copy-out"),
            ("arn:aws:iam::111122223333:user/ops2", "copy-out"),
            ("arn:aws:iam::111122223333:user/ops3", "copy-out"),
        ],
        "{alerts:#?}"
    );
    let burst = &alerts[0];
    assert!(
        burst["description"]
            .as_str()
            .unwrap_or_default()
            .contains("baseline"),
        "{burst}"
    );
}

#[test]
fn the_sample_raises_the_planted_correlations_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(db) = sample_geoip(dir.path()) else {
        return;
    };
    let trail = sample_trail();
    let alerts = correlate(&trail, &["--geoip", path_str(&db)]);
    let incidents: Vec<Value> =
        serde_json::from_slice(&std::fs::read(trail.join("planted-incidents.json")).expect("list"))
            .expect("json");
    // Every correlation alert cites an event of an incident that claims
    // its rule.
    for a in &alerts {
        let ids: Vec<&str> = a["event_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let claimed = incidents.iter().any(|inc| {
            inc["detected_by"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == &a["rule_id"]))
                && inc["event_ids"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| ids.contains(&x.as_str().unwrap_or(""))))
        });
        assert!(claimed, "an alert no planted incident claims: {a:#}");
    }
    // Incidents 8 to 11 each raise theirs.
    for (name, rule) in [
        ("privilege-escalation", "privilege-escalation"),
        ("data-exfiltration", "s3-exfiltration"),
        ("persistence-backdoor-user", "iam-persistence"),
        ("impossible-travel", "impossible-travel"),
    ] {
        let inc = incidents
            .iter()
            .find(|i| i["name"] == name)
            .expect("incident");
        let ids: Vec<&str> = inc["event_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            alerts.iter().any(|a| a["rule_id"] == rule
                && a["event_ids"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| ids.contains(&x.as_str().unwrap_or(""))))),
            "{name} raised no {rule}"
        );
    }
    let carol = alerts
        .iter()
        .find(|a| {
            a["rule_id"] == "impossible-travel"
                && a["dimensions"]["identity"] == "arn:aws:iam::111111111111:user/carol"
        })
        .expect("carol");
    assert_eq!(carol["dimensions"]["from_location"], "London, GB");
    assert_eq!(carol["dimensions"]["to_location"], "Jilin, CN");
}

#[test]
fn stratus_red_team_traces_fire_the_matching_detection() {
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("cfg.toml");
    // An allow-list of provisioners that lacks the traces' principal.
    std::fs::write(
        &cfg,
        "[correlate]\nprovisioners = [\"arn:aws:iam::*:role/terraform\"]\n",
    )
    .expect("config");
    let stratus = shared.join("corpora/stratus-red-team");
    for (file, rule) in [
        ("aws.persistence.iam-backdoor-user.json", "iam-persistence"),
        (
            "aws.persistence.iam-create-admin-user.json",
            "iam-persistence",
        ),
        (
            "aws.persistence.iam-create-backdoor-role.json",
            "iam-persistence",
        ),
        ("aws.persistence.iam-backdoor-role.json", "iam-persistence"),
        (
            "aws.persistence.iam-create-user-login-profile.json",
            "iam-persistence",
        ),
        (
            "aws.privilege-escalation.iam-update-user-login-profile.json",
            "privilege-escalation",
        ),
        (
            "aws.persistence.iam-create-admin-user.json",
            "privilege-escalation",
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot.json",
            "s3-exfiltration",
        ),
        (
            "aws.exfiltration.rds-share-snapshot.json",
            "s3-exfiltration",
        ),
        ("aws.exfiltration.ec2-share-ami.json", "s3-exfiltration"),
        (
            "aws.credential-access.secretsmanager-retrieve-secrets.json",
            "s3-exfiltration",
        ),
    ] {
        let alerts = correlate(&stratus.join(file), &["--config", path_str(&cfg)]);
        assert!(
            rules_of(&alerts).contains(&rule),
            "{file}: {:?}",
            rules_of(&alerts)
        );
    }
    // With the principal allow-listed, persistence stays quiet.
    std::fs::write(
        &cfg,
        "[correlate]\nprovisioners = [\"arn:aws:iam::*:user/christophe\"]\n",
    )
    .expect("config");
    let alerts = correlate(
        &stratus.join("aws.persistence.iam-create-admin-user.json"),
        &["--config", path_str(&cfg)],
    );
    assert!(
        !rules_of(&alerts).contains(&"iam-persistence"),
        "{alerts:#?}"
    );
}

#[test]
fn persistence_respects_provisioners_business_hours_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let terraform = role("terraform", "run-42");
    let records = vec![
        // The Terraform role creates users at night: the normal workflow.
        ev(
            "2024-05-01T02:00:00Z",
            "CreateUser",
            "iam.amazonaws.com",
            &terraform,
            "81.2.69.1",
            json!({"userName": "svc-a"}),
        ),
        // An admin with IAM history, in business hours: quiet.
        ev(
            "2024-04-20T10:00:00Z",
            "PutUserPolicy",
            "iam.amazonaws.com",
            &user("admin"),
            "81.2.69.2",
            json!({"userName": "x"}),
        ),
        ev(
            "2024-05-01T10:00:00Z",
            "CreateUser",
            "iam.amazonaws.com",
            &user("admin"),
            "81.2.69.2",
            json!({"userName": "svc-b"}),
        ),
        // The same admin on a Saturday night: fires.
        ev(
            "2024-05-04T23:00:00Z",
            "CreateAccessKey",
            "iam.amazonaws.com",
            &user("admin"),
            "81.2.69.2",
            json!({"userName": "svc-b"}),
        ),
        // A role made to trust a foreign account, by the admin with IAM
        // history in business hours: within the workflow, quiet.
        ev(
            "2024-05-02T11:00:00Z",
            "CreateRole",
            "iam.amazonaws.com",
            &user("admin"),
            "81.2.69.2",
            json!({"roleName": "partner", "assumeRolePolicyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::999988887777:root\"},\"Action\":\"sts:AssumeRole\"}]}"}),
        ),
    ];
    let src = trail(dir.path(), "persist.json", &records);
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        "[correlate]\nprovisioners = [\"arn:aws:iam::*:role/terraform\", \"arn:aws:iam::111122223333:user/admin\"]\n",
    )
    .expect("config");
    // With admin a provisioner too, nothing fires.
    assert!(correlate(&src, &["--config", path_str(&cfg)]).is_empty());
    std::fs::write(
        &cfg,
        "[correlate]\nbusiness_hours = \"08:00-18:00\"\nbusiness_days = \"mon-fri\"\n",
    )
    .expect("config");
    let alerts = correlate(&src, &["--config", path_str(&cfg)]);
    let fired: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| {
            (
                a["dimensions"]["identity"].as_str().unwrap_or(""),
                a["dimensions"]["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        fired,
        [
            ("arn:aws:iam::111122223333:role/terraform", "CreateUser"),
            ("arn:aws:iam::111122223333:user/admin", "CreateAccessKey"),
        ],
        "{alerts:#?}"
    );
}

#[test]
fn the_correlate_section_is_checked_and_shown_by_config_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        "[watch]\npoll_ms = 500\n\n[correlate]\nmax_speed = 800\n",
    )
    .expect("config");
    let out = run(&["config", "check", "--config", path_str(&cfg)]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("max_speed") && err.contains("line 5"), "{err}");
    std::fs::write(&cfg, "[correlate]\nmax_speed_kmh = 0\n").expect("config");
    let err = stderr(&run(&["config", "check", "--config", path_str(&cfg)]));
    assert!(
        err.contains("max_speed_kmh") && err.contains("positive"),
        "{err}"
    );
    std::fs::write(
        &cfg,
        "# comment\n[correlate]\nmax_speed_kmh = 1000\ntravel_allow = [\"10.8.0.0/16\"]\n",
    )
    .expect("config");
    let out = run(&["config", "check", "--config", path_str(&cfg)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("correlate.max_speed_kmh"))
        .expect("shown");
    assert!(
        line.contains("1000") && line.contains("cfg.toml:2"),
        "{line}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("correlate.min_distance_km"))
        .expect("shown");
    assert!(line.contains("100"), "{line}");
}

#[test]
fn the_lake_replayed_gives_the_alerts_the_files_give() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(db) = sample_geoip(dir.path()) else {
        return;
    };
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let ids = |alerts: Vec<Value>| -> Vec<String> {
        let mut v: Vec<String> = alerts
            .iter()
            .filter_map(|a| a["alert_id"].as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let from_files = ids(correlate(&sample_trail(), &["--geoip", path_str(&db)]));
    let out = run(&[
        "detect",
        "--pack",
        "correlation",
        "--format",
        "json",
        "--no-save",
        "--geoip",
        path_str(&db),
        "--lake",
        path_str(&lake),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_lake = ids(serde_json::from_slice(&out.stdout).expect("json"));
    assert!(from_files.len() >= 8, "{from_files:?}");
    assert_eq!(from_lake, from_files);
}
