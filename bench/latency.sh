#!/usr/bin/env bash
# Alert latency of `trailwatch watch` (file lands -> alert written), p50 and
# p99 over 100 files, beside a one-shot `detect` per file as the peer.
# Usage: bench/latency.sh [FILES] [GAP_MS]   (defaults: 100, 250)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
python3 bench/latency.py "$tw" "${1:-100}" "${2:-250}"
