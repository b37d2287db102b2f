//! `trailwatch query`: the seed's Athena queries run verbatim, over the
//! lake and over the raw trail (through CREATE EXTERNAL TABLE on a real
//! S3-compatible server), and give DuckDB's answers computed from the raw
//! JSON; writes are refused; the output formats; saved queries and `top`.

use std::path::Path;

use serde_json::Value;

use crate::support::{
    bin, duckdb_ddl_file, files_under, generate_into, lake_of, path_str, python, python_has,
    python_says_ok, query_json, run, s3_env, s3_upload, sample_trail, shared_dir, start_moto,
    stderr, stdout,
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
    lake_of(&sample_trail())
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
    key = 1 if n == 4 else 0
    theirs = [tuple(norm(x) for x in row) for row in con.execute(sql).fetchall()]
    mine = [tuple(norm(v) for _, v in row) for row in ours]
    if sorted(mine, key=repr) != sorted(theirs, key=repr):
        problems.append("query %d: %d rows vs DuckDB %d; first differences: %s" % (
            n, len(mine), len(theirs), [r for r in mine if r not in theirs][:3] or [r for r in theirs if r not in mine][:3]))
    elif [r[key] for r in mine] != [r[key] for r in theirs] and n != 6:
        # Same rows: the order of the sort key must agree too (query 4
        # sorts on its count; rows tied on it may come in any order).
        problems.append("query %d: order differs" % n)
print("ok" if not problems else "\n".join(problems))
"#;

/// Parse JSON keeping each object's keys in order, as [(key, value)].
const ORDERED: &str = r#"
import json, sys
docs = [json.loads(l, object_pairs_hook=lambda p: p) for l in open(sys.argv[1]) if l.strip()]
json.dump(docs, open(sys.argv[2], 'w'))
"#;

/// `query --format json` output as a JSON file of rows, each row a list
/// of [column, value] in column order (in `dir`).
fn in_column_order(dir: &Path, raw_json_lines: &str) -> std::path::PathBuf {
    let raw = dir.join("ours.ndjson");
    std::fs::write(&raw, raw_json_lines).unwrap();
    let ordered = dir.join("ours.json");
    let out = python(ORDERED, &[path_str(&raw), path_str(&ordered)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ordered
}

fn compare_with_duckdb(raw_json_lines: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ordered = in_column_order(dir.path(), raw_json_lines);
    python_says_ok(
        DUCKDB_COMPARE,
        &[path_str(&sample_trail()), path_str(&ordered)],
    );
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

/// An error in a statement is said once, not once per layer of the errors
/// that carry it.
#[test]
fn an_unknown_column_is_reported_once() {
    let lake = lake_of_sample();
    let out = run(&[
        "query",
        "--lake",
        path_str(lake.path()),
        "SELECT rule FROM alerts",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.matches("No field named rule").count(), 1, "{err}");
    assert!(
        err.contains("rule_id"),
        "the message suggests the column: {err}"
    );
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
    // Unnamed columns are named as Athena names them: a row's field by
    // its field name, any other expression `_colN`.
    let athena = stdout(&run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "SELECT userIdentity.arn, count(*), max(eventTime) AS last FROM cloudtrail_logs GROUP BY userIdentity.arn ORDER BY count(*) DESC LIMIT 1",
    ]));
    assert!(athena.starts_with("arn,_col1,last\n"), "{athena}");
    // Arrays and structs print as Athena shows them (the seed's busy-IPs
    // query returns array_agg(DISTINCT eventName)).
    let nested = run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "SELECT array_agg(DISTINCT eventname ORDER BY eventname) AS actions FROM cloudtrail_logs \
         WHERE eventsource = 'cloudtrail.amazonaws.com'",
    ]);
    assert_eq!(nested.status.code(), Some(0), "{}", stderr(&nested));
    let text = stdout(&nested);
    assert!(
        text.starts_with("actions\n\"[") && text.contains("StopLogging"),
        "{text}"
    );
    let table = stdout(&run(&["query", "--lake", l, q]));
    assert!(
        table.contains("| eventname") && table.contains("rows"),
        "{table}"
    );
    let n = json.as_array().unwrap().len();
    assert!(n > 2);
    let cut = stdout(&run(&["query", "--lake", l, "--max-rows", "2", q]));
    assert!(cut.contains(&format!("… {} more rows", n - 2)), "{cut}");
    assert!(cut.contains(&format!("{n} rows")), "{cut}");
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
    // The default window (the last 24 hours) holds none of the sample's
    // April events: the answer is empty and says why.
    let empty = run(&["top", "callers", "--lake", l, "--format", "csv"]);
    assert_eq!(empty.status.code(), Some(0), "{}", stderr(&empty));
    assert_eq!(stdout(&empty).lines().count(), 1, "only the header");
    let why = stderr(&empty);
    let first = run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "SELECT min(eventtime) FROM cloudtrail_logs",
    ]);
    let first = stdout(&first).lines().nth(1).unwrap().trim().to_string();
    assert!(why.contains("no events since "), "{why}");
    assert!(
        why.contains(&format!("the lake holds {first} to ")),
        "{why}"
    );
    assert!(
        why.contains(&format!("try --since {}", &first[..10])),
        "{why}"
    );
    // A saved query whose window misses the lake says so too.
    let late = run(&[
        "query",
        "--lake",
        l,
        "--format",
        "csv",
        "--saved",
        "root-activity",
        "--param",
        "since=2026-11-01",
    ]);
    assert_eq!(late.status.code(), Some(0), "{}", stderr(&late));
    let why = stderr(&late);
    assert!(
        why.contains("since=2026-11-01 is after the lake's last event")
            && why.contains(&format!("try --param since={}", &first[..10])),
        "{why}"
    );
}

