#!/usr/bin/env bash
# End-to-end `trailwatch detect` (essential + cis packs) against the zcat
# floor over the same gzip files, in one run.
# Usage: bench/detect.sh [EVENTS] [DIR]   (defaults: 1000000, /tmp/trailwatch-bench-<EVENTS>)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh" "${1:-1000000}" "${2:-}"
t() { local s; s=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; echo "$(date +%s.%N) - $s" | bc; }
z=$(t bash -c "xargs zcat < $files")
d=$(t "$tw" detect -q --pack essential,cis --format ndjson "$dir")
echo "| tool | seconds | vs zcat |"
echo "|---|---|---|"
awk -v z="$z" -v d="$d" 'BEGIN { printf "| zcat | %.2f | 1.00x |\n| trailwatch detect (essential+cis, 1 core) | %.2f | %.2fx |\n", z, d, d/z }'
rm -f "$files"
