#!/usr/bin/env python3
"""`trailwatch investigate` against the DuckDB CLI on the same lake, in one
run (issue #36's speed goal): the whole investigation — every hop, the
cross-account copies, first sightings and alerts — as one fresh process,
against one DuckDB query that is already told every key the investigation
found (so it needs no hops), also a fresh process. DuckDB's query is one
equality per key joined by UNION ALL: with `IN (…)` or `OR` over two keys
or more it reads every row group (6 s instead of 0.4 s at 20M). Wall time, best of
three, after one untimed run of each (warm: the files are in the page
cache).

Usage: bench/investigate.py TRAILWATCH LAKE DUCKDB_DDL SUBJECT...
SUBJECT is --access-key=KEY, --principal=ARN, --session=ARN, --ip=IP or
--alert=ID; the DDL from `trailwatch lake ddl --engine duckdb --lake LAKE`.
Prints a Markdown table for docs/benchmarks.md."""
import json, subprocess, sys, time

tw, lake, ddl_path = sys.argv[1:4]
subjects = sys.argv[4:]
DDL = open(ddl_path).read()


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd[:4]), p.stderr[-2000:]))
    return p.stdout


def best(f, n=3):
    f()
    times = []
    for _ in range(n):
        s = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - s)
    return min(times), out


print("| subject | keys | events | trailwatch investigate s | DuckDB one query s | ratio |")
print("|---|---|---|---|---|---|")
for subject in subjects:
    flag, value = subject.split("=", 1)
    cmd = [tw, "investigate", "-q", flag, value, "--lake", lake, "--format", "json"]
    t_tw, out = best(lambda: run(cmd))
    report = json.loads(out)
    keys = [c["access_key_id"] for c in report["credentials"]]
    sql = " UNION ALL ".join(
        "SELECT * FROM cloudtrail_logs WHERE useridentity_accesskeyid = '%s'" % k.replace("'", "''")
        for k in keys) + ";\n"
    t_duck, rows = best(lambda: run(["duckdb", "-csv"], DDL + "\n" + sql))
    duck_rows = len(rows.strip().splitlines()) - 1 if rows.strip() else 0
    print("| `%s %s` | %d | %d (DuckDB: %d rows) | %.3f | %.3f | %.2fx |" % (
        flag, value[:40], len(keys), len(report["events"]), duck_rows, t_tw, t_duck, t_tw / t_duck))
