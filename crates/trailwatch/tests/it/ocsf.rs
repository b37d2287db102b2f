//! OCSF and Security Lake: `export ocsf` of the sample and of real corpora
//! validated against the OCSF 1.1.0 schema in `../shared/ocsf` (compiled
//! with PyPI's `ocsf-lib`), alerts as Detection Findings, the export read
//! by DuckDB and PySpark with Security Lake's kind of queries, and read
//! back by trailwatch with the same rule matches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{
    bin, have_tool, ingest_sample, lake_of, path_str, python, python_has, query_json, run,
    sample_trail, shared_dir, stderr, stdout,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The OCSF 1.1.0 schema of `../shared/ocsf` compiled into `dir`, when
/// `../shared`, ocsf-lib and DuckDB are here (else the test skips, as
/// [`shared_dir`] and [`have_tool`] say).
fn compiled_schema(dir: &Path) -> Option<PathBuf> {
    let shared = shared_dir()?;
    if !python_has("ocsf") || !python_has("duckdb") {
        return None;
    }
    let out = Command::new("python3")
        .args(["-m", "ocsf.compile", path_str(&shared.join("ocsf"))])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("schema.json");
    std::fs::write(&path, &out.stdout).unwrap();
    Some(path)
}

/// `export ocsf` of `lake` into `out`; its JSON summary.
fn export(lake: &Path, out: &Path) -> Value {
    export_with(lake, out, &[])
}

