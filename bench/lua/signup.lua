-- POST /api/v1/events/{EVENT_ID}/signups with a new 11-digit mobile number
-- for every request: PHONE_PREFIX (3 digits, one per run so runs never
-- collide) .. thread number (1 digit) .. a 7-digit counter.
-- With TICKETS_OUT=DIR each thread appends the ticket code of every 201 to
-- DIR/tickets.<thread>; with QUOTA=N a thread stops after N such answers
-- (run.sh then stops wrk).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local prefix = os.getenv("PHONE_PREFIX") or "139"
local path = "/api/v1/events/" .. (os.getenv("EVENT_ID") or "1") .. "/signups"
local out_dir = os.getenv("TICKETS_OUT")
local quota = tonumber(os.getenv("QUOTA") or "0")
local hdrs = { ["Content-Type"] = "application/json" }
local out
sent, created, existed = 0, 0, 0

function init(args)
   assert(#prefix == 3 and tid < 10, "PHONE_PREFIX must be 3 digits and threads at most 10")
   if out_dir then out = assert(io.open(out_dir .. "/tickets." .. tid, "w")) end
end

function request()
   sent = sent + 1
   local phone = string.format("%s%d%07d", prefix, tid, sent)
   return wrk.format("POST", path, hdrs,
      '{"name":"测试","phone":"' .. phone .. '","consent":true}')
end

function response(status, headers, body)
   count_status(status)
   if status == 201 then
      created = created + 1
      if out then
         local code = body:match('"code":"([^"]+)"')
         if code then
            out:write(code, "\n")
            out:flush()
         end
      end
      if quota > 0 and created >= quota then wrk.thread:stop() end
   elseif status == 200 then
      existed = existed + 1
   end
end

function done(summary, latency, requests)
   report(summary, latency, string.format("created=%d existed=%d",
      sum_threads("created"), sum_threads("existed")))
end
