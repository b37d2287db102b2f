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
cd "$(dirname "$0")/.."
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then sizes=(1000000 2000000 5000000 10000000 20000000); fi
bench/per_size.sh bench/growth.py docs/growth.ndjson "${sizes[@]}"
python3 bench/growth_plot.py docs/growth.ndjson docs/growth.svg
