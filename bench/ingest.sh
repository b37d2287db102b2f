#!/usr/bin/env bash
# Ingest throughput and memory: `trailwatch ingest` against DuckDB doing the
# same JSON.gz -> Hive-partitioned Parquet conversion, and the zcat floor,
# over the same files in one run.
# Usage: bench/ingest.sh [EVENTS] [DIR]   (defaults: 2000000, /tmp/trailwatch-bench-<EVENTS>)
# Needs: python3 with duckdb (pip install duckdb), GNU time.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh" "${1:-2000000}" "${2:-}"
raw_bytes=$(xargs zcat < "$files" | wc -c)
work=$(mktemp -d)
results=$(mktemp)


cat > "$work/duckdb_copy.py" <<'PY'
import duckdb, sys
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
con.execute(f"""
COPY (
  WITH recs AS (
    SELECT unnest(Records) AS r
    FROM read_json('{src}/AWSLogs/*/*/CloudTrail/*/*/*/*/*.json.gz',
                   format = 'auto', maximum_object_size = 16777216)
  )
  SELECT r.*, r.recipientAccountId AS account, r.awsRegion AS region,
         strftime(CAST(r.eventTime AS TIMESTAMP), '%Y-%m-%d') AS "date"
  FROM recs
) TO '{out}' (FORMAT parquet, PARTITION_BY (account, region, "date"), COMPRESSION zstd)
""")
PY

measure zcat bash -c "xargs zcat < $files" >> "$results"
measure trailwatch-ingest "$tw" ingest -q --lake "$work/lake" "$dir" >> "$results"
measure duckdb-copy python3 "$work/duckdb_copy.py" "$dir" "$work/duckdb-out" >> "$results"

lake_mb=$(du -sm "$work/lake/cloudtrail" | cut -f1)
duck_mb=$(du -sm "$work/duckdb-out" | cut -f1)
zcat_s=$(awk '$1=="zcat"{print $2}' "$results")
duck_s=$(awk '$1=="duckdb-copy"{print $2}' "$results")
echo "Input: $events events in $nfiles files, $((gz_bytes / 1000000)) MB gzip, $((raw_bytes / 1000000)) MB JSON ($(nproc) cores)"
echo "Output: trailwatch lake ${lake_mb} MB, DuckDB output ${duck_mb} MB"
echo
echo "| tool | seconds | events/s | MB/s (gzip input) | vs zcat | vs DuckDB | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
while read -r name secs rss; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v e="$events" -v b="$gz_bytes" -v z="$zcat_s" -v d="$duck_s" \
    'BEGIN { printf "| %s | %.2f | %.0f | %.1f | %.2fx | %.2fx | %.0f |\n", n, s, e/s, b/1e6/s, s/z, s/d, r/1024 }'
done < "$results"
rm -rf "$work" "$files" "$results"
