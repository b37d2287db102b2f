//! The lake seen from outside: DuckDB reads it with the printed DDL, and an
//! S3-to-S3 ingest runs against a real S3-compatible server (moto) on
//! 127.0.0.1.

use serde_json::Value;

use crate::support::{
    duckdb_ddl_file, lake_event_ids, moto_with_boto3, path_str, python, python_has, rec, run,
    s3_env, sample_trail, source_event_ids, stderr, stdout,
};

const DUCKDB_CHECK: &str = r#"
import duckdb, json, sys
ddl = open(sys.argv[1]).read()
ids = json.loads(sys.argv[2])
con = duckdb.connect()
con.execute(ddl)
count = con.execute("select count(*) from cloudtrail_logs").fetchone()[0]
rows = con.execute(
    "select eventid, eventname, eventtime, useridentity.arn, requestparameters, account, region, \"date\" "
    "from cloudtrail_logs where eventid in (select unnest(?)) order by eventid", [ids]).fetchall()
print(json.dumps({"count": count, "rows": rows}))
"#;

#[test]
fn duckdb_reads_the_lake_with_the_printed_ddl() {
    if !python_has("duckdb") {
        return;
    }
    let trail = sample_trail();
    let lake = crate::support::lake_of(&trail);
    let ddl_file = duckdb_ddl_file(lake.path());
    // A sample of records, as trailwatch decodes them from the source.
    let cat = run(&["cat", path_str(&trail)]);
    let records: Vec<Value> = stdout(&cat)
        .lines()
        .step_by(97)
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["eventID"].as_str().expect("id"))
        .collect();
    let res = python(
        DUCKDB_CHECK,
        &[
            path_str(&ddl_file),
            &serde_json::to_string(&ids).expect("ids"),
        ],
    );
    assert!(
        res.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let v: Value = serde_json::from_slice(&res.stdout).expect("duckdb json");
    assert_eq!(v["count"], 4000);
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), records.len());
    let mut expected: Vec<&Value> = records.iter().collect();
    expected.sort_by_key(|r| r["eventID"].as_str().expect("id").to_string());
    for (row, r) in rows.iter().zip(expected) {
        assert_eq!(row[0], r["eventID"]);
        assert_eq!(row[1], r["eventName"]);
        assert_eq!(row[2], r["eventTime"]);
        assert_eq!(row[3], r["userIdentity"]["arn"]);
        let params: Value = row[4]
            .as_str()
            .map_or(Value::Null, |s| serde_json::from_str(s).expect("json text"));
        assert_eq!(params, r["requestParameters"]);
        assert_eq!(row[5], r["recipientAccountId"]);
        assert_eq!(row[6], r["awsRegion"]);
        assert_eq!(row[7].as_str(), r["eventTime"].as_str().map(|t| &t[..10]));
    }
}

