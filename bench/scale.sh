#!/usr/bin/env bash
# What must stay flat as history grows (issue #35): ingest's and detect's
# peak memory, serve's start-up (rebuild, then from the snapshot) and seed
# query 2 against the DuckDB CLI, at each size (default 1M 4M 20M events;
# 7-day trails, seed 42). One JSON line per size goes to docs/scale.ndjson.
# See docs/benchmarks.md, "An organisation's year: what stays flat".
# Usage: bench/scale.sh [EVENTS...]
# Needs /usr/bin/time and the duckdb client (pip install duckdb-cli).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then sizes=(1000000 4000000 20000000); fi
out=docs/scale.ndjson
for events in "${sizes[@]}"; do
  dir=/tmp/trailwatch-bench-$events
  if [ ! -d "$dir/AWSLogs" ]; then
    "$tw" generate -q --events "$events" --days 7 --seed 42 --out "$dir"
  fi
  lake=$(mktemp -d /tmp/trailwatch-scale-lake.XXXXXX)
  rmdir "$lake"
  python3 bench/scale.py "$tw" "$events" "$dir" "$lake" | tee -a "$out"
  rm -rf "$lake"
done
