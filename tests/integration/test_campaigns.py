"""Campaigns (CONTRACT.md "Campaigns"): audiences, steps through the message queue,
attribution of sign-ups, the call list and the results."""
import datetime
import os
import re
import sqlite3
import time
import urllib.parse

from harness import CN, Daemon, Site, add_staff, auth, from_now, login
from test_messages import Gateway, rows, sms_config, statuses, wait_for
from test_wechat_messages import WeChatAPI, bind, say, site


def test_the_schema_takes_call_signups_and_invitation_messages():
    s = Site()
    s.d.stop()
    db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
    sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'signups'").fetchone()[0]
    assert "'call'" in sql and "'walkin'" in sql, sql
    sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'messages'").fetchone()[0]
    assert "'invitation'" in sql and "'festival'" in sql and "'chat_reply'" in sql, sql
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert {"campaigns", "campaign_steps", "campaign_members", "campaign_calls",
            "signup_campaigns"} <= tables
    db.close()
    s.d.start()
    assert s.d.get("/healthz").status == 200


HEADER = "member_no,name,phone,aum,birthday,household,last_txn\n"


def days_ago(n):
    return (datetime.datetime.now(CN) - datetime.timedelta(days=n)).strftime("%Y-%m-%d")


def import_members(d, lines):
    path = os.path.join(d.dir, "members.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(HEADER + "".join(line + "\n" for line in lines))
    d.cli("import", "members", path)


# Tier lines of the defaults: 潜力 from 50,000 CNY, 中高端 from 200,000, 财私 from 6,000,000.
MEMBERS = [
    f"C01,张一,13900000001,49999.99,1960-03-01,,{days_ago(10)}",   # 长尾, 0.01 below 潜力
    f"C02,李二,13900000002,50000,1970-03-02,,{days_ago(179)}",     # 潜力 at its line
    f"C03,王三,13900000003,190000,1980-04-03,,{days_ago(181)}",    # 潜力, 10,000 below 中高端
    f"C04,赵四,13900000004,170000,1990-05-04,,{days_ago(400)}",    # 潜力, 30,000 below
    f"C05,孙五,13900000005,6000000,1985-03-05,,",                  # 财私, never transacted
    f"C06,周六,13900000006,150000,1975-06-06,,{days_ago(200)}",    # 潜力, opts out
    f"C07,吴七,13900000007,160000,1965-07-07,,{days_ago(190)}",    # 潜力, signs up first
]


def camp_site(config=""):
    s = Site.__new__(Site)
    s.d = Daemon(config=config, start=False)
    add_staff(s.d, "M1", "manager", "111111")
    add_staff(s.d, "S1", "staff", "222222")
    import_members(s.d, MEMBERS)
    s.d.start()
    s.manager = login(s.d, "M1", "111111", "office")
    s.staff = login(s.d, "S1", "222222", "tablet-1")
    return s


def size(s, ev, audience):
    r = s.d.post("/api/v1/campaigns", {"event_id": ev, "name": "试算", "audience": audience,
                                       "steps": [{"channel": "sms", "at": "-30d"}],
                                       "dry_run": True}, headers=auth(s.manager))
    assert r.status == 200, r
    return r.json["audience_size"]


def test_audiences_at_their_edges_and_a_dry_run_stores_nothing():
    s = camp_site()
    ev = s.event(starts=60 * 24 * 40)
    assert s.d.post("/api/v1/members/C06/unsubscribe", {}, headers=auth(s.staff)).status == 200
    assert s.signup(ev, "13900000007", name="吴七").status == 201
    assert size(s, ev, {}) == 5  # all but the opted-out and the signed-up
    assert size(s, ev, {"tiers": ["潜力"]}) == 3
    assert size(s, ev, {"tiers": ["长尾", "财私"]}) == 2
    assert size(s, ev, {"aum_min": 50000}) == 4  # the line itself is in
    assert size(s, ev, {"aum_min": "50000.01"}) == 3
    assert size(s, ev, {"aum_max": "49999.99"}) == 1
    assert size(s, ev, {"aum_min": 50000, "aum_max": 190000}) == 3
    assert size(s, ev, {"near_next_tier": "0.01"}) == 1  # C01, one fen short of 潜力
    assert size(s, ev, {"near_next_tier": 10000}) == 2   # and C03, 10,000 short of 中高端
    assert size(s, ev, {"near_next_tier": 30000}) == 3
    assert size(s, ev, {"sleeping": True}) == 2  # 181 and 400 days; 179 is awake, never is not
    assert size(s, ev, {"sleeping": False}) == 5
    assert size(s, ev, {"birthday_month": 3}) == 3
    assert size(s, ev, {"tiers": ["潜力"], "sleeping": True, "near_next_tier": 10000}) == 1
    with sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM campaign_members").fetchone()[0] == 0
    s.d.stop()
    d = Daemon(config="[campaigns]\nsleeping_days = 178\n", dir=s.d.dir, start=False)
    d.start()
    s.d = d
    s.manager = login(d, "M1", "111111", "office")
    assert size(s, ev, {"sleeping": True}) == 3
    d.stop()


def test_bad_campaigns_are_422_and_store_nothing():
    s = camp_site()
    ev = s.event(starts=60 * 24 * 40)
    good = {"event_id": ev, "name": "升级会邀约", "steps": [{"channel": "sms", "at": "-30d"}]}
    bad = [
        ({"event_id": 999}, "event_id"),
        ({"steps": []}, "steps"),
        ({"steps": [{"channel": "fax", "at": "-30d"}]}, "steps[0].channel"),
        ({"steps": [{"channel": "sms", "at": "30d"}]}, "steps[0].at"),
        ({"steps": [{"channel": "sms", "at": "-30w"}]}, "steps[0].at"),
        ({"steps": [{"channel": "sms", "at": "-400d"}]}, "steps[0].at"),
        ({"steps": [{"channel": "sms", "at": "-1d", "template": "nope"}]}, "steps[0].template"),
        ({"steps": [{"channel": "call", "at": "-1d", "template": "invitation"}]},
         "steps[0].template"),
        ({"audience": {"tiers": ["VIP"]}}, "audience.tiers"),
        ({"audience": {"colour": "red"}}, "audience"),
        ({"audience": {"aum_min": "1.234"}}, "audience.aum_min"),
        ({"audience": {"birthday_month": 13}}, "audience.birthday_month"),
        ({"name": ""}, "name"),
    ]
    for change, field in bad:
        body = dict(good, **change)
        r = s.d.post("/api/v1/campaigns", body, headers=auth(s.manager))
        assert r.status == 422 and r.json["error"]["code"] == "invalid_fields", (change, r)
        assert field in r.json["error"]["fields"], (change, r.json)
    assert s.d.post("/api/v1/campaigns", good, headers=auth(s.staff)).status == 403
    with sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM campaign_steps").fetchone()[0] == 0
    r = s.d.post("/api/v1/campaigns", good, headers=auth(s.manager))
    assert r.status == 201, r
    assert r.json["audience_size"] == 7 and re.fullmatch(r"[2-9A-HJKMNP-Z]{6}", r.json["code"])
    assert r.json["steps"][0]["channel"] == "sms" and r.json["steps"][0]["at"] == "-30d"
    assert s.d.get("/api/v1/campaigns/999", headers=auth(s.manager)).status == 404
    s.d.stop()


def invite_config(gw):
    return sms_config(gw, "daily_cap = 10\n") + "[bot]\npublic_url = https://kiosk.example.cn\n"


def test_steps_run_through_the_message_queue_once_past_ones_at_once_and_skip_who_signed_up():
    gw = Gateway()
    s = camp_site(invite_config(gw))
    ev = s.event(starts=60 * 24 * 40)
    body = {"event_id": ev, "name": "升级会邀约", "audience": {"tiers": ["潜力"]},
            "steps": [{"channel": "sms", "at": "-45d"}, {"channel": "call", "at": "-14d"},
                      {"channel": "sms", "at": "-20d", "template": "invitation"}]}
    r = s.d.post("/api/v1/campaigns", body, headers=auth(s.manager))
    assert r.status == 201 and r.json["audience_size"] == 5, r
    code = r.json["code"]
    wait_for(lambda: len(gw.got) == 5)  # the step 45 days before has passed: at once
    link = f"https://kiosk.example.cn/?event={ev}&c={code}"
    assert all(link in b["text"] and "客户财富升级会" in b["text"] for b in gw.bodies())
    assert sorted(b["phone"][-2:] for b in gw.bodies()) == ["02", "03", "04", "06", "07"]
    c = s.d.get(f"/api/v1/campaigns/{r.json['id']}", headers=auth(s.manager)).json
    assert [st["status"] for st in c["steps"]] == ["done", "waiting", "waiting"], c
    wait_for(lambda: s.d.get(f"/api/v1/campaigns/{r.json['id']}",
                             headers=auth(s.manager)).json["steps"][0]["reached"] == 5)
    # before the next step: one signs up, one opts out
    assert s.signup(ev, "13900000003", name="王三").status == 201
    assert s.d.post("/api/v1/members/C04/unsubscribe", {}, headers=auth(s.staff)).status == 200
    time.sleep(1.5)
    assert len(gw.got) == 6  # the sign-up's confirmation, no invitation yet
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(21 * 86400)  # 19 days before the event
    s.d.start()
    wait_for(lambda: len(statuses(s.d, "invitation")) == 9)
    wait_for(lambda: all(st != "queued" for _, st in statuses(s.d, "invitation")))
    got = rows(s.d, "SELECT m.member_no, x.status, x.last_error FROM messages x JOIN members m "
               "ON m.id = x.member_id WHERE x.kind = 'invitation' AND x.slot = "
               "(SELECT CAST(max(id) AS TEXT) FROM campaign_steps) ORDER BY 1")
    assert got == [("C02", "sent", None), ("C04", "skipped", "opted_out"), ("C06", "sent", None),
                   ("C07", "sent", None)], got
    assert len([b for b in gw.bodies() if link in b["text"]]) == 8
    s.d.stop()
    s.d.start()  # a restart queues no step again
    time.sleep(1.5)
    assert len(statuses(s.d, "invitation")) == 9 and len(gw.got) == 9
    log = s.d.all_stderr()
    assert "13900000002" not in log and "李二" not in log
    s.d.stop()
    gw.close()


def attribution(d):
    return rows(d, "SELECT s.phone_last4, sc.campaign_id, st.pos FROM signup_campaigns sc "
                "JOIN signups s ON s.id = sc.signup_id LEFT JOIN campaign_steps st "
                "ON st.id = sc.step_id ORDER BY s.id")


def test_signups_are_credited_to_the_last_step_that_reached_the_person():
    gw = Gateway()
    s = camp_site(invite_config(gw))
    ev = s.event(starts=60 * 24 * 40)
    other = s.event(title="理财沙龙", kind="salon", starts=60 * 24 * 40, capacity=30)
    body = {"event_id": ev, "name": "升级会邀约", "audience": {"tiers": ["潜力"]},
            "steps": [{"channel": "sms", "at": "-45d"}, {"channel": "sms", "at": "-20d"}]}
    r = s.d.post("/api/v1/campaigns", body, headers=auth(s.manager))
    cid, code = r.json["id"], r.json["code"]
    wait_for(lambda: len(gw.got) == 5)
    wait_for(lambda: [st for _, st in statuses(s.d, "invitation")] == ["sent"] * 5)
    assert s.signup(ev, "13900000002", name="李二", campaign=code).status == 201
    assert s.signup(ev, "13900000003", name="王三").status == 201  # reached, no code
    assert s.signup(ev, "13811110000", name="钱八", campaign=code).status == 201  # forwarded
    assert s.signup(ev, "13811110001", name="冯九").status == 201  # neither
    assert s.signup(other, "13900000004", name="赵四", campaign=code).status == 201  # other event
    r = s.signup(ev, "13811110002", name="陈十", campaign="abc")
    assert r.status == 422 and "campaign" in r.json["error"]["fields"], r
    assert attribution(s.d) == [("0002", cid, 0), ("0003", cid, 0), ("0000", cid, None)]
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(21 * 86400)
    s.d.start()
    wait_for(lambda: len([x for x in statuses(s.d, "invitation") if x[1] == "sent"]) == 8)
    assert s.signup(ev, "13900000006", name="周六", campaign=code).status == 201
    assert attribution(s.d)[-1] == ("0006", cid, 1), attribution(s.d)
    c = s.d.get(f"/api/v1/campaigns/{cid}", headers=auth(s.manager))
    assert c.status == 200, c
    c = c.json
    assert c["results"] == {"invited": 5, "reached": 5, "signed_up": 4, "checked_in": 0,
                            "registered": 0, "approved": 0}, c
    assert [(b["at"], b["signed_up"]) for b in c["by_step"]] == [("-45d", 2), ("-20d", 1)], c
    assert [(st["status"], st["reached"], st["failed"]) for st in c["steps"]] == \
        [("done", 5, 0), ("done", 3, 0)], c
    day = (datetime.datetime.now(CN) + datetime.timedelta(days=40)).strftime("%Y-%m-%d")
    f = s.d.get(f"/api/v1/funnel?from={day}&to={day}", headers=auth(s.manager)).json
    row = [x for x in f["events"] if x["event_id"] == ev][0]  # the dashboard's funnel
    assert row["invited"] == c["results"]["invited"] == 5 and row["signed_up"] == 5, row
    assert f["total"]["invited"] == 5 and f["months"][0]["invited"] == 5, f
    lst = s.d.get("/api/v1/campaigns", headers=auth(s.manager)).json["campaigns"]
    assert [x["id"] for x in lst] == [cid] and lst[0]["code"] == code
    assert s.d.get("/api/v1/campaigns", headers=auth(s.staff)).status == 403
    s.d.stop()
    gw.close()


def test_the_call_list_masked_ordered_reveal_audited_and_each_outcome():
    s = camp_site()
    ev = s.event(starts=60 * 24 * 10)  # the call step 14 days before has come
    later = s.event(title="年末答谢会", kind="salon", starts=60 * 24 * 40, capacity=50)
    assert s.signup(ev, "13900000007", name="吴七").status == 201
    r = s.d.post("/api/v1/campaigns", {"event_id": ev, "name": "电话邀约",
                                       "steps": [{"channel": "call", "at": "-14d"}]},
                 headers=auth(s.manager))
    cid = r.json["id"]
    r = s.d.get(f"/api/v1/campaigns/{cid}/calls", headers=auth(s.staff))
    assert r.status == 200, r
    calls = r.json["calls"]
    # 财私 first; then 潜力 by what each lacks for 中高端; 长尾 last
    assert [c["member_no"] for c in calls] == ["C05", "C03", "C04", "C06", "C02", "C01"], calls
    assert calls[1] == {"member_no": "C03", "name": "王*", "phone_last4": "0003", "tier": "潜力"}
    assert "139000000" not in r.raw.decode()
    r = s.d.post(f"/api/v1/campaigns/{cid}/calls/C03/reveal", {}, headers=auth(s.staff))
    assert r.status == 200 and r.json == {"phone": "13900000003"}, r
    r = s.d.post(f"/api/v1/campaigns/{cid}/calls/C07/reveal", {}, headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "not_invited", r  # signed up first
    r = s.d.post(f"/api/v1/campaigns/{cid}/calls/NOPE/reveal", {}, headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "not_invited", r
    assert s.d.post(f"/api/v1/campaigns/999/calls/C03/reveal", {},
                    headers=auth(s.staff)).status == 404
    for no, outcome in (("C05", "no_answer"), ("C04", "declined"), ("C06", "wrong_number"),
                        ("C02", "reached"), ("C05", "reached")):
        r = s.d.post(f"/api/v1/campaigns/{cid}/calls/{no}", {"outcome": outcome, "note": "下午再打"},
                     headers=auth(s.staff))
        assert r.status == 200 and r.json == {"member_no": no, "outcome": outcome}, r
    r = s.d.post(f"/api/v1/campaigns/{cid}/calls/C02", {"outcome": "busy"}, headers=auth(s.staff))
    assert r.status == 422 and "outcome" in r.json["error"]["fields"], r
    r = s.d.post(f"/api/v1/campaigns/{cid}/calls/C02", {"outcome": "reached", "note": "长" * 201},
                 headers=auth(s.staff))
    assert r.status == 422 and "note" in r.json["error"]["fields"], r
    calls = s.d.get(f"/api/v1/campaigns/{cid}/calls", headers=auth(s.staff)).json["calls"]
    assert {c["member_no"]: c.get("outcome") for c in calls} == {
        "C05": "reached", "C03": None, "C04": "declined", "C06": "wrong_number", "C02": "reached",
        "C01": None}
    # an appointment books the guest (source call), once
    r = s.d.post(f"/api/v1/campaigns/{cid}/calls/C03", {"outcome": "appointment"},
                 headers=auth(s.staff))
    assert r.status == 200 and r.json["status"] == "confirmed", r
    again = s.d.post(f"/api/v1/campaigns/{cid}/calls/C03", {"outcome": "appointment"},
                     headers=auth(s.staff))
    assert again.status == 200 and again.json["signup_id"] == r.json["signup_id"], again
    assert rows(s.d, "SELECT source, member_no, phone_last4 FROM signups WHERE id = ?",
                r.json["signup_id"]) == [("call", "C03", "0003")]
    assert attribution(s.d) == [("0003", cid, 0)]
    calls = s.d.get(f"/api/v1/campaigns/{cid}/calls", headers=auth(s.staff)).json["calls"]
    assert "C03" not in [c["member_no"] for c in calls]
    c = s.d.get(f"/api/v1/campaigns/{cid}", headers=auth(s.manager)).json
    assert c["steps"][0]["reached"] == 4 and c["steps"][0]["failed"] == 1, c  # C02 C03 C04 C05
    assert c["results"]["signed_up"] == 1 and c["by_step"][0]["signed_up"] == 1, c
    audit = rows(s.d, "SELECT staff_id, action, subject FROM audit WHERE action LIKE 'campaign%' "
                 "ORDER BY id")
    assert ("S1", "campaign_phone_reveal", f"campaign:{cid}:m3") in audit, audit
    assert all("1390000" not in a[2] for a in audit)
    assert "13900000003" not in s.d.all_stderr()
    # a campaign whose call step has not come: no list, no number
    r = s.d.post("/api/v1/campaigns", {"event_id": later, "name": "答谢会",
                                       "steps": [{"channel": "call", "at": "-3d"}]},
                 headers=auth(s.manager))
    r = s.d.get(f"/api/v1/campaigns/{r.json['id']}/calls", headers=auth(s.staff))
    assert r.status == 200 and r.json == {"calls": [], "due": False}, r
    r = s.d.post(f"/api/v1/campaigns/{cid + 1}/calls/C03/reveal", {}, headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "calls_not_due", r
    s.d.stop()


def test_festival_greetings_go_to_every_member_not_opted_out_on_the_day():
    now = datetime.datetime.now(CN)
    spring = datetime.datetime(2027, 2, 6, 10, 30, tzinfo=CN)  # 春节 2027, after 10:00
    config = "[messages]\nchannel = log\nquiet_hours =\n"
    d = Daemon(config=config, start=False)
    import_members(d, MEMBERS[:3])
    add_staff(d, "S1", "staff", "222222")
    d.start()
    staff = login(d, "S1", "222222")
    assert d.post("/api/v1/members/C02/unsubscribe", {}, headers=auth(staff)).status == 200
    d.stop()
    d.env["KIOSKD_TEST_CLOCK"] = str(int((spring - now).total_seconds()))
    d.start()
    wait_for(lambda: statuses(d, "festival") == [("festival", "sent")] * 2)
    assert rows(d, "SELECT m.member_no, x.slot FROM messages x JOIN members m ON m.id = x.member_id "
                "WHERE x.kind = 'festival' ORDER BY 1") == [("C01", "2027-02-06"),
                                                           ("C03", "2027-02-06")]
    log = urllib.parse.unquote(d.all_stderr())
    assert log.count("kind=festival channel=log to=") == 2 and "值此春节之际" in log, log[-2000:]
    d.stop()
    d.start()  # once a day, whatever the restarts
    time.sleep(1.5)
    assert len(statuses(d, "festival")) == 2
    d.stop()
    # only the festivals chosen; an unknown one stops the daemon at start
    d2 = Daemon(config=config + "[campaigns]\nfestivals = 中秋, 重阳\n", start=False)
    import_members(d2, MEMBERS[:3])
    d2.env["KIOSKD_TEST_CLOCK"] = str(int((spring - now).total_seconds()))
    d2.start()
    time.sleep(1.5)
    assert statuses(d2, "festival") == []
    d2.stop()
    d3 = Daemon(config="[campaigns]\nfestivals = 春节 圣诞节\n", start=False)
    p = d3.cli("check-config", check=False)
    assert p.returncode != 0 and "unknown festival '圣诞节'" in p.stderr.decode(), p


def test_a_large_audience_is_queued_in_batches_each_person_once():
    d = Daemon(config="[messages]\nchannel = log\nquiet_hours = 00:00-23:59\n", start=False)
    n = 4500  # more than two batches of 2000
    import_members(d, [f"L{i:05d},{'赵钱孙李'[i % 4]}{'一二三'[i % 3]},137{i:08d},60000,1980-01-01,,"
                       for i in range(n)])
    add_staff(d, "M1", "manager", "111111")
    d.start()
    token = login(d, "M1", "111111", "office")
    r = d.post("/api/v1/events", {"title": "客户财富升级会", "kind": "salon",
                                  "starts_at": from_now(60 * 24 * 40),
                                  "ends_at": from_now(60 * 24 * 40 + 90), "venue": "二楼",
                                  "capacity": 100}, headers=auth(token))
    ev = r.json["id"]
    r = d.post("/api/v1/campaigns", {"event_id": ev, "name": "大批邀约",
                                     "steps": [{"channel": "sms", "at": "-45d"},
                                               {"channel": "sms", "at": "-44d"}]},
               headers=auth(token))
    assert r.status == 201 and r.json["audience_size"] == n, r
    wait_for(lambda: [s["status"] for s in d.get(f"/api/v1/campaigns/{r.json['id']}",
                                                   headers=auth(token)).json["steps"]]
             == ["done", "done"], timeout=60)
    assert rows(d, "SELECT count(*), count(DISTINCT member_id), count(DISTINCT slot) FROM messages "
                "WHERE kind = 'invitation'") == [(2 * n, n, 2)]
    assert rows(d, "SELECT queued, cursor = (SELECT max(id) FROM members) FROM campaign_steps") \
        == [(n, 1), (n, 1)]
    d.stop()


def test_a_wechat_step_reaches_bound_members_and_their_bot_signup_is_credited_to_it():
    wx, gw = WeChatAPI(), Gateway([200])
    s = site(wx, gw, "[bot]\npublic_url = https://kiosk.example.cn\n")
    import_members(s.d, ["M001,张三丰,13811116666,52000.50,1960-03-01,,",
                         "M002,李四,13811117777,60000,1961-04-01,,"])
    bind(s)
    ev = s.event(starts=60 * 24 * 10)
    r = s.d.post("/api/v1/campaigns", {"event_id": ev, "name": "微信提醒",
                                       "steps": [{"channel": "wechat", "at": "-14d"}]},
                 headers=auth(s.manager))
    assert r.status == 201 and r.json["audience_size"] == 2, r
    wait_for(lambda: statuses(s.d, "invitation") == [("invitation", "sent")])
    assert len(wx.sends) == 1, wx.sends
    body = wx.sends[0][1]
    assert body["template_id"] == "kioskd-invitation" and body["data"]["first"]["value"].startswith("张*")
    assert f"https://kiosk.example.cn/?event={ev}&c={r.json['code']}" in \
        body["data"]["remark"]["value"], body
    assert [b for b in gw.bodies() if "诚邀" in b["text"]] == []  # M002 is not bound: no SMS
    reply = say(s, f"报名 {ev}", "72")
    assert "客户财富升级会" in reply and "13811116666" not in reply, reply
    wait_for(lambda: rows(s.d, "SELECT count(*) FROM signups")[0][0] == 1)
    assert rows(s.d, "SELECT source FROM signups") == [("bot",)]
    assert attribution(s.d) == [("6666", r.json["id"], 0)]
    s.d.stop()
    wx.close()
    gw.close()
