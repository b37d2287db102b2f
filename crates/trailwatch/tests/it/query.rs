//! `trailwatch query`: the seed's Athena queries run verbatim, over the
//! lake and over the raw trail (through CREATE EXTERNAL TABLE on a real
//! S3-compatible server), and give DuckDB's answers computed from the raw
//! JSON; writes are refused; the output formats; saved queries and `top`.

use std::path::Path;

use serde_json::Value;

use crate::support::{
    bin, files_under, path_str, python, python_has, run, s3_env, s3_upload, sample_trail,
    shared_dir, start_moto, stderr, stdout,
};

/// The seed file's statements (separated by a blank line and `;`).
fn seed_statements(shared: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(shared.join("seed-queries.sql")).unwrap();
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn lake_of_sample() -> tempfile::TempDir {
    let lake = tempfile::tempdir().unwrap();
    let out = run(&[
        "ingest",
        "-q",
        "--lake",
        path_str(lake.path()),
        path_str(&sample_trail()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    lake
}

/// DuckDB's answers to the seed queries 2–6, from the raw JSON files, and a
/// comparison with trailwatch's (JSON arrays of objects, keys in column
/// order). Prints "ok" or what differs.
const DUCKDB_COMPARE: &str = r#"
import duckdb, glob, json, sys
trail, answers = sys.argv[1], json.load(open(sys.argv[2]))
con = duckdb.connect()
files = glob.glob(trail + '/AWSLogs/**/*.json.gz', recursive=True)
con.execute("CREATE TABLE ct AS SELECT unnest(Records) AS r FROM read_json(?, columns={'Records': 'JSON[]'}, maximum_object_size=104857600)", [files])
# Parenthesised: DuckDB's ->> binds looser than = and LIKE.
f = lambda k: "(r->>'%s')" % k
ui = lambda k: "(r->'userIdentity'->>'%s')" % k
queries = [
  # 2. root usage
  ("SELECT %s, %s, %s, %s FROM ct WHERE %s = 'Root' AND %s > '2026-04-01' ORDER BY 1 DESC"
     % (f('eventTime'), f('eventName'), f('sourceIPAddress'), f('userAgent'), ui('type'), f('eventTime')), 'ordered'),
  # 3. IAM policy changes, last 24 hours
  ("SELECT %s, %s, %s, r->'requestParameters' FROM ct WHERE %s = 'iam.amazonaws.com' AND %s LIKE '%%Policy%%' AND %s > strftime(now() - INTERVAL 24 HOUR, '%%Y-%%m-%%dT%%H:%%M:%%SZ') ORDER BY 1 DESC"
     % (f('eventTime'), ui('arn'), f('eventName'), f('eventSource'), f('eventName'), f('eventTime')), 'ordered'),
  # 4. busy source IPs
  ("SELECT %s AS ip, count(*) AS c, list(DISTINCT %s) FROM ct WHERE %s > '2026-04-01' GROUP BY 1 HAVING count(*) > 100 ORDER BY c DESC"
     % (f('sourceIPAddress'), f('eventName'), f('eventTime')), 'ordered'),
  # 5. security group changes
  ("SELECT %s, %s, %s, r->'requestParameters' FROM ct WHERE %s IN ('AuthorizeSecurityGroupIngress','AuthorizeSecurityGroupEgress','RevokeSecurityGroupIngress','CreateSecurityGroup','DeleteSecurityGroup') ORDER BY 1 DESC LIMIT 50"
     % (f('eventTime'), ui('arn'), f('eventName'), f('eventName')), 'ordered'),
  # 6. top 10 callers
  ("SELECT (r->'userIdentity'->>'arn') AS arn, count(*) AS calls FROM ct WHERE %s > '2026-04-04' GROUP BY 1 ORDER BY calls DESC LIMIT 10"
     % f('eventTime'), 'ordered'),
]

def norm(v):
    # JSON text (requestParameters) compares as JSON; lists as sets.
    if isinstance(v, str) and v[:1] in '{[':
        try:
            return json.dumps(json.loads(v), sort_keys=True)
        except ValueError:
            return v
    if isinstance(v, list):
        return json.dumps(sorted(norm(x) for x in v))
    if v is None:
        return None
    return str(v)

problems = []
for n, ((sql, how), ours) in enumerate(zip(queries, answers), start=2):
    theirs = [tuple(norm(x) for x in row) for row in con.execute(sql).fetchall()]
    mine = [tuple(norm(v) for _, v in row) for row in ours]
    if sorted(mine, key=repr) != sorted(theirs, key=repr):
        problems.append("query %d: %d rows vs DuckDB %d; first differences: %s" % (
            n, len(mine), len(theirs), [r for r in mine if r not in theirs][:3] or [r for r in theirs if r not in mine][:3]))
    elif [r[0] for r in mine] != [r[0] for r in theirs] and n != 6:
        # Same rows: the order of the sort key must agree too.
        problems.append("query %d: order differs" % n)
print("ok" if not problems else "\n".join(problems))
"#;

/// Parse JSON keeping each object's keys in order, as [(key, value)].
const ORDERED: &str = r#"
import json, sys
docs = [json.loads(l, object_pairs_hook=lambda p: p) for l in open(sys.argv[1]) if l.strip()]
json.dump(docs, open(sys.argv[2], 'w'))
"#;

fn compare_with_duckdb(raw_json_lines: &str) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("ours.ndjson");
    std::fs::write(&raw, raw_json_lines).unwrap();
    let ordered = dir.path().join("ours.json");
    let out = python(ORDERED, &[path_str(&raw), path_str(&ordered)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = python(
        DUCKDB_COMPARE,
        &[path_str(&sample_trail()), path_str(&ordered)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn seed_queries_over_the_lake_match_duckdb_on_the_raw_trail() {
    let Some(shared) = shared_dir() else { return };
    if !python_has("duckdb") {
        return;
    }
    let lake = lake_of_sample();
    let statements = seed_statements(&shared);
    assert_eq!(statements.len(), 6);
    assert!(statements[0].starts_with("CREATE EXTERNAL TABLE"));
    let script = statements[1..].join(";\n");
    let out = bin()
        .args([
            "query",
            "--lake",
            path_str(lake.path()),
            "--format",
            "json",
            &script,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    compare_with_duckdb(&stdout(&out));
}

#[test]
fn the_seed_file_runs_verbatim_against_the_raw_trail_in_s3() {
    let Some(shared) = shared_dir() else { return };
    let Some(moto) = start_moto() else { return };
    if !python_has("duckdb") || !python_has("boto3") {
        return;
    }
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let trail = sample_trail();
    // Where the seed's LOCATION points: s3://org-cloudtrail-logs-123456789/AWSLogs/.
    s3_upload(
        &endpoint,
        "org-cloudtrail-logs-123456789",
        "",
        &trail,
        &files_under(&trail.join("AWSLogs")),
    );
    let empty_lake = tempfile::tempdir().unwrap();
    let out = s3_env(&mut bin())
        .args([
            "query",
            "--endpoint-url",
            &endpoint,
            "--lake",
            path_str(empty_lake.path()),
            "--format",
            "json",
            "-f",
            path_str(&shared.join("seed-queries.sql")),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    compare_with_duckdb(&stdout(&out));
}

#[test]
fn writes_are_refused_with_a_clear_message() {
    let lake = lake_of_sample();
    for (sql, word) in [
        ("DELETE FROM cloudtrail_logs", "DELETE"),
        (
            "INSERT INTO cloudtrail_logs SELECT * FROM cloudtrail_logs",
            "INSERT",
        ),
        ("DROP TABLE cloudtrail_logs", "DROP"),
        ("CREATE TABLE x AS SELECT 1", "CREATE TABLE"),
        (
            "COPY (SELECT 1) TO '/tmp/trailwatch-should-not-exist.parquet'",
            "COPY",
        ),
        ("SET datafusion.execution.batch_size = 1", "SET"),
    ] {
        let out = run(&["query", "--lake", path_str(lake.path()), sql]);
        assert_eq!(out.status.code(), Some(2), "{sql}");
        let err = stderr(&out);
        assert!(
            err.contains(word) && err.contains("read-only"),
            "{sql}: {err}"
        );
    }
    assert!(!Path::new("/tmp/trailwatch-should-not-exist.parquet").exists());
}

#[test]
fn formats_saved_queries_and_top() {
    let lake = lake_of_sample();
    let l = path_str(lake.path());
    let q = "SELECT eventname, count(*) AS n FROM cloudtrail_logs WHERE eventsource = 'cloudtrail.amazonaws.com' GROUP BY 1 ORDER BY 1";
    let json: Value = serde_json::from_str(&stdout(&run(&[
        "query", "--lake", l, "--format", "json", q,
    ])))
    .unwrap();
    let rows = json.as_array().unwrap();
    assert!(rows.iter().any(|r| r["eventname"] == "StopLogging"));
    let csv = stdout(&run(&["query", "--lake", l, "--format", "csv", q]));
    assert!(csv.starts_with("eventname,n\n"), "{csv}");
    assert_eq!(csv.lines().count(), rows.len() + 1);
    let table = stdout(&run(&["query", "--lake", l, q]));
    assert!(
        table.contains("| eventname") && table.contains("rows"),
        "{table}"
    );
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("out.parquet");
    let out = run(&["query", "--lake", l, "--output", path_str(&pq), q]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&pq).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, rows.len());
    // Struct access is case-insensitive, as in Athena.
    let a = stdout(&run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "SELECT count(*) FROM cloudtrail_logs WHERE userIdentity.sessionContext.sessionIssuer.userName IS NOT NULL",
    ]));
    let b = stdout(&run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "SELECT count(*) FROM cloudtrail_logs WHERE useridentity.sessioncontext.sessionissuer.username IS NOT NULL",
    ]));
    assert_eq!(a.lines().nth(1), b.lines().nth(1));
    assert_ne!(a.lines().nth(1), Some("0"));
    // Saved queries: listed, and run with parameters.
    let list = stdout(&run(&["query", "--list"]));
    assert!(list.lines().count() >= 16 && list.contains("root-activity"));
    let root: Value = serde_json::from_str(&stdout(&run(&[
        "query",
        "--lake",
        l,
        "--format",
        "json",
        "--saved",
        "root-activity",
    ])))
    .unwrap();
    assert!(!root.as_array().unwrap().is_empty());
    let missing = run(&["query", "--lake", l, "--saved", "access-key-activity"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("--param key="));
    // top: one row per caller, most calls first.
    let top: Value = serde_json::from_str(&stdout(&run(&[
        "top",
        "callers",
        "--lake",
        l,
        "--since",
        "2026-04-01",
        "--limit",
        "3",
        "--format",
        "json",
    ])))
    .unwrap();
    let top = top.as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert!(top[0]["calls"].as_i64() >= top[1]["calls"].as_i64());
}
