# Shared by the benchmark scripts: build trailwatch (release by default), generate the
# seeded trail if it is absent, list its gzip files, and warm the page cache.
# Defines measure NAME CMD... (prints: NAME seconds peak-RSS-KB).
# Sets: events, dir (the trail), tw (the binary), files (a file listing the
# trail's logs), nfiles, gz_bytes.
# Arguments: EVENTS [DIR] (DIR defaults to /tmp/trailwatch-bench-<EVENTS>).
events=$1
dir=${2:-/tmp/trailwatch-bench-$events}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# TW_PROFILE (default release) and TW_CARGO_FLAGS (e.g. --no-default-features)
# pick another build of the same code.
profile=${TW_PROFILE:-release}
# shellcheck disable=SC2086
cargo build --profile "$profile" -q -p trailwatch ${TW_CARGO_FLAGS:-}
tw="${CARGO_TARGET_DIR:-$root/target}/$profile/trailwatch"
if [ ! -d "$dir/AWSLogs" ]; then
  "$tw" generate -q --events "$events" --days 7 --seed 42 --out "$dir"
fi
files=$(mktemp)
find "$dir/AWSLogs" -name '*.json.gz' | sort > "$files"
nfiles=$(wc -l < "$files")
gz_bytes=$(xargs cat < "$files" | wc -c)   # also warms the page cache

measure() { # name, command...
  local name=$1; shift
  local t
  t=$(mktemp)
  /usr/bin/time -o "$t" -f '%e %M' "$@" > /dev/null 2>&1
  echo "$name $(tail -1 "$t")"
  rm -f "$t"
}
