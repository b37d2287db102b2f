#!/usr/bin/env bash
# State on disk, restart time and peak RSS of `trailwatch watch` after 1, 10
# and 30 days of files, beside a full replay (the old restart) as the peer.
# Usage: bench/watch_state.sh [EVENTS] [LATE_HORIZON_SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
python3 bench/watch_state.py "$tw" "${1:-30000}" "${2:-1209600}"
