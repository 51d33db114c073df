#!/usr/bin/env bash
# What a learner decision costs a call (target: well under 10 us): Google Benchmark over the
# learner's observe + act + reward on a warmed-up Q-table, on 1 and 2 threads at once, and the
# updates the learner thread makes off the call's path. Prints the benchmark's table and the
# median time per decision of REPETITIONS runs.
#
# Usage: bench/learner_decide.sh [REPETITIONS]
# Needs: build/bench/learner_benchmark (release build with libbenchmark-dev installed).
set -euo pipefail
repetitions=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
binary="$root/build/bench/learner_benchmark"
[ -x "$binary" ] || { echo "missing $binary: build first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
"$binary" --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true \
  --benchmark_format=json 2>/dev/null |
  python3 -c '
import json, sys
runs = json.load(sys.stdin)["benchmarks"]
worst = 0
for b in runs:
    if b.get("aggregate_name") != "median":
        continue
    ns = b["real_time"] if b["time_unit"] == "ns" else b["real_time"] * {"us": 1e3, "ms": 1e6}[b["time_unit"]]
    per = ns / 64 if b["run_name"] == "train" else ns
    what = "per update (learner thread)" if b["run_name"] == "train" else "per decision"
    name = b["run_name"]
    print(f"{name:<28} median {per:8.1f} ns {what}")
    if b["run_name"] != "train":
        worst = max(worst, per)
print(f"slowest decision: {worst / 1000:.3f} us (target: well under 10 us)")
sys.exit(0 if worst < 10000 else 2)'
