//! Running the binary and finding test data.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
}

/// Run with arguments; returns the finished process output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("trailwatch runs")
}

/// Run with bytes on stdin.
pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trailwatch starts");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("trailwatch finishes")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn sample_trail() -> PathBuf {
    repo_root().join("examples/sample-trail")
}

/// The sample trail ingested into a lake at `lake` (the test fails if the
/// ingest does).
pub fn ingest_sample(lake: &Path) {
    let out = run(&[
        "ingest",
        "--lake",
        path_str(lake),
        path_str(&sample_trail()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `../shared` beside the repository, if present. When absent, tests that
/// need it skip with a visible message unless `TRAILWATCH_REQUIRE_SHARED=1`
/// (set by `.ci/run`) turns the skip into a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("TRAILWATCH_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("../shared is required (TRAILWATCH_REQUIRE_SHARED=1) but {dir:?} is missing");
    }
    eprintln!("SKIPPED: ../shared not found at {dir:?}; corpus tests did not run");
    None
}

/// A valid record whose eventID is `id-<i>`.
pub fn rec(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{i}","accountId":"111122223333"}},"eventTime":"2024-05-01T12:00:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","requestParameters":null,"responseElements":null,"eventID":"id-{i}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#,
        i % 60
    )
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("in-memory");
    enc.finish().expect("in-memory")
}

/// The text values of `column` in every Parquet file under `lake/table`,
/// with multiplicity, sorted.
fn lake_column(lake: &Path, table: &str, column: &str) -> Vec<String> {
    use arrow::array::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut values = Vec::new();
    let dir = lake.join(table);
    if !dir.exists() {
        return values;
    }
    for f in files_under(&dir) {
        if f.extension().is_none_or(|x| x != "parquet") {
            continue;
        }
        let file = std::fs::File::open(&f).expect("open parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let col = batch
                .column_by_name(column)
                .expect("column")
                .as_string::<i32>();
            values.extend(col.iter().flatten().map(str::to_string));
        }
    }
    values.sort();
    values
}

/// Every eventID stored in a local lake, with multiplicity, sorted.
pub fn lake_event_ids(lake: &Path) -> Vec<String> {
    lake_column(lake, "cloudtrail", "eventid")
}

/// Every eventID in a trail, decoded with `trailwatch cat`, sorted.
pub fn source_event_ids(src: &Path) -> Vec<String> {
    let out = run(&["cat", path_str(src)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["eventID"].as_str().expect("eventID").to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// Whether an external tool the tests use is present. Missing tools skip
/// the test visibly, unless `TRAILWATCH_REQUIRE_TOOLS=1` (set by `.ci/run`,
/// which installs them) turns that into a failure.
pub fn have_tool(check: &mut Command, what: &str) -> bool {
    let ok = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("TRAILWATCH_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("{what} is required (TRAILWATCH_REQUIRE_TOOLS=1) but is not installed");
        }
        eprintln!("SKIPPED: {what} is not installed; install it (see .ci/run) to run this test");
    }
    ok
}

/// Whether headless Chromium, its WebDriver and Python's selenium are
/// here for the browser tests (each missing one said, as [`have_tool`]).
pub fn have_browser() -> bool {
    have_tool(Command::new("chromium").arg("--version"), "chromium")
        && have_tool(
            Command::new("chromedriver").arg("--version"),
            "chromedriver",
        )
        && python_has("selenium")
}

pub fn python_has(module: &str) -> bool {
    have_tool(
        Command::new("python3").args(["-c", &format!("import {module}")]),
        &format!("python3 module {module}"),
    )
}

/// Run a Python script with arguments.
pub fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs")
}

/// Run a Python script that prints "ok" or what it found wrong; fails the
/// test with what it printed otherwise.
pub fn python_says_ok(script: &str, args: &[&str]) {
    let out = python(script, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

/// `lake ddl --engine duckdb` for `lake`, written to `LAKE/duckdb.sql`.
pub fn duckdb_ddl_file(lake: &Path) -> PathBuf {
    let ddl = run(&[
        "lake",
        "ddl",
        "--engine",
        "duckdb",
        "--lake",
        path_str(lake),
    ]);
    assert!(ddl.status.success(), "{}", stderr(&ddl));
    let file = lake.join("duckdb.sql");
    std::fs::write(&file, &ddl.stdout).expect("write the DDL");
    file
}

/// A moto S3 server on a free loopback port, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto() -> Option<Moto> {
    if !have_tool(
        Command::new("moto_server").arg("--help"),
        "moto_server (pip install 'moto[server]')",
    ) {
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// moto on loopback, with boto3 to fill its buckets; `None` (the test
/// skips, or fails under TRAILWATCH_REQUIRE_TOOLS) when either is missing.
pub fn moto_with_boto3() -> Option<Moto> {
    let moto = start_moto()?;
    python_has("boto3").then_some(moto)
}

/// `trailwatch query -q --lake LAKE --format json SQL`.
pub fn query_json(lake: &Path, sql: &str) -> Output {
    bin()
        .args([
            "query",
            "-q",
            "--lake",
            path_str(lake),
            "--format",
            "json",
            sql,
        ])
        .output()
        .expect("trailwatch query runs")
}

/// Test credentials for moto, and no endpoint from the environment.
pub fn s3_env(cmd: &mut Command) -> &mut Command {
    aws_isolated(cmd)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
}

/// No AWS setting from the machine running the tests: no profile, keys,
/// region or endpoint from the environment, no shared files, and no
/// instance metadata lookups (which would wait for a timeout off EC2).
pub fn aws_isolated(cmd: &mut Command) -> &mut Command {
    for v in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_ENDPOINT_URL_STS",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/trailwatch-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/trailwatch-test/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

const S3_UPLOAD: &str = r#"
import boto3, os, sys
endpoint, bucket, prefix, root = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
for f in sys.argv[5:]:
    s3.upload_file(f, bucket, prefix + os.path.relpath(f, root))
"#;

/// An SNS topic named argv[2] and an SQS queue subscribed to it, on moto at
/// argv[1]; prints both as JSON.
pub const SNS_SETUP: &str = r#"
import boto3, json, sys
endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
sns, sqs = boto3.client("sns", **kw), boto3.client("sqs", **kw)
topic = sns.create_topic(Name=sys.argv[2])["TopicArn"]
queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
print(json.dumps({"topic": topic, "queue": queue}))
"#;

/// Every message the queue argv[2] received (and deletes them): subject,
/// message and alert id, as a JSON array.
pub const SNS_READ: &str = r#"
import boto3, json, sys
endpoint, queue = sys.argv[1:3]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
out = []
while True:
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    msgs = got.get("Messages", [])
    if not msgs:
        break
    for m in msgs:
        note = json.loads(m["Body"])
        out.append({"subject": note.get("Subject"), "message": json.loads(note["Message"]),
                    "alert_id": note["MessageAttributes"]["alert_id"]["Value"]})
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
print(json.dumps(out))
"#;

/// Upload `files` (under `root`) to `s3://bucket/prefix<relative path>` on
/// a moto server, creating the bucket if needed.
pub fn s3_upload(endpoint: &str, bucket: &str, prefix: &str, root: &Path, files: &[PathBuf]) {
    let mut args = vec![endpoint, bucket, prefix, path_str(root)];
    args.extend(files.iter().map(|f| path_str(f)));
    let out = python(S3_UPLOAD, &args);
    assert!(
        out.status.success(),
        "upload: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `root`, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.expect("walk").path().to_path_buf())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Where the browser tests save their screenshots (`target/screenshots`).
pub fn screenshots() -> PathBuf {
    let shots = repo_root().join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots folder");
    shots
}

/// Run `tests/fixtures/NAME` (a Python script driving headless Chromium)
/// with `args`; the test fails with the script's output when it does.
pub fn browser_fixture(name: &str, args: &[&str]) {
    let script = repo_root()
        .join("crates/trailwatch/tests/fixtures")
        .join(name);
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{name}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `detect --pack all --lake LAKE`: every pack's alerts over the lake,
/// filed in its `alerts` table.
pub fn file_alerts(lake: &Path) {
    let out = run(&[
        "detect",
        "-q",
        "--pack",
        "all",
        "--format",
        "ndjson",
        "--lake",
        path_str(lake),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The alert ids in a local lake's `alerts` table (sorted, repeats kept).
pub fn lake_alert_ids(lake: &Path) -> Vec<String> {
    lake_column(lake, "alerts", "alert_id")
}

/// A GeoIP database at `out` placing each CIDR range where given
/// (`(cidr, city, country, latitude, longitude)`), built with the
/// `mmdb-writer` Python package; None (the test skips) without it.
pub fn geoip_db(out: &Path, places: &[(&str, &str, &str, f64, f64)]) -> Option<PathBuf> {
    if !python_has("mmdb_writer") {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = places
        .iter()
        .map(|(cidr, city, cc, lat, lon)| {
            (
                cidr.to_string(),
                serde_json::json!({"city": city, "country_code": cc, "latitude": lat, "longitude": lon}),
            )
        })
        .collect();
    let json = out.with_extension("json");
    std::fs::write(&json, serde_json::to_vec(&map).expect("json")).expect("places");
    let script = repo_root().join("crates/trailwatch/tests/fixtures/make_mmdb.py");
    let made = Command::new("python3")
        .arg(&script)
        .arg(out)
        .arg(&json)
        .output()
        .expect("python3 runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    Some(out.to_path_buf())
}

/// The sample trail's public addresses, placed where DB-IP's City Lite
/// database (June 2026) places them.
pub fn sample_geoip(dir: &Path) -> Option<PathBuf> {
    geoip_db(
        &dir.join("sample-places.mmdb"),
        &[
            ("81.2.69.0/24", "London", "GB", 51.5143, -0.0912),
            ("175.16.199.0/24", "Jilin", "CN", 43.8378, 126.549),
            ("185.220.101.0/24", "Berlin", "DE", 52.52, 13.405),
            ("45.155.205.0/24", "Moscow", "RU", 55.7558, 37.6173),
            ("91.219.236.0/24", "Budapest", "HU", 47.4979, 19.0402),
            (
                "102.129.153.0/24",
                "Buenaventura Lakes",
                "US",
                28.3358,
                -81.3531,
            ),
            ("34.201.17.0/24", "Ashburn", "US", 39.0438, -77.4874),
            ("52.23.101.0/24", "Ashburn", "US", 39.0438, -77.4874),
            ("54.90.22.0/24", "Ashburn", "US", 39.0438, -77.4874),
        ],
    )
}

/// The alerts `detect --format json` prints with `extra` arguments (it
/// must exit 0).
pub fn detect_json(extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["detect", "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json array")
}

/// A lake of `trail`, in a temporary folder.
/// `trailwatch generate -q` of `events` events over `days` days with
/// `seed` (and `extra` options) into `out`, which must succeed.
pub fn generate_into(out: &Path, events: u32, days: u32, seed: u32, extra: &[&str]) {
    let (events, days, seed) = (events.to_string(), days.to_string(), seed.to_string());
    let mut args = vec![
        "generate", "-q", "--events", &events, "--days", &days, "--seed", &seed,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", path_str(out)]);
    let made = run(&args);
    assert!(made.status.success(), "{}", stderr(&made));
}

pub fn lake_of(trail: &Path) -> tempfile::TempDir {
    let lake = tempfile::tempdir().unwrap();
    let out = run(&[
        "ingest",
        "-q",
        "--lake",
        path_str(lake.path()),
        path_str(trail),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    lake
}

/// A free TCP port on 127.0.0.1 (free when asked; a server started
/// right after takes it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Each line of NDJSON text, parsed.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A rule file whose one rule's example says it fires on an event it does
/// not match: what `rules test` must report.
pub const RULE_WITH_A_WRONG_EXAMPLE: &str = "rules:\n  - id: my-rule\n    title: t\n    severity: P4\n    pattern: '{ $.eventName = \"A\" }'\n    examples:\n      fire: [{eventName: B}]\n";
