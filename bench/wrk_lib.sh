# Sourced by the bench scripts that drive wrk: one reading of its output and one median.

# wrk_summary CONNECTIONS SECONDS WRK-ARGS... -> "rps p50_ms p99_ms requests" (one wrk thread)
wrk_summary() {
  local conns=$1 secs=$2; shift 2
  wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    / requests in / { requests = $1 }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, requests }'
}

# The median of the numbers on standard input, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
