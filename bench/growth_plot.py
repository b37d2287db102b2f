#!/usr/bin/env python3
"""Draw the cost of growth (bench/growth.sh's results) as an SVG: seconds
against events, log-log, for ingest, detect and each seed query (local
engine solid, Ballista with two executors dashed), and the zcat floor;
and peak memory in a second panel.

Usage: bench/growth_plot.py RESULTS.ndjson OUT.svg  (needs matplotlib)"""
import json, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        r = json.loads(line)
        rows[r["events"]] = r  # the latest run of each size
sizes = sorted(rows)
x = [n / 1e6 for n in sizes]

fig, (ax, mem) = plt.subplots(1, 2, figsize=(12, 5))
def line(axis, key, label, style="-", marker="o"):
    ys = [key(rows[n]) for n in sizes]
    pts = [(a, b) for a, b in zip(x, ys) if b is not None]
    if pts:
        axis.plot([p[0] for p in pts], [p[1] for p in pts], style, marker=marker, label=label)

line(ax, lambda r: r.get("ingest_s"), "ingest")
line(ax, lambda r: r.get("detect_s"), "detect --pack all")
line(ax, lambda r: r.get("zcat_s"), "zcat (floor)", ":", "x")
for q in ("seed 2", "seed 3", "seed 4", "seed 5", "seed 6"):
    line(ax, lambda r, q=q: r["queries"][q]["local"]["s"], q + " local", "-", ".")
    line(ax, lambda r, q=q: r["queries"][q]["ballista"]["s"], q + " Ballista", "--", ".")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("events (millions)")
ax.set_ylabel("seconds (wall)")
ax.set_title("Time")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=7, ncol=2)

line(mem, lambda r: r.get("ingest_mb"), "ingest")
line(mem, lambda r: r.get("detect_mb"), "detect --pack all")
line(mem, lambda r: max(r["queries"][q]["local"]["mb"] for q in r["queries"]), "query, local (max of seeds)")
line(mem, lambda r: max(r.get("executors_peak_mb") or [0]), "Ballista executor (peak)", "--")
mem.set_xscale("log")
mem.set_xlabel("events (millions)")
mem.set_ylabel("peak RSS (MB)")
mem.set_title("Memory")
mem.grid(True, which="both", alpha=0.3)
mem.legend(fontsize=7)

fig.suptitle("trailwatch: cost of growth on 2 cores (bench/growth.sh)")
fig.tight_layout()
fig.savefig(sys.argv[2], format="svg")
