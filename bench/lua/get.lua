-- GET load (GET /healthz against kioskd or nginx). Optional pacing: with
-- PACE_MS set, each connection waits that long between requests, so the
-- load is a steady trickle instead of as fast as possible.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local pace = tonumber(os.getenv("PACE_MS") or "")
if pace and pace > 0 then
   function delay() return pace end
end

function done(summary, latency, requests)
   report(summary, latency)
end
