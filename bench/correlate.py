#!/usr/bin/env python3
"""Cost of the correlation pack, and its memory with many principals.

Usage: bench/correlate.py TRAILWATCH GEOIP.mmdb [GEOIP6.mmdb] [EVENTS]

1. Generates a trail of EVENTS records (default 1,000,000, 7 days, seed
   42) and times `detect --pack essential,cis` (the peer, in the same run)
   against `detect --pack essential,cis,correlation --geoip ...` on it,
   five runs each, alternating (median wall time, peak RSS from /usr/bin/time).
2. Writes a trail of 100,000 distinct IAM users, each signing in from its
   own public address, reading five objects and creating an access key
   (700,000 records), and reports peak RSS of the two runs over it.
"""

import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

TW = sys.argv[1]
GEO = [a for a in sys.argv[2:] if a.endswith(".mmdb")]
rest = [a for a in sys.argv[2:] if not a.endswith(".mmdb")]
EVENTS = rest[0] if rest else "1000000"
WORK = tempfile.mkdtemp(prefix="tw-correlate-")


def timed(args):
    """(wall seconds, peak RSS MiB) of one run, output discarded."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", TW] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    wall, rss = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss) / 1024


def compare(label, src):
    geo = sum((["--geoip", g] for g in GEO), [])
    peer = ["detect", "-q", "--format", "ndjson", "--pack", "essential,cis", src]
    mine = ["detect", "-q", "--format", "ndjson", "--pack", "essential,cis,correlation"] + geo + [src]
    runs = {"peer": [], "mine": []}
    for _ in range(5):
        runs["peer"].append(timed(peer))
        runs["mine"].append(timed(mine))
    p = statistics.median(w for w, _ in runs["peer"])
    m = statistics.median(w for w, _ in runs["mine"])
    prss = max(r for _, r in runs["peer"])
    mrss = max(r for _, r in runs["mine"])
    print(f"| {label} | {p:.2f} s | {m:.2f} s | {m / p:.2f}x | {prss:.0f} MiB | {mrss:.0f} MiB |")


def principals_trail(path, n=100_000):
    rng = random.Random(7)
    recs = []
    for i in range(n):
        name = f"user{i:06d}"
        who = {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/{name}",
               "accountId": "111122223333", "userName": name, "principalId": f"AIDA{i:012d}"}
        ip = f"{rng.randint(1, 126)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        t0 = 1714521600 + rng.randint(0, 86400 * 3)

        def rec(k, name_, source, params, extra=None):
            t = t0 + k * 60
            r = {"eventVersion": "1.09", "eventTime": __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime(t)),
                 "eventSource": source, "eventName": name_, "awsRegion": "us-east-1",
                 "sourceIPAddress": ip, "userIdentity": who, "requestParameters": params,
                 "eventID": f"{i:08d}-0000-4000-8000-{k:012d}", "eventType": "AwsApiCall",
                 "recipientAccountId": "111122223333"}
            if extra:
                r.update(extra)
            return r
        recs.append(rec(0, "ConsoleLogin", "signin.amazonaws.com", None,
                        {"eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Success"}}))
        for k in range(1, 6):
            recs.append(rec(k, "GetObject", "s3.amazonaws.com", {"bucketName": f"b{i % 100}", "key": f"k{k}"},
                            {"additionalEventData": {"bytesTransferredOut": 1000}}))
        recs.append(rec(6, "CreateAccessKey", "iam.amazonaws.com", {"userName": name}))
    recs.sort(key=lambda r: r["eventTime"])
    with gzip.open(path, "wt") as f:
        json.dump({"Records": recs}, f)
    return len(recs)


trail = os.path.join(WORK, "trail")
subprocess.run([TW, "generate", "-q", "--events", EVENTS, "--days", "7", "--seed", "42", "--out", trail], check=True)
print(f"GeoIP: {', '.join(os.path.basename(g) for g in GEO) or 'none'}")
print("| trail | essential,cis (peer) | + correlation | ratio | peer peak RSS | peak RSS |")
print("|---|---|---|---|---|---|")
compare(f"generated, {int(EVENTS):,} events", trail)
many = os.path.join(WORK, "principals.json.gz")
n = principals_trail(many)
compare(f"100,000 principals, {n:,} events", many)
