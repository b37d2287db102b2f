#!/usr/bin/env python3
"""The cost of growth at one size: ingest, detect and each seed query
(2-6) on a trail of EVENTS events, timed with their peak memory, in one
run beside their peers:

- ingest (`trailwatch ingest`, then `lake compact`) beside `zcat` of the
  same files to /dev/null (the floor: decompressing the input);
- detect (`trailwatch detect --pack all` over the raw trail) beside the
  same `zcat` floor;
- each seed query, cold (a fresh process, best of two): trailwatch's local
  engine, a Ballista cluster of a scheduler and two executors
  (`trailwatch cluster`, one task each: this machine has two cores), and
  the DuckDB client over the same Parquet. Row counts are compared; the
  executors' peak memory (VmHWM) is read after the queries.

Prints one JSON object (appended by bench/growth.sh to a results file).

Usage: bench/growth.py TRAILWATCH EVENTS TRAIL LAKE
Needs /usr/bin/time and the duckdb client (pip install duckdb-cli)."""
import json, os, socket, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
tw, events, trail, lake = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

# The seed queries 2-6 (../shared/seed-queries.sql), one line each, and
# DuckDB's spelling where it differs; shared with bench/query_compare.py.
SEED = [
    ("seed 2", "SELECT eventTime, eventName, sourceIPAddress, userAgent FROM cloudtrail_logs WHERE userIdentity.type = 'Root' AND eventTime > '2026-04-01' ORDER BY eventTime DESC", None),
    ("seed 3", "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventSource = 'iam.amazonaws.com' AND eventName LIKE '%Policy%' AND eventTime > date_format(date_add('hour', -24, now()), '%Y-%m-%dT%H:%i:%sZ') ORDER BY eventTime DESC",
     "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventSource = 'iam.amazonaws.com' AND eventName LIKE '%Policy%' AND eventTime > strftime(now() - INTERVAL 24 HOUR, '%Y-%m-%dT%H:%M:%SZ') ORDER BY eventTime DESC"),
    ("seed 4", "SELECT sourceIPAddress, COUNT(*) as call_count, array_agg(DISTINCT eventName) as actions FROM cloudtrail_logs WHERE eventTime > '2026-04-01' GROUP BY sourceIPAddress HAVING COUNT(*) > 100 ORDER BY call_count DESC", None),
    ("seed 5", "SELECT eventTime, userIdentity.arn, eventName, requestParameters FROM cloudtrail_logs WHERE eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'CreateSecurityGroup', 'DeleteSecurityGroup') ORDER BY eventTime DESC LIMIT 50", None),
    ("seed 6", "SELECT userIdentity.arn, COUNT(*) as calls FROM cloudtrail_logs WHERE eventTime > '2026-04-04' GROUP BY userIdentity.arn ORDER BY calls DESC LIMIT 10", None),
]


def timed(cmd, stdin=None):
    """Wall seconds and peak RSS (MB) of a command; its stdout."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, input=stdin,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit("failed: %s\n%s" % (" ".join(cmd[:4]), p.stderr[-2000:]))
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024, p.stdout


def gz_files():
    out = []
    for root, _, files in os.walk(os.path.join(trail, "AWSLogs")):
        out += [os.path.join(root, f) for f in files if f.endswith(".json.gz")]
    return sorted(out)


def zcat_floor(files):
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        for i in range(0, len(files), 500):
            subprocess.run(["zcat"] + files[i:i + 500], stdout=null, check=True)
    return time.perf_counter() - t0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("nothing listens on %d" % port)


def vm_hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


result = {"events": events}
files = gz_files()
result["gz_mb"] = sum(os.path.getsize(f) for f in files) / 1e6
result["zcat_s"] = zcat_floor(files)

if not os.path.isdir(os.path.join(lake, "cloudtrail")):
    s, mb, _ = timed([tw, "ingest", "-q", "--lake", lake, trail])
    result["ingest_s"], result["ingest_mb"] = s, mb
    s, mb, _ = timed([tw, "lake", "compact", "-q", "--lake", lake])
    result["compact_s"], result["compact_mb"] = s, mb
lake_bytes, lake_files = 0, 0
for root, _, fs in os.walk(os.path.join(lake, "cloudtrail")):
    for f in fs:
        if f.endswith(".parquet"):
            lake_files += 1
            lake_bytes += os.path.getsize(os.path.join(root, f))
result["lake_mb"], result["lake_files"] = lake_bytes / 1e6, lake_files

s, mb, _ = timed([tw, "detect", "-q", "--pack", "all", "--format", "ndjson", trail])
result["detect_s"], result["detect_mb"] = s, mb

ddl = subprocess.run([tw, "lake", "ddl", "--engine", "duckdb", "--lake", lake],
                     capture_output=True, text=True, check=True).stdout

# The cluster: a scheduler and two executors, one task each.
sched = free_port()
procs = [subprocess.Popen([tw, "cluster", "scheduler", "--bind", "127.0.0.1:%d" % sched],
                          stderr=subprocess.DEVNULL)]
wait_port(sched)
executors = []
for _ in range(2):
    flight, grpc = free_port(), free_port()
    p = subprocess.Popen([tw, "cluster", "executor", "--scheduler", "127.0.0.1:%d" % sched,
                          "--bind", "127.0.0.1:%d" % flight, "--grpc-port", str(grpc),
                          "--concurrency", "1"], stderr=subprocess.DEVNULL)
    procs.append(p)
    executors.append(p)
    wait_port(flight)
time.sleep(2)
cluster = "df://127.0.0.1:%d" % sched

queries = {}
try:
    for name, sql, duck_sql in SEED:
        best = {}
        rows = {}
        for engine in ("local", "ballista", "duckdb"):
            for _ in range(2):
                if engine == "duckdb":
                    cmd, stdin = ["duckdb", "-csv"], ddl + "\n" + (duck_sql or sql) + ";\n"
                else:
                    cmd = [tw, "query", "-q", "--lake", lake, "--format", "csv"]
                    if engine == "ballista":
                        cmd += ["--cluster", cluster]
                    cmd, stdin = cmd + [sql], None
                s, mb, out = timed(cmd, stdin)
                lines = [l for l in out.splitlines() if l.strip()]
                rows[engine] = max(len(lines) - 1, 0)
                if engine not in best or s < best[engine][0]:
                    best[engine] = (s, mb)
        queries[name] = {e: {"s": v[0], "mb": v[1]} for e, v in best.items()}
        queries[name]["rows"] = rows
        if len(set(rows.values())) != 1:
            print("warning: %s row counts differ: %s" % (name, rows), file=sys.stderr)
    result["executors_peak_mb"] = [vm_hwm_mb(p.pid) for p in executors]
finally:
    for p in procs:
        p.kill()
        p.wait()
result["queries"] = queries
print(json.dumps(result))
