-- POST /wechat: 积分 from one bound openid, a new MsgId per request.
--   WX_MODE=plain: the signed query WX_QUERY, the body built per request with
--     MsgId WX_PREFIX .. thread (1 digit) .. an 8-digit counter.
--   WX_MODE=safe: each request the next line of WX_BODIES ("query<TAB>body",
--     sealed and signed beforehand by wechat_msgs.py); thread t of WX_THREADS
--     takes lines t, t + WX_THREADS, ...; past the last it starts over and
--     counts reused (repeats are duplicate deliveries for kioskd).
-- An answer counts as replied when it is 200 with a text reply (plain) or a
-- sealed one (safe).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local mode = os.getenv("WX_MODE") or "plain"
local openid = os.getenv("WX_OPENID") or "oBench_openid_0001"
local prefix = os.getenv("WX_PREFIX") or "9"
local hdrs = { ["Content-Type"] = "text/xml" }
local marker = mode == "safe" and "<Encrypt>" or "<Content>"
local queries, bodies = {}, {}
local plain_path
local next_line = 1
sent, replied, reused = 0, 0, 0

function init(args)
   assert(tid < 10, "at most 10 threads")
   if mode == "safe" then
      local nthreads = tonumber(os.getenv("WX_THREADS") or "1")
      local i = 0
      for line in io.lines((assert(os.getenv("WX_BODIES"), "WX_BODIES not set"))) do
         if i % nthreads == tid then
            local q, b = line:match("^([^\t]+)\t(.+)$")
            queries[#queries + 1] = "/wechat?" .. q
            bodies[#bodies + 1] = b
         end
         i = i + 1
      end
      assert(#bodies > 0, "no bodies for this thread")
   else
      plain_path = "/wechat?" .. assert(os.getenv("WX_QUERY"), "WX_QUERY not set")
   end
end

function request()
   sent = sent + 1
   if mode == "safe" then
      if next_line > #bodies then
         next_line = 1
      end
      if sent > #bodies then
         reused = reused + 1
      end
      local i = next_line
      next_line = next_line + 1
      return wrk.format("POST", queries[i], hdrs, bodies[i])
   end
   local body = string.format(
      "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>" ..
      "<FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime>" ..
      "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[积分]]></Content>" ..
      "<MsgId>%s%d%08d</MsgId></xml>", openid, os.time(), prefix, tid, sent)
   return wrk.format("POST", plain_path, hdrs, body)
end

function response(status, headers, body)
   count_status(status)
   if status == 200 and body:find(marker, 1, true) then
      replied = replied + 1
   end
end

function done(summary, latency, requests)
   report(summary, latency, string.format("replied=%d reused=%d",
      sum_threads("replied"), sum_threads("reused")))
end
