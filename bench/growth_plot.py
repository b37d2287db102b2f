#!/usr/bin/env python3
"""Draw the cost of growth (bench/growth.sh's results) as an SVG: seconds
against events, log-log, for ingest, detect and each seed query (local
engine solid, Ballista with two executors dashed), and the zcat floor;
and peak memory in a second panel. Also prints the results as the
Markdown tables docs/benchmarks.md shows ("Cost of growth").

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


def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


print("| events | JSON.gz MB | lake MB (files) | zcat s | ingest s (MB) | compact s (MB) | ingest+compact / zcat | detect s (MB) | detect / zcat |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sizes:
    r = rows[n]
    load = r["ingest_s"] + r["compact_s"]
    print("| %dM | %.0f | %.0f (%d) | %.1f | %.1f (%.0f) | %.1f (%.0f) | %s | %.1f (%.0f) | %s |" % (
        n // 1000000, r["gz_mb"], r["lake_mb"], r["lake_files"], r["zcat_s"],
        r["ingest_s"], r["ingest_mb"], r["compact_s"], r["compact_mb"], ratio(load, r["zcat_s"]),
        r["detect_s"], r["detect_mb"], ratio(r["detect_s"], r["zcat_s"])))
print()
print("| query | events | rows | local s (MB) | Ballista s (client MB) | DuckDB s (MB) | local / DuckDB | Ballista / DuckDB |")
print("|---|---|---|---|---|---|---|---|")
for q in ("seed 2", "seed 3", "seed 4", "seed 5", "seed 6"):
    for n in sizes:
        e = rows[n]["queries"][q]
        rc = sorted(set(e["rows"].values()))
        print("| %s | %dM | %s | %.3f (%.0f) | %.3f (%.0f) | %.3f (%.0f) | %s | %s |" % (
            q, n // 1000000, "/".join(str(c) for c in rc),
            e["local"]["s"], e["local"]["mb"], e["ballista"]["s"], e["ballista"]["mb"],
            e["duckdb"]["s"], e["duckdb"]["mb"],
            ratio(e["local"]["s"], e["duckdb"]["s"]), ratio(e["ballista"]["s"], e["duckdb"]["s"])))
print()
print("| events | Ballista executors' peak RSS MB |")
print("|---|---|")
for n in sizes:
    print("| %dM | %s |" % (n // 1000000, ", ".join("%.0f" % m for m in rows[n].get("executors_peak_mb", []))))
