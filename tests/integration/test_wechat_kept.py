"""A WeChat reply that follows `success` is never lost: not by a SIGTERM before it is queued, not
by a store job that fails after `success` (the sender is told nothing was done), not by a kill -9
between a sign-up's commit and the next one (the reply is written held with the sign-up and goes
at the next start, once). Through the real binary, slow fsync and a loopback WeChat API."""
import threading
import time

from harness import auth, slow_fsync_env
from test_messages import Gateway, rows, wait_for
from test_wechat import post, query, reply_content, text_xml
from test_wechat_late import WeChatAPI, late_signup, say_raw, slow_site
from test_wechat_messages import OPENID, site

CUSTOM = "SELECT status FROM messages WHERE kind = 'chat_reply'"


def fast_again(s):
    """A start with fsync at its normal speed (and no test fault)."""
    for k in ("LD_PRELOAD", "SLOWFSYNC_MS", "KIOSKD_TEST_FAULT"):
        s.d.env.pop(k, None)
    s.d.start()


def close(s, wx, gw):
    s.d.stop(60)
    wx.close()
    gw.close()


def test_sigterm_after_success_keeps_the_late_reply_and_it_goes_after_the_restart():
    wx, gw = WeChatAPI(), Gateway([200])
    s, ev = late_signup(wx, gw, 1500, reply_within=1000)  # `success`; the sign-up still commits
    s.d.stop(60)
    assert wx.delivered() == []
    assert rows(s.d, "SELECT count(*) FROM signups") == [(1,)]
    fast_again(s)
    wait_for(lambda: wx.delivered(), timeout=30)
    time.sleep(2)
    got = wx.delivered()
    assert len(got) == 1, got
    assert got[0][1]["touser"] == OPENID
    assert got[0][1]["text"]["content"].startswith("报名成功：「客户财富升级会」"), got
    assert rows(s.d, CUSTOM) == [("sent",)]
    close(s, wx, gw)


def test_a_job_failing_after_success_tells_its_sender_that_nothing_was_done():
    # Ten unbound senders send a wrong bind code at once behind a slow commit; their turns share
    # a batch whose sixth job fails with its whole transaction (the test fault: the jobs before
    # it in that batch fail too), after all were answered `success`.
    wx, gw = WeChatAPI(), Gateway([200])
    s = site(wx, gw, "[wechat]\nreply_within = 1000\n")
    s.d.stop()
    s.d.env.update(slow_fsync_env(2000))
    s.d.env["KIOSKD_TEST_FAULT"] = "job=6,stmt=1,rc=full,rollback=1"
    s.d.start()
    time.sleep(5)  # the jobs of the start are done
    # a staff write takes the writer (2 s) first: the ten turns queue behind it past reply_within
    threading.Thread(target=lambda: s.d.post("/api/v1/members/M001/bind_code", {},
                                             headers=auth(s.staff), timeout=30)).start()
    time.sleep(0.3)
    senders = [f"oVtest_sender_{i:04d}" for i in range(10)]
    answers = {}

    def send(openid, i):
        q, _, _ = query()
        answers[openid] = post(s, text_xml("绑定 13800000000 000000", sender=openid,
                                           msg_id=str(9000 + i)), q)

    threads = [threading.Thread(target=send, args=(o, i)) for i, o in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status == 200 and r.raw == b"success" for r in answers.values()), answers
    wait_for(lambda: len(wx.delivered()) >= 10, timeout=60)
    time.sleep(3)
    got = {}
    for _, body in wx.delivered():
        got.setdefault(body["touser"], []).append(body["text"]["content"])
    assert sorted(got) == sorted(senders) and all(len(v) == 1 for v in got.values()), got
    sorry = [o for o, (text,) in got.items() if text.startswith("抱歉")]
    assert sorry, got
    assert all("什么也没有改变" in got[o][0] for o in sorry)
    assert all(text.startswith("手机号或绑定码不对") for o, (text,) in got.items() if o not in sorry)
    # the failed turns left nothing: one wrong try counted per sender told so
    assert rows(s.d, "SELECT count(*) FROM bind_failures") == [(10 - len(sorry),)]
    assert all(o not in s.d.all_stderr() for o in senders)
    close(s, wx, gw)


def test_kill_9_between_a_signup_and_its_turn_sends_the_reply_once_after_the_restart():
    wx, gw = WeChatAPI(), Gateway([200])
    s = slow_site(wx, gw, 2000, reply_within=1000)
    answer = {}
    deliveries = rows(s.d, "SELECT count(*) FROM bot_deliveries")  # the binding's

    def signup():
        answer["r"], _ = say_raw(s, f"报名 {s.ev}", "83")

    stop = threading.Event()

    def staff_write():
        try:
            s.d.post("/api/v1/members/M001/bind_code", {}, headers=auth(s.staff), timeout=30)
        except Exception:
            pass  # the daemon is killed under it

    def staff_writes():
        while not stop.is_set():
            threading.Thread(target=staff_write, daemon=True).start()
            time.sleep(0.3)

    # staff writes keep a job queued at every moment: when the sign-up's commit (2 s) ends, the
    # writer takes them for the next commit before the bot's turn arrives, so the turn waits
    # behind them and the kill falls between the sign-up's commit and the turn's
    t2 = threading.Thread(target=staff_writes)
    t2.start()
    time.sleep(0.3)
    t1 = threading.Thread(target=signup)
    t1.start()
    assert wait_for(lambda: rows(s.d, "SELECT count(*) FROM signups") == [(1,)], timeout=30)
    s.d.kill()
    stop.set()
    t1.join()
    t2.join()
    assert answer["r"].status == 200 and answer["r"].raw == b"success", answer
    assert rows(s.d, "SELECT count(*) FROM bot_deliveries") == deliveries  # no turn committed
    (code,) = rows(s.d, "SELECT short_code FROM signups")[0]
    assert rows(s.d, CUSTOM) == [("queued",)]  # written, held, with the sign-up
    fast_again(s)
    wait_for(lambda: wx.delivered(), timeout=30)
    time.sleep(3)
    got = wx.delivered()
    assert len(got) == 1, got
    text = got[0][1]["text"]["content"]
    assert text.startswith("报名成功：「客户财富升级会」") and f"签到码 {code}" in text, text
    assert rows(s.d, CUSTOM) == [("sent",)]
    # the same delivery again changes nothing and sends nothing more
    q, _, _ = query()
    r = post(s, text_xml(f"报名 {s.ev}", sender=OPENID, msg_id="83"), q)
    assert r.status == 200 and reply_content(r.raw.decode()).startswith("您已报名"), r
    time.sleep(2)
    assert len(wx.delivered()) == 1
    assert rows(s.d, "SELECT count(*) FROM signups") == [(1,)]
    close(s, wx, gw)
