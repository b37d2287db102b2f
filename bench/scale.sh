#!/usr/bin/env bash
# What must stay flat as history grows (issue #35): ingest's and detect's
# peak memory, serve's start-up (rebuild, then from the snapshot) and seed
# query 2 against the DuckDB CLI, at each size (default 1M 4M 20M events;
# 7-day trails, seed 42). One JSON line per size goes to docs/scale.ndjson.
# See docs/benchmarks.md, "An organisation's year: what stays flat".
# Usage: bench/scale.sh [EVENTS...]
# Needs /usr/bin/time and the duckdb client (pip install duckdb-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then sizes=(1000000 4000000 20000000); fi
bench/per_size.sh bench/scale.py docs/scale.ndjson "${sizes[@]}"
