"""WeChat template messages through a loopback server playing WeChat's API at [wechat] api_url:
the binding keeps the openid sealed, the stable token is fetched once and reused, errcode 42001
forces one refresh (at most one in 30 s), and an unbound member's messages go by SMS again."""
import json
import os
import threading
import time
import urllib.parse

from harness import Loopback, Site, auth
from test_messages import Gateway, quiet_now, rows, sms_config, statuses, wait_for
from test_wechat import TOKEN, post, query, reply_content, text_xml

APPID = "wx49f0ab532d5d035a"
APP_SECRET = "wx-app-secret-0123456789"
OPENID = "oVtest_openid_0001"
PHONE = "13811116666"
MEMBERS = ("member_no,name,phone,aum,birthday,household,last_txn\n"
           f"M001,张三丰,{PHONE},52000.50,1960-03-01,,\n")


class WeChatAPI:
    """WeChat's stable token and template message APIs on loopback. The i-th template message
    gets codes[i] as its errcode (the last repeats); each token call hands out a new token."""

    def __init__(self, codes=(0,)):
        self.codes = list(codes)
        self.tokens = []  # bodies of /cgi-bin/stable_token
        self.sends = []   # (access_token, body, errcode)
        self.lock = threading.Lock()
        self.server = Loopback(self.handle)
        self.url = self.server.url

    def handle(self, method, path, headers, body):
        body = json.loads(body)
        url = urllib.parse.urlparse(path)
        with self.lock:
            if url.path == "/cgi-bin/stable_token":
                self.tokens.append(body)
                reply = {"access_token": f"ACCESS-TOKEN-{len(self.tokens)}", "expires_in": 7200}
            elif url.path == "/cgi-bin/message/template/send":
                token = urllib.parse.parse_qs(url.query)["access_token"][0]
                code = self.codes[min(len(self.sends), len(self.codes) - 1)]
                self.sends.append((token, body, code))
                reply = {"errcode": code, "errmsg": "ok" if code == 0 else "invalid"}
            else:
                reply = {"errcode": 404}
        return 200, reply

    def delivered(self):
        with self.lock:
            return [s for s in self.sends if s[2] == 0]

    def close(self):
        self.server.close()


def site(wx, gw, extra=""):
    s = Site(config=sms_config(gw, extra) + f"[wechat]\ntoken = {TOKEN}\nappid = {APPID}\n"
             f"secret = {APP_SECRET}\napi_url = {wx.url}\n")
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    return s


def say(s, text, msg_id):
    q, _, _ = query()
    r = post(s, text_xml(text, sender=OPENID, msg_id=msg_id), q)
    assert r.status == 200, r
    return reply_content(r.raw.decode())


def bind(s):
    code = s.d.post("/api/v1/members/M001/bind_code", {}, headers=auth(s.staff)).json["code"]
    assert say(s, f"绑定 {PHONE} {code}", "71").startswith("绑定成功")


def uids(s, kind="confirmation"):
    return [u for (u,) in rows(s.d, "SELECT uid FROM messages WHERE kind = ? ORDER BY id", kind)]


def test_a_bound_member_gets_template_messages_with_one_stable_token():
    wx, gw = WeChatAPI(), Gateway([200])
    s = site(wx, gw)
    bind(s)
    (sealed,) = rows(s.d, "SELECT openid_enc FROM bot_bindings")[0]
    assert sealed and OPENID.encode() not in sealed
    for i in range(3):
        ev = s.event(title=f"客户财富升级会{i}", starts=60 * 30 + i)
        assert s.signup(ev, PHONE, member_no="M001").status == 201
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")] * 3)
    assert [t for t in wx.tokens] == [{"grant_type": "client_credential", "appid": APPID,
                                       "secret": APP_SECRET, "force_refresh": False}]
    assert len(wx.sends) == 3 and all(t == "ACCESS-TOKEN-1" for t, _, _ in wx.sends)
    first = wx.sends[0][1]
    assert first["touser"] == OPENID and first["template_id"] == "kioskd-confirmation"
    assert sorted(b["client_msg_id"] for _, b, _ in wx.sends) == sorted(uids(s))
    assert first["data"]["keyword1"]["value"].startswith("客户财富升级会")
    assert first["data"]["keyword3"]["value"] == "二楼贵宾室"
    assert first["data"]["first"]["value"].startswith("张*")
    assert rows(s.d, "SELECT DISTINCT channel FROM messages") == [("wechat",)]
    assert gw.got == []  # no SMS for a member reached by WeChat
    (value,) = rows(s.d, "SELECT value FROM channel_state WHERE name = 'wechat_token'")[0]
    assert "ACCESS-TOKEN" not in value and bytes.fromhex(value)  # sealed at rest
    s.d.stop()
    # a restart reuses the stored token
    s.d.start()
    ev = s.event(title="客户财富升级会9", starts=60 * 40)
    s.signup(ev, PHONE, member_no="M001")
    wait_for(lambda: len(wx.sends) == 4)
    assert len(wx.tokens) == 1 and wx.sends[3][0] == "ACCESS-TOKEN-1"
    log = s.d.all_stderr()
    assert OPENID not in log and "ACCESS-TOKEN" not in log and APP_SECRET not in log
    s.d.stop()
    wx.close()
    gw.close()


