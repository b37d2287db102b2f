"""POST-to-alert latency of `trailwatch serve`'s push ingestion.

Usage: python3 bench/push_latency.py TRAILWATCH_BINARY [N]

Starts the server on a small fresh lake with one finding rule (StopLogging),
then N times: POSTs one CloudTrail record to /ingest/cloudtrail and polls
/metrics until the alert for it is counted (counted after it is filed in
the lake's alerts table), then N times the same, polling what a user sees,
GET /api/alerts, until the alert for that event is listed; and separately
times a bare GET /healthz round trip to the same server (the floor: HTTP
alone). Prints p50, p90, p99 and max of each, in milliseconds.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

from serve_pages import TOKEN, start  # bench/ is on the module path


def record(i):
    return {
        "eventVersion": "1.08",
        "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventID": f"bench-{i:06d}",
        "eventType": "AwsApiCall",
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bench"},
    }


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    work = tempfile.mkdtemp(prefix="tw-push-")
    lake, state = os.path.join(work, "lake"), os.path.join(work, "state")
    seed = os.path.join(work, "seed.json")
    with open(seed, "w") as f:
        json.dump({"Records": [dict(record(0), eventName="DescribeTrails", eventID="seed")]}, f)
    subprocess.run([binary, "ingest", "-q", "--lake", lake, seed], check=True, stdout=subprocess.DEVNULL)
    rules = os.path.join(work, "rules.yaml")
    with open(rules, "w") as f:
        f.write("rules:\n  - id: bench-stop\n    title: Trail stopped\n    severity: P1\n"
                "    pattern: '{ $.eventName = \"StopLogging\" }'\n")
    server, port = start(binary, lake, state, ["--pack", "none", "--rules", rules])
    conn = http.client.HTTPConnection("127.0.0.1", port)
    auth = {"Authorization": "Bearer " + TOKEN}

    def alerts_counted():
        conn.request("GET", "/metrics", headers=auth)
        body = conn.getresponse().read().decode()
        m = re.search(r'trailwatch_alerts_total\{severity="P1",rule="bench-stop"\} (\d+)', body)
        return int(m.group(1)) if m else 0

    def alert_listed(event_id):
        conn.request("GET", "/api/alerts?rule=bench-stop&limit=10000", headers=auth)
        return event_id in conn.getresponse().read().decode()

    push, visible, floor = [], [], []
    for i in range(1, n + 1):
        before = alerts_counted()
        body = json.dumps({"Records": [record(i)]})
        t0 = time.perf_counter()
        conn.request("POST", "/ingest/cloudtrail", body=body,
                     headers=dict(auth, **{"Content-Type": "application/json"}))
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        while alerts_counted() <= before:
            pass
        push.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        floor.append((time.perf_counter() - t0) * 1000)
    for i in range(n + 1, 2 * n + 1):
        body = json.dumps({"Records": [record(i)]})
        t0 = time.perf_counter()
        conn.request("POST", "/ingest/cloudtrail", body=body,
                     headers=dict(auth, **{"Content-Type": "application/json"}))
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        while not alert_listed(f"bench-{i:06d}"):
            pass
        visible.append((time.perf_counter() - t0) * 1000)
    server.terminate()
    server.wait()
    print("| path | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, xs in [(f"POST /ingest/cloudtrail to alert filed ({n} events)", push),
                     (f"POST /ingest/cloudtrail to alert listed by GET /api/alerts ({n} events)", visible),
                     ("GET /healthz round trip (floor)", floor)]:
        print(f"| {name} | {pct(xs, 50):.2f} | {pct(xs, 90):.2f} | {pct(xs, 99):.2f} | {max(xs):.2f} |")


if __name__ == "__main__":
    main()
