//! `trailwatch cluster` and `query --cluster`: a Ballista scheduler and two
//! executors as separate processes on 127.0.0.1, over a lake in a real
//! S3-compatible server (moto). The seed's and the saved queries give the
//! local engine's rows; an executor killed mid-query makes the query
//! finish with the right rows or fail with a clear error.

use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    bin, free_port, moto_with_boto3, path_str, python, s3_env, sample_trail, shared_dir, stderr,
    stdout,
};

/// A cluster process, killed on drop.
struct Node {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Node {
    fn start(args: &[&str], endpoint: &str) -> Node {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = s3_env(&mut bin())
            .env("AWS_ENDPOINT_URL", endpoint)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("the cluster process starts");
        Node { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16, what: &Node) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}: {}",
            what.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and executors on loopback ports.
struct Cluster {
    url: String,
    scheduler: Node,
    executors: Vec<Node>,
}

fn start_cluster(endpoint: &str, executors: usize) -> Cluster {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    // Executors lost for 3 s are given up on (the default is a minute).
    let scheduler = Node::start(
        &[
            "cluster",
            "scheduler",
            "--bind",
            &bind,
            "--executor-timeout",
            "3s",
        ],
        endpoint,
    );
    wait_for_port(port, &scheduler);
    let executors = (0..executors)
        .map(|_| {
            let (flight, grpc) = (free_port(), free_port());
            let node = Node::start(
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &bind,
                    "--bind",
                    &format!("127.0.0.1:{flight}"),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--concurrency",
                    "2",
                    "--heartbeat",
                    "1s",
                ],
                endpoint,
            );
            wait_for_port(flight, &node);
            node
        })
        .collect();
    Cluster {
        url: format!("df://{bind}"),
        scheduler,
        executors,
    }
}

const MAKE_BUCKET: &str = r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket=sys.argv[2])
"#;

/// The sample trail ingested into `s3://lake/trail` on moto.
fn s3_lake(endpoint: &str) -> String {
    s3_lake_of(endpoint, &sample_trail())
}

