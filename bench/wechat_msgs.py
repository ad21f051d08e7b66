#!/usr/bin/env python3
"""WeChat Official Account messages for bench/wechat.sh, signed the way
WeChat's servers do it, with WX_TOKEN from the environment (safe-mode
deliveries are sealed per request by lua/wechat.lua).

  wechat_msgs.py query                      the plain-mode query string for now
  wechat_msgs.py say URL OPENID MSGID TEXT  POSTs one plain text message to URL
                                            (.../wechat) and prints the reply's text
"""
import hashlib
import os
import re
import sys
import time
import urllib.request

TOKEN = os.environ["WX_TOKEN"]
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


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "query" and len(sys.argv) == 2:
        print(query(str(int(time.time())), "20240601"))
    elif cmd == "say" and len(sys.argv) == 6:
        say(*sys.argv[2:6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
