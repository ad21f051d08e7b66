"""The WeChat callback over HTTP: URL verification, plain and safe-mode messages
and their replies, refusals (signature, a stale timestamp, another appid, a
broken ciphertext, hostile XML), duplicate deliveries, and the commands of a
bound member through WeChat."""
import base64
import hashlib
import os
import re
import time
import urllib.parse

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness import Site, auth

TOKEN = "kioskdToken"
APPID = "wx49f0ab532d5d035a"
AES = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
KEY = base64.b64decode(AES + "=")
HEADER = "member_no,name,phone,aum,birthday,household,last_txn\n"
MEMBERS = HEADER + "M001,张三丰,13812340001,52000.50,1960-03-01,,\n"


def site():
    s = Site(config=f"[wechat]\ntoken = {TOKEN}\nappid = {APPID}\nencoding_aes_key = {AES}\n")
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    return s


def sha1(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def query(ts=None, nonce="461056294", **extra):
    ts = str(int(time.time()) if ts is None else ts)
    q = {"signature": sha1(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    q.update(extra)
    return q, ts, nonce


def encrypt(xml, appid=APPID, rnd=b"1234567890123456"):
    msg = xml.encode()
    plain = rnd + len(msg).to_bytes(4, "big") + msg + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def decrypt(b64):
    dec = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).decryptor()
    plain = dec.update(base64.b64decode(b64)) + dec.finalize()
    plain = plain[:-plain[-1]]
    n = int.from_bytes(plain[16:20], "big")
    assert plain[20 + n:].decode() == APPID
    return plain[20:20 + n].decode()


def text_xml(content, sender="oVtest_openid_0001", msg_id="1234567890123456", created=None):
    created = int(time.time()) if created is None else created
    return (f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def post(s, body, q):
    return s.d.request("POST", "/wechat?" + urllib.parse.urlencode(q), body=body.encode(),
                       headers={"Content-Type": "text/xml"})


def reply_content(raw):
    m = re.search(r"<Content><!\[CDATA\[(.*)\]\]></Content>", raw, re.S)
    assert m, raw
    return m.group(1).replace("]]]]><![CDATA[>", "]]>")


def say_plain(s, text, **kw):
    q, _, _ = query()
    r = post(s, text_xml(text, **kw), q)
    assert r.status == 200, r
    raw = r.raw.decode()
    assert "<ToUserName><![CDATA[oVtest_openid_0001]]>" in raw or "sender" in kw, raw
    return reply_content(raw)


def test_url_verification_echoes_only_a_good_signature():
    s = site()
    q, _, _ = query(echostr="5837397520665046")
    r = s.d.get("/wechat?" + urllib.parse.urlencode(q))
    assert r.status == 200 and r.raw == b"5837397520665046", r
    bad = dict(q, signature="0" * 40)
    assert s.d.get("/wechat?" + urllib.parse.urlencode(bad)).status == 401
    old, _, _ = query(ts=int(time.time()) - 301, echostr="1")
    assert s.d.get("/wechat?" + urllib.parse.urlencode(old)).status == 401
    assert s.d.get("/wechat").status == 401
    off = Site()
    assert off.d.get("/wechat?" + urllib.parse.urlencode(q)).status == 503


def test_plain_messages_get_passive_replies_and_duplicates_the_same_answer():
    s = site()
    q, _, _ = query()
    r = post(s, text_xml("积分"), q)
    assert r.status == 200, r
    raw = r.raw.decode()
    assert "<ToUserName><![CDATA[oVtest_openid_0001]]></ToUserName>" in raw
    assert "<FromUserName><![CDATA[gh_0123456789ab]]></FromUserName>" in raw
    assert re.search(r"<CreateTime>\d{10}</CreateTime>", raw) and "<MsgType><![CDATA[text]]>" in raw
    assert "绑定" in reply_content(raw)  # unbound: told how to bind, nobody's data
    # bind through WeChat, then the same delivery again: same reply, no second effect
    code = s.d.post("/api/v1/members/M001/bind_code", {}, headers=auth(s.staff)).json["code"]
    first = say_plain(s, f"绑定 13812340001 {code}", msg_id="77")
    assert first.startswith("绑定成功"), first
    assert say_plain(s, f"绑定 13812340001 {code}", msg_id="77") == first
    points = say_plain(s, "查积分", msg_id="78")
    assert points.startswith("张*，您好") and "13812340001" not in points
    # a subscribe event greets; an unsubscribe is answered with success only
    event = ("<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName>"
             "<![CDATA[oVnew]]></FromUserName><CreateTime>{t}</CreateTime><MsgType><![CDATA[event]]>"
             "</MsgType><Event><![CDATA[{e}]]></Event></xml>")
    r = post(s, event.format(t=int(time.time()), e="subscribe"), query()[0])
    assert r.status == 200 and "欢迎关注" in reply_content(r.raw.decode()), r
    r = post(s, event.format(t=int(time.time()), e="unsubscribe"), query()[0])
    assert r.status == 200 and r.raw == b"success", r
    err = s.d.all_stderr()
    assert "oVtest_openid_0001" not in err and "13812340001" not in err


def test_safe_mode_round_trip():
    s = site()
    enc = encrypt(text_xml("帮助", msg_id="900"))
    q, ts, nonce = query(encrypt_type="aes")
    q["msg_signature"] = sha1(TOKEN, ts, nonce, enc)
    body = f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    r = post(s, body, q)
    assert r.status == 200, r
    raw = r.raw.decode()
    env = {k: re.search(rf"<{k}>(?:<!\[CDATA\[)?([^<\]]*)", raw).group(1)
           for k in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}
    assert env["MsgSignature"] == sha1(TOKEN, env["TimeStamp"], env["Nonce"], env["Encrypt"])
    inner = decrypt(env["Encrypt"])
    assert "<ToUserName><![CDATA[oVtest_openid_0001]]>" in inner
    assert "积分 — 查询积分" in reply_content(inner)
    # refusals: a wrong msg_signature, another appid, a broken ciphertext
    r = post(s, body, dict(q, msg_signature="0" * 40))
    assert r.status == 401, r
    other = encrypt(text_xml("帮助"), appid="wx0000000000000000")
    q2 = dict(q, msg_signature=sha1(TOKEN, ts, nonce, other))
    r = post(s, body.replace(enc, other), q2)
    assert r.status == 401, r
    cut = enc[:-8]
    q3 = dict(q, msg_signature=sha1(TOKEN, ts, nonce, cut))
    assert post(s, body.replace(enc, cut), q3).status == 400


def test_hostile_bodies_are_refused_and_the_daemon_lives():
    s = site()
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              '<xml><Content>&lol2;</Content></xml>')
    xxe = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           '<xml><Content>&e;</Content></xml>')
    deep = "<xml>" + "<a>" * 50 + "</a>" * 50 + "</xml>"
    for body, want in ((laughs, 400), (xxe, 400), (deep, 413), ("<xml><Content>\xff</Content>", 400),
                       ("not xml", 400), ("<xml></xml>", 400)):
        r = post(s, body, query()[0])
        assert r.status == want, (body[:40], r)
    # a 1 MiB body is refused from its Content-Length, before it is sent
    raw = s.d.raw(("POST /wechat?" + urllib.parse.urlencode(query()[0]) + " HTTP/1.1\r\n"
                   "Host: x\r\nContent-Type: text/xml\r\nContent-Length: 1048576\r\n\r\n"
                   ).encode())
    assert raw.startswith(b"HTTP/1.1 413"), raw
    r = post(s, text_xml("积分"), query(ts=int(time.time()) - 400)[0])
    assert r.status == 401, r
    assert s.d.get("/healthz").status == 200
