#!/usr/bin/env bash
# End-to-end `trailwatch detect` (essential + cis packs) against the zcat
# floor over the same gzip files, in one run.
# Usage: bench/detect.sh [EVENTS] [DIR]   (defaults: 1000000, /tmp/trailwatch-bench-<EVENTS>)
set -euo pipefail
events=${1:-1000000}
dir=${2:-/tmp/trailwatch-bench-$events}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
if [ ! -d "$dir/AWSLogs" ]; then
  "$tw" generate -q --events "$events" --days 7 --seed 42 --out "$dir"
fi
files=$(mktemp)
find "$dir/AWSLogs" -name '*.json.gz' | sort > "$files"
xargs cat < "$files" > /dev/null
t() { local s; s=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; echo "$(date +%s.%N) - $s" | bc; }
z=$(t bash -c "xargs zcat < $files")
d=$(t "$tw" detect -q --pack essential,cis --format ndjson "$dir")
echo "| tool | seconds | vs zcat |"
echo "|---|---|---|"
awk -v z="$z" -v d="$d" 'BEGIN { printf "| zcat | %.2f | 1.00x |\n| trailwatch detect (essential+cis, 1 core) | %.2f | %.2fx |\n", z, d, d/z }'
rm -f "$files"