/// [`export`] with `extra` arguments (a window, say).
fn export_with(lake: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "export",
        "ocsf",
        "--lake",
        path_str(lake),
        "--out",
        path_str(out),
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The sample ingested into `dir/lake` and exported into `dir/out`.
fn exported_sample(dir: &Path) -> (PathBuf, PathBuf) {
    let lake = dir.join("lake");
    ingest_sample(&lake);
    let out = dir.join("out");
    export(&lake, &out);
    (lake, out)
}

fn parquet_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// Validate OCSF files (Parquet or NDJSON) against the compiled schema.
fn validate(schema: &Path, files: &[PathBuf]) {
    let script = std::fs::read_to_string(fixture("ocsf_validate.py")).unwrap();
    let mut args = vec![path_str(schema)];
    args.extend(files.iter().map(|f| path_str(f)));
    let out = python(&script, &args);
    assert!(
        out.status.success() && stdout(&out).trim() == "ok",
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn the_sample_and_real_corpora_export_as_valid_ocsf_and_alerts_as_valid_findings() {
    let dir = tempfile::tempdir().unwrap();
    let Some(schema) = compiled_schema(dir.path()) else {
        return;
    };
    let shared = shared_dir().unwrap();

    // The sample: every event, laid out as a Security Lake custom source.
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let out = dir.path().join("out");
    let summary = export(&lake, &out);
    assert_eq!(summary["events"], 4000, "{summary}");
    let by_class = &summary["by_class"];
    assert!(
        by_class["Authentication"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(
        by_class["Account Change"].as_u64().unwrap() > 0,
        "{summary}"
    );
    let files = parquet_files(&out);
    assert_eq!(files.len() as u64, summary["files"].as_u64().unwrap());
    for f in &files {
        let rel = f.strip_prefix(&out).unwrap().to_str().unwrap();
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts[..2], ["ext", "trailwatch"], "{rel}");
        assert!(parts[2].starts_with("region="), "{rel}");
        assert!(parts[3].starts_with("accountId="), "{rel}");
        assert!(
            parts[4]
                .strip_prefix("eventDay=")
                .is_some_and(|d| d.len() == 8),
            "{rel}"
        );
        let class = parts[5].split('-').next().unwrap();
        assert!(
            ["api_activity", "authentication", "account_change"].contains(&class),
            "{rel}"
        );
    }
    validate(&schema, &files);

    // The sample's alerts as Detection Findings, each naming its evidence.
    let o = run(&[
        "detect",
        "--pack",
        "essential,responder",
        "--format",
        "ocsf",
        path_str(&sample_trail()),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let findings = dir.path().join("findings.ndjson");
    std::fs::write(&findings, &o.stdout).unwrap();
    let alerts =
        crate::support::detect_json(&["--pack", "essential,responder", path_str(&sample_trail())]);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), alerts.len());
    for (f, a) in lines.iter().zip(&alerts) {
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["finding_info"]["uid"], a["alert_id"]);
        assert_eq!(f["finding_info"]["analytic"]["uid"], a["rule_id"]);
        // An alert without evidence ids (a delivery gap) lists none.
        let related: Vec<&Value> = f["finding_info"]["related_events"]
            .as_array()
            .map(|r| r.iter().map(|e| &e["uid"]).collect())
            .unwrap_or_default();
        let evidence: Vec<&Value> = a["event_ids"].as_array().unwrap().iter().collect();
        assert_eq!(related, evidence);
        let severity = match a["severity"].as_str().unwrap() {
            "P1" => 5,
            "P2" => 4,
            "P3" => 3,
            _ => 2,
        };
        assert_eq!(f["severity_id"], severity);
    }
    validate(&schema, &[findings]);

    // Real data captured by others: every record exports, every one valid.
    let corpora = shared.join("corpora");
    let lake = dir.path().join("corpora-lake");
    for src in ["invictus-aws/CloudTrail", "stratus-red-team"] {
        let o = run(&[
            "ingest",
            "-q",
            "--lake",
            path_str(&lake),
            path_str(&corpora.join(src)),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let out = dir.path().join("corpora-out");
    let summary = export(&lake, &out);
    assert_eq!(summary["events"], 2900 + 310, "{summary}");
    validate(&schema, &parquet_files(&out));
}

/// Security Lake's kind of queries over a `cloudtrail_ocsf` table (the
/// partitions from the paths, nested fields by dot), and the answers in
/// one JSON shape; `answers` takes a function that runs a query by name.
const OCSF_QUERIES: &str = r#"
import json, sys
QUERIES = {
    "by_operation": "SELECT api.operation, count(*) FROM cloudtrail_ocsf GROUP BY 1",
    "stop_logging": "SELECT time_dt, api.operation, actor.user.uid FROM cloudtrail_ocsf "
                    "WHERE api.operation = 'StopLogging' AND class_uid = 6003 ORDER BY time_dt",
    "failed_logins": "SELECT count(*) FROM cloudtrail_ocsf "
                     "WHERE class_uid = 3002 AND api.operation = 'ConsoleLogin' AND status_id = 2",
    "days": "SELECT DISTINCT eventDay FROM cloudtrail_ocsf",
}
def answers(rows):
    print(json.dumps({
        "by_operation": {r[0]: r[1] for r in rows("by_operation")},
        "stop_logging": [[r[0].strftime("%Y-%m-%dT%H:%M:%SZ"), r[1], r[2]] for r in rows("stop_logging")],
        "failed_logins": rows("failed_logins")[0][0],
        "days": sorted(str(r[0]) for r in rows("days")),
    }))
"#;

/// DuckDB over the export's folder.
const DUCKDB_RUN: &str = r#"
import duckdb
con = duckdb.connect()
con.sql(f"CREATE VIEW cloudtrail_ocsf AS SELECT * FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true, union_by_name = true)")
answers(lambda q: con.sql(QUERIES[q]).fetchall())
"#;

/// PySpark in local mode, reading the folder as Spark reads a partitioned
/// table.
const SPARK_RUN: &str = r#"
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").appName("trailwatch-ocsf")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
spark.read.option("mergeSchema", "true").parquet(sys.argv[1]).createOrReplaceTempView("cloudtrail_ocsf")
answers(lambda q: spark.sql(QUERIES[q]).collect())
"#;

fn lake_rows(lake: &Path, sql: &str) -> Vec<Value> {
    let o = query_json(lake, sql);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn duckdb_and_spark_answer_security_lake_queries_over_the_export_as_the_lake_does() {
    if !python_has("duckdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (lake, out) = exported_sample(dir.path());
    let root = out.join("ext/trailwatch");

    // What the lake says, in the same shape.
    let by_operation: BTreeMap<String, Value> = lake_rows(
        &lake,
        "SELECT eventname AS op, count(*) AS n FROM cloudtrail_logs GROUP BY 1",
    )
    .into_iter()
    .map(|r| (r["op"].as_str().unwrap().to_string(), r["n"].clone()))
    .collect();
    let stop_logging: Vec<Value> = lake_rows(
        &lake,
        "SELECT eventtime, eventname, useridentity.arn AS arn FROM cloudtrail_logs WHERE eventname = 'StopLogging' ORDER BY eventtime",
    )
    .into_iter()
    .map(|r| serde_json::json!([r["eventtime"], r["eventname"], r["arn"]]))
    .collect();
    assert!(!stop_logging.is_empty(), "the sample stops a trail");
    let failed = lake_rows(
        &lake,
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventname = 'ConsoleLogin' \
         AND (errorcode IS NOT NULL OR json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure')",
    )[0]["n"]
        .clone();
    assert!(
        failed.as_u64().unwrap() > 0,
        "the sample has failed sign-ins"
    );
    let days: BTreeSet<String> = lake_rows(&lake, "SELECT DISTINCT date_format(from_iso8601_timestamp(eventtime), '%Y%m%d') AS d FROM cloudtrail_logs")
        .into_iter()
        .map(|r| r["d"].as_str().unwrap().to_string())
        .collect();

    let check = |engine: &str, o: std::process::Output| {
        assert!(
            o.status.success(),
            "{engine}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: Value = serde_json::from_slice(
            o.stdout
                .trim_ascii()
                .rsplit(|b| *b == b'\n')
                .next()
                .unwrap(),
        )
        .unwrap();
        let got_ops: BTreeMap<String, Value> =
            serde_json::from_value(got["by_operation"].clone()).unwrap();
        assert_eq!(got_ops, by_operation, "{engine}");
        assert_eq!(
            got["stop_logging"],
            Value::Array(stop_logging.clone()),
            "{engine}"
        );
        assert_eq!(got["failed_logins"], failed, "{engine}");
        let got_days: BTreeSet<String> = serde_json::from_value(got["days"].clone()).unwrap();
        assert_eq!(got_days, days, "{engine}");
    };
    check(
        "DuckDB",
        python(&format!("{OCSF_QUERIES}{DUCKDB_RUN}"), &[path_str(&root)]),
    );
    if python_has("pyspark") && have_tool(Command::new("java").arg("-version"), "java") {
        check(
            "Spark",
            python(&format!("{OCSF_QUERIES}{SPARK_RUN}"), &[path_str(&root)]),
        );
    }
}

/// `detect --matches` of `sources` (or `--lake`): (rule, event id) pairs.
fn matches(args: &[&str]) -> BTreeSet<(String, String)> {
    matches_with(&mut bin(), args)
}

/// [`matches`] run by `cmd` (a binary with S3 settings, say).
fn matches_with(cmd: &mut Command, args: &[&str]) -> BTreeSet<(String, String)> {
    let o = cmd
        .args([
            "detect",
            "--pack",
            "essential",
            "--matches",
            "--format",
            "ndjson",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["rule_id"].as_str().unwrap().to_string(),
                v["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_export_read_back_gives_the_essential_pack_the_same_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut trails = vec![sample_trail()];
    if let Some(shared) = shared_dir() {
        trails.push(shared.join("corpora/stratus-red-team"));
        trails.push(shared.join("corpora/invictus-aws/CloudTrail"));
    }
    for (i, trail) in trails.iter().enumerate() {
        let lake = lake_of(trail);
        let out = dir.path().join(format!("out{i}"));
        export(lake.path(), &out);
        let want = matches(&[path_str(trail)]);
        assert!(!want.is_empty() || i > 0, "the sample matches");
        // The export's Parquet files as sources (as Security Lake's would be).
        assert_eq!(matches(&[path_str(&out)]), want, "{}", trail.display());
        // Ingested into a lake of their own, then detected over the lake.
        let back = dir.path().join(format!("back{i}"));
        let o = run(&["ingest", "-q", "--lake", path_str(&back), path_str(&out)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            matches(&["--lake", path_str(&back)]),
            want,
            "{}",
            trail.display()
        );
    }
}

#[test]
fn a_parquet_file_that_is_not_ocsf_is_reported_by_name_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, out) = exported_sample(dir.path());
    // A lake file (CloudTrail-shaped Parquet) among the OCSF files.
    let lake_file = parquet_files(&lake.join("cloudtrail")).remove(0);
    std::fs::copy(&lake_file, out.join("lake-file.parquet")).unwrap();
    let o = run(&[
        "detect",
        "--pack",
        "essential",
        "--format",
        "ndjson",
        path_str(&out),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("lake-file.parquet") && stderr(&o).contains("--lake"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stdout(&o).is_empty(),
        "the other files' alerts are still raised"
    );
    let back = dir.path().join("back");
    let o = bin()
        .args(["ingest", "--lake", path_str(&back), path_str(&out)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let rows = lake_rows(&back, "SELECT count(*) AS n FROM cloudtrail_logs");
    assert_eq!(rows[0]["n"], 4000);
}

#[test]
fn security_lake_parquet_in_s3_answers_the_seed_queries_and_rules_as_the_raw_trail_does() {
    let Some(shared) = shared_dir() else { return };
    let Some(moto) = crate::support::start_moto() else {
        return;
    };
    if !python_has("boto3") {
        return;
    }
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let trail = sample_trail();
    let files = crate::support::files_under(&trail.join("AWSLogs"));
    crate::support::s3_upload(
        &endpoint,
        "org-cloudtrail-logs-123456789",
        "",
        &trail,
        &files,
    );
    crate::support::s3_upload(&endpoint, "security-lake", "", &trail, &[]);
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let o = crate::support::s3_env(&mut bin())
        .args([
            "export",
            "ocsf",
            "--lake",
            path_str(&lake),
            "--out",
            "s3://security-lake/",
        ])
        .args(["--endpoint-url", &endpoint])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The seed file verbatim over the raw trail, then with its LOCATION at
    // the OCSF export: the same answers.
    let seed = std::fs::read_to_string(shared.join("seed-queries.sql")).unwrap();
    let over_ocsf = seed.replace(
        "LOCATION 's3://org-cloudtrail-logs-123456789/AWSLogs/'",
        "LOCATION 's3://security-lake/ext/trailwatch/'",
    );
    assert_ne!(
        seed, over_ocsf,
        "the seed's LOCATION is where the test expects it"
    );
    let answers = |text: &str| {
        let path = dir.path().join("seed.sql");
        std::fs::write(&path, text).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let o = crate::support::s3_env(&mut bin())
            .args([
                "query",
                "--endpoint-url",
                &endpoint,
                "--lake",
                path_str(empty.path()),
            ])
            .args(["--format", "json", "-f", path_str(&path)])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // One JSON array per statement; `array_agg(DISTINCT …)` has no
        // order, so arrays inside rows are compared sorted.
        stdout(&o)
            .lines()
            .map(|l| {
                let mut rows: Value = serde_json::from_str(l).unwrap();
                for row in rows.as_array_mut().unwrap() {
                    for v in row.as_object_mut().unwrap().values_mut() {
                        if let Value::Array(items) = v {
                            items.sort_by_key(|i| i.to_string());
                        }
                    }
                }
                rows
            })
            .collect::<Vec<Value>>()
    };
    let raw = answers(&seed);
    assert_eq!(raw.len(), 5, "the seed's five queries answer");
    assert!(
        raw.iter()
            .filter(|r| r.as_array().is_some_and(|a| !a.is_empty()))
            .count()
            >= 4
    );
    assert!(
        answers(&over_ocsf) == raw,
        "the seed queries answer differently over the OCSF export"
    );

    // The rules over the OCSF objects in S3, as over the raw trail.
    let want = matches(&[path_str(&trail)]);
    let got = matches_with(
        crate::support::s3_env(&mut bin()),
        &[
            "--endpoint-url",
            &endpoint,
            "s3://security-lake/ext/trailwatch/",
        ],
    );
    assert_eq!(got, want);
}

/// Another writer's OCSF without `api.request.data` (as a SIEM might
/// keep it): the records still come back, and `detect` names the rules
/// that read `requestParameters`, which such files cannot give.
#[test]
fn ocsf_without_request_data_names_the_rules_it_leaves_blind() {
    if !python_has("duckdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = exported_sample(dir.path());
    let trimmed = dir.path().join("trimmed");
    std::fs::create_dir_all(&trimmed).unwrap();
    let script = r#"
import duckdb, sys
src, dst = sys.argv[1], sys.argv[2]
duckdb.sql(f"""COPY (SELECT * REPLACE (struct_pack(operation := api.operation, service := api.service,
    request := struct_pack(uid := api.request.uid)) AS api)
  FROM read_parquet('{src}/**/api_activity-*.parquet', hive_partitioning = false))
  TO '{dst}/trimmed.parquet' (FORMAT parquet)""")
print("ok")
"#;
    let o = python(script, &[path_str(&out), path_str(&trimmed)]);
    assert!(
        o.status.success() && stdout(&o).trim() == "ok",
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "detect",
        "--pack",
        "essential",
        "--format",
        "ndjson",
        path_str(&trimmed),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("without the columns of requestParameters"),
        "{err}"
    );
    let rules = crate::support::detect_json(&[
        "--pack",
        "essential",
        "--matches",
        path_str(&sample_trail()),
    ]);
    assert!(!rules.is_empty());
    assert!(
        err.lines()
            .any(|l| l.starts_with("rule ") && l.contains("reads requestParameters")),
        "{err}"
    );
    // A rule on the event name alone still fires: StopLogging is there.
    assert!(
        stdout(&o).contains("StopLogging") || stdout(&o).contains("cloudtrail"),
        "{}",
        stdout(&o)
    );
}

/// `--since` and `--until` bound the export as they bound the lake's
/// events; a window with no event writes nothing and says so.
#[test]
fn the_export_window_holds_the_lake_s_events_of_that_window() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let out = dir.path().join("out");
    let window = ["--since", "2026-04-02T06:00:00Z", "--until", "2026-04-03"];
    let summary = export_with(&lake, &out, &window);
    let want = lake_rows(
        &lake,
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventtime >= '2026-04-02T06:00:00Z' AND eventtime < '2026-04-03'",
    )[0]["n"]
        .clone();
    assert!(want.as_u64().unwrap() > 0);
    assert_eq!(summary["events"], want);
    let days: BTreeSet<String> = parquet_files(&out)
        .iter()
        .filter_map(|f| {
            f.to_str()?
                .split('/')
                .find_map(|s| s.strip_prefix("eventDay="))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(days, BTreeSet::from(["20260402".to_string()]));
    let o = run(&[
        "export",
        "ocsf",
        "--lake",
        path_str(&lake),
        "--out",
        path_str(&out),
        "--since",
        "2030-01-01",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("no events"), "{}", stderr(&o));
}

/// An OCSF row of another class among CloudTrail's (a Security Lake table
/// mixing sources, say): `ingest` quarantines it with its file and row,
/// its OCSF JSON kept, and stores every other row.
#[test]
fn an_ocsf_row_of_another_class_is_quarantined_and_the_rest_is_kept() {
    if !python_has("duckdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = exported_sample(dir.path());
    let source = parquet_files(&out)
        .into_iter()
        .find(|f| f.to_str().is_some_and(|s| s.contains("api_activity")))
        .unwrap();
    let mixed = dir.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    let script = r#"
import duckdb, sys
src, dst = sys.argv[1], sys.argv[2]
first = duckdb.sql(f"SELECT min(metadata.uid) FROM read_parquet('{src}')").fetchall()[0][0]
duckdb.sql(f"""COPY (SELECT * REPLACE (CASE WHEN metadata.uid = '{first}' THEN 4001 ELSE class_uid END AS class_uid)
  FROM read_parquet('{src}', hive_partitioning = false)) TO '{dst}/mixed.parquet' (FORMAT parquet)""")
print(duckdb.sql(f"SELECT count(*) FROM read_parquet('{src}')").fetchall()[0][0], first)
"#;
    let o = python(script, &[path_str(&source), path_str(&mixed)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stdout(&o);
    let (rows, first) = said.trim().split_once(' ').unwrap();
    let rows: u64 = rows.parse().unwrap();
    assert!(rows > 1);
    let lake = dir.path().join("back");
    let o = run(&[
        "ingest",
        "--json",
        "--lake",
        path_str(&lake),
        path_str(&mixed),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "quarantine makes the exit non-zero: {}",
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["events"].as_u64(), v["quarantined"].as_u64()),
        (Some(rows - 1), Some(1))
    );
    let entries: Vec<_> = std::fs::read_dir(lake.join("_quarantine"))
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1);
    let text = std::fs::read_to_string(entries[0].as_ref().unwrap().path()).unwrap();
    let q: Value = serde_json::from_str(text.trim()).unwrap();
    assert!(
        q["source"].as_str().unwrap().ends_with("mixed.parquet"),
        "{q}"
    );
    assert!(q["record"].is_u64(), "{q}");
    let raw: Value = serde_json::from_str(q["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["class_uid"], 4001);
    assert_eq!(raw["metadata"]["uid"], first);
}
