#!/usr/bin/env bash
# Forwarded calls: client -> node A -> node B (echo runs on B, over A's WebSocket peer link),
# against nginx proxy_pass -> nginx (keep-alive upstream, one worker each), in alternating rounds
# so both see the same noise. Then the latency one hop adds, at one connection: p50 of the
# forwarded call minus p50 of the same call made to B directly (and the same for nginx). And the
# CPU time each process spent per request during the throughput rounds (user + system, from
# /proc/<pid>/stat), which shows where a forwarded call costs more than a proxied one.
#
# Usage: bench/forward_vs_nginx.sh [ROUNDS] [SECONDS] [CONNECTIONS]
# Needs: build/bin/p2pfaasd (release build), wrk, nginx, curl.
set -euo pipefail
rounds=${1:-3}
seconds=${2:-5}
connections=${3:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
daemon="$root/build/bin/p2pfaasd"
[ -x "$daemon" ] || { echo "missing $daemon: build first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
for tool in wrk nginx curl; do command -v $tool >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }; done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

used=" "
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    case "$used" in *" $port "*) continue ;; esac
    ss -ltnu "( sport = :$port )" | grep -q ":$port" && continue
    used="$used$port "
    echo $port; return
  done
}

a_port=$(free_port); b_port=$(free_port); front_port=$(free_port); back_port=$(free_port)

cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx-back.pid;
error_log $work/nginx-back.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$back_port; location / { return 200 "ok"; } }
}
NGINX
cat > "$work/nginx-front.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx-front.pid;
error_log $work/nginx-front.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  upstream back { server 127.0.0.1:$back_port; keepalive 64; }
  server {
    listen 127.0.0.1:$front_port;
    location / {
      proxy_pass http://back;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
mkdir -p "$work/back" "$work/front"
nginx -c "$work/nginx.conf" -p "$work/back" & pids+=($!); back_master=$!
nginx -c "$work/nginx-front.conf" -p "$work/front" & pids+=($!); front_master=$!

head -c 32 /dev/urandom | base64 > "$work/cluster.key"; chmod 600 "$work/cluster.key"
common=(--cluster-key-file "$work/cluster.key" --log-level warn --set node.io_threads=1)
"$daemon" --listen "127.0.0.1:$a_port" --node-id a --data-dir "$work/a" "${common[@]}" & pids+=($!)
a_pid=$!
"$daemon" --listen "127.0.0.1:$b_port" --node-id b --data-dir "$work/b" "${common[@]}" \
  --join "127.0.0.1:$a_port" & pids+=($!)
b_pid=$!
for port in $a_port $b_port $front_port $back_port; do
  for _ in $(seq 1 500); do curl -fs "http://127.0.0.1:$port/" -o /dev/null 2>/dev/null && break
    curl -fs "http://127.0.0.1:$port/health" -o /dev/null 2>/dev/null && break; sleep 0.01; done
done
b_alive() {
  curl -fs "http://127.0.0.1:$a_port/nodes" | python3 -c '
import json, sys
sys.exit(0 if any(n["id"] == "b" and n["state"] == "alive" for n in json.load(sys.stdin)["nodes"]) else 1)'
}
for _ in $(seq 1 100); do b_alive && break; sleep 0.05; done
b_alive || { echo "node b never joined a" >&2; exit 1; }
check=$(curl -fs -D - -o /dev/null -H 'X-P2pfaas-Scheduler-Forward: 1' "http://127.0.0.1:$a_port/function/echo" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-p2pfaas-executed-on" {print $2}')
[ "$check" = "b" ] || { echo "forwarded call did not run on b (executed on: '$check')" >&2; exit 1; }

front_worker=$(pgrep -P "$front_master" | head -1)
back_worker=$(pgrep -P "$back_master" | head -1)
[ -n "$front_worker" ] && [ -n "$back_worker" ] || { echo "nginx workers not found" >&2; exit 1; }
# user + system CPU time of a process (all its threads), in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

. "$root/bench/wrk_lib.sh"
# measure CONNECTIONS WRK-ARGS... -> "rps p50_ms p99_ms requests"
measure() { local conns=$1; shift; wrk_summary "$conns" "$seconds" "$@"; }
# measure_cpu FILE PID1 PID2 -- wrk arguments: measures, appends "rps p50 p99" to FILE and
# "requests ticks1 ticks2" to FILE.cpu, prints "rps p50 p99"
measure_cpu() {
  local file=$1 first=$2 second=$3; shift 4
  local t1 t2 x
  t1=$(ticks "$first"); t2=$(ticks "$second")
  x=$(measure "$connections" "$@")
  echo "$(echo "$x" | cut -d' ' -f4) $(( $(ticks "$first") - t1 )) $(( $(ticks "$second") - t2 ))" >> "$file.cpu"
  echo "$x" | cut -d' ' -f1-3 | tee -a "$file"
}

forward=(-H 'X-P2pfaas-Scheduler-Forward: 1' "http://127.0.0.1:$a_port/function/echo")
direct=("http://127.0.0.1:$b_port/function/echo")
proxy=("http://127.0.0.1:$front_port/")
backend=("http://127.0.0.1:$back_port/")

wrk -t1 -c"$connections" -d1s "${forward[@]}" >/dev/null
wrk -t1 -c"$connections" -d1s "${proxy[@]}" >/dev/null

printf "%-6s %-26s %10s %9s %9s\n" round target "req/s" "p50 ms" "p99 ms"
for f in fwd prx fwd1 dir1 prx1 bck1 fwd.cpu prx.cpu; do : > "$work/$f"; done
for r in $(seq 1 "$rounds"); do
  x=$(measure_cpu "$work/fwd" "$a_pid" "$b_pid" -- "${forward[@]}")
  printf "%-6s %-26s %10s %9s %9s\n" "$r" "p2pfaasd A->B echo" $x
  x=$(measure_cpu "$work/prx" "$front_worker" "$back_worker" -- "${proxy[@]}")
  printf "%-6s %-26s %10s %9s %9s\n" "$r" "nginx proxy->nginx" $x
done
echo
echo "one connection: latency added by one hop"
for r in $(seq 1 "$rounds"); do
  for f in fwd1:forward dir1:direct prx1:proxy bck1:backend; do
    declare -n target="${f#*:}"
    measure 1 "${target[@]}" | cut -d' ' -f1-3 >> "$work/${f%%:*}"
  done
done
col() { cut -d' ' -f"$2" "$work/$1" | median; }
echo
echo "medians over $rounds rounds of ${seconds}s, $connections connections, 1 wrk thread, $(nproc) cores"
printf "p2pfaasd A->B forwarded echo: %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n" "$(col fwd 1)" "$(col fwd 2)" "$(col fwd 3)"
printf "nginx proxy_pass -> nginx:    %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n" "$(col prx 1)" "$(col prx 2)" "$(col prx 3)"
awk -v f="$(col fwd 1)" -v n="$(col prx 1)" 'BEGIN { printf "throughput ratio forwarded/nginx proxy: %.2f\n", f / n }'
awk -v f="$(col fwd1 2)" -v d="$(col dir1 2)" -v p="$(col prx1 2)" -v b="$(col bck1 2)" 'BEGIN {
  printf "added latency per hop (p50, 1 connection): p2pfaasd %.3f ms (%.3f forwarded vs %.3f direct), nginx %.3f ms (%.3f vs %.3f)\n", f - d, f, d, p - b, p, b }'
cpu_per_request() {  # FILE.cpu -> "first_us second_us" of CPU per request over all rounds
  awk -v us="$tick_us" '{ n += $1; a += $2; b += $3 } END { printf "%.1f %.1f", a * us / n, b * us / n }' "$1"
}
read -r fa fb <<< "$(cpu_per_request "$work/fwd.cpu")"
read -r pa pb <<< "$(cpu_per_request "$work/prx.cpu")"
awk -v fa="$fa" -v fb="$fb" -v pa="$pa" -v pb="$pb" 'BEGIN {
  printf "CPU per request (user+system, all rounds): p2pfaasd A %.1f us + B %.1f us = %.1f us; nginx front %.1f us + back %.1f us = %.1f us\n", fa, fb, fa + fb, pa, pb, pa + pb }'
