"""The dashboard's page times on a large lake.

Usage: python3 bench/serve_pages.py TRAILWATCH_BINARY LAKE [RUNS]

Starts `trailwatch serve` on LAKE and times what a page view asks for: the
page itself, /api/summary computed (the first request after the cache
expires) and served from its 30-second cache, the alert list, one alert
with its evidence, and a top-callers query through /api/query. Each is
timed RUNS times (default 5; the summary's cold time once per run, by
restarting the server); prints the median and the worst, in ms. Before
timing, it waits for the server to finish rebuilding the security state
from the lake, and reports how long that took (from the start of the
process).
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

TOKEN = "bench-token-0123456789abcdef"


def start(binary, lake, state):
    env = dict(os.environ, TRAILWATCH_TOKEN=TOKEN)
    server = subprocess.Popen(
        [binary, "serve", "--lake", lake, "--state", state, "--listen", "127.0.0.1:0"],
        env=env, stderr=subprocess.PIPE, text=True)
    for line in server.stderr:
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if m:
            return server, int(m.group(1))
    raise SystemExit("the server did not start")


def timed(conn, method, path, body=None):
    headers = {"Authorization": "Bearer " + TOKEN}
    if body is not None:
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1000
    assert r.status == 200, (path, r.status, data[:200])
    return ms, data


def main():
    binary, lake = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    times = {}
    top = json.dumps({"sql": "SELECT useridentity.arn, count(*) AS n FROM cloudtrail_logs "
                             "GROUP BY 1 ORDER BY n DESC LIMIT 10"})
    for _ in range(runs):
        state = tempfile.mkdtemp(prefix="tw-pages-")
        t_start = time.perf_counter()
        server, port = start(binary, lake, state)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            _, data = timed(conn, "GET", "/api/state")
            if json.loads(data)["ready"]:
                break
            time.sleep(0.1)
        times.setdefault("security state rebuilt from the lake (from process start)", []).append(
            (time.perf_counter() - t_start) * 1000)
        for name, method, path, body in [
            ("GET / (the page)", "GET", "/", None),
            ("GET /api/summary, computed", "GET", "/api/summary", None),
            ("GET /api/summary, cached", "GET", "/api/summary", None),
            ("GET /api/alerts?limit=500", "GET", "/api/alerts?limit=500", None),
        ]:
            ms, data = timed(conn, method, path, body)
            times.setdefault(name, []).append(ms)
            if path.startswith("/api/alerts"):
                alerts = json.loads(data)
        if alerts:
            ms, _ = timed(conn, "GET", "/api/alerts/" + alerts[-1]["alert_id"])
            times.setdefault("GET /api/alerts/{id} (with evidence)", []).append(ms)
        ms, _ = timed(conn, "POST", "/api/query", top)
        times.setdefault("POST /api/query (top callers)", []).append(ms)
        server.terminate()
        server.wait()
    print("| request | median ms | worst ms |")
    print("|---|---|---|")
    for name, xs in times.items():
        xs.sort()
        print(f"| {name} | {xs[len(xs) // 2]:.1f} | {xs[-1]:.1f} |")


if __name__ == "__main__":
    main()
