#!/usr/bin/env python3
"""Alert latency of `trailwatch watch`: from the moment a log file lands in
the watched folder to the moment its alert is written to the output.

Usage: bench/latency.py TRAILWATCH [FILES] [GAP_MS]

Lands FILES CloudTrail log files (default 100), GAP_MS apart (default 250),
each holding 200 ordinary events and one DeleteTrail (a P1 finding with a
unique eventID), in two ways a file arrives in practice:
  rename - written aside, then renamed into place (aws s3 sync, rclone);
  write  - written in place and closed (cp).
A thread tails the output file and notes when each alert appears. Prints
p50, p99 and max per mode, and, as the peer measured in the same run, the
time of a one-shot `trailwatch detect FILE` (the spawn-per-file approach a
script built on inotifywait would take).
"""

import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TW = sys.argv[1]
FILES = int(sys.argv[2]) if len(sys.argv) > 2 else 100
GAP = (int(sys.argv[3]) if len(sys.argv) > 3 else 250) / 1000.0
ACCOUNT = "111122223333"


def record(i, name, source, event_id, when):
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/ops",
            "accountId": ACCOUNT,
            "userName": "ops",
        },
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {"maxResults": i},
        "responseElements": None,
        "requestID": f"req-{event_id}",
        "eventID": event_id,
        "readOnly": name != "DeleteTrail",
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def log_file(mode, i):
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = [
        record(j, "DescribeInstances", "ec2.amazonaws.com", f"fill-{mode}-{i}-{j}", when)
        for j in range(200)
    ]
    records.append(
        record(0, "DeleteTrail", "cloudtrail.amazonaws.com", f"bench-{mode}-{i}", when)
    )
    return gzip.compress(json.dumps({"Records": records}).encode(), 6)


def path_for(root, mode, i):
    day = time.strftime("%Y/%m/%d", time.gmtime())
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime())
    folder = os.path.join(root, "AWSLogs", ACCOUNT, "CloudTrail", "us-east-1", day)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(
        folder, f"{ACCOUNT}_CloudTrail_us-east-1_{stamp}_{mode}{i:04d}.json.gz"
    )


def tail(path, seen, stop):
    """Note the arrival time of every alert line written to `path`."""
    while not os.path.exists(path) and not stop.is_set():
        time.sleep(0.001)
    with open(path, "r") as f:
        buf = ""
        while not stop.is_set():
            chunk = f.read()
            if not chunk:
                time.sleep(0.001)
                continue
            now = time.monotonic()
            buf += chunk
            *lines, buf = buf.split("\n")
            for line in lines:
                alert = json.loads(line)
                for eid in alert.get("event_ids", []):
                    if eid.startswith("bench-"):
                        seen[eid] = now


def run_mode(mode):
    work = tempfile.mkdtemp(prefix="tw-latency-")
    watched = os.path.join(work, "trail")
    os.makedirs(watched)
    out = os.path.join(work, "alerts.ndjson")
    watch = subprocess.Popen(
        [TW, "watch", "-q", "--pack", "all", "--state", os.path.join(work, "state"),
         "--output", out, watched],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # let it start and set up its watches
    seen, landed, first = {}, {}, None
    stop = threading.Event()
    t = threading.Thread(target=tail, args=(out, seen, stop), daemon=True)
    t.start()
    for i in range(FILES):
        data = log_file(mode, i)
        final = path_for(watched, mode, i)
        if mode == "rename":
            tmp = final + ".part"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, final)
        else:
            with open(final, "wb") as f:
                f.write(data)
        landed[f"bench-{mode}-{i}"] = time.monotonic()
        first = first or final
        time.sleep(GAP)
    deadline = time.monotonic() + 30
    while len(seen) < FILES and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    watch.terminate()
    watch.wait()
    lat = sorted((seen[k] - landed[k]) * 1000 for k in landed if k in seen)
    slowest = sorted(((seen[k] - landed[k]) * 1000, k) for k in landed if k in seen)[-3:]
    print(f"<!-- {mode}: slowest {[(round(ms), k) for ms, k in slowest]} -->", file=sys.stderr)
    return lat, len(seen), first


def pct(xs, p):
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    print("| how the file lands | files | alerts | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    sample = None
    for mode in ("rename", "write"):
        lat, n, sample = run_mode(mode)
        if not lat:
            print(f"| {mode} | {FILES} | 0 | - | - | - |")
            continue
        print(f"| {mode} | {FILES} | {n} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | {lat[-1]:.1f} |")
    # The peer: one detect process per landed file.
    runs = []
    for _ in range(20):
        s = time.monotonic()
        subprocess.run([TW, "detect", "-q", "--pack", "all", "--format", "ndjson", sample],
                       stdout=subprocess.DEVNULL, check=True)
        runs.append((time.monotonic() - s) * 1000)
    print(f"\npeer: one-shot `trailwatch detect --pack all FILE`, median of 20: "
          f"{statistics.median(runs):.1f} ms")


if __name__ == "__main__":
    main()
