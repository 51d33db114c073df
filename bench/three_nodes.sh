# Sourced by the scheduling benches: starts three p2pfaasd nodes on loopback that join node-1,
# each with "$@" as extra flags, and waits until node-1 sees all three alive. Sets $work (a temp
# dir, removed on exit with the nodes stopped), $ports and $first (node-1's URL).
# Needs: $root (the repo), build/bin/p2pfaasd (release build), curl, python3.
daemon="$root/build/bin/p2pfaasd"
[ -x "$daemon" ] || { echo "missing $daemon: build first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
for tool in curl python3; do command -v $tool >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }; done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Sets $port to a free TCP/UDP port not handed out before (no subshell: $used must persist).
used=" "
next_free_port() {
  while :; do
    port=$((20000 + RANDOM % 20000))
    case "$used" in *" $port "*) continue ;; esac
    ss -ltnu "( sport = :$port )" | grep -q ":$port" && continue
    used="$used$port "
    return
  done
}

head -c 32 /dev/urandom | base64 > "$work/cluster.key"
chmod 600 "$work/cluster.key"
ports=()
for i in 1 2 3; do
  next_free_port
  ports+=("$port")
  join=()
  [ "$i" -gt 1 ] && join=(--join "127.0.0.1:${ports[0]}")
  "$daemon" --listen "127.0.0.1:$port" --node-id "node-$i" --data-dir "$work/node-$i" \
    --cluster-key-file "$work/cluster.key" --log-level warn "${join[@]}" "$@" \
    2> "$work/node-$i.log" &
  pids+=($!)
done
first="http://127.0.0.1:${ports[0]}"
alive() {
  curl -fs "$first/nodes" 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin)["nodes"] if n["state"] == "alive"))' 2>/dev/null || echo 0
}
for _ in $(seq 1 500); do [ "$(alive)" = 3 ] && break; sleep 0.02; done
[ "$(alive)" = 3 ] || { echo "the cluster did not form:"; cat "$work"/node-*.log; exit 1; }

# Sets the scheduler on every node at once: set_everywhere LABEL JSON.
set_everywhere() {
  local answer
  answer=$(curl -fs -XPOST "$first/configuration/scheduler?scope=cluster" -d "$2") ||
    { echo "could not set $1 on every node: $answer"; exit 1; }
}
