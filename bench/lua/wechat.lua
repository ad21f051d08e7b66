-- POST /wechat: 积分 from one bound openid, a new MsgId per request.
--   WX_MODE=plain: the signed query WX_QUERY, the body built per request with
--     MsgId WX_PREFIX .. thread (1 digit) .. an 8-digit counter.
--   WX_MODE=safe: the same message sealed per request as WeChat's servers do
--     it (16 random bytes, length, XML, appid; AES-256-CBC with the key of
--     WX_AES_KEY, IV its first 16 bytes; base64), with timestamp now, a new
--     nonce and its msg_signature: the crypto is OpenSSL's libcrypto (which
--     wrk links) through LuaJIT's FFI. WX_TOKEN, WX_APPID, WX_AES_KEY.
-- Every request of a run has its own MsgId (none is a duplicate delivery).
-- An answer counts as replied when it is 200 with a text reply (plain) or a
-- sealed one (safe).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local mode = os.getenv("WX_MODE") or "plain"
local openid = os.getenv("WX_OPENID") or "oBench_openid_0001"
local prefix = os.getenv("WX_PREFIX") or "9"
local hdrs = { ["Content-Type"] = "text/xml" }
local marker = mode == "safe" and "<Encrypt>" or "<Content>"
local plain_path
sent, replied, reused = 0, 0, 0

local ffi, C, token, appid, key, ctx, sealed, md, outl, b64
local hex = {}
for i = 0, 255 do
   hex[i] = string.format("%02x", i)
end
if mode == "safe" then
   ffi = require("ffi")
   ffi.cdef [[
      typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
      typedef struct evp_cipher_st EVP_CIPHER;
      EVP_CIPHER_CTX *EVP_CIPHER_CTX_new(void);
      const EVP_CIPHER *EVP_aes_256_cbc(void);
      int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, void *e,
                             const unsigned char *key, const unsigned char *iv);
      int EVP_CIPHER_CTX_set_padding(EVP_CIPHER_CTX *c, int pad);
      int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl,
                            const unsigned char *in, int inl);
      int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
      int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n);
      unsigned char *SHA1(const unsigned char *d, size_t n, unsigned char *md);
   ]]
   C = ffi.load("libcrypto.so.3")
   token = assert(os.getenv("WX_TOKEN"), "WX_TOKEN not set")
   appid = assert(os.getenv("WX_APPID"), "WX_APPID not set")
   local k64 = assert(os.getenv("WX_AES_KEY"), "WX_AES_KEY not set") .. "="
   key = ffi.new("unsigned char[48]")
   assert(C.EVP_DecodeBlock(key, k64, #k64) >= 32, "WX_AES_KEY is not base64")
   ctx = assert(C.EVP_CIPHER_CTX_new())
   sealed = ffi.new("unsigned char[4096]")
   md = ffi.new("unsigned char[20]")
   outl = ffi.new("int[1]")
   b64 = ffi.new("unsigned char[8192]")
end

local function sha1_hex(...)
   local parts = { ... }
   table.sort(parts)
   local s = table.concat(parts)
   C.SHA1(s, #s, md)
   local out = {}
   for i = 0, 19 do
      out[i + 1] = hex[md[i]]
   end
   return table.concat(out)
end

-- The safe-mode delivery of xml: its query and its body.
local function seal(xml, ts, nonce)
   local r = math.random
   local rnd = string.char(r(0, 255), r(0, 255), r(0, 255), r(0, 255), r(0, 255), r(0, 255),
      r(0, 255), r(0, 255), r(0, 255), r(0, 255), r(0, 255), r(0, 255), r(0, 255), r(0, 255),
      r(0, 255), r(0, 255))
   local n = #xml
   local plain = rnd ..
       string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
          math.floor(n / 256) % 256, n % 256) .. xml .. appid
   local pad = 32 - #plain % 32
   plain = plain .. string.rep(string.char(pad), pad)
   assert(#plain <= 2048, "message too long")
   assert(C.EVP_EncryptInit_ex(ctx, C.EVP_aes_256_cbc(), nil, key, key) == 1)
   C.EVP_CIPHER_CTX_set_padding(ctx, 0)
   assert(C.EVP_EncryptUpdate(ctx, sealed, outl, plain, #plain) == 1 and outl[0] == #plain)
   local enc = ffi.string(b64, C.EVP_EncodeBlock(b64, sealed, #plain))
   local query = string.format(
      "/wechat?signature=%s&timestamp=%s&nonce=%s&encrypt_type=aes&msg_signature=%s",
      sha1_hex(token, ts, nonce), ts, nonce, sha1_hex(token, ts, nonce, enc))
   return query, "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>" ..
       "<Encrypt><![CDATA[" .. enc .. "]]></Encrypt></xml>"
end

function init(args)
   assert(tid < 10, "at most 10 threads")
   math.randomseed(os.time() + tid)
   if mode ~= "safe" then
      plain_path = "/wechat?" .. assert(os.getenv("WX_QUERY"), "WX_QUERY not set")
   end
end

function request()
   sent = sent + 1
   local ts = os.time()
   local body = string.format(
      "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>" ..
      "<FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime>" ..
      "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[积分]]></Content>" ..
      "<MsgId>%s%d%08d</MsgId></xml>", openid, ts, prefix, tid, sent)
   if mode == "safe" then
      local path, outer = seal(body, tostring(ts), tostring(tid * 100000000 + sent))
      return wrk.format("POST", path, hdrs, outer)
   end
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
