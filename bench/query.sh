#!/usr/bin/env bash
# Seed queries 2-6 on a lake of EVENTS events: trailwatch (DataFusion) vs
# DuckDB over the same Parquet lake, in one run; and trailwatch over the
# raw JSON.gz trail through CREATE EXTERNAL TABLE (what an Athena user
# pays: no lake).
# Usage: bench/query.sh [EVENTS] [DIR]   (defaults: 5000000, /tmp/trailwatch-bench-<EVENTS>)
# Needs python3 with duckdb, and GNU time.
set -euo pipefail
events=${1:-5000000}
dir=${2:-/tmp/trailwatch-bench-$events}
lake="$dir-lake"
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
if [ ! -d "$dir/AWSLogs" ]; then
  "$tw" generate -q --events "$events" --days 7 --seed 42 --out "$dir"
fi
if [ ! -d "$lake/cloudtrail" ]; then
  "$tw" ingest -q --lake "$lake" "$dir" > /dev/null
  "$tw" lake compact -q --lake "$lake" > /dev/null
fi
"$tw" lake ddl --engine duckdb --lake "$lake" > "$lake.duckdb.sql"
python3 bench/query_compare.py "$tw" "$lake" "$dir" "$lake.duckdb.sql"
