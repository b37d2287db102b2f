//! Reaching AWS as the AWS CLI does, against moto in server mode (S3, STS,
//! IAM, SNS): credentials from a `credential_process` helper, refreshed
//! when they near expiry during a long ingest; a role assumed through
//! `source_profile`, checked at moto's door (a recording proxy) to sign
//! every S3 call with the session STS issued for the role; the endpoint settings in the SDK's order; and the
//! errors for a missing region or missing credentials.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{
    SNS_READ, SNS_SETUP, aws_isolated, bin, files_under, path_str, python, s3_upload, sample_trail,
    start_moto, stderr,
};

/// A `credential_process` helper: prints moto's test keys with a session
/// token numbered by call, expiring `lifetime` seconds from now, and
/// appends one line per call to `calls`.
const HELPER: &str = r#"
import datetime, json, sys
calls, lifetime = sys.argv[1], float(sys.argv[2])
with open(calls, "a") as f:
    f.write("call\n")
n = sum(1 for _ in open(calls))
exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=lifetime)
print(json.dumps({"Version": 1, "AccessKeyId": "testing", "SecretAccessKey": "testing",
                  "SessionToken": "session-%d" % n,
                  "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}))
"#;

/// Shared AWS files in a temporary folder.
struct AwsFiles {
    dir: tempfile::TempDir,
}

impl AwsFiles {
    fn new(config: &str, credentials: &str) -> AwsFiles {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config"), config).expect("write config");
        std::fs::write(dir.path().join("credentials"), credentials).expect("write credentials");
        AwsFiles { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with only these files as AWS settings.
    fn cmd(&self) -> Command {
        let mut cmd = bin();
        aws_isolated(&mut cmd)
            .env("AWS_CONFIG_FILE", self.path("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("credentials"));
        cmd
    }
}

/// The sample trail's files in `s3://src/trail/` on moto; returns how many.
fn upload_sample(endpoint: &str) -> usize {
    let trail = sample_trail();
    let files: Vec<PathBuf> = files_under(&trail)
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".json.gz"))
        .collect();
    s3_upload(endpoint, "src", "trail/", &trail, &files);
    files.len()
}

/// An endpoint nothing listens on (the port was free a moment ago): a
/// request sent there fails, after retries.
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port())
}

/// `ingest --format json` from `s3://src/trail/` into a local lake, with
/// `flags` after the subcommand.
fn ingest_json(cmd: &mut Command, lake: &Path, flags: &[&str]) -> (Option<i32>, Value, String) {
    let out = cmd
        .args([
            "ingest",
            "--format",
            "json",
            "--lake",
            path_str(lake),
            "s3://src/trail/",
        ])
        .args(flags)
        .output()
        .expect("runs");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), v, stderr(&out))
}

#[test]
fn credentials_from_credential_process_are_used_and_refreshed_before_they_expire() {
    let Some(moto) = start_moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let files = upload_sample(&endpoint);
    let tmp = tempfile::tempdir().expect("tempdir");
    let helper = tmp.path().join("helper.py");
    std::fs::write(&helper, HELPER).expect("write helper");
    let calls = tmp.path().join("calls");
    // Keys valid for an hour: fetched once for the whole ingest.
    let profile = |lifetime: &str| {
        format!(
            "[profile helper]\nregion = us-east-1\nendpoint_url = {endpoint}\n\
             credential_process = python3 {} {} {lifetime}\n",
            path_str(&helper),
            path_str(&calls)
        )
    };
    let aws = AwsFiles::new(&profile("3600"), "");
    let (code, v, err) = ingest_json(
        &mut aws.cmd(),
        &tmp.path().join("lake1"),
        &["--profile", "helper"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["events"], 4000, "{v}");
    let n = std::fs::read_to_string(&calls)
        .expect("calls")
        .lines()
        .count();
    assert_eq!(n, 1, "long-lived keys are fetched once");
    // Keys that are about to expire (60.05 s left: inside the 60 s
    // refresh margin after 50 ms) while an ingest from S3 into an S3 lake
    // runs (hundreds of requests): fetched again as it goes on, and the
    // ingest loses nothing.
    std::fs::remove_file(&calls).expect("reset");
    s3_upload(&endpoint, "lake", "", tmp.path(), &[]);
    let aws = AwsFiles::new(&profile("60.05"), "");
    let out = aws
        .cmd()
        .env("AWS_PROFILE", "helper")
        .args([
            "ingest",
            "--format",
            "json",
            "--lake",
            "s3://lake/ct",
            "s3://src/trail/",
        ])
        .output()
        .expect("runs");
    let (code, err) = (out.status.code(), stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["events"], 4000, "{v}");
    assert_eq!(v["files"].as_u64(), Some(files as u64), "{v}");
    let n = std::fs::read_to_string(&calls)
        .expect("calls")
        .lines()
        .count();
    assert!(n >= 2, "expiring keys were fetched {n} time(s)");
}

/// Creates, in moto, the role `reader` that the user `base` may assume.
const ROLE_SETUP: &str = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="base")
iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"AWS": "arn:aws:iam::123456789012:user/base"}}]}))
iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
"#;

