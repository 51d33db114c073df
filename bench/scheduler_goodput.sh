#!/usr/bin/env bash
# Goodput of scheduling policies: 3 nodes (--slots 2 --queue 2) on loopback, 16 concurrent
# clients (wrk) calling sleep?ms=20 on node 1 only, for a few seconds per run. Goodput is 200
# answers per second. Policies, set on every node at once (POST /configuration/scheduler
# ?scope=cluster), in alternating rounds so each sees the same machine noise:
#   NoScheduler ["true"]                                 node 1 alone: at most 2 / 20 ms = 100/s
#   PowerOfNScheduler ["2","2","true","1"]               peers probed over their links
#   PowerOfNScheduler ["2","2","true","1","gossip"]      peers' gossiped load records
# Prints each run, the median goodput of each policy, the ratios, and checks that every answer
# was 200, 429 or 503 and that no request timed out (wrk's --timeout).
#
# Usage: bench/scheduler_goodput.sh [ROUNDS] [SECONDS]
# Needs: build/bin/p2pfaasd (release build), wrk, curl, python3.
set -euo pipefail
rounds=${1:-3}
seconds=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/three_nodes.sh
source "$root/bench/three_nodes.sh" --slots 2 --queue 2
command -v wrk >/dev/null || { echo "missing wrk (scripts/install-deps.sh)" >&2; exit 1; }

policies=(
  'NoScheduler ["true"]|{"name":"NoScheduler","parameters":["true"]}'
  'PowerOfN probe ["2","2","true","1"]|{"name":"PowerOfNScheduler","parameters":["2","2","true","1"]}'
  'PowerOfN gossip ["2","2","true","1","gossip"]|{"name":"PowerOfNScheduler","parameters":["2","2","true","1","gossip"]}'
)
echo "3 nodes, --slots 2 --queue 2; wrk -t2 -c16 -d${seconds}s on node-1 /function/sleep?ms=20; $rounds rounds"
: > "$work/runs.txt"
for round in $(seq 1 "$rounds"); do
  for entry in "${policies[@]}"; do
    label=${entry%%|*}
    body=${entry#*|}
    set_everywhere "$label" "$body"
    line=$(wrk -t2 -c16 -d"${seconds}s" --timeout 5s -s "$root/bench/status_counts.lua" \
      "$first/function/sleep?ms=20" | grep '^STATUS_JSON ' | cut -d' ' -f2-)
    echo "$label|$line" >> "$work/runs.txt"
    python3 - "$label" "$line" <<'PY'
import json, sys
label, run = sys.argv[1], json.loads(sys.argv[2])
ok = run["status"].get("200", 0)
print(f"  {label:<46} goodput {ok / run['duration_s']:7.1f}/s   answers {run['status']}"
      f"   p50 {run['p50_ms']:.1f} ms  p99 {run['p99_ms']:.1f} ms")
PY
  done
done

python3 - "$work/runs.txt" <<'PY'
import json, statistics, sys
runs = {}
bad = []
for line in open(sys.argv[1]):
    label, run = line.rstrip("\n").split("|", 1)
    run = json.loads(run)
    runs.setdefault(label, []).append(run["status"].get("200", 0) / run["duration_s"])
    others = {s: n for s, n in run["status"].items() if s not in ("200", "429", "503")}
    errors = {k: run[k] for k in ("timeouts", "connect_errors", "read_errors", "write_errors") if run[k]}
    if others or errors:
        bad.append(f"{label}: {others} {errors}")
median = {label: statistics.median(values) for label, values in runs.items()}
base, probe, gossip = (median[k] for k in runs)
print("median goodput (200/s): " + ", ".join(f"{k} {v:.1f}" for k, v in median.items()))
print(f"PowerOfN probe / NoScheduler:  {probe / base:.2f}x   (target >= 2.2x)")
print(f"PowerOfN gossip / probe:       {gossip / probe:.2f}   (target: no more than 10% below, >= 0.90)")
if bad:
    print("answers other than 200/429/503, or requests that hung:")
    for b in bad: print("  " + b)
    sys.exit(1)
print("every answer was 200, 429 or 503; no request timed out")
ok = probe / base >= 2.2 and gossip / probe >= 0.9
sys.exit(0 if ok else 2)
PY