#[test]
fn the_shell_takes_multi_line_statements_keeps_history_and_quits_on_backslash_q() {
    let lake = lake_of_sample();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let input = "SELECT\n  count(*) AS n\nFROM cloudtrail_logs;\n\
                 SELECT 1 AS one; SELECT 2 AS two;\n\\d\nSELECT nope FROM cloudtrail_logs;\n\
                 \\timing\nSELECT 4 AS timed;\n\\timing off\nSELECT 5 AS untimed;\n\
                 \\q\nSELECT 3 AS never;\n";
    let mut child = bin()
        .args([
            "query",
            "--lake",
            path_str(lake.path()),
            "--shell",
            "--format",
            "csv",
        ])
        .env("TRAILWATCH_HISTORY", &history)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("n\n4000\n"), "{text}");
    assert!(
        text.contains("one\n1\n") && text.contains("two\n2\n"),
        "{text}"
    );
    assert!(
        text.contains("cloudtrail_logs") && text.contains("alerts"),
        "{text}"
    );
    assert!(!text.contains("never"), "\\q ends the shell: {text}");
    // A failing statement reports and the shell goes on; the exit code
    // says something failed (2, an input error; 1 means findings).
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(2));
    // \timing times the statements after it, until \timing off.
    let err = stderr(&out);
    assert_eq!(err.matches("Time: ").count(), 1, "{err}");
    assert!(
        err.contains("Timing is on.") && err.contains("Timing is off."),
        "{err}"
    );
    assert!(
        text.contains("timed\n4\n") && text.contains("untimed\n5\n"),
        "{text}"
    );
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(
        saved.contains("SELECT 1 AS one; SELECT 2 AS two;"),
        "{saved}"
    );
}

