#!/usr/bin/env bash
# Sigma rules' cost: `trailwatch detect` with the essential pack alone,
# and with every Sigma rule of a folder beside it (SigmaHQ's CloudTrail
# rules in ../shared/sigma by default), over the same trail in one run.
# Three runs of each; the median wall time, its user CPU and peak RSS.
# Usage: bench/sigma.sh [EVENTS] [SIGMA_DIR] [DIR]
#   (defaults: 1000000, ../shared/sigma, /tmp/trailwatch-bench-<EVENTS>)
set -euo pipefail
sigma=$(cd "${2:-$(dirname "$0")/../../shared/sigma}" && pwd)
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh" "${1:-1000000}" "${3:-}"
nrules=$(ls "$sigma"/*.yml | wc -l)
run3() { # label, detect args...
  local label=$1; shift
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %U %M' "$tw" detect -q --format ndjson "$@" "$dir" 2>&1 >/dev/null | tail -1
  done | sort -n | sed -n 2p | awk -v l="$label" -v n="$events" \
    '{ printf "%s|%.2f|%.2f|%d|%d\n", l, $1, $2, n / $2, $3 / 1024 }'
}
a=$(run3 "essential pack" --pack essential)
b=$(run3 "essential + $nrules Sigma rules" --pack essential --rules "$sigma")
echo "| rules | wall (median of 3) | user CPU | events/s per core | peak RSS MiB |"
echo "|---|---|---|---|---|"
for r in "$a" "$b"; do echo "| ${r//|/ | } |"; done
awk -v a="${a#*|}" -v b="${b#*|}" 'BEGIN { split(a, x, "|"); split(b, y, "|"); printf "\nSigma rules + pack cost %.2fx the pack alone (user CPU)\n", y[2] / x[2] }'
rm -f "$files"