/// A recording proxy in front of moto: forwards every request unchanged
/// and writes, per request, the method, path and the access key that
/// signed it (from the Authorization header), plus the AccessKeyId of any
/// STS AssumeRole answer, as JSON lines. moto's own IAM enforcement cannot
/// be used for this: it rejects object_store's valid signatures
/// (getmoto/moto#5948), so the calls are checked at moto's door instead.
const PROXY: &str = r#"
import http.client, http.server, json, re, sys, threading
moto_port, log = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        conn = http.client.HTTPConnection("127.0.0.1", moto_port)
        conn.request(self.command, self.path, body, dict(self.headers.items()))
        resp = conn.getresponse()
        data = resp.read()
        auth = self.headers.get("Authorization", "")
        key = re.search(r"Credential=([A-Z0-9]+)/", auth)
        entry = {"method": self.command, "path": self.path, "key": key and key.group(1),
                 "body": body.decode("utf-8", "replace")[:300]}
        issued = re.search(rb"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>", data)
        if b"AssumeRoleResponse" in data and issued:
            entry["issued"] = issued.group(1).decode()
        with lock:
            log.write(json.dumps(entry) + "\n")
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

#[test]
fn a_role_assumed_through_source_profile_makes_the_calls() {
    let Some(moto) = start_moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    upload_sample(&endpoint);
    let setup = python(ROLE_SETUP, &[&endpoint]);
    assert!(setup.status.success(), "{}", stderr(&setup));
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("requests.jsonl");
    let mut proxy = Command::new("python3")
        .args(["-c", PROXY, &moto.port.to_string(), path_str(&log)])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("proxy starts");
    let port = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(proxy.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("proxy port");
        line.trim().to_string()
    };
    let via = format!("http://127.0.0.1:{port}");
    // STS and S3 both go through the proxy: the profile's endpoint_url is
    // every service's.
    let aws = AwsFiles::new(
        &format!(
            "[profile base]\nregion = us-east-1\nendpoint_url = {via}\n\n\
             [profile reader]\nrole_arn = arn:aws:iam::123456789012:role/reader\n\
             source_profile = base\nrole_session_name = trailwatch-test\n\
             region = us-east-1\nendpoint_url = {via}\n"
        ),
        "[base]\naws_access_key_id = AKIABASEUSER0000TEST\naws_secret_access_key = base-secret\n",
    );
    let (code, v, err) = ingest_json(
        &mut aws.cmd(),
        &tmp.path().join("lake"),
        &["--profile", "reader"],
    );
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["events"], 4000, "{v}");
    let requests: Vec<Value> = std::fs::read_to_string(&log)
        .expect("proxy log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("log line"))
        .collect();
    // The base profile's keys signed one AssumeRole of the reader role ...
    let assumed: Vec<&Value> = requests
        .iter()
        .filter(|r| r.get("issued").is_some())
        .collect();
    assert_eq!(assumed.len(), 1, "{requests:#?}");
    assert_eq!(assumed[0]["key"], "AKIABASEUSER0000TEST");
    let body = assumed[0]["body"].as_str().expect("body");
    assert!(
        body.contains("Action=AssumeRole")
            && body.contains("role%2Freader")
            && body.contains("RoleSessionName=trailwatch-test"),
        "{body}"
    );
    // ... and the session moto issued for the role signed every S3 call.
    let session = assumed[0]["issued"].as_str().expect("issued key");
    assert!(session.starts_with("ASIA"), "{session}");
    let s3: Vec<&Value> = requests
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/src")))
        .collect();
    assert!(s3.len() > 70, "{} S3 calls", s3.len());
    assert!(s3.iter().all(|r| r["key"] == session), "{s3:#?}");
}

