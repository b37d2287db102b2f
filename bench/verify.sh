#!/usr/bin/env bash
# Digest validation throughput: `trailwatch verify` over a signed trail
# against sha256sum over the same log files, decompressed beforehand (the
# hashing floor), and zcat | sha256sum (decompress and hash, one stream).
# Usage: bench/verify.sh [EVENTS] [DIR]   (defaults: 600000, /tmp/trailwatch-bench-signed-<EVENTS>)
# DAYS (default 8) sets the trail's length: 8 days give over 10,000 log files.
# Prints a markdown table for docs/benchmarks.md. Needs GNU time.
set -euo pipefail
events=${1:-600000}
days=${DAYS:-8}
dir=${2:-/tmp/trailwatch-bench-signed-$events-$days}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
if [ ! -d "$dir/AWSLogs" ]; then
  "$tw" generate -q --events "$events" --days "$days" --seed 42 --out "$dir" \
    --signing-key examples/keys/demo-signing-key.pk8
fi
logs=$(mktemp)
find "$dir/AWSLogs" -path '*/CloudTrail/*' -name '*.json.gz' | sort > "$logs"
nlogs=$(wc -l < "$logs")
ndigests=$(find "$dir/AWSLogs" -path '*/CloudTrail-Digest/*' -name '*.json.gz' | wc -l)
plain=$(mktemp -d)
# The floor's input: the same logs, decompressed once, outside the timing.
while read -r f; do zcat "$f" > "$plain/$(basename "$f" .gz)"; done < "$logs"
raw_bytes=$(du -sb "$plain" | cut -f1)
gz_bytes=$(xargs cat < "$logs" | wc -c)
cat "$plain"/* > /dev/null; xargs cat < "$logs" > /dev/null   # warm the page cache

measure() { # name, command...
  local name=$1; shift
  local t; t=$(mktemp)
  /usr/bin/time -o "$t" -f '%e %M %P' "$@" > /dev/null 2>&1 || true
  echo "$name $(tail -1 "$t")"
  rm -f "$t"
}
results=$(mktemp)
{
  measure "sha256sum-decompressed-files" bash -c "find $plain -type f -print0 | xargs -0 -P $(nproc) -n 500 sha256sum"
  measure "zcat-pipe-sha256sum" bash -c "xargs zcat < $logs | sha256sum"
  measure "trailwatch-verify" "$tw" verify -q "$dir" --public-keys "$dir/public-keys.json"
} > "$results"
floor=$(awk '$1=="sha256sum-decompressed-files"{print $2}' "$results")
echo "Input: $nlogs log files ($((gz_bytes / 1000000)) MB gzip, $((raw_bytes / 1000000)) MB decompressed), $ndigests digests, $(nproc) cores"
echo
echo "| tool | seconds | MB/s (decompressed) | vs sha256sum | CPU | peak RSS MB |"
echo "|---|---|---|---|---|---|"
while read -r name secs rss cpu; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v b="$raw_bytes" -v f="$floor" -v c="$cpu" \
    'BEGIN { printf "| %s | %.2f | %.0f | %.2fx | %s | %.0f |\n", n, s, b/1e6/s, s/f, c, r/1024 }'
done < "$results"
"$tw" verify -q "$dir" --public-keys "$dir/public-keys.json" | tail -1
rm -rf "$plain" "$logs" "$results"
