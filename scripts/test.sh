#!/usr/bin/env bash
# Quick start, part 2: installs what is missing, builds everything and runs the whole test
# suite, then the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then each
# fuzz target for a bounded time (FUZZ_SECONDS, default 30).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

"$root/scripts/install-deps.sh"
# Chromium renders the bench dashboard in one integration test, which is skipped (and says so)
# when Chromium cannot be installed here.
if ! command -v chromium >/dev/null; then
  echo "== installing chromium for the dashboard render check"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ||
    echo "chromium could not be installed: the dashboard render check will be skipped"
fi

echo "== build (RelWithDebInfo) and run every test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2PFAAS_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build with ASan + UBSan and run the unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DP2PFAAS_SANITIZE=ON -DP2PFAAS_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

echo "== fuzz the network-facing decoders (clang, libFuzzer) for ${FUZZ_SECONDS:-30}s each"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2PFAAS_FUZZ=ON \
  -DP2PFAAS_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_request_target fuzz_config_patch fuzz_discovery_message \
  fuzz_learner_file \
  fuzz_peer_frame \
  fuzz_http_request \
  fuzz_json_input
for target in request_target config_patch discovery_message peer_frame learner_file http_request \
  json_input; do
  corpus=$(mktemp -d)
  # New inputs go to a scratch corpus; the seeds in tests/fuzz/corpus stay as committed.
  status=0
  build-fuzz/fuzz/fuzz_$target -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 \
    "$corpus" "tests/fuzz/corpus/$target" > "$corpus.log" 2>&1 || status=$?
  grep -E "^stat::number_of_executed_units" "$corpus.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$corpus.log"
    echo "fuzz_$target found a failure (exit $status)"
    exit 1
  fi
  rm -rf "$corpus" "$corpus.log"
  echo "fuzz_$target: no failure"
done
