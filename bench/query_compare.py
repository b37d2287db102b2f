#!/usr/bin/env python3
"""Seed queries 2-6 and the saved queries: trailwatch against the DuckDB
command-line client over the same Parquet lake, cold and warm, in one run.

- cold: each engine as a fresh process per statement (`trailwatch query`,
  `duckdb` with the lake's DDL from `trailwatch lake ddl --engine duckdb`),
  wall time, best of three;
- warm: each engine's own shell with the statement four times, the shell's
  own timer (`\\timing` in trailwatch, `.timer on` in DuckDB), best of the
  last three (the first reads the files into the page cache and fills the
  session's caches);
- with --raw: the seed queries once each over the raw JSON.gz trail,
  trailwatch through Athena's CREATE EXTERNAL TABLE against DuckDB's
  read_json over the same files.

Each result's row count is compared between the engines and printed.

Usage: bench/query_compare.py TRAILWATCH LAKE TRAIL DUCKDB_DDL [--raw] [--only SUBSTR]
Needs the `duckdb` client on PATH (`pip install duckdb-cli`)."""
import os, re, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
tw, lake, trail, ddl_path = args[:4]
RAW = "--raw" in sys.argv
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
DDL = open(ddl_path).read()

SEED = [
    ("seed 2 root usage",
     "SELECT eventTime, eventName, sourceIPAddress, userAgent FROM cloudtrail_logs WHERE userIdentity.type = 'Root' AND eventTime > '2026-04-01' ORDER BY eventTime DESC",
     None),
    ("seed 3 IAM policy changes, 24h",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventSource = 'iam.amazonaws.com' AND eventName LIKE '%Policy%' AND eventTime > date_format(date_add('hour', -24, now()), '%Y-%m-%dT%H:%i:%sZ') ORDER BY eventTime DESC",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventSource = 'iam.amazonaws.com' AND eventName LIKE '%Policy%' AND eventTime > strftime(now() - INTERVAL 24 HOUR, '%Y-%m-%dT%H:%M:%SZ') ORDER BY eventTime DESC"),
    ("seed 4 busy source IPs",
     "SELECT sourceIPAddress, COUNT(*) as call_count, array_agg(DISTINCT eventName) as actions FROM cloudtrail_logs WHERE eventTime > '2026-04-01' GROUP BY sourceIPAddress HAVING COUNT(*) > 100 ORDER BY call_count DESC",
     None),
    ("seed 5 security group changes",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'CreateSecurityGroup', 'DeleteSecurityGroup') ORDER BY eventTime DESC LIMIT 50",
     None),
    ("seed 6 top 10 callers",
     "SELECT userIdentity.arn, COUNT(*) as calls FROM cloudtrail_logs WHERE eventTime > '2026-04-04' GROUP BY userIdentity.arn ORDER BY calls DESC LIMIT 10",
     None),
]


def saved_queries():
    """The saved queries after the first five (which are seed 2-6), with
    their parameters filled as `query --saved` fills them by default;
    principal and key take the busiest caller's values."""
    text = open(os.path.join(HERE, "..", "crates", "trailwatch-sql", "src", "queries", "saved.sql")).read()
    out = []
    for block in text.split("-- name: ")[1:]:
        name, _, rest = block.partition("\n")
        sql = "\n".join(l for l in rest.splitlines() if not l.startswith("--")).strip().rstrip(";")
        out.append((name.strip(), sql))
    return out[5:]


def fill(sql, params):
    return re.sub(r"\{\{(\w+)\}\}", lambda m: params[m.group(1)], sql)


def duck_dialect(sql):
    """The few Trino functions DuckDB spells differently."""
    return sql.replace("json_extract_scalar(", "json_extract_string(").replace(
        "approx_distinct(", "approx_count_distinct(")


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd[:3]), p.stderr[-2000:]))
    return p


def tw_cold(sql):
    return run([tw, "query", "-q", "--lake", lake, "--format", "csv", sql]).stdout


def duck_cold(sql):
    return run(["duckdb", "-csv"], DDL + "\n" + sql + ";\n").stdout


def best_wall(f, n=3):
    times = []
    for _ in range(n):
        s = time.perf_counter()
        f()
        times.append(time.perf_counter() - s)
    return min(times)


def tw_warm(sql, n=4):
    p = run([tw, "query", "-q", "--shell", "--lake", lake, "--format", "csv"],
            "\\timing on\n" + (sql + ";\n") * n)
    ms = [float(x) for x in re.findall(r"Time: ([0-9.]+) ms", p.stderr)]
    assert len(ms) == n, p.stderr
    return min(ms[1:]) / 1000


