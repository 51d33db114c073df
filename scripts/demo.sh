#!/usr/bin/env bash
# Quick start, part 1: installs what is missing, builds p2pfaasd, starts one node on loopback,
# calls every built-in function, shows the node's load and metrics, and stops it with SIGTERM.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target p2pfaasd -j"$(nproc)"

data=$(mktemp -d)
port=18080
if ss -ltn "( sport = :$port )" | grep -q ":$port"; then port=$((20000 + RANDOM % 20000)); fi
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

echo "== starting p2pfaasd on 127.0.0.1:$port (data dir $data)"
build/bin/p2pfaasd --listen "127.0.0.1:$port" --node-id demo --data-dir "$data" --slots 2 --queue 8 \
  2> "$data/p2pfaasd.log" &
node_pid=$!
for _ in $(seq 1 200); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.01
done
curl -fs "http://127.0.0.1:$port/health"; echo

base="http://127.0.0.1:$port/function"
call() {  # call TITLE CURL-ARGS...
  local title=$1; shift
  echo
  echo "== $title"
  curl -s -D "$data/headers" "$@"
  echo
  grep -iE '^(HTTP/|X-P2pfaas-Executed-On|X-Duration-Seconds|Retry-After)' "$data/headers" | tr -d '\r' | sed 's/^/   /'
}
call "echo: the payload comes back unchanged" -H 'Content-Type: application/json' -d '{"hello":"edge"}' "$base/echo"
call "sleep 50 ms" "$base/sleep?ms=50"
call "sleep, exponential service time with mean 20 ms" "$base/sleep?mean_ms=20"
call "compute: primes below 200000" "$base/compute?n=200000"
call "io: write, fsync, read back and delete 256 KiB" "$base/io?kb=256"
call "memory: allocate and touch 64 MiB" "$base/memory?mb=64"
signature=$(printf 'payload' | openssl dgst -sha256 -hmac demo-key | awk '{print $2}')
call "verify: HMAC-SHA256 of the payload" -d 'payload' "$base/verify?key=demo-key&signature=$signature"
call "unknown function (404)" "$base/nope"
call "bad parameter (400)" "$base/sleep?ms=soon"
call "rejected on request (503)" -H 'X-P2pfaas-Scheduler-Reject: 1' "$base/echo"

echo
echo "== /monitoring/load"
curl -s "http://127.0.0.1:$port/monitoring/load"; echo
echo
echo "== /metrics (calls so far)"
curl -s "http://127.0.0.1:$port/metrics" | grep '^p2pfaas_calls_total'

echo
echo "== SIGTERM: the node drains and exits"
kill -TERM "$node_pid"
status=0
wait "$node_pid" || status=$?
node_pid=""
echo "p2pfaasd exited with status $status"
tail -n 3 "$data/p2pfaasd.log"
exit "$status"
