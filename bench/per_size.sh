#!/usr/bin/env bash
# Shared by bench/growth.sh and bench/scale.sh: build trailwatch in
# release, then for each size generate the 7-day trail (seed 42) if absent
# and run `python3 SCRIPT TW EVENTS TRAIL LAKE` with a fresh LAKE, appending
# its JSON line to OUT.
# Usage: bench/per_size.sh SCRIPT OUT EVENTS...
set -euo pipefail
script=$1
out=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
for events in "$@"; do
  dir=/tmp/trailwatch-bench-$events
  if [ ! -d "$dir/AWSLogs" ]; then
    "$tw" generate -q --events "$events" --days 7 --seed 42 --out "$dir"
  fi
  # A fresh lake per run, so ingest is measured every time.
  lake=$(mktemp -d /tmp/trailwatch-bench-lake.XXXXXX)
  rmdir "$lake"
  python3 "$script" "$tw" "$events" "$dir" "$lake" | tee -a "$out"
  rm -rf "$lake"
done
