//! `trailwatch respond` against a real AWS API on loopback (moto in server
//! mode): the bad state is made through the API, the CloudTrail records
//! that describe it are detected, and the plan, the apply and a second
//! apply are checked against the API's state and the lake's `responses`
//! table; then a resource deleted before the apply and a denied call.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{
    Moto, aws_isolated, bin, file_alerts, lake_of, moto_with_boto3, path_str, python, query_json,
    stderr,
};

/// The bad state, made through the API; prints the ids it got.
const SETUP: &str = r#"
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
s3, ec2, iam = boto3.client("s3", **kw), boto3.client("ec2", **kw), boto3.client("iam", **kw)
ct, gd, sts = boto3.client("cloudtrail", **kw), boto3.client("guardduty", **kw), boto3.client("sts", **kw)
doc = lambda action: json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
s3.create_bucket(Bucket="acme-reports")
s3.put_bucket_policy(Bucket="acme-reports", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-reports/*"}]}))
vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
iam.create_user(UserName="svc-backup")
admin = iam.create_policy(PolicyName="admin-all", PolicyDocument=doc("*"))["Policy"]["Arn"]
iam.attach_user_policy(UserName="svc-backup", PolicyArn=admin)
key = iam.create_access_key(UserName="svc-backup")["AccessKey"]["AccessKeyId"]
iam.create_login_profile(UserName="svc-backup", Password="Correct-Horse-9!")
s3.create_bucket(Bucket="trail-logs")
trail = ct.create_trail(Name="org-trail", S3BucketName="trail-logs")["TrailARN"]
# By name, as `aws cloudtrail stop-logging --name org-trail` records it
# (moto 5.2's StartLogging fails on an ARN; CloudTrail takes both).
ct.start_logging(Name="org-trail")
ct.stop_logging(Name="org-trail")
detector = gd.create_detector(Enable=True)["DetectorId"]
gd.delete_detector(DetectorId=detector)
app = iam.create_policy(PolicyName="app", PolicyDocument=doc("s3:GetObject"))["Policy"]["Arn"]
iam.create_policy_version(PolicyArn=app, PolicyDocument=doc("*"), SetAsDefault=True)
print(json.dumps({"sg": sg, "key": key, "admin": admin, "trail": trail, "detector": detector, "app": app,
                  "account": sts.get_caller_identity()["Account"]}))
"#;

/// What the API says now, of everything the setup made bad.
const STATE: &str = r#"
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
ids = json.loads(sys.argv[2])
s3, ec2, iam = boto3.client("s3", **kw), boto3.client("ec2", **kw), boto3.client("iam", **kw)
ct, gd = boto3.client("cloudtrail", **kw), boto3.client("guardduty", **kw)
try:
    conf = s3.get_public_access_block(Bucket="acme-reports")["PublicAccessBlockConfiguration"]
    blocked = all(conf.values()) and len(conf) == 4
except s3.exceptions.ClientError:
    blocked = False
try:
    perms = ec2.describe_security_groups(GroupIds=[ids["sg"]])["SecurityGroups"][0]["IpPermissions"]
    rules = sorted(f'{p["IpProtocol"]}/{p.get("FromPort")}/{r["CidrIp"]}' for p in perms for r in p.get("IpRanges", []))
except ec2.exceptions.ClientError:
    rules = None
keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="svc-backup")["AccessKeyMetadata"]}
attached = [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="svc-backup")["AttachedPolicies"]]
try:
    iam.get_login_profile(UserName="svc-backup")
    password = True
except iam.exceptions.NoSuchEntityException:
    password = False
print(json.dumps({
    "public_access_blocked": blocked,
    "ingress": rules,
    "key": keys.get(ids["key"]),
    "attached": attached,
    "password": password,
    "logging": ct.get_trail_status(Name=ids["trail"])["IsLogging"],
    "detectors": len(gd.list_detectors()["DetectorIds"]),
    "app_default": iam.get_policy(PolicyArn=ids["app"])["Policy"]["DefaultVersionId"],
}))
"#;

fn py_json(script: &str, args: &[&str]) -> Value {
    let out = python(script, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

fn endpoint(moto: &Moto) -> String {
    format!("http://127.0.0.1:{}", moto.port)
}

/// Turn moto's checks of every request's signature and IAM policy on
/// (from the next request) or off.
fn moto_checks(moto: &Moto, on: bool) {
    let out = python(
        "import sys, urllib.request\n\
         urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/moto-api/reset-auth', \
         data=sys.argv[2].encode(), method='POST', headers={'Content-Type': 'text/plain'}))",
        &[&endpoint(moto), if on { "0" } else { "inf" }],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The AWS settings a command gets: moto's default identity, and nothing
/// from the machine running the tests (as `support::aws_isolated`).
const MOTO_ENV: [(&str, &str); 6] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent/trailwatch-test/config"),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/trailwatch-test/credentials",
    ),
];

/// One CloudTrail record by bob in the moto account.
fn record(ids: &Value, n: u32, source: &str, name: &str, request: Value, response: Value) -> Value {
    let account = ids["account"].as_str().expect("account");
    // Five minutes apart, so each alarm's period holds one call (an alarm
    // alerts when it goes into ALARM, not while it stays there); the
    // policy is created first and its new default version comes last.
    let minute = match n {
        10 => 0,
        11 => 55,
        n => n * 5,
    };
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDABOB", "userName": "bob",
            "arn": format!("arn:aws:iam::{account}:user/bob"), "accountId": account, "accessKeyId": "AKIABOBEXAMPLE"},
        "eventTime": format!("2026-04-04T02:{minute:02}:00Z"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": request,
        "responseElements": response,
        "eventID": format!("00000000-0000-4000-8000-0000000000{n:02}"),
        "eventType": "AwsApiCall",
        "readOnly": false,
        "recipientAccountId": account,
        "managementEvent": true,
        "eventCategory": "Management",
    })
}

/// The record of a call opening `port` of the setup's group to `cidr`.
fn ingress(ids: &Value, n: u32, port: u16, cidr: &str) -> Value {
    let permission = json!({"ipProtocol": "tcp", "fromPort": port, "toPort": port,
        "ipRanges": {"items": [{"cidrIp": cidr}]}});
    record(
        ids,
        n,
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": ids["sg"], "ipPermissions": {"items": [permission]}}),
        json!({"_return": true}),
    )
}

/// The records of what the setup did, as CloudTrail would have written
/// them, in a trail folder under `dir`.
fn write_trail(dir: &Path, ids: &Value) {
    let s = |k: &str| ids[k].as_str().expect("id").to_string();
    let records = vec![
        record(
            ids,
            1,
            "s3.amazonaws.com",
            "PutBucketPolicy",
            json!({"bucketName": "acme-reports",
            "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-reports/*"}]}}),
            Value::Null,
        ),
        ingress(ids, 2, 22, "0.0.0.0/0"),
        ingress(ids, 3, 5432, "10.0.0.0/16"),
        record(
            ids,
            4,
            "iam.amazonaws.com",
            "CreateUser",
            json!({"userName": "svc-backup"}),
            json!({"user": {"userName": "svc-backup", "arn": format!("arn:aws:iam::{}:user/svc-backup", s("account"))}}),
        ),
        record(
            ids,
            5,
            "iam.amazonaws.com",
            "AttachUserPolicy",
            json!({"userName": "svc-backup", "policyArn": s("admin")}),
            Value::Null,
        ),
        record(
            ids,
            6,
            "iam.amazonaws.com",
            "CreateAccessKey",
            json!({"userName": "svc-backup"}),
            json!({"accessKey": {"accessKeyId": s("key"), "userName": "svc-backup", "status": "Active"}}),
        ),
        record(
            ids,
            7,
            "iam.amazonaws.com",
            "CreateLoginProfile",
            json!({"userName": "svc-backup", "passwordResetRequired": false}),
            Value::Null,
        ),
        record(
            ids,
            8,
            "cloudtrail.amazonaws.com",
            "StopLogging",
            json!({"name": "org-trail"}),
            Value::Null,
        ),
        record(
            ids,
            9,
            "guardduty.amazonaws.com",
            "DeleteDetector",
            json!({"detectorId": s("detector")}),
            Value::Null,
        ),
        record(
            ids,
            10,
            "iam.amazonaws.com",
            "CreatePolicy",
            json!({"policyName": "app"}),
            json!({"policy": {"arn": s("app"), "defaultVersionId": "v1"}}),
        ),
        record(
            ids,
            11,
            "iam.amazonaws.com",
            "CreatePolicyVersion",
            json!({"policyArn": s("app"), "setAsDefault": true}),
            json!({"policyVersion": {"versionId": "v2", "isDefaultVersion": true}}),
        ),
    ];
    let account = s("account");
    let folder = dir.join(format!("AWSLogs/{account}/CloudTrail/us-east-1/2026/04/04"));
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join(format!(
            "{account}_CloudTrail_us-east-1_20260404T0215Z_bad.json"
        )),
        json!({"Records": records}).to_string(),
    )
    .expect("write the trail");
}

/// The moto server, its ids, a trail describing them, and a lake holding
/// the trail and the alerts `detect` raised over it.
struct World {
    moto: Moto,
    ids: Value,
    trail: tempfile::TempDir,
    lake: tempfile::TempDir,
}

fn world() -> Option<World> {
    let moto = moto_with_boto3()?;
    let ids = py_json(SETUP, &[&endpoint(&moto)]);
    let trail = tempfile::tempdir().expect("tempdir");
    write_trail(trail.path(), &ids);
    let lake = lake_of(trail.path());
    file_alerts(lake.path());
    Some(World {
        moto,
        ids,
        trail,
        lake,
    })
}

impl World {
    fn state(&self) -> Value {
        py_json(STATE, &[&endpoint(&self.moto), &self.ids.to_string()])
    }

    /// `respond --since 2026-04-01 --lake LAKE --format json` with `extra`,
    /// as the moto account's default identity unless `keys` are given.
    fn respond(
        &self,
        extra: &[&str],
        keys: Option<(&str, &str)>,
    ) -> (Option<i32>, Vec<Value>, String) {
        let mut cmd = bin();
        aws_isolated(&mut cmd).envs(MOTO_ENV);
        if let Some((id, secret)) = keys {
            cmd.env("AWS_ACCESS_KEY_ID", id)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        }
        cmd.args([
            "respond",
            "--since",
            "2026-04-01",
            "--format",
            "json",
            "--lake",
            path_str(self.lake.path()),
        ])
        .args(["--endpoint-url", &endpoint(&self.moto)])
        .args(extra);
        let out = cmd.output().expect("respond runs");
        let actions: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                stderr(&out)
            )
        });
        (out.status.code(), actions, stderr(&out))
    }
}

/// For `watch` and `serve`: moto with the bad state, an empty folder to
/// follow (the trail lands there with `write_trail`), an empty lake, and a
/// state folder holding `config` as the config file.
struct Followed {
    world: World,
    state: tempfile::TempDir,
    config: std::path::PathBuf,
}

fn followed(config: &str) -> Option<Followed> {
    let moto = moto_with_boto3()?;
    let ids = py_json(SETUP, &[&endpoint(&moto)]);
    let state = tempfile::tempdir().expect("tempdir");
    let path = state.path().join("config.toml");
    std::fs::write(&path, config).expect("config");
    Some(Followed {
        world: World {
            moto,
            ids,
            trail: tempfile::tempdir().expect("tempdir"),
            lake: tempfile::tempdir().expect("tempdir"),
        },
        state,
        config: path,
    })
}

/// (action, target, status) of each action, sorted; `none` lines left out.
fn outcomes(actions: &[Value]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = actions
        .iter()
        .filter(|a| a["action"] != "none")
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap_or("-").to_string();
            (text("action"), text("target"), text("status"))
        })
        .collect();
    out.sort();
    out
}

fn expected(ids: &Value, status: &str) -> Vec<(String, String, String)> {
    let s = |k: &str| ids[k].as_str().expect("id").to_string();
    let mut want: Vec<(String, String, String)> = [
        (
            "block-public-access",
            "arn:aws:s3:::acme-reports".to_string(),
        ),
        ("create-detector", "guardduty:us-east-1".to_string()),
        ("deactivate-access-key", s("key")),
        ("delete-login-profile", "svc-backup".to_string()),
        ("detach-user-policy", "svc-backup".to_string()),
        ("restore-default-policy-version", s("app")),
        ("revoke-ingress", s("sg")),
        ("start-logging", "org-trail".to_string()),
    ]
    .into_iter()
    .map(|(a, t)| (a.to_string(), t, status.to_string()))
    .collect();
    want.sort();
    want
}

#[test]
fn a_plan_changes_nothing_apply_fixes_each_and_a_second_apply_finds_all_done() {
    let Some(w) = world() else { return };
    let before = w.state();
    assert_eq!(
        before,
        json!({"public_access_blocked": false, "ingress": ["tcp/22/0.0.0.0/0", "tcp/5432/10.0.0.0/16"],
            "key": "Active", "attached": [w.ids["admin"]], "password": true, "logging": false, "detectors": 0, "app_default": "v2"})
    );

    // The plan: every reversal, named by the evidence's ids; nothing changed.
    let (code, plan, err) = w.respond(&[], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(outcomes(&plan), expected(&w.ids, "planned"), "{plan:#?}");
    let revoke = plan
        .iter()
        .find(|a| a["action"] == "revoke-ingress")
        .expect("revoke");
    assert_eq!(
        revoke["api_calls"][0]["parameters"]["IpPermissions"],
        json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    );
    assert!(
        revoke["aws_cli"]
            .as_str()
            .expect("cli")
            .starts_with("aws ec2 revoke-security-group-ingress --group-id sg-")
    );
    assert!(
        plan.iter().any(|a| a["status"] == "no-response"),
        "alerts without a response say so"
    );
    assert_eq!(w.state(), before, "a plan changes nothing");

    // Apply: each fixed, the private rule kept, the user and its key kept.
    let (code, applied, err) = w.respond(&["--apply", "--yes"], None);
    assert_eq!(code, Some(0), "{err}\n{applied:#?}");
    assert_eq!(
        outcomes(&applied),
        expected(&w.ids, "applied"),
        "{applied:#?}"
    );
    assert_eq!(
        w.state(),
        json!({"public_access_blocked": true, "ingress": ["tcp/5432/10.0.0.0/16"], "key": "Inactive",
            "attached": [], "password": false, "logging": true, "detectors": 1, "app_default": "v1"})
    );

    // A second apply changes nothing.
    let (code, again, err) = w.respond(&["--apply", "--yes"], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        outcomes(&again),
        expected(&w.ids, "already-done"),
        "{again:#?}"
    );

    // Every run is filed in the lake's responses table.
    let out = query_json(
        w.lake.path(),
        "SELECT mode, status, count(*) AS n FROM responses WHERE action <> 'none' GROUP BY mode, status ORDER BY mode, status",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        rows,
        json!([{"mode": "apply", "status": "already-done", "n": 8}, {"mode": "apply", "status": "applied", "n": 8},
            {"mode": "plan", "status": "planned", "n": 8}])
    );
    // Other engines read it with the DDL `lake ddl` prints.
    if crate::support::python_has("duckdb") {
        let ddl = crate::support::duckdb_ddl_file(w.lake.path());
        let out = python(
            "import duckdb, sys\ncon = duckdb.connect()\ncon.execute(open(sys.argv[1]).read())\n\
             print(con.execute(\"SELECT count(*) FROM responses WHERE action <> 'none'\").fetchone()[0])",
            &[path_str(&ddl)],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "24");
    }
}

/// The security group deleted, and a user that may do everything but
/// remove console passwords, with its keys.
const DENIED_USER: &str = r#"
import boto3, json, sys
ep = sys.argv[1]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
ec2 = boto3.client("ec2", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
ec2.delete_security_group(GroupId=sys.argv[2])
iam.create_user(UserName="responder")
iam.put_user_policy(UserName="responder", PolicyName="respond", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:DeleteLoginProfile", "Resource": "*"}]}))
k = iam.create_access_key(UserName="responder")["AccessKey"]
print(json.dumps({"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}))
"#;

#[test]
fn a_deleted_resource_and_a_denied_call_fail_alone_and_the_rest_is_applied() {
    let Some(w) = world() else { return };
    let (code, plan, err) = w.respond(&[], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(outcomes(&plan), expected(&w.ids, "planned"));
    // Between the plan and the apply: the group is deleted, and from now
    // on moto checks signatures and policies (a wrong signature would fail
    // every call).
    let keys = py_json(
        DENIED_USER,
        &[&endpoint(&w.moto), w.ids["sg"].as_str().expect("sg")],
    );
    moto_checks(&w.moto, true);
    let creds = (
        keys["id"].as_str().expect("id"),
        keys["secret"].as_str().expect("secret"),
    );
    // GuardDuty is left out: moto 5.2 checks the signatures of its GET
    // requests wrongly (boto3's own ListDetectors fails the same way once
    // moto checks them).
    let only = "--only=block-public-access,revoke-ingress,deactivate-access-key,detach-user-policy,\
                delete-login-profile,start-logging,restore-default-policy-version";
    let (code, applied, err) = w.respond(&["--apply", "--yes", only], Some(creds));
    assert_eq!(code, Some(1), "a failed action exits 1: {err}");
    let by_action = |name: &str| {
        applied
            .iter()
            .find(|a| a["action"] == name)
            .unwrap_or_else(|| panic!("no {name} in {applied:#?}"))
    };
    let gone = by_action("revoke-ingress");
    assert_eq!(gone["status"], "failed");
    assert!(
        gone["error"]
            .as_str()
            .expect("error")
            .contains("InvalidGroup.NotFound"),
        "{gone}"
    );
    let denied = by_action("delete-login-profile");
    assert_eq!(denied["status"], "failed");
    assert!(
        denied["error"]
            .as_str()
            .expect("error")
            .contains("AccessDenied"),
        "{denied}"
    );
    assert!(
        !applied.iter().any(|a| a["action"] == "create-detector"),
        "--only leaves it out"
    );
    for name in [
        "block-public-access",
        "deactivate-access-key",
        "detach-user-policy",
        "start-logging",
        "restore-default-policy-version",
    ] {
        assert_eq!(
            by_action(name)["status"],
            "applied",
            "{name}: {}",
            by_action(name)
        );
    }
}

#[test]
fn the_plan_of_the_sample_s_incidents_names_each_resource_and_says_what_has_no_response() {
    let lake = lake_of(&crate::support::sample_trail());
    file_alerts(lake.path());
    let out = bin()
        .args([
            "respond",
            "--since",
            "2026-01-01",
            "--lake",
            path_str(lake.path()),
            "--format",
            "json",
        ])
        .output()
        .expect("respond");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let got = outcomes(&plan);
    for (action, target) in [
        ("block-public-access", "arn:aws:s3:::acme-prod-reports"),
        ("revoke-ingress", "sg-0f1e2d3c4b5a69788"),
        ("revoke-ingress", "sg-0aa11bb22cc33dd44"),
        (
            "start-logging",
            "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-security-trail",
        ),
        ("create-detector", "guardduty:us-east-1"),
        ("deactivate-access-key", "AKIASVCBACKUPKEY0001"),
        ("delete-login-profile", "svc-backup"),
        ("detach-user-policy", "intern"),
    ] {
        assert!(
            got.contains(&(
                action.to_string(),
                target.to_string(),
                "planned".to_string()
            )),
            "{action} {target} not in {got:#?}"
        );
    }
    // The same plan from detect's NDJSON and the raw trail, without a lake.
    let alerts = tempfile::NamedTempFile::new().expect("tempfile");
    let detected = bin()
        .args(["detect", "-q", "--pack", "all", "--format", "ndjson"])
        .arg(crate::support::sample_trail())
        .output()
        .expect("detect");
    std::fs::write(alerts.path(), &detected.stdout).expect("write alerts");
    let out = bin()
        .args([
            "respond",
            "--format",
            "json",
            "--alerts",
            path_str(alerts.path()),
        ])
        .arg(crate::support::sample_trail())
        .output()
        .expect("respond");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_files: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(outcomes(&from_files), got);
    // --account keeps one account's actions.
    let out = bin()
        .args([
            "respond",
            "--since",
            "2026-01-01",
            "--format",
            "json",
            "--lake",
            path_str(lake.path()),
        ])
        .args([
            "--account",
            "222222222222",
            "--only",
            "revoke-ingress,create-detector",
        ])
        .output()
        .expect("respond");
    let narrowed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let targets: Vec<(String, String, String)> = outcomes(&narrowed);
    assert_eq!(
        targets
            .iter()
            .map(|(a, t, _)| (a.as_str(), t.as_str()))
            .collect::<Vec<_>>(),
        [
            ("create-detector", "guardduty:us-east-1"),
            ("revoke-ingress", "sg-0aa11bb22cc33dd44")
        ]
    );
    // --apply asks on a terminal; without one it needs --yes.
    let out = bin()
        .args([
            "respond",
            "--since",
            "2026-01-01",
            "--lake",
            path_str(lake.path()),
            "--apply",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("respond");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("add --yes"), "{}", stderr(&out));
    // The README's walkthrough: eleven planned, one refused.
    let count = |status: &str| got.iter().filter(|(_, _, s)| s == status).count();
    assert_eq!((count("planned"), count("refused")), (11, 1), "{got:#?}");
    let reasons: Vec<&str> = plan.iter().filter_map(|a| a["reason"].as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("no automatic response for rule console-login-without-mfa"))
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("only be deactivated by the root user"))
    );
    // The table view shows each aws command, and that nothing changed.
    let out = bin()
        .args([
            "respond",
            "--since",
            "2026-01-01",
            "--lake",
            path_str(lake.path()),
            "--only",
            "revoke-ingress",
        ])
        .output()
        .expect("respond");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "run   aws ec2 revoke-security-group-ingress --group-id sg-0f1e2d3c4b5a69788"
        ),
        "{text}"
    );
    assert!(text.contains("Nothing was changed: add --apply"), "{text}");
    assert!(
        !text.contains("block-public-access"),
        "--only keeps only its actions: {text}"
    );
}

/// `POST /api/respond`: behind the token, a plan that changes nothing,
/// then in the dashboard, after a confirmation, the change applied.
#[test]
fn the_dashboard_plans_an_alert_s_response_and_applies_it_on_confirmation() {
    use crate::serve::{TOKEN, serve_on};
    let Some(w) = world() else { return };
    let state = tempfile::tempdir().expect("tempdir");
    let port = w.moto.port.to_string();
    let endpoint = format!("http://127.0.0.1:{port}");
    let s = serve_on(
        w.lake.path(),
        state.path(),
        &["--endpoint-url", &endpoint],
        &[[("TRAILWATCH_TOKEN", TOKEN)].as_slice(), &MOTO_ENV].concat(),
    );
    let out = query_json(
        w.lake.path(),
        "SELECT alert_id FROM alerts WHERE rule_id = 'security-group-open-to-world' AND state = 'ALARM'",
    );
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    let alert = rows[0]["alert_id"].as_str().expect("an alert").to_string();
    let url = format!("{}/api/respond", s.base);
    let post = |body: Value, token: Option<&str>| {
        let mut req = json_post(&url, &body.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let (code, _) = send(post(json!({"alert_id": alert, "apply": false}), None)).await;
        assert_eq!(code, 401, "the token guards responses");
        let (code, body) = send(post(
            json!({"alert_id": "no-such", "apply": false}),
            Some(TOKEN),
        ))
        .await;
        assert_eq!(code, 404, "{body}");
        let (code, _) = send(post(
            json!({"alert_id": alert, "apply": true, "force": true}),
            Some(TOKEN),
        ))
        .await;
        assert_eq!(
            code, 422,
            "a body with other fields is refused, nothing applied"
        );
        let (code, body) = send(post(
            json!({"alert_id": alert, "apply": false}),
            Some(TOKEN),
        ))
        .await;
        assert_eq!(code, 200, "{body}");
        let plan: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(plan["actions"][0]["action"], "revoke-ingress");
        assert_eq!(plan["actions"][0]["status"], "planned");
    });
    assert_eq!(
        w.state()["ingress"],
        json!(["tcp/22/0.0.0.0/0", "tcp/5432/10.0.0.0/16"]),
        "a plan changes nothing"
    );
    if !crate::support::have_browser() {
        return;
    }
    let shots = crate::support::screenshots();
    crate::support::browser_fixture(
        "respond_e2e.py",
        &[s.base.as_str(), TOKEN, &alert, path_str(&shots)],
    );
    assert_eq!(
        w.state()["ingress"],
        json!(["tcp/5432/10.0.0.0/16"]),
        "applied from the dashboard"
    );
    let out = query_json(w.lake.path(), "SELECT mode, status FROM responses");
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        rows,
        json!([{"mode": "apply", "status": "applied"}]),
        "a dashboard view files nothing; its apply is filed"
    );
}

fn json_post(url: &str, body: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
}

async fn send(req: reqwest::RequestBuilder) -> (u16, String) {
    let res = req.send().await.expect("request");
    let code = res.status().as_u16();
    (code, res.text().await.unwrap_or_default())
}

/// `[respond] auto` in `watch`: the rules named act alone as their alerts
/// are raised, within `max_actions_per_hour`; past it an action waits for
/// a person; both are filed in the lake as `auto`.
#[test]
fn watch_answers_the_auto_rules_alone_within_the_hourly_budget() {
    let Some(f) = followed(
        "[respond]\nauto = [\"security-group-open-to-world\", \"cloudtrail-stopped\"]\nmax_actions_per_hour = 1\n",
    ) else {
        return;
    };
    let mut cmd = bin();
    let mut child = aws_isolated(&mut cmd)
        .envs(MOTO_ENV)
        .env("TRAILWATCH_CONFIG", &f.config)
        .args([
            "watch",
            "-q",
            "--pack",
            "all",
            "--poll-ms",
            "200",
            "--lateness",
            "60",
        ])
        .args([
            "--ingest-interval",
            "0",
            "--endpoint-url",
            &endpoint(&f.world.moto),
        ])
        .args([
            "--state",
            path_str(&f.state.path().join("w")),
            "--output",
            path_str(&f.state.path().join("out.ndjson")),
        ])
        .args([
            "--lake",
            path_str(f.world.lake.path()),
            path_str(f.world.trail.path()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watch starts");
    let w = &f.world;
    write_trail(w.trail.path(), &w.ids);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut filed = Value::Null;
    while std::time::Instant::now() < deadline {
        let out = query_json(
            w.lake.path(),
            "SELECT action, status, mode FROM responses WHERE action <> 'none' ORDER BY action",
        );
        if out.status.success() {
            filed = serde_json::from_slice(&out.stdout).expect("json");
            if filed.as_array().is_some_and(|a| a.len() >= 2) {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        filed,
        json!([{"action": "revoke-ingress", "status": "applied", "mode": "auto"},
            {"action": "start-logging", "status": "refused", "mode": "auto"}]),
        "the first change is made alone, the second waits past the budget"
    );
    let now = w.state();
    assert_eq!(now["ingress"], json!(["tcp/5432/10.0.0.0/16"]));
    assert_eq!(
        now["logging"],
        json!(false),
        "past the budget nothing is changed"
    );
    assert_eq!(now["key"], json!("Active"), "rules not in auto only plan");
}

/// `[respond] auto` in `serve --watch`: the same output on the server's
/// pipeline.
#[test]
fn serve_answers_the_auto_rules_as_their_alerts_are_raised() {
    use crate::serve::{TOKEN, serve_on};
    let Some(f) = followed("[respond]\nauto = [\"security-group-open-to-world\"]\n") else {
        return;
    };
    let w = &f.world;
    write_trail(w.trail.path(), &w.ids);
    let ep = endpoint(&w.moto);
    let _server = serve_on(
        w.lake.path(),
        &f.state.path().join("serve"),
        &[
            "--watch",
            path_str(w.trail.path()),
            "--pack",
            "all",
            "--endpoint-url",
            &ep,
            "--ingest-interval",
            "1",
        ],
        &[
            [
                ("TRAILWATCH_TOKEN", TOKEN),
                ("TRAILWATCH_CONFIG", path_str(&f.config)),
            ]
            .as_slice(),
            &MOTO_ENV,
        ]
        .concat(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while w.state()["ingress"] != json!(["tcp/5432/10.0.0.0/16"]) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never revoked the world-open rule"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let now = w.state();
    assert_eq!(now["logging"], json!(false), "rules not in auto only plan");
    assert_eq!(now["key"], json!("Active"));
}

/// A user refused the two changes, and a role `responder` that may do
/// everything. (moto 5.2 matches a trust policy's principal literally, so the role
/// trusts `*` rather than the account's `:root`.)
const ROLE_AND_USER: &str = r#"
import boto3, json, sys
ep = sys.argv[1]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_role(RoleName="responder", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
iam.put_role_policy(RoleName="responder", PolicyName="respond", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
iam.create_user(UserName="oncall")
iam.put_user_policy(UserName="oncall", PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                  {"Effect": "Deny", "Action": ["iam:UpdateAccessKey", "cloudtrail:StartLogging"], "Resource": "*"}]}))
k = iam.create_access_key(UserName="oncall")["AccessKey"]
print(json.dumps({"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}))
"#;

/// `[respond] role_arn`: each action is made as the role assumed in its
/// account; the caller's own identity, refused these changes, fails.
#[test]
fn each_account_s_actions_are_made_as_the_role_assumed_in_it() {
    let Some(w) = world() else { return };
    let keys = py_json(ROLE_AND_USER, &[&endpoint(&w.moto)]);
    moto_checks(&w.moto, true);
    let creds = (
        keys["id"].as_str().expect("id"),
        keys["secret"].as_str().expect("secret"),
    );
    let only = "--only=deactivate-access-key,start-logging";
    let (code, own, _) = w.respond(&["--apply", "--yes", only], Some(creds));
    assert_eq!(code, Some(1));
    assert!(
        own.iter()
            .filter(|a| a["action"] != "none")
            .all(|a| a["status"] == "failed"
                && a["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("AccessDenied"))),
        "the caller's own identity is refused these changes: {own:#?}"
    );
    let role = "--role-arn=arn:aws:iam::{account}:role/responder";
    let (code, as_role, err) = w.respond(&["--apply", "--yes", only, role], Some(creds));
    assert_eq!(code, Some(0), "{err}\n{as_role:#?}");
    let statuses: Vec<(&str, &str)> = as_role
        .iter()
        .filter(|a| a["action"] != "none")
        .map(|a| {
            (
                a["action"].as_str().unwrap_or(""),
                a["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("deactivate-access-key", "applied"),
            ("start-logging", "applied")
        ]
    );
    // Checks off again, to read the state with the setup's identity.
    moto_checks(&w.moto, false);
    let now = w.state();
    assert_eq!(
        (&now["key"], &now["logging"]),
        (&json!("Inactive"), &json!(true))
    );
}
