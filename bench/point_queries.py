#!/usr/bin/env python3
"""Two statements the second SQL run of 2026-12-02 changed, each engine as a
fresh process, wall time best of three, in one run:

- an alert's evidence lookup: three event ids within a 2-day window (bloom
  filters on `eventid`);
- `json_extract_scalar(requestParameters, '$.key')` over every GetObject
  (the JSON path walk), DuckDB's `json_extract_string` as the peer.

With OLD_TRAILWATCH, the same statements through an older build too, so
the change and the peer are measured side by side.

Usage: bench/point_queries.py TRAILWATCH LAKE DUCKDB_DDL [OLD_TRAILWATCH]
(the DDL from `trailwatch lake ddl --engine duckdb --lake LAKE`)."""
import subprocess, sys, time

tw, lake, ddl_path = sys.argv[1:4]
old = sys.argv[4] if len(sys.argv) > 4 else None
DDL = open(ddl_path).read()


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd[:3]), p.stderr[-2000:]))
    return p.stdout


def tw_query(binary):
    return lambda sql: run([binary, "query", "-q", "--lake", lake, "--format", "csv", sql])


def duck(sql):
    return run(["duckdb", "-csv"], DDL + "\n" + sql + ";\n")


def best(f, sql, n=3):
    times = []
    for _ in range(n):
        s = time.perf_counter()
        out = f(sql)
        times.append(time.perf_counter() - s)
    return min(times), len(out.strip().splitlines()) - 1


ids = tw_query(tw)("SELECT eventid FROM cloudtrail_logs WHERE eventtime BETWEEN "
                   "'2026-04-06T12:00:00Z' AND '2026-04-06T12:00:10Z' ORDER BY eventid LIMIT 3")
ids = ",".join("'%s'" % i for i in ids.split()[1:])
cases = [
    ("evidence lookup, 3 event ids in 2 days",
     "SELECT eventid, eventname FROM cloudtrail_logs WHERE eventid IN (%s) AND eventtime "
     "BETWEEN '2026-04-05T12:00:00Z' AND '2026-04-07T12:00:00Z'" % ids, None),
    ("json_extract_scalar over GetObject",
     "SELECT count(json_extract_scalar(requestParameters, '$.key')) AS n FROM cloudtrail_logs "
     "WHERE eventName = 'GetObject'",
     "SELECT count(json_extract_string(requestParameters, '$.key')) AS n FROM cloudtrail_logs "
     "WHERE eventName = 'GetObject'"),
]
head = "| statement | rows | trailwatch s | DuckDB s | ratio |"
if old:
    head += " older build s | older / DuckDB |"
print(head)
print("|---" * (head.count("|") - 1) + "|")
for name, sql, dsql in cases:
    t, n = best(tw_query(tw), sql)
    d, dn = best(duck, dsql or sql)
    line = "| %s | %d%s | %.3f | %.3f | %.2fx |" % (
        name, n, "" if n == dn else " (DuckDB %d)" % dn, t, d, t / d)
    if old:
        o, _ = best(tw_query(old), sql)
        line += " %.3f | %.2fx |" % (o, o / d)
    print(line, flush=True)
