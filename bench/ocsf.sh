#!/usr/bin/env bash
# OCSF export against ingest of the same events, and DuckDB re-writing the
# same lake as partitioned Parquet (the floor of reading and writing those
# rows without mapping them), in one run.
# Usage: bench/ocsf.sh [EVENTS] [DIR]   (defaults: 1000000, /tmp/trailwatch-bench-<EVENTS>)
# Needs: python3 with duckdb (pip install duckdb), GNU time.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh" "${1:-1000000}" "${2:-}"
work=$(mktemp -d)
results=$(mktemp)

cat > "$work/duckdb_copy.py" <<'PY'
import duckdb, sys
lake, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
con.execute(f"""
COPY (SELECT * FROM read_parquet('{lake}/cloudtrail/**/*.parquet', hive_partitioning = true, union_by_name = true))
TO '{out}' (FORMAT parquet, PARTITION_BY (region, account, "date"), COMPRESSION zstd)
""")
PY

measure trailwatch-ingest "$tw" ingest -q --lake "$work/lake" "$dir" >> "$results"
measure trailwatch-export-ocsf "$tw" export ocsf -q --lake "$work/lake" --out "$work/ocsf" >> "$results"
measure duckdb-parquet-copy python3 "$work/duckdb_copy.py" "$work/lake" "$work/duckdb-out" >> "$results"

lake_mb=$(du -sm "$work/lake/cloudtrail" | cut -f1)
ocsf_mb=$(du -sm "$work/ocsf" | cut -f1)
ocsf_files=$(find "$work/ocsf" -name '*.parquet' | wc -l)
ingest_s=$(awk '$1=="trailwatch-ingest"{print $2}' "$results")
duck_s=$(awk '$1=="duckdb-parquet-copy"{print $2}' "$results")
echo "Input: $events events in $nfiles files, $((gz_bytes / 1000000)) MB gzip ($(nproc) cores, build: $profile ${TW_CARGO_FLAGS:-})"
echo "Output: lake ${lake_mb} MB; OCSF export ${ocsf_mb} MB in ${ocsf_files} files"
echo
echo "| step | seconds | events/s | vs ingest | vs DuckDB copy | peak RSS MB |"
echo "|---|---|---|---|---|---|"
while read -r name secs rss; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v e="$events" -v i="$ingest_s" -v d="$duck_s" \
    'BEGIN { printf "| %s | %.2f | %.0f | %.2fx | %.2fx | %.0f |\n", n, s, e/s, s/i, s/d, r/1024 }'
done < "$results"
rm -rf "$work" "$files" "$results"
