#!/usr/bin/env bash
# Decode throughput of `trailwatch stats` against its peers, in one run:
#   zcat FILES > /dev/null           the decompression floor
#   jq -c '.Records[]'               a common way to flatten trails
# Usage: bench/decode.sh [EVENTS] [DIR]   (defaults: 1000000, /tmp/trailwatch-bench-<EVENTS>)
# Prints a markdown table for docs/benchmarks.md. Needs jq and GNU time.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh" "${1:-1000000}" "${2:-}"

results=$(mktemp)
{
  measure zcat bash -c "xargs zcat < $files"
  measure "trailwatch-1-thread" "$tw" stats -q --threads 1 "$dir"
  measure "trailwatch-all-cores" "$tw" stats -q "$dir"
  measure "jq" bash -c "xargs zcat < $files | jq -c '.Records[]'"
} > "$results"
zcat_s=$(awk '$1=="zcat"{print $2}' "$results")
echo "Input: $events events in $nfiles files, $((gz_bytes / 1000000)) MB gzip ($(nproc) cores)"
echo
echo "| tool | seconds | records/s | MB/s (gzip input) | vs zcat | peak RSS MB |"
echo "|---|---|---|---|---|---|"
while read -r name secs rss; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v e="$events" -v b="$gz_bytes" -v z="$zcat_s" \
    'BEGIN { printf "| %s | %.2f | %.0f | %.1f | %.2fx | %.0f |\n", n, s, e/s, b/1e6/s, s/z, r/1024 }'
done < "$results"
rm -f "$files" "$results"
