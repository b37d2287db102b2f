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
# How cost grows with the number of rules: the rules that match few
# events (all but the one matching every assumed-role call), and ten
# copies of each under new ids.
few=$(mktemp -d); many=$(mktemp -d)
for f in "$sigma"/*.yml; do
  grep -q '^id: 905d389b-b853-46d0-9d3d-dea0d3a3cd49' "$f" && continue
  cp "$f" "$few/"
  for c in 0 1 2 3 4 5 6 7 8 9; do
    sed "s/^id: \(.*\)\$/id: \1-copy$c/" "$f" > "$many/$c-$(basename "$f")"
  done
done
a=$(run3 "essential pack" --pack essential)
b=$(run3 "essential + all $nrules Sigma rules" --pack essential --rules "$sigma")
c=$(run3 "essential + $(ls "$few" | wc -l) Sigma rules (without aws_sts_assumerole_misuse)" --pack essential --rules "$few")
d=$(run3 "essential + $(ls "$many" | wc -l) Sigma rules (those, ten copies each)" --pack essential --rules "$many")
echo "| rules | wall (median of 3) | user CPU | events/s per core | peak RSS MiB |"
echo "|---|---|---|---|---|"
for r in "$a" "$b" "$c" "$d"; do echo "| ${r//|/ | } |"; done
echo
for r in "$b" "$c" "$d"; do
  awk -v a="${a#*|}" -v b="${r#*|}" -v l="${r%%|*}" 'BEGIN { split(a, x, "|"); split(b, y, "|"); printf "%s: %.2fx the pack alone (user CPU), %.2fx (wall)\n", l, y[2] / x[2], y[1] / x[1] }'
done
rm -rf "$files" "$few" "$many"
