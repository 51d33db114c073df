#!/usr/bin/env bash
# Quick start, part 1: installs what is missing, builds p2pfaasd and p2pfaas-bench, and runs the
# smoke experiment: for every scheduling policy (and the CentralJSQ baseline) and two platform
# profiles it launches a local cluster on loopback, sends it load, and stops it. Prints a summary
# table and the path of the dashboard (results/dashboard.html, with metrics.csv and report.json).
# A different scenario: scripts/demo.sh bench/scenarios/skewed.yaml
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target p2pfaasd p2pfaas-bench -j"$(nproc)"

exec build/bin/p2pfaas-bench experiment "${1:-bench/scenarios/smoke.yaml}" --out "${2:-results}"
