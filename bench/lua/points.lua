-- Staff points lookups: GET /api/v1/members/B{n}/points with Authorization:
-- Bearer $TOKEN, n drawn at random below $MEMBERS (each an audited read: the
-- answer waits for its audit line's group commit).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local hdrs = {["Authorization"] = "Bearer " .. assert(os.getenv("TOKEN"), "TOKEN not set")}
local members = tonumber(os.getenv("MEMBERS") or "100000")

function init(args)
   math.randomseed(os.time() + tid)
end

function request()
   return wrk.format("GET", string.format("/api/v1/members/B%06d/points", math.random(0, members - 1)),
                     hdrs)
end

function response(status, headers, body)
   count_status(status)
end

function done(summary, latency, requests)
   report(summary, latency)
end