/// PySpark in local mode: the DDL `lake ddl --engine spark` prints, then
/// each query; trailwatch's answers (JSON files, keys in column order)
/// compared value by value, as multisets of rows with arrays sorted
/// (`array_agg(DISTINCT …)` has no order). Prints "ok" or what differs.
const SPARK_COMPARE: &str = r#"
import json, sys
from pyspark.sql import SparkSession
ddl, cases = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
spark = (SparkSession.builder.master("local[2]").appName("trailwatch-lake")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
for stmt in ddl.split(";"):
    code = "\n".join(l for l in stmt.splitlines() if not l.strip().startswith("--")).strip()
    if code:
        spark.sql(code)
def norm(v):
    if isinstance(v, list):
        return sorted((norm(x) for x in v), key=json.dumps)
    return v
def rows(rs):
    return sorted((json.dumps([norm(v) for v in r]) for r in rs))
problems = []
for case in cases:
    theirs = rows([list(r) for r in spark.sql(case["spark"]).collect()])
    ours = rows([list(o.values()) for o in json.load(open(case["ours"]))])
    if not ours:
        problems.append("%s: trailwatch gave no rows" % case["name"])
    if theirs != ours:
        problems.append("%s: Spark %s\n trailwatch %s" % (case["name"], theirs[:5], ours[:5]))
print("ok" if not problems else "\n".join(problems))
"#;

/// Seed queries as users have them (seed-queries.sql 2 and 4, verbatim:
/// Spark SQL runs both as written, struct paths and `array_agg(DISTINCT)`
/// included), and one over the alerts table.
const SPARK_CASES: [(&str, &str); 3] = [
    (
        "seed 2: root usage",
        "SELECT eventTime, eventName, sourceIPAddress, userAgent\nFROM cloudtrail_logs\n\
         WHERE userIdentity.type = 'Root'\nAND eventTime > '2026-04-01'\nORDER BY eventTime DESC",
    ),
    (
        "seed 4: busy source IPs",
        "SELECT sourceIPAddress, COUNT(*) as call_count,\narray_agg(DISTINCT eventName) as actions\n\
         FROM cloudtrail_logs\nWHERE eventTime > '2026-04-01'\nGROUP BY sourceIPAddress\n\
         HAVING COUNT(*) > 100\nORDER BY call_count DESC",
    ),
    (
        "alerts by rule",
        "SELECT rule_id, severity, count(*) AS n, sum(event_count) AS events FROM alerts GROUP BY 1, 2",
    ),
];

#[test]
fn spark_reads_the_lake_with_the_printed_ddl_and_gives_the_same_answers() {
    if !python_has("pyspark")
        || !crate::support::have_tool(
            std::process::Command::new("java").arg("-version"),
            "Java 17 (for PySpark)",
        )
    {
        return;
    }
    let lake = crate::support::lake_of(&sample_trail());
    // Alerts too, so the alerts table has partitions to repair.
    let out = run(&[
        "detect",
        "-q",
        "--lake",
        path_str(lake.path()),
        "--format",
        "json",
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    let ddl = run(&[
        "lake",
        "ddl",
        "--engine",
        "spark",
        "--lake",
        path_str(lake.path()),
    ]);
    assert!(ddl.status.success(), "{}", stderr(&ddl));
    assert!(stdout(&ddl).contains("\nMSCK REPAIR TABLE alerts;"));
    let work = tempfile::tempdir().expect("tempdir");
    let ddl_file = work.path().join("spark.sql");
    std::fs::write(&ddl_file, &ddl.stdout).expect("write");
    let mut cases = Vec::new();
    for (i, (name, sql)) in SPARK_CASES.iter().enumerate() {
        let ours = crate::support::query_json(lake.path(), sql);
        assert_eq!(ours.status.code(), Some(0), "{name}: {}", stderr(&ours));
        let file = work.path().join(format!("ours-{i}.json"));
        // An empty result prints nothing; Spark's must then be empty too.
        let text = stdout(&ours);
        std::fs::write(
            &file,
            if text.trim().is_empty() {
                "[]"
            } else {
                text.trim()
            },
        )
        .expect("write");
        cases.push(serde_json::json!({"name": name, "spark": sql, "ours": path_str(&file)}));
    }
    let cases_file = work.path().join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(&cases).expect("json")).expect("write");
    crate::support::python_says_ok(SPARK_COMPARE, &[path_str(&ddl_file), path_str(&cases_file)]);
}

const S3_SETUP: &str = r#"
import boto3, os, sys, json
endpoint, trail, tiny = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="src")
s3.create_bucket(Bucket="lake")
for root, _, files in os.walk(trail):
    for f in files:
        p = os.path.join(root, f)
        s3.upload_file(p, "src", "trail/" + os.path.relpath(p, trail))
for i, body in enumerate(tiny):
    s3.put_object(Bucket="src", Key="tiny/obj-%05d.json" % i, Body=body.encode())
"#;

const S3_DOWNLOAD: &str = r#"
import boto3, os, sys
endpoint, bucket, prefix, dest = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
n = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    for o in page.get("Contents", []):
        rel = o["Key"][len(prefix):].lstrip("/")
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s3.download_file(bucket, o["Key"], path)
        n += 1
print(n)
"#;

#[test]
fn s3_to_s3_ingest_against_a_local_s3_server() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let trail = sample_trail();
    // More than one listing page (1,000 keys) of small NDJSON objects.
    let tiny: Vec<String> = (0..1100).map(|i| rec(100_000 + i)).collect();
    let work = tempfile::tempdir().expect("tempdir");
    let tiny_file = work.path().join("tiny.json");
    std::fs::write(&tiny_file, serde_json::to_string(&tiny).expect("json")).expect("write");
    let setup = python(
        S3_SETUP,
        &[&endpoint, path_str(&trail), path_str(&tiny_file)],
    );
    assert!(
        setup.status.success(),
        "setup: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let ingest = |extra: &str| {
        let out = s3_env(&mut crate::support::bin())
            .args([
                "ingest",
                "--json",
                "--endpoint-url",
                &endpoint,
                "--lake",
                "s3://lake/ct",
                "s3://src/trail/",
                extra,
            ])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let first = ingest("s3://src/tiny/");
    assert_eq!(first["files"], 72 + 1100);
    assert_eq!(first["events"], 4000 + 1100);
    let second = ingest("s3://src/tiny/");
    assert_eq!(second["events"], 0);
    assert_eq!(second["files_already_ingested"], 72 + 1100);
    // What landed in the S3 lake is exactly the sources' events.
    let local = tempfile::tempdir().expect("tempdir");
    let dl = python(
        S3_DOWNLOAD,
        &[&endpoint, "lake", "ct", path_str(local.path())],
    );
    assert!(
        dl.status.success(),
        "download: {}",
        String::from_utf8_lossy(&dl.stderr)
    );
    let mut expected = source_event_ids(&trail);
    expected.extend((0..1100).map(|i| format!("id-{}", 100_000 + i)));
    expected.sort();
    assert_eq!(lake_event_ids(local.path()), expected);
    assert!(local.path().join("_manifest").is_dir());
    // The same, configured only through the shared AWS files (as the AWS CLI
    // reads them): credentials, region and endpoint_url of a named profile.
    let aws = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        aws.path().join("credentials"),
        "[lab]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .expect("write");
    std::fs::write(
        aws.path().join("config"),
        format!("[profile lab]\nregion = us-east-1\nendpoint_url = {endpoint}\n"),
    )
    .expect("write");
    let out = crate::support::bin()
        .args([
            "ingest",
            "--json",
            "--lake",
            "s3://lake/ct-profile",
            "s3://src/trail/",
        ])
        .env("AWS_PROFILE", "lab")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            aws.path().join("credentials"),
        )
        .env("AWS_CONFIG_FILE", aws.path().join("config"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "profile-configured ingest: {}",
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["events"], 4000);
    let ddl = s3_env(&mut crate::support::bin())
        .args([
            "lake",
            "ddl",
            "--engine",
            "athena",
            "--endpoint-url",
            &endpoint,
            "--lake",
            "s3://lake/ct",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&ddl.stdout);
    assert!(
        text.contains("LOCATION 's3://lake/ct/cloudtrail/'"),
        "{text}"
    );
    assert!(
        text.contains(
            "'projection.account.values' = '111111111111,111122223333,222222222222,333333333333'"
        ),
        "{text}"
    );
}
