-- wrk script for the benchmarks: rotates over the paths listed in the file named by $WRK_PATHS
-- (one per line) when it is set, and prints one JSON line of results at the end. With
-- $WRK_DELAY_MS, each connection waits that long before each request: a steady rate (the soak).
local paths = {}
local list = os.getenv("WRK_PATHS")
if list and list ~= "" then
  for line in io.lines(list) do paths[#paths + 1] = line end
end

if #paths > 0 then
  counter = 0  -- a global: setup() gives each thread its own start
  local offset = 0

  function setup(thread)
    offset = offset + 1
    thread:set("counter", offset * 7919)  -- threads start at different places in the list
  end

  function request()
    counter = counter + 1
    return wrk.format(nil, paths[(counter % #paths) + 1])
  end
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