/// The lake's `date=` partition folders, sorted.
fn partition_dates(lake: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out: Vec<(String, std::path::PathBuf)> = files_under(lake)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .filter_map(|p| {
            let date = p
                .parent()?
                .file_name()?
                .to_str()?
                .strip_prefix("date=")?
                .to_string();
            Some((date, p))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn event_time_filters_prune_date_partitions() {
    let lake = lake_of_sample();
    let l = path_str(lake.path());
    let files = partition_dates(lake.path());
    let dates: Vec<&String> = files.iter().map(|(d, _)| d).collect();
    let first = dates[0].clone();
    // Three days after the first: beyond the one day of slack text
    // comparisons get.
    let cut = (chrono::NaiveDate::parse_from_str(&first, "%Y-%m-%d").unwrap()
        + chrono::Days::new(3))
    .format("%Y-%m-%d")
    .to_string();
    assert!(
        dates.iter().any(|d| d.as_str() >= cut.as_str()),
        "the sample spans days"
    );
    let count = |sql: &str| {
        let out = run(&["query", "--lake", l, "--format", "csv", sql]);
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let q_text = format!("SELECT count(*) AS n FROM cloudtrail_logs WHERE eventTime >= '{cut}'");
    let q_ts = format!(
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('{cut}T00:00:00Z')"
    );
    let q_explicit = format!("SELECT count(*) AS n FROM cloudtrail_logs WHERE \"date\" >= '{cut}'");
    let (_, want, _) = count(&q_explicit);
    assert_eq!(count(&q_text).1, want);
    assert_eq!(count(&q_ts).1, want);
    // Break every file of the first day: a query that reads it fails, the
    // event-time queries do not, because they never open it.
    for (d, p) in &files {
        if *d == first {
            std::fs::write(p, b"not parquet").unwrap();
        }
    }
    let (code, _, err) = count("SELECT count(*) AS n FROM cloudtrail_logs");
    assert_ne!(code, Some(0), "reading the broken day fails: {err}");
    for q in [&q_text, &q_ts] {
        let (code, got, err) = count(q);
        assert_eq!(code, Some(0), "{q}: {err}");
        assert_eq!(got, want, "{q}");
    }
}

/// `row_groups_pruned_<what>=T total → M matched` from an EXPLAIN ANALYZE.
fn pruning_metric(plan: &str, what: &str) -> (u64, u64) {
    let key = format!("row_groups_pruned_{what}=");
    let rest = &plan[plan.find(&key).unwrap_or_else(|| panic!("{key} in {plan}")) + key.len()..];
    let mut words = rest.split_whitespace();
    let total = words.next().and_then(|w| w.parse().ok());
    let matched = words.nth(2).and_then(|w| w.parse().ok());
    match (total, matched) {
        (Some(t), Some(m)) => (t, m),
        _ => panic!("unreadable {key}: {rest:.80}"),
    }
}

/// A lake of 20,000 generated events over one day (seed 7): a file per
/// account and region, one row group each.
fn lake_of_a_generated_day() -> tempfile::TempDir {
    let trail = tempfile::tempdir().unwrap();
    generate_into(trail.path(), 20000, 1, 7, &[]);
    lake_of(trail.path())
}

/// An event looked up by id reads only the row groups whose bloom filter
/// may hold it: of a day's files (one per account and region), one.
#[test]
fn an_event_id_lookup_reads_only_the_row_group_that_holds_it() {
    let lake = lake_of_a_generated_day();
    let l = path_str(lake.path());
    let q = |sql: &str| {
        let out = run(&["query", "--lake", l, "--format", "csv", sql]);
        assert_eq!(out.status.code(), Some(0), "{sql}: {}", stderr(&out));
        stdout(&out)
    };
    // From the middle of the ids' order, where min/max statistics prune
    // nothing.
    let ids = q("SELECT eventid FROM cloudtrail_logs ORDER BY eventid LIMIT 1 OFFSET 10000");
    let id = ids.lines().nth(1).expect("an event id").trim().to_string();
    let lookup = format!("SELECT eventname FROM cloudtrail_logs WHERE eventid = '{id}'");
    assert_eq!(q(&lookup).lines().count(), 2, "header and the one event");
    let plan = q(&format!("EXPLAIN ANALYZE {lookup}"));
    let (_, after_statistics) = pruning_metric(&plan, "statistics");
    let (total, matched) = pruning_metric(&plan, "bloom_filter");
    assert!(
        after_statistics >= 4,
        "statistics leave most row groups: {plan}"
    );
    assert_eq!(total, after_statistics, "{plan}");
    assert_eq!(matched, 1, "only the event's row group is read: {plan}");
}

#[test]
fn athena_syntax_datafusion_lacks_is_rewritten() {
    let lake = lake_of_sample();
    let l = path_str(lake.path());
    let csv = |sql: &str| {
        let out = run(&["query", "--lake", l, "--format", "csv", sql]);
        assert_eq!(out.status.code(), Some(0), "{sql}: {}", stderr(&out));
        stdout(&out).lines().skip(1).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(
        csv("SELECT count_if(errorcode IS NOT NULL) FROM cloudtrail_logs"),
        csv("SELECT count(*) FROM cloudtrail_logs WHERE errorcode IS NOT NULL")
    );
    assert_eq!(
        csv("SELECT sum(if(eventname = 'ConsoleLogin', 1, 0)) FROM cloudtrail_logs"),
        csv("SELECT count(*) FROM cloudtrail_logs WHERE eventname = 'ConsoleLogin'")
    );
    assert_eq!(
        csv(
            "SELECT try(CAST('x' AS INTEGER)), date('2026-04-01'), substr('abcdef', -3), \
             replace('a-b-c', '-'), regexp_replace('1a 2b', '(\\d)([ab])', '$2$1'), \
             to_unixtime(from_iso8601_timestamp('1970-01-01T00:00:01.5Z')), \
             CAST(now() - INTERVAL '1' DAY * 2 < now() - INTERVAL '47' HOUR AS VARCHAR)"
        ),
        ",2026-04-01,def,abc,a1 b2,1.5,true"
    );
    // LIKE: a backslash is an ordinary character, as in Trino.
    // ('a_b' LIKE 'a\_b' is true in DataFusion, where \_ is a literal _.)
    assert_eq!(
        csv(
            r"SELECT 'a\xb' LIKE 'a\_b', 'a_b' LIKE 'a\_b', 'a_b' LIKE 'a!_b' ESCAPE '!', 'axb' LIKE 'a!_b' ESCAPE '!'"
        ),
        "true,false,true,false"
    );
    // CROSS JOIN UNNEST over the resources list, the join and comma forms.
    let unnest = csv(
        "SELECT count(*) FROM cloudtrail_logs AS c CROSS JOIN UNNEST(c.resources) AS t(r) \
         WHERE r.type = 'AWS::S3::Bucket'",
    );
    let comma = csv(
        "SELECT count(*) FROM cloudtrail_logs, UNNEST(resources) AS t(r) WHERE t.r.type = 'AWS::S3::Bucket'",
    );
    assert_eq!(unnest, comma);
    if python_has("duckdb") {
        let out = python(
            "import duckdb, sys\n\
             print(duckdb.connect().execute(\"SELECT count(*) FROM (SELECT unnest(resources) AS r FROM \
             read_parquet(? || '/cloudtrail/**/*.parquet', hive_partitioning=true)) \
             WHERE r.type = 'AWS::S3::Bucket'\", [sys.argv[1]]).fetchone()[0])",
            &[l],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(unnest, stdout(&out).trim());
    }
    assert_ne!(unnest, "0");
}

/// Every report, in every format, ends quietly when its reader has gone
/// (`| head`): exit 0 and nothing on stderr (a JSON report used to log
/// "ERROR Broken pipe").
#[test]
fn a_closed_stdout_ends_every_report_quietly() {
    let lake = lake_of_sample();
    let trail = sample_trail();
    let commands: Vec<Vec<&str>> = vec![
        vec!["state", "--lake", path_str(lake.path()), "--format", "json"],
        vec![
            "state",
            "--lake",
            path_str(lake.path()),
            "--format",
            "ndjson",
        ],
        vec!["state", "--lake", path_str(lake.path())],
        vec!["stats", "--format", "json", path_str(&trail)],
        vec!["detect", "--format", "json", path_str(&trail)],
        vec!["rules", "list"],
    ];
    for args in commands {
        let mut child = bin()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before anything was written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("Broken pipe"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_closed_stdout_ends_a_query_quietly() {
    use std::io::{BufRead, BufReader};
    let lake = lake_of_sample();
    for format in ["csv", "table", "json"] {
        let mut child = bin()
            .args(["query", "--lake", path_str(lake.path()), "--format", format])
            .arg("SELECT eventid, eventname, eventsource FROM cloudtrail_logs")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone, as with `| head -1`.
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{format}: {}", stderr(&out));
    }
}

/// Each saved query (the seed's 2–6 among them, with their parameters) and,
/// with `../shared`, the seed file's statements, checked against DuckDB
/// reading the same lake through `lake ddl --engine duckdb`: the same rows
/// (as a multiset; with a LIMIT, rows DuckDB's unlimited answer holds), the
/// same sequence of the ORDER BY key, and `approx_distinct` within 4% of
/// the exact count (both are estimates; DuckDB's side counts exactly).
/// Prints "ok" or what differs.
const DUCKDB_SAME_ROWS: &str = r#"
import duckdb, json, re, sys
con = duckdb.connect()
con.execute(open(sys.argv[1]).read())
cases = json.load(open(sys.argv[2]))

def duck_dialect(sql):
    # The Trino spellings DuckDB lacks, and seed 3's "24 hours ago".
    sql = sql.replace("json_extract_scalar(", "json_extract_string(")
    sql = sql.replace("approx_distinct(", "count(DISTINCT ")
    return sql.replace("date_format(date_add('hour', -24, now()), '%Y-%m-%dT%H:%i:%sZ')",
                       "strftime(now() - INTERVAL 24 HOUR, '%Y-%m-%dT%H:%M:%SZ')")

def norm(v):
    if isinstance(v, list):  # array_agg(DISTINCT ...): a set
        return json.dumps(sorted(norm(x) for x in v))
    return None if v is None else str(v)

problems = []
for case in cases:
    name, sql = case["name"], case["sql"]
    duck = duck_dialect(sql)
    cur = con.execute(duck)
    names = [d[0].lower() for d in cur.description]
    theirs = [[norm(v) for v in r] for r in cur.fetchall()]
    ours = [[norm(v) for _, v in row] for row in case["rows"]]
    approx = [names.index(a.lower()) for a in re.findall(r"approx_distinct\(.*?\)\)?\s+AS\s+(\w+)", sql, re.I)]
    exact = lambda rows: [tuple(v for i, v in enumerate(r) if i not in approx) for r in rows]
    limit = re.search(r"\s+LIMIT\s+\d+\s*$", duck, re.I)
    full = [[norm(v) for v in r] for r in con.execute(duck[:limit.start()]).fetchall()] if limit else theirs
    if ours and len(ours[0]) != len(names):
        problems.append("%s: %d columns vs DuckDB %d" % (name, len(ours[0]), len(names)))
        continue
    if len(ours) != len(theirs):
        problems.append("%s: %d rows vs DuckDB %d" % (name, len(ours), len(theirs)))
        continue
    pool = {}
    for r in exact(full):
        pool[r] = pool.get(r, 0) + 1
    missing = []
    for r in exact(ours):
        if pool.get(r, 0) == 0:
            missing.append(r)
        else:
            pool[r] -= 1
    if missing:
        problems.append("%s: rows DuckDB does not give: %s" % (name, missing[:3]))
        continue
    if not limit and sorted(exact(ours), key=repr) != sorted(exact(theirs), key=repr):
        problems.append("%s: the rows differ from DuckDB's" % name)
        continue
    order = re.search(r"ORDER BY\s+(\w+)", sql, re.I)
    if order:
        key = order.group(1).lower()
        k = int(key) - 1 if key.isdigit() else names.index(key)
        if [r[k] for r in ours] != [r[k] for r in theirs]:
            problems.append("%s: the order by %s differs from DuckDB's" % (name, key))
    if approx:
        by_key = {tuple(v for i, v in enumerate(r) if i not in approx): r for r in full}
        for r in ours:
            want = by_key[tuple(v for i, v in enumerate(r) if i not in approx)]
            for i in approx:
                if abs(int(r[i]) - int(want[i])) > 0.04 * int(want[i]) + 1:
                    problems.append("%s: approx_distinct %s, exactly %s" % (name, r[i], want[i]))
print("ok" if not problems else "\n".join(problems))
"#;

/// Run every saved query (and the seed file's, with `../shared`) on a lake
/// of `trail` and compare with DuckDB on the same Parquet.
fn same_rows_as_duckdb(trail: &Path) {
    let lake = lake_of(trail);
    let ddl_file = duckdb_ddl_file(lake.path());
    let query = |sql: &str| -> String {
        let out = query_json(lake.path(), sql);
        assert_eq!(out.status.code(), Some(0), "{sql}: {}", stderr(&out));
        stdout(&out)
    };
    // The busiest caller with an access key fills `principal` and `key`.
    let top: Value = serde_json::from_str(
        query(
            "SELECT userIdentity.arn, userIdentity.accessKeyId FROM cloudtrail_logs \
             WHERE userIdentity.accessKeyId IS NOT NULL GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
        )
        .trim(),
    )
    .unwrap();
    let params = [
        ("{{since}}", "1970-01-01"),
        ("{{until}}", "9999-12-31"),
        ("{{principal}}", top[0]["arn"].as_str().unwrap()),
        ("{{key}}", top[0]["accesskeyid"].as_str().unwrap()),
    ];
    let saved = std::fs::read_to_string(
        crate::support::repo_root().join("crates/trailwatch-sql/src/queries/saved.sql"),
    )
    .unwrap();
    let mut statements: Vec<(String, String)> = saved
        .split("-- name: ")
        .skip(1)
        .map(|block| {
            let (name, rest) = block.split_once('\n').unwrap();
            let mut sql: String = rest
                .lines()
                .filter(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            for (k, v) in params {
                sql = sql.replace(k, v);
            }
            (
                name.trim().to_string(),
                sql.trim().trim_end_matches(';').to_string(),
            )
        })
        .collect();
    assert_eq!(statements.len(), 16);
    if let Some(shared) = shared_dir() {
        for (i, sql) in seed_statements(&shared).into_iter().enumerate().skip(1) {
            statements.push((format!("seed {}", i + 1), sql));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for (name, sql) in &statements {
        let ordered = in_column_order(dir.path(), &query(sql));
        // One line, the statement's array of rows.
        let lines: Value = serde_json::from_slice(&std::fs::read(&ordered).unwrap()).unwrap();
        let rows = lines.get(0).cloned().unwrap_or(Value::Array(Vec::new()));
        cases.push(serde_json::json!({"name": name, "sql": sql, "rows": rows}));
    }
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(&cases).unwrap()).unwrap();
    python_says_ok(
        DUCKDB_SAME_ROWS,
        &[path_str(&ddl_file), path_str(&cases_file)],
    );
}

#[test]
fn every_seed_and_saved_query_gives_duckdbs_rows_on_the_sample_lake() {
    if !python_has("duckdb") {
        return;
    }
    same_rows_as_duckdb(&sample_trail());
}

/// The same on a generated trail: 100,000 events here (a debug build's
/// ingest of more takes minutes); `TRAILWATCH_DUCKDB_ROWS_EVENTS=1000000`
/// runs it on a million (see docs/benchmarks.md).
#[test]
fn every_seed_and_saved_query_gives_duckdbs_rows_on_a_generated_trail() {
    if !python_has("duckdb") {
        return;
    }
    let events = std::env::var("TRAILWATCH_DUCKDB_ROWS_EVENTS").unwrap_or("100000".into());
    let trail = tempfile::tempdir().unwrap();
    let out = run(&[
        "generate",
        "-q",
        "--events",
        &events,
        "--days",
        "7",
        "--seed",
        "42",
        "--out",
        path_str(trail.path()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    same_rows_as_duckdb(trail.path());
}

/// A statement of 100,000 chained operators is refused with a clear error
/// (exit 2), not a crash; a generated filter of 1,900 terms runs over the
/// lake (2,000 used to overflow the query thread's stack and abort).
#[test]
fn very_wide_statements_are_refused_and_wide_filters_run() {
    let lake = lake_of_sample();
    let wide = format!("SELECT 1{}", " + 1".repeat(100_000));
    let out =
        crate::support::run_stdin(&["query", "--lake", path_str(lake.path())], wide.as_bytes());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("at most 4000"), "{}", stderr(&out));
    // The count a statement read from stdin gives (CSV: header, value).
    let count = |sql: &str| -> i64 {
        let out = crate::support::run_stdin(
            &["query", "--lake", path_str(lake.path()), "--format", "csv"],
            sql.as_bytes(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        text.lines()
            .nth(1)
            .unwrap_or("")
            .trim()
            .parse()
            .expect("a count")
    };
    let terms: Vec<String> = (0..1_900)
        .map(|i| format!("eventname = 'Name{i}'"))
        .collect();
    let n = count(&format!(
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventname = 'StopLogging' OR {}",
        terms.join(" OR ")
    ));
    assert!(n >= 1);
    // A long list of values goes in IN (…), which the bound does not count.
    let values: Vec<String> = (0..20_000).map(|i| format!("'Name{i}'")).collect();
    let m = count(&format!(
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventname IN ('StopLogging', {})",
        values.join(", ")
    ));
    assert_eq!(m, n);
}

/// A reader pointed at a location that holds no lake says so, naming it,
/// and creates nothing (a mistyped --lake used to look like an empty,
/// compliant lake); raw-log tables still need no lake.
#[test]
fn readers_refuse_a_location_that_is_not_a_lake_and_create_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let typo = dir.path().join("lakk");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    for (lake, why) in [(&typo, "no such folder"), (&empty, "no committed ingest")] {
        let mut readers: Vec<Vec<&str>> =
            ["top callers", "state", "detect", "lake ddl --engine duckdb"]
                .iter()
                .map(|c| c.split(' ').chain(["--lake", path_str(lake)]).collect())
                .collect();
        // SQL over an existing folder without a lake is for raw-log
        // tables (the seed file run verbatim); a typo is still refused.
        if lake == &typo {
            let sql = "SELECT count(*) FROM cloudtrail_logs";
            readers.push(vec!["query", "--lake", path_str(lake), sql]);
        }
        for args in readers {
            let out = bin()
                .args(&args)
                .env_remove("TRAILWATCH_LAKE")
                .output()
                .expect("runs");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
            let err = stderr(&out);
            assert!(
                err.contains(path_str(lake))
                    && err.contains("not a trailwatch lake")
                    && err.contains(why),
                "{args:?}: {err}"
            );
        }
    }
    assert!(!typo.exists(), "a reader created {}", typo.display());
    // No --lake and no lake at the default place: raw logs still query.
    let data = dir.path().join("data");
    let sql = format!(
        "CREATE EXTERNAL TABLE raw_trail (eventName STRING) ROW FORMAT SERDE \
         'org.apache.hive.hcatalog.data.JsonSerDe' LOCATION '{}'; \
         SELECT count(*) AS n FROM raw_trail",
        path_str(&sample_trail())
    );
    let out = bin()
        .args(["query", "--format", "csv", &sql])
        .env_remove("TRAILWATCH_LAKE")
        .env_remove("TRAILWATCH_CONFIG")
        .env("XDG_DATA_HOME", &data)
        .env("HOME", dir.path())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("4000"), "{}", stdout(&out));
    assert!(!data.join("trailwatch/lake").exists());
}

/// Every table file of `lake` rewritten as files were written before the
/// `useridentity` copies (no copy columns, no layout key).
pub fn as_written_before_the_copies(lake: &Path) {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let copies = [
        "useridentity_type",
        "useridentity_arn",
        "useridentity_accesskeyid",
    ];
    for f in files_under(&lake.join("cloudtrail")) {
        if f.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let bytes = bytes::Bytes::from(std::fs::read(&f).unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let schema = reader.schema().clone();
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !copies.contains(&schema.field(*i).name().as_str()))
            .collect();
        assert_eq!(
            keep.len() + 3,
            schema.fields().len(),
            "written with the copies"
        );
        let old = std::sync::Arc::new(schema.project(&keep).unwrap());
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, old, None).unwrap();
        for b in reader.build().unwrap() {
            w.write(&b.unwrap().project(&keep).unwrap()).unwrap();
        }
        w.close().unwrap();
        std::fs::write(&f, out).unwrap();
    }
}

/// Lookups on `useridentity.type`, `.arn` and `.accesskeyid` prune row
/// groups by the fields' top-level copies (statistics, bloom filters), give
/// the answers the nested fields give, and give them too over files
/// written before the copies, which `lake compact` then rewrites with them.
#[test]
fn identity_lookups_prune_by_the_copies_and_older_files_answer_the_same() {
    let lake = lake_of_a_generated_day();
    let l = path_str(lake.path());
    let q = |sql: &str| {
        let out = run(&["query", "--lake", l, "--format", "csv", sql]);
        assert_eq!(out.status.code(), Some(0), "{sql}: {}", stderr(&out));
        stdout(&out).lines().skip(1).collect::<Vec<_>>().join("\n")
    };
    // The rarest key and ARN: a lookup that most files cannot answer.
    let rarest = |field: &str| {
        q(&format!(
            "SELECT v FROM (SELECT useridentity.{field} AS v, count(*) AS n FROM cloudtrail_logs \
             WHERE useridentity.{field} IS NOT NULL GROUP BY 1) ORDER BY n, v LIMIT 1"
        ))
    };
    let (key, arn) = (rarest("accesskeyid"), rarest("arn"));
    let lookups = [
        format!("useridentity.accesskeyid = '{key}'"),
        format!("useridentity.arn IN ('{arn}', 'arn:aws:iam::1:user/nobody')"),
        "userIdentity.type = 'Root'".to_string(),
    ];
    // The same filters, hidden from the copies (a function of the field).
    let hidden = [
        format!("concat(useridentity.accesskeyid, '') = '{key}'"),
        format!("concat(useridentity.arn, '') IN ('{arn}', 'arn:aws:iam::1:user/nobody')"),
        "concat(userIdentity.type, '') = 'Root'".to_string(),
    ];
    let count = |f: &str| q(&format!("SELECT count(*) FROM cloudtrail_logs WHERE {f}"));
    let answers: Vec<String> = lookups.iter().map(|f| count(f)).collect();
    for ((f, h), got) in lookups.iter().zip(&hidden).zip(&answers) {
        assert_ne!(got, "0", "{f}");
        assert_eq!(*got, count(h), "{f}");
    }
    let pruned = |f: &str, what: &str| {
        let plan = q(&format!(
            "EXPLAIN ANALYZE SELECT count(*) FROM cloudtrail_logs WHERE {f}"
        ));
        let (total, matched) = pruning_metric(&plan, what);
        matched < total
    };
    assert!(
        pruned(&lookups[0], "bloom_filter"),
        "the key's bloom filters prune"
    );
    assert!(
        pruned(&lookups[1], "bloom_filter"),
        "the ARN's bloom filters prune"
    );
    assert!(pruned(&lookups[2], "statistics"), "Root's statistics prune");
    // Files written before the copies: the same answers (a copy is read as
    // the nested field there), then compaction adds the copies.
    as_written_before_the_copies(lake.path());
    for (f, want) in lookups.iter().zip(&answers) {
        assert_eq!(count(f), *want, "older files: {f}");
    }
    assert_eq!(
        count("useridentity_type = 'Root'"),
        answers[2],
        "the copy itself"
    );
    let out = run(&["lake", "compact", "-q", "--lake", l]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (f, want) in lookups.iter().zip(&answers) {
        assert_eq!(count(f), *want, "after compaction: {f}");
    }
    assert!(
        pruned(&lookups[2], "statistics"),
        "compaction brought the copies back"
    );
}
