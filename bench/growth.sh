#!/usr/bin/env bash
# The cost of growth: ingest, detect and each seed query, local and on a
# Ballista cluster of two executors, beside zcat and DuckDB, at each size
# (default 1M 2M 5M 10M 20M events; 7-day trails, seed 42). One JSON line
# per size goes to docs/growth.ndjson; bench/growth_plot.py draws
# docs/growth.svg from it. See docs/benchmarks.md, "Cost of growth".
# Usage: bench/growth.sh [EVENTS...]
# Needs /usr/bin/time and the duckdb client (pip install duckdb-cli); the
# plot needs matplotlib.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then sizes=(1000000 2000000 5000000 10000000 20000000); fi
out=docs/growth.ndjson
for events in "${sizes[@]}"; do
  dir=/tmp/trailwatch-bench-$events
  if [ ! -d "$dir/AWSLogs" ]; then
    "$tw" generate -q --events "$events" --days 7 --seed 42 --out "$dir"
  fi
  # A fresh lake per run, so ingest is measured every time.
  lake=$(mktemp -d /tmp/trailwatch-growth-lake.XXXXXX)
  rmdir "$lake"
  python3 bench/growth.py "$tw" "$events" "$dir" "$lake" | tee -a "$out"
  rm -rf "$lake"
done
python3 bench/growth_plot.py "$out" docs/growth.svg
