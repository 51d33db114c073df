-- wrk script: counts answers by HTTP status and prints them as one JSON line at the end, so a
-- bench can compute goodput (200s per second) and check that no other status came back.
counts = {}  -- global: thread:get() reads globals
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    -- Each thread keeps its own `counts`; fetch them by name.
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  io.write(string.format(
    'STATUS_JSON {"duration_s":%.3f,"requests":%d,"timeouts":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f,"status":{%s}}\n',
    summary.duration / 1e6, summary.requests, summary.errors.timeout, summary.errors.connect,
    summary.errors.read, summary.errors.write, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, table.concat(parts, ",")))
end
