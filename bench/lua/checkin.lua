-- POST /api/v1/checkins {"ticket": code} with Authorization: Bearer $TOKEN,
-- each request with the next ticket of the file $TICKETS (one code a line;
-- thread t takes lines t, t+N, t+2N, ... for N = the first script argument,
-- the number of wrk threads). When a thread has used all its tickets it
-- starts over (those come back already_checked_in; run.sh reports it).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local hdrs = {
   ["Content-Type"] = "application/json",
   ["Authorization"] = "Bearer " .. assert(os.getenv("TOKEN"), "TOKEN not set"),
}
local codes = {}
nextc, wrapped, checked_in, already = 0, 0, 0, 0

function init(args)
   local n = tonumber(args[1] or "1")
   local i = 0
   local file = assert(os.getenv("TICKETS"), "TICKETS not set")
   for line in io.lines(file) do
      if i % n == tid and #line > 0 then codes[#codes + 1] = line end
      i = i + 1
   end
   assert(#codes > 0, "no tickets for thread " .. tid)
end

function request()
   nextc = nextc + 1
   if nextc > #codes then
      nextc, wrapped = 1, wrapped + 1
   end
   return wrk.format("POST", "/api/v1/checkins", hdrs, '{"ticket":"' .. codes[nextc] .. '"}')
end

function response(status, headers, body)
   count_status(status)
   if status == 200 then
      if body:find('"already_checked_in"', 1, true) then
         already = already + 1
      elseif body:find('"checked_in"', 1, true) then
         checked_in = checked_in + 1
      end
   end
end

function done(summary, latency, requests)
   report(summary, latency, string.format("checked_in=%d already=%d wrapped=%d",
      sum_threads("checked_in"), sum_threads("already"), sum_threads("wrapped")))
end