def duck_warm(sql, n=4):
    p = run(["duckdb", "-csv"], DDL + "\n.timer on\n" + (sql + ";\n") * n)
    s = [float(x) for x in re.findall(r"Run Time \(s\): real ([0-9.]+)", p.stdout)]
    assert len(s) >= n, p.stdout[-2000:]
    return min(s[-n + 1:])


def rows(csv_text):
    lines = [l for l in csv_text.splitlines() if l and not l.startswith("Run Time")]
    return max(len(lines) - 1, 0)


def raw_ddls():
    """Athena's table over the raw trail for trailwatch, and the same
    columns through read_json for DuckDB."""
    athena = ("CREATE EXTERNAL TABLE cloudtrail_logs (eventVersion STRING, userIdentity STRUCT<type: STRING, "
              "principalId: STRING, arn: STRING, accountId: STRING, invokedBy: STRING, accessKeyId: STRING, "
              "userName: STRING>, eventTime STRING, eventSource STRING, eventName STRING, awsRegion STRING, "
              "sourceIPAddress STRING, userAgent STRING, errorCode STRING, errorMessage STRING, "
              "requestParameters STRING, responseElements STRING) "
              "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe' LOCATION '%s'" % trail)
    record = ("STRUCT(eventVersion VARCHAR, userIdentity STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, "
              "accountId VARCHAR, invokedBy VARCHAR, accessKeyId VARCHAR, userName VARCHAR), eventTime VARCHAR, "
              "eventSource VARCHAR, eventName VARCHAR, awsRegion VARCHAR, sourceIPAddress VARCHAR, "
              "userAgent VARCHAR, errorCode VARCHAR, errorMessage VARCHAR, requestParameters JSON, "
              "responseElements JSON)")
    # A list of records per file: one row per record, its fields as columns.
    duck = ("CREATE VIEW cloudtrail_logs AS SELECT unnest(r) FROM (SELECT unnest(Records) AS r FROM "
            "read_json('%s/**/*.json.gz', columns = {'Records': '%s[]'}, format = 'auto', "
            "maximum_object_size = 1073741824));" % (trail.rstrip("/"), record))
    return athena, duck


queries = [(n, q, d or q) for n, q, d in SEED]
top = tw_cold("SELECT userIdentity.arn, userIdentity.accessKeyId FROM cloudtrail_logs "
              "WHERE userIdentity.accessKeyId IS NOT NULL GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")
arn, key = top.splitlines()[1].split(",")
params = {"since": "1970-01-01", "until": "9999-12-31", "principal": arn, "key": key}
for name, sql in saved_queries():
    sql = fill(sql, params)
    queries.append(("saved " + name, sql, duck_dialect(sql)))
if ONLY:
    queries = [q for q in queries if ONLY in q[0]]

print("| query | rows (tw/duckdb) | cold tw s | cold duckdb s | cold ratio | warm tw s | warm duckdb s | warm ratio |")
print("|---|---|---|---|---|---|---|---|")
for name, q, dq in queries:
    n_tw, n_duck = rows(tw_cold(q)), rows(duck_cold(dq))
    c_tw = best_wall(lambda: tw_cold(q))
    c_duck = best_wall(lambda: duck_cold(dq))
    w_tw, w_duck = tw_warm(q), duck_warm(dq)
    same = "%d" % n_tw if n_tw == n_duck else "%d/%d DIFFER" % (n_tw, n_duck)
    print("| %s | %s | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx |" % (
        name, same, c_tw, c_duck, c_tw / c_duck, w_tw, w_duck, w_tw / max(w_duck, 1e-4)), flush=True)

if RAW:
    athena, duck = raw_ddls()
    print()
    print("| seed query over raw JSON.gz | rows (tw/duckdb) | trailwatch s | DuckDB read_json s | ratio |")
    print("|---|---|---|---|---|")
    for name, q, dq in [q for q in queries if q[0].startswith("seed")]:
        out = {}
        t = best_wall(lambda: out.update(
            tw=run([tw, "query", "-q", "--lake", lake, "--format", "csv", athena + ";\n" + q]).stdout), n=1)
        d = best_wall(lambda: out.update(duck=run(["duckdb", "-csv"], duck + "\n" + dq + ";\n").stdout), n=1)
        n_tw, n_duck = rows(out["tw"]), rows(out["duck"])
        same = "%d" % n_tw if n_tw == n_duck else "%d/%d DIFFER" % (n_tw, n_duck)
        print("| %s | %s | %.1f | %.1f | %.2fx |" % (name, same, t, d, t / d), flush=True)
