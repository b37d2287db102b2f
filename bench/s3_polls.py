#!/usr/bin/env python3
"""S3 list requests per poll of `trailwatch watch s3://…` once it has taken
a 30-day trail, against moto on loopback, counted with moto's request
recorder.

Usage: bench/s3_polls.py TRAILWATCH [EVENTS] [SECONDS]

Generates a 30-day trail, uploads it, starts the watcher (one poll a
second) and waits until it has taken every file; then records SECONDS
(default 10) of idle polling and counts the ListObjectsV2 requests. The
peer, counted the same way: one listing of the whole prefix per poll, as
the watcher did before.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

TW = sys.argv[1]
EVENTS = sys.argv[2] if len(sys.argv) > 2 else "30000"
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
WORK = tempfile.mkdtemp(prefix="tw-s3-polls-")

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
PORT = sock.getsockname()[1]
sock.close()
EP = f"http://127.0.0.1:{PORT}"
# moto writes its recording into its working folder.
moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(PORT)], cwd=WORK,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)


def recorder(path, method="POST"):
    req = urllib.request.Request(EP + "/moto-api/recorder/" + path, method=method)
    return urllib.request.urlopen(req).read()


def record(seconds, work):
    recorder("start-recording")
    work(seconds)
    recorder("stop-recording")
    lines = recorder("download-recording", "GET").decode().splitlines()
    reqs = [json.loads(l) for l in lines if l.strip()]
    return [r for r in reqs if r.get("method") == "GET" and "list-type" in json.dumps(r)]


w = None
try:
    s3 = boto3.client("s3", endpoint_url=EP, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="bench-trail")
    trail = os.path.join(WORK, "trail")
    subprocess.run([TW, "generate", "-q", "--events", EVENTS, "--days", "30", "--out", trail], check=True)
    keys = 0
    for root, _, names in os.walk(os.path.join(trail, "AWSLogs")):
        for n in names:
            p = os.path.join(root, n)
            s3.upload_file(p, "bench-trail", os.path.relpath(p, trail))
            keys += 1
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1")
    env.pop("AWS_ENDPOINT_URL", None)
    state = os.path.join(WORK, "state")
    w = subprocess.Popen([TW, "watch", "s3://bench-trail/", "--endpoint-url", EP, "--state", state,
                          "--output", os.path.join(WORK, "alerts.ndjson"), "--poll-ms", "1000",
                          "--lateness", "32400", "-q"], env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 300
    while True:
        try:
            with open(os.path.join(state, "checkpoint.json")) as f:
                if json.load(f)["files"] >= keys:
                    break
        except (OSError, ValueError, KeyError):
            pass
        if time.time() > deadline:
            sys.exit("the watcher did not take the trail")
        time.sleep(0.2)
    time.sleep(2)
    mine = record(SECONDS, time.sleep)
    w.kill()
    w.wait()
    w = None

    def whole_prefix(seconds):
        for _ in range(seconds):
            for _page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-trail"):
                pass

    peer = record(SECONDS, whole_prefix)
    print(f"{keys} log files over 30 days; {SECONDS} s of idle polling, one poll a second")
    print("| lister | list requests | per poll |")
    print("|---|---|---|")
    print(f"| trailwatch watch (recent days of each region folder) | {len(mine)} | {len(mine) / SECONDS:.1f} |")
    print(f"| whole prefix every poll (peer) | {len(peer)} | {len(peer) / SECONDS:.1f} |")
finally:
    if w is not None:
        w.kill()
    moto.kill()
    moto.wait()
    shutil.rmtree(WORK, ignore_errors=True)
