#!/usr/bin/env python3
"""Time seed queries 2-6: trailwatch over the lake, DuckDB over the same
Parquet (its own translation where the dialects differ), and trailwatch over
the raw trail via CREATE EXTERNAL TABLE. Prints a markdown table.

Usage: bench/query_compare.py TRAILWATCH LAKE TRAIL DUCKDB_DDL"""
import subprocess, sys, time
import duckdb

tw, lake, trail, ddl = sys.argv[1:5]
QUERIES = [
    ("2 root usage",
     "SELECT eventTime, eventName, sourceIPAddress, userAgent FROM cloudtrail_logs WHERE userIdentity.type = 'Root' AND eventTime > '2026-04-01' ORDER BY eventTime DESC",
     None),
    ("3 IAM policy changes, 24h",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventSource = 'iam.amazonaws.com' AND eventName LIKE '%Policy%' AND eventTime > date_format(date_add('hour', -24, now()), '%Y-%m-%dT%H:%i:%sZ') ORDER BY eventTime DESC",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventSource = 'iam.amazonaws.com' AND eventName LIKE '%Policy%' AND eventTime > strftime(now() - INTERVAL 24 HOUR, '%Y-%m-%dT%H:%M:%SZ') ORDER BY eventTime DESC"),
    ("4 busy source IPs",
     "SELECT sourceIPAddress, COUNT(*) as call_count, array_agg(DISTINCT eventName) as actions FROM cloudtrail_logs WHERE eventTime > '2026-04-01' GROUP BY sourceIPAddress HAVING COUNT(*) > 100 ORDER BY call_count DESC",
     None),
    ("5 security group changes",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'CreateSecurityGroup', 'DeleteSecurityGroup') ORDER BY eventTime DESC LIMIT 50",
     None),
    ("6 top 10 callers",
     "SELECT userIdentity.arn, COUNT(*) as calls FROM cloudtrail_logs WHERE eventTime > '2026-04-04' GROUP BY userIdentity.arn ORDER BY calls DESC LIMIT 10",
     None),
]
RAW_DDL = ("CREATE EXTERNAL TABLE cloudtrail_logs (eventVersion STRING, userIdentity STRUCT<type: STRING, "
           "principalId: STRING, arn: STRING, accountId: STRING, invokedBy: STRING, accessKeyId: STRING, "
           "userName: STRING>, eventTime STRING, eventSource STRING, eventName STRING, awsRegion STRING, "
           "sourceIPAddress STRING, userAgent STRING, errorCode STRING, errorMessage STRING, "
           "requestParameters STRING, responseElements STRING) "
           "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe' LOCATION '%s'" % trail)

def best(f, n=3):
    times = []
    for _ in range(n):
        s = time.perf_counter()
        f()
        times.append(time.perf_counter() - s)
    return min(times)

con = duckdb.connect()
con.execute(open(ddl).read())
rows = []
for name, q, duck_q in QUERIES:
    t_tw = best(lambda: subprocess.run([tw, "query", "-q", "--lake", lake, "--format", "csv", q],
                                       stdout=subprocess.DEVNULL, check=True))
    t_duck = best(lambda: con.execute(duck_q or q).fetchall())
    t_raw = best(lambda: subprocess.run([tw, "query", "-q", "--lake", lake, "--format", "csv", RAW_DDL + ";\n" + q],
                                        stdout=subprocess.DEVNULL, check=True), n=1)
    rows.append((name, t_tw, t_duck, t_raw))
print("| seed query | trailwatch (lake) s | DuckDB (same Parquet) s | ratio | trailwatch raw JSON.gz s |")
print("|---|---|---|---|---|")
for name, a, b, c in rows:
    print("| %s | %.2f | %.2f | %.2fx | %.1f |" % (name, a, b, a / b, c))