#[test]
fn endpoints_follow_the_sdks_order() {
    let Some(moto) = start_moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    upload_sample(&endpoint);
    // Each case passes only when the right endpoint is used.
    let dead = dead_endpoint();
    let keys = "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n";
    // (what is checked, the default profile's extra lines, environment,
    // flags)
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            "the service's variable over the global one",
            String::new(),
            vec![
                ("AWS_ENDPOINT_URL", &dead),
                ("AWS_ENDPOINT_URL_S3", &endpoint),
            ],
            vec![],
        ),
        (
            "--endpoint-url over every variable",
            String::new(),
            vec![("AWS_ENDPOINT_URL", &dead), ("AWS_ENDPOINT_URL_S3", &dead)],
            vec!["--endpoint-url", &endpoint],
        ),
        (
            "the environment over the profile",
            format!("endpoint_url = {dead}\n"),
            vec![("AWS_ENDPOINT_URL", &endpoint)],
            vec![],
        ),
        (
            "the profile's services section over its global endpoint_url",
            format!(
                "endpoint_url = {dead}\nservices = local\n\n[services local]\ns3 =\n  endpoint_url = {endpoint}\n"
            ),
            vec![],
            vec![],
        ),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    for (i, (what, profile, env, flags)) in cases.into_iter().enumerate() {
        let aws = AwsFiles::new(&format!("[default]\nregion = us-east-1\n{profile}"), keys);
        let mut cmd = aws.cmd();
        cmd.envs(env);
        let (code, v, err) = ingest_json(&mut cmd, &tmp.path().join(format!("lake{i}")), &flags);
        assert_eq!(code, Some(0), "{what}: {err}");
        assert_eq!(v["events"], 4000, "{what}: {v}");
    }
}

#[test]
fn a_missing_region_or_missing_credentials_says_where_it_looked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lake = tmp.path().join("lake");
    // Nothing configured at all: no region.
    let aws = AwsFiles::new("", "");
    let (code, _, err) = ingest_json(&mut aws.cmd(), &lake, &[]);
    assert_eq!(code, Some(2), "{err}");
    for want in ["no AWS region", "--region", "AWS_REGION", "profile default"] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
    // A region, a named profile, but no credentials anywhere.
    let aws = AwsFiles::new("[profile audit]\nregion = eu-west-1\n", "");
    let (code, _, err) = ingest_json(&mut aws.cmd(), &lake, &["--profile", "audit"]);
    assert_eq!(code, Some(2), "{err}");
    for want in [
        "no AWS credentials",
        "profile audit",
        "AWS_ACCESS_KEY_ID",
        "credential_process",
        path_str(&aws.path("credentials")),
    ] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
    // A profile that does not exist is named as such.
    let (code, _, err) = ingest_json(&mut aws.cmd(), &lake, &["--profile", "nope"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn sns_takes_its_own_endpoint_variable_over_the_global_one() {
    let Some(moto) = start_moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let setup = python(SNS_SETUP, &[&endpoint, "alerts"]);
    assert!(setup.status.success(), "{}", stderr(&setup));
    let made: Value = serde_json::from_slice(&setup.stdout).expect("json");
    let dead = dead_endpoint();
    let aws = AwsFiles::new(
        "[default]\nregion = us-east-1\n",
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    );
    let config = aws.path("trailwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[notify.sink.alerts]\ntype = \"sns\"\ntopic_arn = {}\n",
            made["topic"]
        ),
    )
    .expect("write");
    let out = aws
        .cmd()
        .env("AWS_ENDPOINT_URL", &dead)
        .env("AWS_ENDPOINT_URL_SNS", &endpoint)
        .args(["notify", "test", "alerts", "--config", path_str(&config)])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let read = python(
        SNS_READ,
        &[&endpoint, made["queue"].as_str().expect("queue")],
    );
    assert!(read.status.success(), "{}", stderr(&read));
    let got: Vec<Value> = serde_json::from_slice(&read.stdout).expect("messages");
    assert_eq!(
        got.len(),
        1,
        "the test message, through SNS's own endpoint: {got:?}"
    );
}

/// Errors from AWS reach the user as sentences: the SDK's instance
/// metadata warnings (each with its raw HTTP response) do not come before
/// the missing-region error unless -v asks, and a missing bucket is said
/// as S3's code and message, not its XML reply.
#[test]
fn aws_errors_come_without_raw_replies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lake = tmp.path().join("lake");
    let aws = AwsFiles::new("", "");
    let probed = |flags: &[&str]| {
        let mut cmd = aws.cmd();
        cmd.env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead_endpoint());
        ingest_json(&mut cmd, &lake, flags)
    };
    let (code, _, err) = probed(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no AWS region"), "{err}");
    assert!(!err.contains("IMDS"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line, the error: {err}");
    let (_, _, verbose) = probed(&["-v"]);
    assert!(
        verbose.contains("IMDS"),
        "-v shows the SDK's probe: {verbose}"
    );

    let Some(moto) = start_moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let mut cmd = bin();
    crate::support::s3_env(&mut cmd);
    let out = cmd
        .args([
            "state",
            "--lake",
            "s3://no-such-bucket/lake",
            "--endpoint-url",
            &endpoint,
        ])
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("NoSuchBucket: The specified bucket does not exist (bucket no-such-bucket)"),
        "{err}"
    );
    assert!(
        !err.contains("<?xml") && !err.contains("RequestId"),
        "{err}"
    );
}
