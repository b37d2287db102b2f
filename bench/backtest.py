#!/usr/bin/env python3
"""`trailwatch rules backtest` over the lake against `trailwatch detect`
replaying the same events from the raw trail, and, for SigmaHQ's
CloudTrail rules, beside RSigma (`rsigma engine eval` over the same events
as NDJSON): each a fresh process, wall time, best of three after one
untimed run (warm), in one run (issue #37's speed goal).

Usage: bench/backtest.py TRAILWATCH TRAIL LAKE [SIGMA_DIR [RSIGMA]]
(RSIGMA: the binary of `cargo install --locked rsigma --root DIR`, kept
out of trailwatch's build). Prints Markdown tables for docs/benchmarks.md."""
import json, os, subprocess, sys, tempfile, time

tw, trail, lake = sys.argv[1:4]
sigma = sys.argv[4] if len(sys.argv) > 4 else None
rsigma = sys.argv[5] if len(sys.argv) > 5 else None


def run(cmd, stdout=subprocess.PIPE):
    p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if p.returncode not in (0, 1):
        sys.exit("failed: %s\n%s" % (" ".join(cmd[:5]), p.stderr[-2000:]))
    return p.stdout


def best(cmd, n=3):
    run(cmd)
    times = []
    for _ in range(n):
        s = time.perf_counter()
        out = run(cmd)
        times.append(time.perf_counter() - s)
    return min(times), out


def matches_of_backtest(out):
    return sum(r["matches"] for r in json.loads(out)["rules"])


def table(title, rows):
    print("\n" + title + "\n")
    print("| what | matches | s | vs the first |")
    print("|---|---|---|---|")
    base = rows[0][2]
    for name, matches, t in rows:
        print("| %s | %s | %.2f | %.2fx |" % (name, matches, t, t / base))


packs = ["--pack", "essential,cis"]
t_detect, _ = best([tw, "detect", "-q", *packs, "--format", "ndjson", trail])
t_matches, out = best([tw, "detect", "-q", "--matches", *packs, "--format", "ndjson", trail])
m_detect = len(out.splitlines())
t_back, out = best([tw, "rules", "backtest", "-q", "--lake", lake, *packs, "--format", "json"])
table("Packs essential and CIS", [
    ("`detect` replaying the raw trail", "-", t_detect),
    ("`detect --matches` over the raw trail", m_detect, t_matches),
    ("`rules backtest --lake`", matches_of_backtest(out), t_back),
])

if sigma:
    rules = ["--pack", "none", "--rules", sigma]
    t_m, out = best([tw, "detect", "-q", "--matches", *rules, "--format", "ndjson", trail])
    rows = [("`detect --matches` over the raw trail", len(out.splitlines()), t_m)]
    t_b, out = best([tw, "rules", "backtest", "-q", "--lake", lake, *rules, "--format", "json"])
    rows.append(("`rules backtest --lake`", matches_of_backtest(out), t_b))
    if rsigma:
        with tempfile.TemporaryDirectory() as tmp:
            events = os.path.join(tmp, "events.ndjson")
            with open(events, "w") as f:
                subprocess.run([tw, "cat", trail], stdout=f, check=True)
            t_r, out = best([rsigma, "engine", "eval", "-r", sigma, "-e", "@" + events])
            rows.append(("RSigma `engine eval` over the same events as NDJSON", len(out.splitlines()), t_r))
    table("All SigmaHQ CloudTrail rules", rows)
