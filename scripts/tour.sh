#!/usr/bin/env bash
# A tour of a cluster by hand: installs what is missing, builds p2pfaasd, starts a three-node
# cluster on loopback, calls every built-in function, forwards calls between nodes, shows
# membership, load and metrics, kills one node with SIGKILL and watches the others declare it
# dead, and stops the rest with SIGTERM.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target p2pfaasd -j"$(nproc)"

data=$(mktemp -d)
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    ss -ltnu "( sport = :$port )" | grep -q ":$port" || { echo $port; return; }
  done
}
port=18080
if ss -ltnu "( sport = :$port )" | grep -q ":$port"; then port=$(free_port); fi
port_b=$(free_port); port_c=$(free_port)
while [ "$port_c" = "$port_b" ] || [ "$port_b" = "$port" ] || [ "$port_c" = "$port" ]; do port_c=$(free_port); done
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

head -c 32 /dev/urandom | base64 > "$data/cluster.key"
chmod 600 "$data/cluster.key"
start_node() {  # start_node ID PORT [--join SEED]
  local id=$1 p=$2; shift 2
  build/bin/p2pfaasd --listen "127.0.0.1:$p" --node-id "$id" --data-dir "$data/$id" --slots 2 \
    --queue 8 --cluster-key-file "$data/cluster.key" "$@" 2> "$data/$id.log" &
  pids+=($!)
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$p/health" >/dev/null && return
    sleep 0.01
  done
  echo "node $id did not start:"; cat "$data/$id.log"; exit 1
}
# How many nodes node PORT sees in STATE.
count_state() {
  curl -fs "http://127.0.0.1:$1/nodes" | python3 -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin)["nodes"] if n["state"] == sys.argv[1]))' "$2"
}
now_ms() { date +%s%3N; }

echo "== starting a three-node cluster: a on 127.0.0.1:$port, b on :$port_b, c on :$port_c"
start_node a "$port"
start_node b "$port_b" --join "127.0.0.1:$port"
start_node c "$port_c" --join "127.0.0.1:$port"
t0=$(now_ms)
until [ "$(count_state "$port_c" alive)" = 3 ] && [ "$(count_state "$port" alive)" = 3 ]; do sleep 0.01; done
echo "every node sees 3 alive after $(( $(now_ms) - t0 )) ms"
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
call "forwarded to a peer (X-P2pfaas-Scheduler-Forward)" -H 'X-P2pfaas-Scheduler-Forward: 1' "$base/sleep?ms=10"
grep -iE '^(X-P2pfaas-(Externally-Executed|Hops|Peers-List-Id|Timing-Total-Seconds-List))' "$data/headers" | tr -d '\r' | sed 's/^/   /'

echo
echo "== /nodes on a"
curl -s "http://127.0.0.1:$port/nodes" | python3 -m json.tool
echo
echo "== /list on a (P2PFaaS form)"
curl -s "http://127.0.0.1:$port/list"; echo

echo
echo "== /monitoring/load"
curl -s "http://127.0.0.1:$port/monitoring/load"; echo
echo
echo "== /metrics (calls so far)"
curl -s "http://127.0.0.1:$port/metrics" | grep '^p2pfaas_calls_total'

echo
echo "== SIGKILL node c: a and b declare it dead"
t0=$(now_ms)
kill -KILL "${pids[2]}"
until [ "$(count_state "$port" dead)" = 1 ] && [ "$(count_state "$port_b" dead)" = 1 ]; do sleep 0.01; done
echo "a and b see c dead after $(( $(now_ms) - t0 )) ms"

echo
echo "== SIGTERM node b: it announces that it leaves, drains and exits"
t0=$(now_ms)
kill -TERM "${pids[1]}"
until [ "$(count_state "$port" left)" = 1 ]; do sleep 0.01; done
echo "a sees b left after $(( $(now_ms) - t0 )) ms"
status=0
wait "${pids[1]}" || status=$?
echo "b exited with status $status"

echo
echo "== SIGTERM node a"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || status=$?
pids=()
echo "a exited with status $status"
tail -n 3 "$data/a.log"
exit "$status"