/// `trail` ingested into `s3://lake/trail` on moto.
fn s3_lake_of(endpoint: &str, trail: &std::path::Path) -> String {
    let made = python(MAKE_BUCKET, &[endpoint, "lake"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let lake = "s3://lake/trail".to_string();
    let out = s3_env(&mut bin())
        .env("AWS_ENDPOINT_URL", endpoint)
        .args(["ingest", "-q", "--lake", &lake, path_str(trail)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    lake
}

fn query(endpoint: &str, lake: &str, cluster: Option<&str>, sql: &str) -> Output {
    let mut cmd = bin();
    s3_env(&mut cmd)
        .env("AWS_ENDPOINT_URL", endpoint)
        .args(["query", "-q", "--lake", lake, "--format", "json"]);
    if let Some(url) = cluster {
        cmd.args(["--cluster", url]);
    }
    cmd.arg(sql).output().unwrap()
}

/// Rows as a sorted list, arrays sorted inside (`array_agg(DISTINCT …)`
/// has no order in any engine): the same multiset of rows compares equal.
fn normalised(json: &str) -> Vec<String> {
    fn sort_arrays(v: &mut Value) {
        match v {
            Value::Array(items) => {
                items.iter_mut().for_each(sort_arrays);
                items.sort_by_key(|x| x.to_string());
            }
            Value::Object(map) => map.values_mut().for_each(sort_arrays),
            _ => {}
        }
    }
    let text = json.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let rows: Vec<Value> = serde_json::from_str(text).expect("one JSON array of rows");
    let mut rows: Vec<String> = rows
        .into_iter()
        .map(|mut r| {
            sort_arrays(&mut r);
            r.to_string()
        })
        .collect();
    rows.sort();
    rows
}

/// The seed's queries (with `../shared`) and statements that exercise
/// what a plan must carry to the executors: Trino functions replacing
/// DataFusion's namesakes, JSON paths, partition columns, a join, a
/// window.
fn statements() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        (
            "trino functions",
            "SELECT date_format(from_iso8601_timestamp(eventtime), '%Y-%m-%d %H:%i') AS minute, \
             split_part(useridentity.arn, '/', 2) AS who, \
             json_extract_scalar(requestparameters, '$.bucketName') AS bucket, count(*) AS n \
             FROM cloudtrail_logs GROUP BY 1, 2, 3",
        ),
        (
            "partitions and event-time pruning",
            "SELECT account, region, \"date\", count(*) AS n FROM cloudtrail_logs \
             WHERE eventtime >= '2026-04-03' GROUP BY 1, 2, 3",
        ),
        (
            "a join and a window",
            "WITH c AS (SELECT useridentity.arn AS arn, count(*) AS n FROM cloudtrail_logs GROUP BY 1) \
             SELECT l.eventname, c.n, rank() OVER (PARTITION BY l.eventname ORDER BY c.n DESC, c.arn) AS r \
             FROM cloudtrail_logs l JOIN c ON l.useridentity.arn = c.arn \
             WHERE l.errorcode IS NOT NULL",
        ),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect();
    if let Some(shared) = shared_dir() {
        let text = std::fs::read_to_string(shared.join("seed-queries.sql")).unwrap();
        let code: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect();
        let seed: Vec<String> = code
            .join("\n")
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // The first is Athena's CREATE EXTERNAL TABLE over raw logs.
        for (i, sql) in seed.into_iter().enumerate().skip(1) {
            out.push((format!("seed {}", i + 1), sql));
        }
    }
    out
}

#[test]
fn a_ballista_cluster_gives_the_local_engines_rows_for_every_seed_query() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let lake = s3_lake(&endpoint);
    let cluster = start_cluster(&endpoint, 2);
    let statements = statements();
    for (name, sql) in &statements {
        let local = query(&endpoint, &lake, None, sql);
        assert_eq!(local.status.code(), Some(0), "{name}: {}", stderr(&local));
        let remote = query(&endpoint, &lake, Some(&cluster.url), sql);
        assert_eq!(
            remote.status.code(),
            Some(0),
            "{name} on the cluster: {}\nscheduler: {}",
            stderr(&remote),
            cluster.scheduler.log()
        );
        let (want, got) = (normalised(&stdout(&local)), normalised(&stdout(&remote)));
        assert!(
            !want.is_empty() || name.starts_with("seed"),
            "{name}: no rows"
        );
        assert_eq!(got, want, "{name}: the cluster's rows differ");
    }
    // Raw-log tables are read by trailwatch's own decoder: local only,
    // said plainly.
    let ddl = query(
        &endpoint,
        &lake,
        Some(&cluster.url),
        "CREATE EXTERNAL TABLE raw (eventname STRING) LOCATION 's3://lake/raw/'",
    );
    assert_ne!(ddl.status.code(), Some(0));
    assert!(
        stderr(&ddl).contains("local engine only"),
        "{}",
        stderr(&ddl)
    );
    // Writes are refused before anything reaches the cluster.
    let write = query(
        &endpoint,
        &lake,
        Some(&cluster.url),
        "DROP TABLE cloudtrail_logs",
    );
    assert_ne!(write.status.code(), Some(0));
    assert!(stderr(&write).contains("read-only"), "{}", stderr(&write));
    assert_eq!(cluster.executors.len(), 2);
}

/// A query long enough to be interrupted (seconds over 30,000 events):
/// every pair of events in a region, shuffled across the executors.
const LONG: &str = "SELECT a.eventname, count(*) AS n, sum(length(b.eventid)) AS s \
    FROM cloudtrail_logs a JOIN cloudtrail_logs b ON a.awsregion = b.awsregion \
    GROUP BY a.eventname";

#[test]
fn killing_an_executor_mid_query_gives_the_right_rows_or_a_clear_error() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let trail = tempfile::tempdir().unwrap();
    let made = bin()
        .args([
            "generate", "--events", "30000", "--days", "2", "--seed", "7", "--out",
        ])
        .arg(trail.path())
        .output()
        .unwrap();
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let lake = s3_lake_of(&endpoint, trail.path());
    let mut cluster = start_cluster(&endpoint, 2);
    let local = query(&endpoint, &lake, None, LONG);
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));
    let want = normalised(&stdout(&local));
    assert!(!want.is_empty());
    // Bounded: a job Ballista leaves unfinished ends in the timeout's
    // error, which must say what happened.
    let mut running = {
        let mut cmd = bin();
        s3_env(&mut cmd)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .args([
                "query",
                "-q",
                "--lake",
                &lake,
                "--format",
                "json",
                "--timeout",
                "90s",
                "--cluster",
                &cluster.url,
                LONG,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        running.try_wait().unwrap().is_none(),
        "the query ended before the executor was killed: not a test of a lost executor"
    );
    let victim = cluster.executors.pop().unwrap();
    drop(victim);
    let out = running.wait_with_output().unwrap();
    if out.status.code() == Some(0) {
        assert_eq!(
            normalised(&stdout(&out)),
            want,
            "the query survived the lost executor with different rows"
        );
    } else {
        let err = stderr(&out);
        assert!(stdout(&out).trim().is_empty(), "rows from a failed query");
        assert!(
            err.contains("ERROR") && (err.contains("executor") || err.contains("cluster")),
            "an unclear error: {err}"
        );
        eprintln!("the query failed with the executor: {err}");
    }
    // The survivor still answers.
    let after = query(&endpoint, &lake, Some(&cluster.url), LONG);
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    assert_eq!(normalised(&stdout(&after)), want);
}

/// A scheduler that is not there is an error naming it, not a hang, and
/// not the transport's raw error.
#[test]
fn an_unreachable_scheduler_is_a_clear_error() {
    let port = free_port();
    // A real lake: readers refuse a folder that holds none (#40 item 11).
    let lake = crate::support::lake_of(&sample_trail());
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args([
            "query",
            "--lake",
            path_str(lake.path()),
            "--timeout",
            "60s",
            "--cluster",
            &format!("df://127.0.0.1:{port}"),
            "SELECT 1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&port.to_string()), "{err}");
    // Said plainly, not as the transport's debug text (#40 item 19).
    assert!(
        err.contains("Connection refused")
            && err.contains("is `trailwatch cluster scheduler` running at"),
        "{err}"
    );
    assert!(
        !err.contains("tonic") && !err.contains("ConnectError"),
        "{err}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["query", "--cluster", "df://host:port", "SELECT 1"])
        .output()
        .unwrap();
    assert!(stderr(&bad).contains("df://HOST:PORT"), "{}", stderr(&bad));
}
