#!/usr/bin/env bash
# Throughput and latency of p2pfaasd's /function/echo against nginx answering `return 200` with one
# worker, on this machine, in alternating rounds so both see the same noise. Also prints the
# daemon's start-to-ready time and idle RSS.
#
# Usage: bench/http_vs_nginx.sh [ROUNDS] [SECONDS] [CONNECTIONS]
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
nginx_pid=""; daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    ss -ltn "( sport = :$port )" | grep -q ":$port" || { echo $port; return; }
  done
}
now_ms() { date +%s%3N; }

daemon_port=$(free_port)
nginx_port=$(free_port)
while [ "$nginx_port" = "$daemon_port" ]; do nginx_port=$(free_port); done

cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 "ok"; }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!

start=$(now_ms)
"$daemon" --listen "127.0.0.1:$daemon_port" --node-id bench --data-dir "$work/data" --log-level warn &
daemon_pid=$!
until curl -fs "http://127.0.0.1:$daemon_port/health" >/dev/null; do
  kill -0 $daemon_pid 2>/dev/null || { echo "p2pfaasd exited" >&2; exit 1; }
  sleep 0.002
done
ready_ms=$(( $(now_ms) - start ))
until curl -fs "http://127.0.0.1:$nginx_port/" >/dev/null; do sleep 0.01; done
sleep 0.5
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$daemon_pid/status)

. "$root/bench/wrk_lib.sh"
measure() { wrk_summary "$connections" "$seconds" "$1" | cut -d' ' -f1-3; }  # url -> "rps p50 p99"

# Warm both up before measuring.
wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$daemon_port/function/echo" >/dev/null
wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$nginx_port/" >/dev/null

printf "%-6s %-10s %10s %9s %9s\n" round target "req/s" "p50 ms" "p99 ms"
: > "$work/echo"; : > "$work/nginx"
for r in $(seq 1 "$rounds"); do
  e=$(measure "http://127.0.0.1:$daemon_port/function/echo"); echo "$e" >> "$work/echo"
  printf "%-6s %-10s %10s %9s %9s\n" "$r" p2pfaasd $e
  n=$(measure "http://127.0.0.1:$nginx_port/"); echo "$n" >> "$work/nginx"
  printf "%-6s %-10s %10s %9s %9s\n" "$r" nginx $n
done

echo_rps=$(cut -d' ' -f1 "$work/echo" | median); nginx_rps=$(cut -d' ' -f1 "$work/nginx" | median)
echo_p50=$(cut -d' ' -f2 "$work/echo" | median); nginx_p50=$(cut -d' ' -f2 "$work/nginx" | median)
echo_p99=$(cut -d' ' -f3 "$work/echo" | median); nginx_p99=$(cut -d' ' -f3 "$work/nginx" | median)
echo
echo "medians over $rounds rounds of ${seconds}s, $connections connections, 1 wrk thread, $(nproc) cores"
printf "p2pfaasd /function/echo: %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n" "$echo_rps" "$echo_p50" "$echo_p99"
printf "nginx return 200:        %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n" "$nginx_rps" "$nginx_p50" "$nginx_p99"
awk -v e="$echo_rps" -v n="$nginx_rps" 'BEGIN { printf "throughput ratio echo/nginx: %.2f\n", e / n }'
echo "start to ready: ${ready_ms} ms"
echo "idle RSS: $((idle_rss_kb / 1024)).$(( (idle_rss_kb % 1024) * 10 / 1024 )) MB (${idle_rss_kb} kB)"
