#!/usr/bin/env python3
"""WeChat Official Account messages for bench/wechat.sh, signed (and sealed in
safe mode) the way WeChat's servers do it, with WX_TOKEN, WX_APPID and
WX_AES_KEY from the environment.

  wechat_msgs.py query                      the plain-mode query string for now
  wechat_msgs.py say URL OPENID MSGID TEXT  POSTs one plain text message to URL
                                            (.../wechat) and prints the reply's text
  wechat_msgs.py bodies FILE N OPENID PREFIX
        writes N safe-mode deliveries of 积分, one a line: the query string
        (timestamp now, its own nonce and msg_signature), a tab, the body.
        MsgIds are PREFIX followed by a 9-digit counter.
"""
import base64
import hashlib
import os
import re
import sys
import time
import urllib.request

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOKEN = os.environ["WX_TOKEN"]
APPID = os.environ["WX_APPID"]
KEY = base64.b64decode(os.environ["WX_AES_KEY"] + "=")
ACCOUNT = "gh_0123456789ab"


def sha1(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def query(ts, nonce):
    return f"signature={sha1(TOKEN, ts, nonce)}&timestamp={ts}&nonce={nonce}"


def text_xml(openid, msg_id, text, created):
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def seal(xml, rnd):
    msg = xml.encode()
    plain = rnd + len(msg).to_bytes(4, "big") + msg + APPID.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def say(url, openid, msg_id, text):
    ts = str(int(time.time()))
    body = text_xml(openid, msg_id, text, ts).encode()
    req = urllib.request.Request(f"{url}?{query(ts, '20240601')}", data=body,
                                 headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read().decode()
    m = re.search(r"<Content><!\[CDATA\[(.*)\]\]></Content>", raw, re.S)
    if not m:
        sys.exit(f"wechat_msgs.py: no text in the reply: {raw[:200]}")
    print(m.group(1).replace("]]]]><![CDATA[>", "]]>"))


def bodies(path, n, openid, prefix):
    ts = str(int(time.time()))
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            nonce = str(100000 + i)
            enc = seal(text_xml(openid, f"{prefix}{i:09d}", "积分", ts), os.urandom(16))
            q = (f"{query(ts, nonce)}&encrypt_type=aes"
                 f"&msg_signature={sha1(TOKEN, ts, nonce, enc)}")
            f.write(f"{q}\t<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{enc}]]></Encrypt></xml>\n")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "query" and len(sys.argv) == 2:
        print(query(str(int(time.time())), "20240601"))
    elif cmd == "say" and len(sys.argv) == 6:
        say(*sys.argv[2:6])
    elif cmd == "bodies" and len(sys.argv) == 6:
        bodies(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
