"""What must not grow with history (issue #35), at one size of trail.

Usage: python3 bench/scale.py TRAILWATCH_BINARY EVENTS TRAIL LAKE [--serve-only]

TRAIL is a generated trail of EVENTS events (`trailwatch generate --events
EVENTS --days 7 --seed 42`); LAKE must not exist yet. Measures, in one run,
and prints one JSON line:

- `ingest`: seconds and peak RSS (MB, GNU time) of `ingest` into LAKE;
- `detect`: seconds and peak RSS of `detect --pack essential,cis,correlation
  --format ndjson` over TRAIL (the raw files, in delivery order);
- `serve_rebuild` and `serve_snapshot`: seconds from starting `serve` on
  LAKE to the security state ready and the first summary answered, first
  with no snapshot (the state rebuilt from every event), then again (taken
  from the snapshot the first start saved), with `/api/state`'s `startup`,
  and the first `/api/summary`'s wall time and `compute_ms` (cold: the
  server's first computation of its figures);
- `root_usage`: seed query 2 (`userIdentity.type = 'Root'`) cold, one fresh
  `trailwatch query` process, against one fresh DuckDB CLI process over
  the same Parquet (`lake ddl --engine duckdb`), median of 3 each.

bench/scale.sh runs it for 1M, 4M and 20M events and writes the lines to
docs/scale.ndjson. With `--serve-only`, LAKE is an existing lake of TRAIL
and only the two serve measurements run.
"""

import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from serve_pages import TOKEN, start  # bench/ is on the module path
ROOT_USAGE = (
    "SELECT eventTime, eventName, sourceIPAddress, userAgent FROM cloudtrail_logs "
    "WHERE userIdentity.type = 'Root' AND eventTime > '2026-04-01' ORDER BY eventTime DESC"
)


def timed_rss(cmd):
    """Seconds and peak RSS (MB) of `cmd`, its output discarded."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M"] + cmd,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    secs, kb = out.stderr.strip().splitlines()[-1].split()
    return {"seconds": float(secs), "peak_rss_mb": round(int(kb) / 1024, 1)}


def serve_ready(tw, lake):
    """Seconds from start to the state ready and a summary answered."""
    state = tempfile.mkdtemp(prefix="tw-scale-state.")
    t0 = time.perf_counter()
    server, port = start(tw, lake, state)
    try:
        subprocess.Popen(["cat"], stdin=server.stderr, stdout=subprocess.DEVNULL)
        headers = {"Authorization": "Bearer " + TOKEN}
        startup, first = None, None
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.request("GET", "/api/state", headers=headers)
            st = json.loads(conn.getresponse().read())
            if st.get("ready"):
                startup = st.get("startup")
                t1 = time.perf_counter()
                conn.request("GET", "/api/summary", headers=headers)
                r = conn.getresponse()
                body = json.loads(r.read() or b"{}")
                # Builds before the kept overview have no `ready`.
                if r.status == 200 and body.get("ready", True):
                    if first is None:
                        first = {"ms": round((time.perf_counter() - t1) * 1000, 1),
                                 "compute_ms": body.get("compute_ms")}
                    break
            time.sleep(0.05)
        return {"seconds": round(time.perf_counter() - t0, 2), "startup": startup,
                "first_summary": first}
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(state, ignore_errors=True)


def cold(cmd):
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def main():
    tw, events, trail, lake = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    line = {"events": events}
    if "--serve-only" in sys.argv[5:]:
        line["serve_rebuild"] = serve_ready(tw, lake)
        line["serve_snapshot"] = serve_ready(tw, lake)
        print(json.dumps(line), flush=True)
        return
    line["ingest"] = timed_rss([tw, "ingest", "-q", "--lake", lake, trail])
    line["detect"] = timed_rss(
        [tw, "detect", "-q", "--pack", "essential,cis,correlation", "--format", "ndjson", trail])
    line["serve_rebuild"] = serve_ready(tw, lake)
    line["serve_snapshot"] = serve_ready(tw, lake)
    ddl = subprocess.run([tw, "lake", "ddl", "--engine", "duckdb", "--lake", lake],
                         capture_output=True, text=True, check=True).stdout
    duck = ddl + "\n" + ROOT_USAGE + ";\n"
    tw_s = cold([tw, "query", "-q", "--lake", lake, "--format", "csv", ROOT_USAGE])
    duck_s = cold(["duckdb", "-c", duck])
    line["root_usage"] = {"trailwatch_s": tw_s, "duckdb_s": duck_s,
                          "ratio": round(tw_s / duck_s, 2)}
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
