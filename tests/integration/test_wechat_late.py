"""Always within 5 s: a WeChat command whose reply is not ready after [wechat] reply_within (a
slow store: fsync made slow) is answered `success` at once, and its reply follows as a
customer-service message through a loopback server playing WeChat's API, once, retried after a
5xx; a fast command is answered passively and sends nothing."""
import json
import threading
import time
import urllib.parse

from harness import Loopback, slow_fsync_env
from test_messages import Gateway, rows, wait_for
from test_wechat import post, query, reply_content, text_xml
from test_wechat_messages import OPENID, bind, site


class WeChatAPI:
    """The stable token and the customer-service message API; the i-th customer-service
    request gets statuses[i] as its HTTP status (the last repeats)."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.tokens = 0
        self.custom = []  # (access_token, body, status)
        self.lock = threading.Lock()
        self.server = Loopback(self.handle)
        self.url = self.server.url

    def handle(self, method, path, headers, body):
        body = json.loads(body)
        url = urllib.parse.urlparse(path)
        status = 200
        with self.lock:
            if url.path == "/cgi-bin/stable_token":
                self.tokens += 1
                reply = {"access_token": f"ACCESS-TOKEN-{self.tokens}", "expires_in": 7200}
            elif url.path == "/cgi-bin/message/custom/send":
                token = urllib.parse.parse_qs(url.query)["access_token"][0]
                status = self.statuses[min(len(self.custom), len(self.statuses) - 1)]
                self.custom.append((token, body, status))
                reply = {"errcode": 0, "errmsg": "ok"}
            else:  # template messages: the confirmations of the sign-ups
                reply = {"errcode": 0, "errmsg": "ok"}
        return status, reply

    def delivered(self):
        with self.lock:
            return [(t, b) for t, b, st in self.custom if st == 200]

    def close(self):
        self.server.close()


def slow_site(wx, gw, fsync_ms, reply_within=None):
    """A bound member's site with an event, whose fsync takes fsync_ms after a restart."""
    extra = f"[wechat]\nreply_within = {reply_within}\n" if reply_within else ""
    s = site(wx, gw, extra)
    bind(s)
    s.ev = s.event(title="客户财富升级会", starts=60 * 30)
    s.d.stop()
    s.d.env.update(slow_fsync_env(fsync_ms))
    s.d.start()
    return s


def say_raw(s, text, msg_id):
    q, _, _ = query()
    t0 = time.monotonic()
    r = post(s, text_xml(text, sender=OPENID, msg_id=msg_id), q)
    return r, time.monotonic() - t0


def late_signup(wx, gw, fsync_ms, reply_within=None):
    s = slow_site(wx, gw, fsync_ms, reply_within)
    ev = s.ev
    r, took = say_raw(s, f"报名 {ev}", "81")
    assert r.status == 200 and r.raw == b"success", r
    assert took < 5, took
    return s, ev


def test_a_slow_signup_is_answered_success_and_its_reply_follows_once():
    wx, gw = WeChatAPI(), Gateway([200])
    s, ev = late_signup(wx, gw, 3000)  # two commits of 3 s: past the 4 s of reply_within
    wait_for(lambda: wx.delivered(), timeout=60)
    time.sleep(3)
    got = wx.delivered()
    assert len(got) == 1, got
    token, body = got[0]
    assert token == "ACCESS-TOKEN-1"
    assert body["touser"] == OPENID and body["msgtype"] == "text"
    assert body["text"]["content"].startswith("报名成功：「客户财富升级会」"), body
    sql = "SELECT status, openid_enc, body FROM messages WHERE kind = 'chat_reply'"
    wait_for(lambda: rows(s.d, sql)[0][0] == "sent", timeout=30)  # settled behind slow commits
    (_, sealed, text), = rows(s.d, sql)
    assert OPENID.encode() not in sealed and text == body["text"]["content"]
    # WeChat sends the same MsgId again: the stored reply, passively; nothing done twice
    r, _ = say_raw(s, f"报名 {ev}", "81")
    assert r.status == 200 and reply_content(r.raw.decode()) == text
    assert rows(s.d, "SELECT count(*) FROM signups") == [(1,)]
    time.sleep(2)
    assert len(wx.delivered()) == 1
    assert rows(s.d, "SELECT count(*) FROM messages WHERE kind = 'chat_reply'") == [(1,)]
    assert OPENID not in s.d.all_stderr()
    s.d.stop(60)  # each fsync still takes its time
    wx.close()
    gw.close()


def test_a_late_reply_refused_with_500_is_retried_and_delivered_once():
    wx, gw = WeChatAPI([500, 200]), Gateway([200])
    s, _ = late_signup(wx, gw, 1500, reply_within=1000)
    wait_for(lambda: wx.delivered(), timeout=60)
    time.sleep(3)
    assert [st for _, _, st in wx.custom] == [500, 200]
    assert wx.custom[0][1] == wx.custom[1][1]
    assert len(wx.delivered()) == 1
    sql = "SELECT status, attempts FROM messages WHERE kind = 'chat_reply'"
    wait_for(lambda: rows(s.d, sql) == [("sent", 2)], timeout=30)
    s.d.stop(60)  # each fsync still takes its time
    wx.close()
    gw.close()


def test_a_fast_command_is_answered_passively_and_sends_nothing():
    wx, gw = WeChatAPI(), Gateway([200])
    s = site(wx, gw)
    bind(s)
    ev = s.event(title="客户财富升级会", starts=60 * 30)
    for text, msg_id in (("积分", "91"), (f"报名 {ev}", "92")):
        r, took = say_raw(s, text, msg_id)
        assert r.status == 200 and r.raw != b"success" and took < 4, (r, took)
        assert reply_content(r.raw.decode())
    time.sleep(3)
    assert wx.custom == []
    assert rows(s.d, "SELECT count(*) FROM messages WHERE kind = 'chat_reply'") == [(0,)]
    s.d.stop()
    wx.close()
    gw.close()


def test_a_late_reply_waiting_for_a_retry_survives_a_restart():
    wx, gw = WeChatAPI([503]), Gateway([200])
    s, _ = late_signup(wx, gw, 1500, reply_within=1000)
    wait_for(lambda: wx.custom, timeout=60)
    s.d.stop(60)
    refused = len(wx.custom)
    assert refused >= 1 and wx.delivered() == []
    with wx.lock:
        wx.statuses = [200]
    for k in ("LD_PRELOAD", "SLOWFSYNC_MS"):
        s.d.env.pop(k, None)
    s.d.start()
    wait_for(lambda: wx.delivered(), timeout=30)
    time.sleep(2)
    assert len(wx.delivered()) == 1 and len(wx.custom) == refused + 1
    assert wx.delivered()[0][1]["text"]["content"].startswith("报名成功")
    sql = "SELECT status, attempts FROM messages WHERE kind = 'chat_reply'"
    wait_for(lambda: rows(s.d, sql)[0][0] == "sent")
    assert rows(s.d, sql)[0][1] >= refused + 1  # an attempt cut by the stop counts too
    s.d.stop()
    wx.close()
    gw.close()
