"""The chat bot through the JSON bridge (POST /api/v1/bot/messages): the secret,
binding with a staff's one-time code and its lockout, every command's reply,
duplicate deliveries (also across a restart), the per-sender limit and the
per-group count and its statistics for the manager."""
import datetime
import os
import sqlite3

from harness import Site, auth

SECRET = "bridge-secret-0123456789"
CHINA = datetime.timezone(datetime.timedelta(hours=8))
HEADER = "member_no,name,phone,aum,birthday,household,last_txn\n"
MEMBERS = HEADER + ("M001,张三丰,13812340001,52000.50,1960-03-01,H1,\n"
                    "M002,李四,13812340002,120000,1970-01-02,,\n")


def site(extra=""):
    s = Site(config=f"[bot]\nsecret = {SECRET}\npublic_url = https://branch.example\n{extra}")
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    return s


def say(s, text, sender="wx-user-1", **extra):
    body = {"from": sender, "text": text}
    body.update(extra)
    r = s.d.post("/api/v1/bot/messages", body, headers={"X-Bot-Secret": SECRET})
    assert r.status == 200, r
    return r.json["reply"]


def rows(s, sql, *args):
    c = sqlite3.connect(f"file:{os.path.join(s.d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def bind_code(s, no):
    r = s.d.post(f"/api/v1/members/{no}/bind_code", {}, headers=auth(s.staff))
    assert r.status == 201, r
    assert len(r.json["code"]) == 6 and r.json["code"].isdigit()
    return r.json["code"]


def test_the_bridge_needs_its_secret():
    s = Site()
    r = s.d.post("/api/v1/bot/messages", {"from": "a", "text": "积分"})
    assert r.status == 503 and r.json["error"]["code"] == "bot_disabled", r
    s = site()
    for headers in ({}, {"X-Bot-Secret": "wrong"}, {"X-Bot-Secret": SECRET + "x"},
                    {"X-Bot-Secret": SECRET[:-1]}):
        r = s.d.post("/api/v1/bot/messages", {"from": "a", "text": "积分"}, headers=headers)
        assert r.status == 401, (headers, r)
    r = s.d.post("/api/v1/bot/messages", {"from": "", "text": "积分"},
                 headers={"X-Bot-Secret": SECRET})
    assert r.status == 422 and "from" in r.json["error"]["fields"], r
    r = s.d.post("/api/v1/bot/messages", {"from": "a\u0001b", "text": "积分"},
                 headers={"X-Bot-Secret": SECRET})
    assert r.status == 422, r


def test_an_unbound_sender_sees_nobodys_data_and_binds_with_a_one_time_code():
    s = site()
    assert "绑定" in say(s, "积分") and "张" not in say(s, "积分")
    assert "积分 — 查询积分" in say(s, "你好")
    assert say(s, "绑定 13812340001") .startswith("请发送：绑定 手机号 绑定码")
    code = bind_code(s, "M001")
    wrong = "000000" if code != "000000" else "111111"
    assert "不对" in say(s, f"绑定 13812340001 {wrong}")
    assert "不对" in say(s, f"绑定 13812340002 {code}")  # another member's phone
    assert say(s, f"绑定：13812340001，{code}。").startswith("绑定成功")
    assert "不对" in say(s, f"绑定 13812340001 {code}", sender="wx-user-2")  # used once only
    reply = say(s, "我的积分")
    assert reply.startswith("张*，您好") and "等级：潜力" in reply and "积分：0（家庭共 0）" in reply
    assert "距中高端还差" in reply, reply
    assert "13812340001" not in reply and "张三丰" not in reply
    assert rows(s, "SELECT channel FROM bot_bindings") == [("bridge",)]
    audit = [a for (a,) in rows(s, "SELECT action FROM audit WHERE action IN "
                                   "('bind_code', 'chat_bind') ORDER BY id")]
    assert audit == ["bind_code", "chat_bind"], audit
    err = s.d.all_stderr()
    assert "wx-user-1" not in err and code not in err and "13812340001" not in err
    r = s.d.post("/api/v1/members/NOPE/bind_code", {}, headers=auth(s.staff))
    assert r.status == 404, r
    assert s.d.post("/api/v1/members/M001/bind_code", {}).status == 401


def test_wrong_codes_lock_binding_for_that_sender_only():
    s = site("[bot]\nbind_failures = 3\n")
    code = bind_code(s, "M002")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(2):
        assert "不对" in say(s, f"绑定 13812340002 {wrong}", sender="guesser")
    assert "次数太多" in say(s, f"绑定 13812340002 {wrong}", sender="guesser")
    assert "次数太多" in say(s, f"绑定 13812340002 {code}", sender="guesser")  # locked: even right
    assert say(s, f"绑定 13812340002 {code}", sender="owner").startswith("绑定成功")
    assert rows(s, "SELECT failures FROM bind_failures") == [(3,)]


def test_events_signup_optout_and_unbind():
    s = site("[bot]\nper_minute = 100\n")
    ev = s.event(title="客户财富升级会", capacity=2)
    code = bind_code(s, "M002")
    say(s, f"绑定 13812340002 {code}")
    listing = say(s, "活动")
    assert f"{ev}. " in listing and "客户财富升级会（余2位）" in listing, listing
    reply = say(s, f"报名 {ev}")
    assert reply.startswith("报名成功：「客户财富升级会」") and "签到码" in reply, reply
    assert "https://branch.example/t/K1." in reply, reply
    again = say(s, f"报名{ev}")
    assert again.startswith("您已报名") and again.split("签到码")[1] == reply.split("签到码")[1]
    got = rows(s, "SELECT source, member_no, phone_last4 FROM signups")
    assert got == [("bot", "M002", "0002")], got
    # the link opens the ticket page's API for that ticket
    ticket = reply.split("/t/")[1].strip()
    r = s.d.get(f"/api/v1/tickets/{ticket}")
    assert r.status == 200, r
    assert "没有编号为 999" in say(s, "报名 999")
    assert say(s, "报名").startswith("请发送“报名 活动编号”")
    assert "已退订" in say(s, "退订")
    assert rows(s, "SELECT opted_out FROM members WHERE member_no = 'M002'") == [(1,)]
    assert "恢复订阅" in say(s, "订阅")
    assert rows(s, "SELECT opted_out FROM members WHERE member_no = 'M002'") == [(0,)]
    assert "解除绑定" in say(s, "解绑")
    assert "还没有绑定" in say(s, "积分") and "还没有绑定" in say(s, "退订")
    assert "还没有绑定" in say(s, f"报名 {ev}")


def test_a_delivery_seen_again_gets_the_same_reply_and_changes_nothing_also_after_a_restart():
    s = site()
    code = bind_code(s, "M001")
    first = say(s, f"绑定 13812340001 {code}", msg_id="m-1", group="g-1")
    assert first.startswith("绑定成功")
    # the code is spent: a new try would be refused, but the same delivery gets the same answer
    assert say(s, f"绑定 13812340001 {code}", msg_id="m-1", group="g-1") == first
    s.d.stop()
    s.d.start()
    assert say(s, f"绑定 13812340001 {code}", msg_id="m-1", group="g-1") == first
    assert "不对" in say(s, f"绑定 13812340001 {code}", msg_id="m-2", group="g-1")
    assert rows(s, "SELECT count(*) FROM bot_bindings") == [(1,)]
    assert rows(s, "SELECT count(*) FROM bind_failures") == [(1,)]
    # a read command with a key is answered the same way on a repeat
    p1 = say(s, "积分", msg_id="m-3", group="g-1")
    assert say(s, "积分", msg_id="m-3", group="g-1") == p1
    # without a group the reply of a read is kept in memory: a repeat gets it even after a change
    p4 = say(s, "积分", msg_id="m-4")
    ev = s.event(starts=-1)
    s.signup(ev, "13812340001", name="张三丰")
    assert s.checkin(event_id=ev, phone="13812340001").status == 200  # +50 points
    assert say(s, "积分", msg_id="m-4") == p4 and "积分：0" in p4
    assert "积分：50" in say(s, "积分", msg_id="m-5")
    # one count per delivery, not per copy
    assert rows(s, "SELECT group_id, commands FROM bot_group_stats") == [("g-1", 3)]


def test_a_sender_past_the_limit_is_told_to_wait():
    s = site("[bot]\nper_minute = 3\n")
    replies = [say(s, "帮助", sender="fast") for _ in range(5)]
    assert [r == "您发送得太快了，请一分钟后再试。" for r in replies] == [False] * 3 + [True] * 2
    assert "积分 — 查询积分" in say(s, "帮助", sender="slow")


def test_many_senders_together_cannot_guess_one_members_code():
    s = site()
    code = bind_code(s, "M002")
    wrong = [c for c in ("000000", "111111", "222222", "333333", "444444", "555555")
             if c != code][:5]
    for i, w in enumerate(wrong):
        assert "不对" in say(s, f"绑定 13812340002 {w}", sender=f"guesser-{i}")
    # the fifth wrong try burnt the code: the right one no longer binds
    assert "不对" in say(s, f"绑定 13812340002 {code}", sender="owner")
    assert rows(s, "SELECT count(*) FROM bind_codes") == [(0,)]
    fresh = bind_code(s, "M002")
    assert say(s, f"绑定 13812340002 {fresh}", sender="owner").startswith("绑定成功")


def test_commands_per_group_and_day_for_the_manager():
    s = site("[bot]\nper_minute = 100\n")
    today = datetime.datetime.now(CHINA).date()
    say(s, "帮助", group="群-理财沙龙")
    say(s, "活动", group="群-理财沙龙", msg_id="a-1")
    say(s, "活动", group="群-理财沙龙", msg_id="a-1")  # the same delivery counts once
    say(s, "积分", group="<b>x</b>")
    say(s, "积分")  # no group: not counted
    # an older day, written as the daemon would have on that day
    c = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    long_ago = (today - datetime.timedelta(days=40)).isoformat()
    c.execute("INSERT INTO bot_group_stats(group_id, day, commands) VALUES ('群-理财沙龙', ?, 7)",
              (long_ago,))
    c.commit()
    c.close()
    r = s.d.get("/api/v1/bot/stats", headers=auth(s.manager))
    assert r.status == 200, r
    assert r.json["to"] == today.isoformat()
    assert r.json["from"] == (today - datetime.timedelta(days=29)).isoformat()
    assert r.json["groups"] == [
        {"group": "<b>x</b>", "days": [{"day": today.isoformat(), "commands": 1}], "total": 1},
        {"group": "群-理财沙龙", "days": [{"day": today.isoformat(), "commands": 2}], "total": 2},
    ], r.json
    r = s.d.get(f"/api/v1/bot/stats?from={long_ago}&to={today.isoformat()}",
                headers=auth(s.manager))
    assert r.status == 200, r
    salon = [g for g in r.json["groups"] if g["group"] == "群-理财沙龙"][0]
    assert salon["days"] == [{"day": long_ago, "commands": 7},
                             {"day": today.isoformat(), "commands": 2}] and salon["total"] == 9
    r = s.d.get(f"/api/v1/bot/stats?from={long_ago}&to={long_ago}", headers=auth(s.manager))
    assert [g["total"] for g in r.json["groups"]] == [7], r.json
    r = s.d.get("/api/v1/bot/stats?from=2020-01-01&to=2020-01-31", headers=auth(s.manager))
    assert r.status == 200 and r.json["groups"] == [], r
    for q in ("from=2024-02-30", "to=yesterday", "from=2024-03-02&to=2024-03-01",
              "from=2023-01-01&to=2024-01-02", "from=" + "9" * 40):
        r = s.d.get("/api/v1/bot/stats?" + q, headers=auth(s.manager))
        assert r.status == 422 and r.json["error"]["code"] == "invalid_query", (q, r)
    r = s.d.get("/api/v1/bot/stats?from=2023-01-02&to=2024-01-01", headers=auth(s.manager))
    assert r.status == 200, r  # 365 days, 2024 a leap year: 366 days is the most
    assert s.d.get("/api/v1/bot/stats", headers=auth(s.staff)).status == 403
    assert s.d.get("/api/v1/bot/stats").status == 401