def test_errcode_42001_forces_one_refresh_and_at_most_one_in_30_seconds():
    # 1st send refused, then delivered with the forced token; the 2nd message is refused within
    # 30 s of that refresh: it waits, is refused again after 30 s, forces then and is delivered
    wx, gw = WeChatAPI([42001, 0, 42001, 42001, 0]), Gateway([200])
    s = site(wx, gw)
    bind(s)
    s.signup(s.event(title="第一场", starts=60 * 30), PHONE, member_no="M001")
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")])
    assert [t["force_refresh"] for t in wx.tokens] == [False, True]
    assert [(t, c) for t, _, c in wx.sends] == [("ACCESS-TOKEN-1", 42001), ("ACCESS-TOKEN-2", 0)]
    assert wx.sends[0][1]["client_msg_id"] == wx.sends[1][1]["client_msg_id"] == uids(s)[0]
    assert rows(s.d, "SELECT attempts FROM messages") == [(1,)]
    s.signup(s.event(title="第二场", starts=60 * 31), PHONE, member_no="M001")
    wait_for(lambda: len(wx.sends) == 3)
    sql = "SELECT status, last_error FROM messages ORDER BY id"
    wait_for(lambda: rows(s.d, sql)[1] == ("queued", "errcode_42001"))
    time.sleep(3)
    assert len(wx.tokens) == 2 and len(wx.sends) == 3  # no second forced refresh, no retry yet
    # its retry waits for the end of the 30 s after the forced refresh
    (forced_at,) = rows(s.d, "SELECT expires_at FROM channel_state WHERE name = 'wechat_forced'")[0]
    (next_at,) = rows(s.d, "SELECT next_at FROM messages ORDER BY id")[1]
    assert next_at >= forced_at + 30, (next_at, forced_at)
    # 31 s later (the test clock, after a restart) it is refused again, forces then and goes
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = "31"
    s.d.start()
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")] * 2)
    assert [t["force_refresh"] for t in wx.tokens] == [False, True, True]
    assert [(t, c) for t, _, c in wx.sends[2:]] == [
        ("ACCESS-TOKEN-2", 42001), ("ACCESS-TOKEN-2", 42001), ("ACCESS-TOKEN-3", 0)]
    assert len(wx.delivered()) == 2
    (v,) = rows(s.d, "SELECT value FROM channel_state WHERE name = 'wechat_forced'")[0]
    assert v.endswith(" 2"), v
    s.d.stop()
    wx.close()
    gw.close()


def test_another_errcode_fails_the_message_with_it():
    wx, gw = WeChatAPI([43004]), Gateway([200])
    s = site(wx, gw)
    bind(s)
    s.signup(s.event(starts=60 * 30), PHONE, member_no="M001")
    wait_for(lambda: statuses(s.d) == [("confirmation", "failed")])
    assert rows(s.d, "SELECT last_error FROM messages") == [("errcode_43004",)]
    time.sleep(2)
    assert len(wx.sends) == 1 and gw.got == []
    s.d.stop()
    wx.close()
    gw.close()


def test_after_unbinding_the_members_messages_go_by_sms():
    wx, gw = WeChatAPI(), Gateway([200])
    # quiet hours now: the day-before reminder waits, queued for WeChat
    s = Site(config=sms_config(gw).replace("quiet_hours =\n", f"quiet_hours = {quiet_now()}\n")
             + f"[wechat]\ntoken = {TOKEN}\nappid = {APPID}\nsecret = {APP_SECRET}\n"
             f"api_url = {wx.url}\n")
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    bind(s)
    s.signup(s.event(starts=60 * 20), PHONE, member_no="M001")
    wait_for(lambda: statuses(s.d, "confirmation") == [("confirmation", "sent")])
    wait_for(lambda: statuses(s.d, "day_before") == [("day_before", "queued")])
    assert rows(s.d, "SELECT kind, channel FROM messages ORDER BY id") == [
        ("confirmation", "wechat"), ("day_before", "wechat")]
    assert say(s, "解绑", "72").startswith("已解除绑定")
    assert rows(s.d, "SELECT count(*) FROM bot_bindings") == [(0,)]
    s.signup(s.event(title="下一场", starts=60 * 30), PHONE, member_no="M001")
    wait_for(lambda: len(gw.got) == 1)
    assert gw.got[0][1]["phone"] == PHONE and "下一场" in gw.got[0][1]["text"]
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(2 * 3600)  # past the quiet hours: the reminder is due
    s.d.start()
    wait_for(lambda: statuses(s.d, "day_before") == [("day_before", "sent")])
    assert rows(s.d, "SELECT channel FROM messages WHERE kind = 'day_before'") == [("sms",)]
    assert len(gw.got) == 2 and len(wx.sends) == 1
    s.d.stop()
    wx.close()
    gw.close()
