#!/usr/bin/env bash
# Notification delivery: N alerts through trailwatch's durable outbox to a
# local webhook receiver, beside the bare HTTP POSTs of the same bodies from
# Python's http.client (keep-alive, no outbox) to the same receiver.
# Usage: bench/notify.sh [ALERTS]   (default 2000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -q -p trailwatch
tw="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
python3 bench/notify.py "$tw" "${1:-2000}"
