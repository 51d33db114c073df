#!/usr/bin/env bash
# Two p2pfaasd builds side by side: /function/echo throughput and latency with wrk, in alternating
# rounds so both see the same noise, then the medians and the new/old ratios. For "no regression"
# checks of a change: build the old commit in a git worktree, then
#   bench/compare_builds.sh /tmp/old/build/bin/p2pfaasd build/bin/p2pfaasd
#
# Usage: bench/compare_builds.sh OLD_DAEMON NEW_DAEMON [ROUNDS] [SECONDS] [CONNECTIONS] [TARGET]
# TARGET defaults to /function/echo. Needs wrk and curl.
set -euo pipefail
old=${1:?old p2pfaasd}; new=${2:?new p2pfaasd}
rounds=${3:-5}; seconds=${4:-5}; connections=${5:-32}; target=${6:-/function/echo}
for tool in wrk curl; do command -v $tool >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }; done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

start_daemon() {  # name binary: runs in this shell, so that cleanup knows the pid
  "$2" --listen 127.0.0.1:0 --node-id "$1" --data-dir "$work/$1" --log-level info \
    > /dev/null 2> "$work/$1.log" &
  pids+=($!)
}
port_of() {  # name -> the port its log says it listens on, once /health answers
  local port=""
  for _ in $(seq 1 500); do
    port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/$1.log" | head -n 1)
    [ -n "$port" ] && curl -fs "http://127.0.0.1:$port/health" >/dev/null && { echo "$port"; return; }
    sleep 0.01
  done
  echo "$1 did not start" >&2; cat "$work/$1.log" >&2; exit 1
}
start_daemon old "$old"
start_daemon new "$new"
old_port=$(port_of old)
new_port=$(port_of new)

. "$(dirname "$0")/wrk_lib.sh"
measure() { wrk_summary "$connections" "$seconds" "$1" | cut -d' ' -f1-3; }  # url -> "rps p50 p99"

wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$old_port$target" >/dev/null
wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$new_port$target" >/dev/null
printf "%-6s %-4s %10s %9s %9s\n" round build "req/s" "p50 ms" "p99 ms"
: > "$work/old.txt"; : > "$work/new.txt"
for r in $(seq 1 "$rounds"); do
  # Alternate which goes first, so neither always gets the warmer machine.
  if [ $((r % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  for which in $order; do
    port=$old_port; [ "$which" = new ] && port=$new_port
    m=$(measure "http://127.0.0.1:$port$target"); echo "$m" >> "$work/$which.txt"
    printf "%-6s %-4s %10s %9s %9s\n" "$r" "$which" $m
  done
done
col() { cut -d' ' -f"$2" "$work/$1.txt" | median; }
echo
echo "medians over $rounds rounds of ${seconds}s, $connections connections, $target, $(nproc) cores"
for which in old new; do
  printf "%-4s %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n" "$which" "$(col $which 1)" "$(col $which 2)" "$(col $which 3)"
done
awk -v o="$(col old 1)" -v n="$(col new 1)" -v op="$(col old 2)" -v np="$(col new 2)" \
  'BEGIN { printf "new/old: throughput %.3f, p50 latency %.3f\n", n / o, np / op }'
