#!/usr/bin/env bash
# Quick start, part 2: installs what is missing, builds everything and runs the whole test
# suite, then the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

"$root/scripts/install-deps.sh"

echo "== build (RelWithDebInfo) and run every test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2PFAAS_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build with ASan + UBSan and run the unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DP2PFAAS_SANITIZE=ON -DP2PFAAS_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs" --target config_tests net_tests workloads_tests scheduler_tests node_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"
