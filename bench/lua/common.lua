-- Shared by the bench scripts (loaded with dofile from each): numbers the
-- threads, counts answers by status, and prints one machine-readable line
--   RESULT requests=N seconds=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
--          connect=N read=N write=N timeout=N non2xx=N statuses=201:N,503:N [extra]
-- that run.sh parses. Latencies are wrk's (from sending a request to its
-- answer, per connection, closed loop).

threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

statuses = {}

function count_status(status)
   statuses[status] = (statuses[status] or 0) + 1
end

-- Sums a numeric global, or a table of counters, over every thread.
function sum_threads(name)
   local total, agg = 0, {}
   for _, t in ipairs(threads) do
      local v = t:get(name)
      if type(v) == "number" then
         total = total + v
      elseif type(v) == "table" then
         for k, n in pairs(v) do agg[k] = (agg[k] or 0) + n end
      end
   end
   return total, agg
end

function report(summary, latency, extra)
   local _, agg = sum_threads("statuses")
   local keys, non2xx, parts = {}, 0, {}
   for k in pairs(agg) do keys[#keys + 1] = k end
   table.sort(keys)
   for _, k in ipairs(keys) do
      parts[#parts + 1] = k .. ":" .. agg[k]
      if k < 200 or k > 299 then non2xx = non2xx + agg[k] end
   end
   if #keys == 0 then
      -- no response() in this script: wrk only counts statuses > 399
      non2xx = summary.errors.status
      parts[1] = "2xx:" .. (summary.requests - summary.errors.status)
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
      "connect=%d read=%d write=%d timeout=%d non2xx=%d statuses=%s%s\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
      latency:percentile(99) / 1e3, latency.max / 1e3,
      e.connect, e.read, e.write, e.timeout, non2xx, table.concat(parts, ","),
      extra and (" " .. extra) or ""))
end
