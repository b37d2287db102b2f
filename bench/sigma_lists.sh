#!/usr/bin/env bash
# Long Sigma value lists (IOC rules): `trailwatch detect --pack none` over
# the bundled sample trail with one rule of N `userAgent|contains` values,
# one of N exact `userIdentity.accessKeyId` values and one of N CIDR
# ranges, against the same command with no rule at all, in one run.
# The median of three; wall time and peak RSS.
# Usage: bench/sigma_lists.sh [N] (default 20000).
# TW=path/to/trailwatch uses that binary instead of a release build.
set -euo pipefail
n=${1:-20000}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -z "${TW:-}" ]; then
  cargo build --release -q -p trailwatch
  TW="${CARGO_TARGET_DIR:-$root/target}/release/trailwatch"
fi
trail=examples/sample-trail
rules=$(mktemp -d)
python3 - "$n" "$rules" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
def rule(name, key, values):
    body = "".join(f"      - '{v}'\n" for v in values)
    with open(f"{out}/{name}.yml", "w") as f:
        f.write(f"title: IOC {name}\nid: ioc-{name}\nstatus: test\nlevel: high\n"
                "logsource:\n  product: aws\n  service: cloudtrail\n"
                f"detection:\n  selection:\n    {key}:\n{body}  condition: selection\n")
rule("contains", "userAgent|contains", [f"evil-scanner-{i:06d}/1.0" for i in range(n)])
rule("exact", "userIdentity.accessKeyId", [f"AKIA{i:016d}" for i in range(n)])
rule("cidr", "sourceIPAddress|cidr", [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32" for i in range(n)])
PY
run3() { # label, detect args...
  local label=$1; shift
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M' "$TW" detect -q --format ndjson --pack none "$@" "$trail" 2>&1 >/dev/null | tail -1
  done | sort -n | sed -n 2p | awk -v l="$label" '{ printf "| %s | %.2f | %d |\n", l, $1, $2 / 1024 }'
}
echo "| rules ($n values each) | wall s (median of 3) | peak RSS MiB |"
echo "|---|---|---|"
run3 "no rule"
run3 "userAgent\\|contains" --rules "$rules/contains.yml"
run3 "exact accessKeyId" --rules "$rules/exact.yml"
run3 "sourceIPAddress\\|cidr" --rules "$rules/cidr.yml"
rm -rf "$rules"
