#!/usr/bin/env bash
# Deadline-met ratio of LearningScheduler against ForwardScheduler and PowerOfNScheduler, on the
# skewed setup of bench/scheduler_goodput.sh: 3 nodes (--slots 2 --queue 2) on loopback, every
# call sent to node-1, as sleep?ms=20 with X-P2pfaas-Deadline-Seconds: DEADLINE. Calls arrive
# open-loop (bench/open_loop.py) at RATE per second: node-1 alone runs at most 100/s, the three
# nodes 300/s. A call met its deadline when it was answered 200 within it (by node-1's clock);
# rejected, refused, failed and late calls did not. The defaults (200/s, a 0.03 s deadline: 1.5x
# the service time) leave room only for a call that starts at once, where it lands.
#   1. Warm-up: LearningScheduler ["1"] on every node for WARMUP seconds, learning from scratch
#      (epsilon 1, decaying by 0.999 per decision to 0.01: the defaults).
#   2. Rounds, alternating so each policy sees the same machine noise and the same arrivals (one
#      seed per round); the learner keeps learning:
#        ForwardScheduler ["1"]                    a random peer, always
#        PowerOfNScheduler ["2","2","false","1"]   here below 2 calls, else probe 2 peers
#        LearningScheduler ["1"]
# Prints each run, the median ratio of each policy, and the two ratios of the acceptance:
# learning >= forward, learning >= 0.95 x power-of-n (exit 2 otherwise).
#
# Usage: bench/learning_deadline.sh [ROUNDS] [SECONDS] [WARMUP] [RATE] [DEADLINE]
# Needs: build/bin/p2pfaasd (release build), curl, python3.
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
warmup=${3:-30}
rate=${4:-200}
deadline=${5:-0.03}
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/three_nodes.sh
source "$root/bench/three_nodes.sh" --slots 2 --queue 2

run_load() {  # run_load SECONDS SEED: one STATUS_JSON line
  python3 "$root/bench/open_loop.py" "$first/function/sleep?ms=20" "$rate" "$1" "$deadline" "$2" |
    grep '^STATUS_JSON ' | cut -d' ' -f2-
}
learner_stats() {
  curl -fs "$first/learner/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
by = " ".join(f"{k} {v}" for k, v in s["decisions_by_action"].items())
print("decisions {} updates {} epsilon {:.3f} mean reward {:.3f} states {} ({})".format(
    s["decisions"], s["updates"], s["epsilon"], s["mean_reward_recent"], s["table_states"], by))'
}

learning='{"name":"LearningScheduler","parameters":["1"]}'
policies=(
  'ForwardScheduler ["1"]|{"name":"ForwardScheduler","parameters":["1"]}'
  'PowerOfNScheduler ["2","2","false","1"]|{"name":"PowerOfNScheduler","parameters":["2","2","false","1"]}'
  "LearningScheduler [\"1\"]|$learning"
)
echo "3 nodes, --slots 2 --queue 2; $rate calls/s (open loop) to node-1 /function/sleep?ms=20" \
  "with a ${deadline}s deadline; warm-up ${warmup}s, then $rounds rounds of ${seconds}s"
set_everywhere LearningScheduler "$learning"
run_load "$warmup" 999 > /dev/null
echo "after the warm-up: $(learner_stats)"

: > "$work/runs.txt"
for round in $(seq 1 "$rounds"); do
  for entry in "${policies[@]}"; do
    label=${entry%%|*}
    set_everywhere "$label" "${entry#*|}"
    line=$(run_load "$seconds" "$round")
    echo "$label|$line" >> "$work/runs.txt"
    python3 - "$label" "$line" <<'PY'
import json, sys
label, run = sys.argv[1], json.loads(sys.argv[2])
calls = run["requests"]
print(f"  {label:<40} met {run['met'] / calls:6.3f}  ({run['met']} of {calls})"
      f"   answers {run['status']}   p50 {run['p50_ms']:.1f} ms  p99 {run['p99_ms']:.1f} ms")
PY
  done
done
echo "at the end: $(learner_stats)"

python3 - "$work/runs.txt" <<'PY'
import json, statistics, sys
ratios = {}
for line in open(sys.argv[1]):
    label, run = line.rstrip("\n").split("|", 1)
    run = json.loads(run)
    ratios.setdefault(label, []).append(run["met"] / run["requests"])
median = {label: statistics.median(values) for label, values in ratios.items()}
forward, power, learning = (median[k] for k in ratios)
print("median deadline-met ratio: " + ", ".join(f"{k} {v:.3f}" for k, v in median.items()))
print(f"LearningScheduler / ForwardScheduler:  {learning / forward:.2f}   (target >= 1)")
print(f"LearningScheduler / PowerOfNScheduler: {learning / power:.2f}   (target >= 0.95)")
sys.exit(0 if learning >= forward and learning >= 0.95 * power else 2)
PY
