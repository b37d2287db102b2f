#!/usr/bin/env python3
"""What a long-running `trailwatch watch` keeps: state on disk, restart time
and peak memory after 1, 10 and 30 days of log files, landed day by day.

Usage: bench/watch_state.py TRAILWATCH [EVENTS] [LATE_HORIZON_SECONDS]

Generates a 30-day trail (EVENTS records, default 30000), starts a watcher
on an empty folder and lands the trail one delivery day at a time. After
days 1, 10 and 30 it waits until the checkpoint holds every landed file,
reads the watcher's peak RSS (VmHWM), sums the state folder, then kills the
watcher (kill -9) and restarts it five times, timing each start until it
logs "watching" (median reported). The peer, measured in the same run: how
long the first checkpoint format (one line per file ever processed, every
file replayed at restart) would make the restart, estimated as the time of
`trailwatch detect` over the files landed so far.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TW = sys.argv[1]
EVENTS = sys.argv[2] if len(sys.argv) > 2 else "30000"
HORIZON = sys.argv[3] if len(sys.argv) > 3 else "1209600"
WORK = tempfile.mkdtemp(prefix="tw-watch-state-")
TRAIL = os.path.join(WORK, "trail")
WATCHED = os.path.join(WORK, "watched")
STATE = os.path.join(WORK, "state")
OUT = os.path.join(WORK, "alerts.ndjson")
os.makedirs(WATCHED)

subprocess.run([TW, "generate", "-q", "--events", EVENTS, "--days", "30", "--out", TRAIL], check=True)
files = []
for root, _, names in os.walk(os.path.join(TRAIL, "AWSLogs")):
    for n in names:
        files.append(os.path.join(root, n))
stamp = lambda p: os.path.basename(p).split("_")[3]
files.sort(key=lambda p: (stamp(p), p))
days = {}
for f in files:
    days.setdefault(stamp(f)[:8], []).append(f)
ordered = [days[d] for d in sorted(days)]

ARGS = [TW, "watch", WATCHED, "--state", STATE, "--output", OUT, "--pack", "essential,responder",
        "--lateness", "32400", "--late-horizon", HORIZON, "--poll-ms", "200"]


def start():
    t = time.time()
    p = subprocess.Popen(ARGS, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in p.stderr:
        if "watching" in line:
            break
    took = time.time() - t
    # Keep draining stderr so the watcher never blocks on a full pipe.
    subprocess.Popen(["cat"], stdin=p.stderr, stdout=subprocess.DEVNULL)
    return p, took


def done():
    try:
        with open(os.path.join(STATE, "checkpoint.json")) as f:
            return json.load(f)["files"]
    except (OSError, ValueError, KeyError):
        return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def state_bytes():
    return sum(os.path.getsize(os.path.join(STATE, n)) for n in os.listdir(STATE))


watcher, _ = start()
landed = 0
rows = []
for i, day in enumerate(ordered, 1):
    for f in day:
        rel = os.path.relpath(f, TRAIL)
        dst = os.path.join(WATCHED, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(f, dst + ".partial")
        os.rename(dst + ".partial", dst)
    landed += len(day)
    deadline = time.time() + 120
    while done() < landed:
        if time.time() > deadline:
            sys.exit(f"the watcher did not take day {i}")
        time.sleep(0.05)
    if i in (1, 10, 30):
        peak = rss_kb(watcher.pid)
        size = state_bytes()
        times = []
        for _ in range(5):
            watcher.send_signal(signal.SIGKILL)
            watcher.wait()
            watcher, took = start()
            times.append(took)
        t = time.time()
        landed_dirs = [os.path.join(WATCHED, "AWSLogs")]
        subprocess.run([TW, "detect", "-q", "--pack", "essential,responder", "--format", "ndjson"] + landed_dirs,
                       stdout=subprocess.DEVNULL, check=False)
        replay = time.time() - t
        rows.append((i, landed, size, statistics.median(times), peak, replay))
watcher.send_signal(signal.SIGKILL)
watcher.wait()

print(f"late horizon {HORIZON} s, {EVENTS} events over 30 days, {len(files)} files")
print("| after | files | state on disk | restart (median of 5) | peak RSS | replaying every file (peer) |")
print("|---|---|---|---|---|---|")
for day, n, size, rt, peak, replay in rows:
    print(f"| day {day} | {n} | {size / 1024:.1f} KiB | {rt * 1000:.0f} ms | {peak / 1024:.1f} MiB | {replay * 1000:.0f} ms |")
shutil.rmtree(WORK, ignore_errors=True)
