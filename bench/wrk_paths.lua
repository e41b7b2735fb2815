-- wrk script: requests cycle through a file of paths (one per line); an optional bearer
-- token; the summary is printed as one JSON line prefixed with "WRKJSON ".
-- usage: wrk ... -s bench/wrk_paths.lua URL -- PATHS_FILE [TOKEN]

local paths = {}
local counter = 0
local thread_count = 0

setup = function(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

init = function(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if args[2] and #args[2] > 0 then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
  -- threads start at different places in the list so they do not ask the same thing at once
  counter = (id or 0) * 7919
end

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "p50": %d, "p90": %d, ' ..
    '"p95": %d, "p99": %d, "p999": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9)))
end
