#!/usr/bin/env bash
# Seed queries 2-6 and the saved queries on a lake of EVENTS events:
# trailwatch (DataFusion) against the DuckDB client over the same Parquet
# lake, cold (fresh processes) and warm (each engine's shell), in one run;
# with RAW=1 also the seed queries over the raw JSON.gz trail (trailwatch's
# CREATE EXTERNAL TABLE against DuckDB's read_json). See
# bench/query_compare.py for what is timed.
# Usage: bench/query.sh [EVENTS] [DIR]   (defaults: 5000000, /tmp/trailwatch-bench-<EVENTS>)
# Needs the duckdb client: pip install duckdb-cli
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
raw=()
if [ "${RAW:-0}" = 1 ]; then raw=(--raw); fi
python3 bench/query_compare.py "$tw" "$lake" "$dir" "$lake.duckdb.sql" "${raw[@]}"
