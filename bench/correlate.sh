#!/usr/bin/env bash
# The correlation pack's cost against `detect --pack essential,cis` on the
# same trail, and its memory with 100,000 principals.
# Usage: bench/correlate.sh GEOIP.mmdb [GEOIP6.mmdb] [EVENTS]
# (GeoIP: DB-IP's City Lite files, fetched as the README's Correlation
# section shows.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
python3 bench/correlate.py "$tw" "$@"
