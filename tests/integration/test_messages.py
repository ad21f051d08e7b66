"""Messages through real loopback servers standing in for the SMS gateway and the WeCom robot:
retries and their limits, exactly-once across kill -9, quiet hours, the daily cap, opt-out after
queuing, the robot's rate, scheduling of each kind with the test clock, the template checks and
the staff's list and retry."""
import datetime
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time

from harness import CN, Daemon, Loopback, Site, auth

SECRET = "gateway-secret"


class Gateway:
    """A loopback HTTP server; answers[i] is the status of the i-th request (the last repeats),
    or ("hang", seconds) to wait before answering 200. Records (path, body, signature_ok)."""

    def __init__(self, answers=(200,), reply=b'{"errcode":0}'):
        self.answers = list(answers)
        self.reply = reply
        self.got = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.server = Loopback(self.handle)
        self.url = self.server.url

    def handle(self, method, path, headers, body):
        sig = headers.get("X-Kioskd-Signature", "")
        ok = hmac.compare_digest(sig, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())
        with self.lock:
            n = len(self.got)
            self.got.append((path, json.loads(body), ok, time.monotonic()))
            a = self.answers[min(n, len(self.answers) - 1)]
        self.arrived.set()
        if isinstance(a, tuple):
            time.sleep(a[1])
            a = 200
        return a, self.reply

    def bodies(self):
        with self.lock:
            return [g[1] for g in self.got]

    def close(self):
        self.server.close()


def sms_config(gw, extra=""):
    return (f"[sms]\nurl = {gw.url}/sms\nsecret = {SECRET}\ntimeout = 2\n"
            "[kiosk]\nsignups_per_phone = 0\n"
            "[messages]\nchannel = auto\nquiet_hours =\nretry_base = 1\n" + extra)


def rows(d, sql, *args):
    c = sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def wait_for(fn, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out")


def statuses(d, kind=None):
    sql = "SELECT kind, status FROM messages" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
    return rows(d, sql, *([kind] if kind else []))


def test_a_gateway_answering_500_then_200_gets_the_message_once_more_with_the_same_id():
    gw = Gateway([500, 200])
    s = Site(config=sms_config(gw))
    ev = s.event(starts=60 * 30)  # no reminder is due yet: only the confirmation
    assert s.signup(ev, "13811112222").status == 201
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")])
    got = gw.got
    assert len(got) == 2 and all(g[2] for g in got), got  # signed
    assert got[0][1] == got[1][1] and got[0][1]["phone"] == "13811112222"
    assert "客户财富升级会" in got[0][1]["text"]
    assert rows(s.d, "SELECT attempts FROM messages") == [(2,)]
    time.sleep(1.5)
    assert len(gw.got) == 2  # sent is final
    assert "13811112222" not in s.d.stderr()
    s.d.stop()
    gw.close()


def test_a_gateway_answering_400_fails_the_message_without_a_retry_and_staff_can_retry_it():
    gw = Gateway([400, 200])
    s = Site(config=sms_config(gw))
    ev = s.event(starts=60 * 30)
    s.signup(ev, "13811112223")
    wait_for(lambda: statuses(s.d) == [("confirmation", "failed")])
    time.sleep(2.5)
    assert len(gw.got) == 1
    r = s.d.get("/api/v1/messages?status=failed", headers=auth(s.manager))
    assert r.status == 200 and r.json["counts"]["failed"] == 1, r
    assert r.json["today"] == [{"channel": "sms", "due": 0, "sent": 0, "failed": 1}], r.json
    m = r.json["messages"][0]
    assert m["kind"] == "confirmation" and m["last_error"] == "http_400"
    assert m["phone_last4"] == "2223" and "phone" not in m
    assert s.d.get("/api/v1/messages", headers=auth(s.staff)).status == 403
    assert s.d.get("/api/v1/messages?status=nope", headers=auth(s.manager)).status == 422
    assert s.d.post(f"/api/v1/messages/{m['id']}/retry", {}, headers=auth(s.manager)).status == 200
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")])
    assert [b["id"] for b in gw.bodies()] == [m["uid"], m["uid"]]
    today = s.d.get("/api/v1/messages", headers=auth(s.manager)).json["today"]
    assert today == [{"channel": "sms", "due": 0, "sent": 1, "failed": 0}], today
    r = s.d.post(f"/api/v1/messages/{m['id']}/retry", {}, headers=auth(s.manager))
    assert r.status == 409 and r.json["error"]["code"] == "message_not_failed", r
    assert s.d.post("/api/v1/messages/999/retry", {}, headers=auth(s.manager)).status == 404
    s.d.stop()
    gw.close()


def test_a_gateway_that_does_not_answer_in_time_is_tried_again():
    gw = Gateway([("hang", 4), 200])
    s = Site(config=sms_config(gw, "max_attempts = 3\n"))
    ev = s.event(starts=60 * 30)
    s.signup(ev, "13811112224")
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")], timeout=20)
    assert len(gw.got) == 2 and gw.got[0][1]["id"] == gw.got[1][1]["id"]
    assert "error=timed out" in s.d.stderr()
    s.d.stop()
    gw.close()


def test_max_attempts_then_failed():
    gw = Gateway([503])
    s = Site(config=sms_config(gw, "max_attempts = 2\n"))
    s.signup(s.event(starts=60 * 30), "13811112225")
    wait_for(lambda: statuses(s.d) == [("confirmation", "failed")], timeout=20)
    assert len(gw.got) == 2
    metrics = s.d.get("/metrics").raw.decode()
    assert "kioskd_messages_failed_total 1" in metrics
    s.d.stop()
    gw.close()


def test_kill_9_between_sending_and_recording_resends_with_the_same_id():
    gw = Gateway([("hang", 30), 200])
    s = Site(config=sms_config(gw))
    s.signup(s.event(starts=60 * 30), "13811112226")
    assert gw.arrived.wait(10)
    assert statuses(s.d) == [("confirmation", "sending")]
    s.d.kill()  # the gateway has the message; the daemon never recorded the answer
    s.d.start()
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")])
    ids = [b["id"] for b in gw.bodies()]
    assert len(ids) == 2 and ids[0] == ids[1], ids
    assert "event=messages_recovered count=1" in s.d.stderr()
    s.d.stop()
    gw.close()


def test_sigterm_with_a_transfer_hanging_stops_after_the_drain_and_keeps_the_message():
    gw = Gateway([("hang", 30), 200])
    s = Site(config=sms_config(gw))
    s.signup(s.event(starts=60 * 30), "13811112227")
    assert gw.arrived.wait(10)
    t0 = time.monotonic()
    s.d.stop(timeout=20)
    assert time.monotonic() - t0 < 20  # the drain's 2 s, not the gateway's 30
    assert statuses(s.d) == [("confirmation", "queued")]
    s.d.start()
    wait_for(lambda: statuses(s.d) == [("confirmation", "sent")])
    s.d.stop()
    gw.close()


def test_sigterm_waits_a_little_for_a_transfer_the_gateway_is_answering():
    """A gateway that answers within the drain (0.5 s here): the message is recorded as sent
    before the daemon exits, and is not sent again after the restart."""
    gw = Gateway([("hang", 0.5), 200])
    s = Site(config=sms_config(gw))
    s.signup(s.event(starts=60 * 30), "13811112228")
    assert gw.arrived.wait(10)
    s.d.stop()
    assert statuses(s.d) == [("confirmation", "sent")]
    s.d.start()
    time.sleep(1.5)  # a released message would be claimed again within the first second
    assert statuses(s.d) == [("confirmation", "sent")]
    assert len(gw.bodies()) == 1, gw.bodies()
    s.d.stop()
    gw.close()


def quiet_now():
    """A quiet_hours span around the present China time."""
    now = datetime.datetime.now(CN)
    a, b = now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=1)
    return f"{a:%H:%M}-{b:%H:%M}"


def test_quiet_hours_hold_reminders_but_not_confirmations():
    gw = Gateway([200])
    s = Site(config=sms_config(gw).replace("quiet_hours =\n", f"quiet_hours = {quiet_now()}\n"))
    ev = s.event(starts=60 * 20)  # the day-before reminder is due at once
    s.signup(ev, "13811112228")
    wait_for(lambda: ("confirmation", "sent") in statuses(s.d))
    time.sleep(2)
    assert statuses(s.d, "day_before") == [("day_before", "queued")]
    (next_at,) = rows(s.d, "SELECT next_at FROM messages WHERE kind = 'day_before'")[0]
    assert next_at > time.time() + 3000  # the end of the quiet hours
    assert len(gw.got) == 1
    s.d.stop()
    gw.close()


def test_in_quiet_hours_a_confirmation_does_not_wait_behind_the_reminders_due():
    # each claim takes at most 32 due messages: reminders that quiet hours put off must not
    # fill it, or 3,000 of them would keep a new guest's confirmation for minutes
    gw = Gateway([200])
    s = Site(config=sms_config(gw, "interval = 3600\n").replace(
        "quiet_hours =\n", f"quiet_hours = {quiet_now()}\n"))
    ev = s.event(starts=60 * 20)
    assert s.signup(ev, "13811112241").status == 201
    wait_for(lambda: ("confirmation", "sent") in statuses(s.d))
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    with db:
        (sid, ph) = db.execute("SELECT id, phone_hash FROM signups").fetchone()
        due = int(time.time()) - 60
        db.executemany(
            "INSERT INTO messages(uid, dedup_key, kind, channel, transactional, signup_id, "
            "event_id, person_hash, slot, due_at, next_at, created_at) "
            "VALUES (?, ?, 'day_before', 'sms', 0, ?, ?, ?, ?, ?, ?, ?)",
            [(f"{i:032x}", f"day_before:s{sid}:test:{i}", sid, ev, ph, str(i), due, due, due)
             for i in range(3000)])
    db.close()
    s.d.start()
    assert s.signup(ev, "13811112242").status == 201
    wait_for(lambda: "13811112242" in [b["phone"] for b in gw.bodies()])
    assert [b["phone"] for b in gw.bodies()] == ["13811112241", "13811112242"]
    assert rows(s.d, "SELECT status, count(*) FROM messages WHERE kind = 'day_before' "
                "GROUP BY status") == [("queued", 3002)]  # put off, not sent
    s.d.stop()
    gw.close()


def test_the_daily_cap_holds_the_fourth_reminder_for_the_next_day():
    gw = Gateway([200])
    s = Site(config=sms_config(gw, "daily_cap = 2\n"))
    for i in range(3):
        s.signup(s.event(title=f"活动{i}", starts=60 * 20 + i), "13811112229")
    wait_for(lambda: len([x for x in statuses(s.d) if x[1] == "sent"]) == 5)
    time.sleep(2)
    st = statuses(s.d, "day_before")
    assert sorted(x[1] for x in st) == ["queued", "sent", "sent"], st
    assert [x[1] for x in statuses(s.d, "confirmation")] == ["sent"] * 3  # not capped
    s.d.stop()
    gw.close()


def test_sign_ups_are_told_between_the_full_runs_and_after_a_restart():
    # the full run only at start: each sign-up's own run queues what it is owed
    gw = Gateway([200])
    s = Site(config=sms_config(gw, "interval = 3600\n"))
    ev = s.event(starts=60 * 20)  # made after the start's run; its day-before reminder is due
    for phone in ("13811112231", "13811112232"):
        assert s.signup(ev, phone).status == 201

    def sent():
        return sorted(k for k, st in statuses(s.d) if st == "sent")
    wait_for(lambda: sent() == ["confirmation"] * 2 + ["day_before"] * 2)
    s.d.stop()
    s.d.start()  # the start's full run has them all already: nothing twice
    assert s.signup(ev, "13811112233").status == 201
    wait_for(lambda: sent() == ["confirmation"] * 3 + ["day_before"] * 3)
    time.sleep(1)
    assert len(gw.got) == 6, gw.bodies()
    assert sorted(b["phone"] for b in gw.bodies()) == sorted(
        ["13811112231", "13811112232", "13811112233"] * 2)
    s.d.stop()
    gw.close()


def test_the_full_run_at_start_queues_only_the_messages_still_owed():
    # the sweeps pass over sign-ups whose message is queued already by its key: a key that
    # matched another kind or slot would leave a message owed unqueued
    gw = Gateway([200])
    s = Site(config=sms_config(gw, "interval = 3600\n"))
    late, soon = s.event(starts=60 * 20), s.event(title="马上", starts=60)
    phones = ("13811112251", "13811112252", "13811112253")
    for ev in (late, soon):
        for phone in phones:
            assert s.signup(ev, phone).status == 201
    want = sorted(["confirmation"] * 6 + ["day_before"] * 3 + ["two_hours"] * 3)

    def sent():
        return sorted(k for k, st in statuses(s.d) if st == "sent")
    wait_for(lambda: sent() == want)
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    with db:  # as if these had never been queued
        (ids,) = db.execute("SELECT min(id), max(id) FROM signups WHERE event_id = ?",
                            (late,)).fetchall()
        db.execute("DELETE FROM messages WHERE kind = 'day_before' AND signup_id = ?", (ids[0],))
        db.execute("DELETE FROM messages WHERE kind = 'confirmation' AND signup_id = ?", (ids[1],))
    db.close()
    n = len(gw.got)
    s.d.start()
    wait_for(lambda: sent() == want)
    time.sleep(1)
    assert sorted(b["text"][:2] for b in gw.bodies()[n:]) == ["张*", "张*"]
    assert len(gw.got) == n + 2, gw.bodies()[n:]
    keys = [k for (k,) in rows(s.d, "SELECT dedup_key FROM messages")]
    assert len(keys) == len(set(keys)) == 12
    s.d.stop()
    gw.close()


MEMBERS = ("member_no,name,phone,aum,birthday,household,last_txn\n"
           "M001,张三丰,13811113333,52000.50,1960-03-01,,\n")


def test_an_opt_out_after_queuing_stops_the_reminder():
    gw = Gateway([200])
    s = Site(config=sms_config(gw).replace("quiet_hours =\n", f"quiet_hours = {quiet_now()}\n"))
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    s.signup(s.event(starts=60 * 20), "13811113333")
    wait_for(lambda: statuses(s.d, "day_before") == [("day_before", "queued")])
    r = s.d.post("/api/v1/members/M001/unsubscribe", {}, headers=auth(s.staff))
    assert r.status == 200 and r.json["opted_out"] is True, r
    assert s.d.post("/api/v1/members/NOPE/unsubscribe", {}, headers=auth(s.staff)).status == 404
    # the confirmation settled first: one stopped mid-send is sent again at the next start
    # (with the same id, which the gateway takes once), and this test counts deliveries
    wait_for(lambda: statuses(s.d, "confirmation") == [("confirmation", "sent")])
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(2 * 3600)  # past the quiet hours: it is due
    s.d.start()
    wait_for(lambda: statuses(s.d, "day_before") == [("day_before", "skipped")])
    assert rows(s.d, "SELECT last_error FROM messages WHERE kind = 'day_before'") == [("opted_out",)]
    wait_for(lambda: gw.bodies())  # the confirmation, sent beside the reminder's turn
    assert [b["text"][:2] for b in gw.bodies()] == ["张*"], gw.bodies()  # the confirmation only
    s.d.stop()
    gw.close()


EVENTS_HEADER = "title,kind,starts_at,ends_at,venue,capacity\n"


def test_the_wecom_robot_takes_at_most_its_rate_and_every_summary_arrives():
    gw = Gateway([200])
    d = Daemon(config=(f"[wecom]\nrobot_key = k3y\napi_url = {gw.url}\nper_minute = 2\n"
                       "[messages]\nquiet_hours =\nchannel = log\n"), start=False)
    now = datetime.datetime.now(CN)
    lines = [f"小结{i},salon,{(now - datetime.timedelta(hours=3)).isoformat(timespec='seconds')},"
             f"{(now - datetime.timedelta(hours=2, minutes=i)).isoformat(timespec='seconds')},"
             f"一楼,10\n" for i in range(3)]
    path = os.path.join(d.dir, "e.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(EVENTS_HEADER + "".join(lines))
    d.cli("import", "events", path)
    d.start()
    wait_for(lambda: len(gw.got) == 2)
    # the third waits its turn: put off to a minute after the first was taken
    sql = ("SELECT claimed_at, next_at FROM messages WHERE channel = 'wecom' "
           "ORDER BY claimed_at IS NULL, claimed_at")

    def put_off():
        r = rows(d, sql)
        return len(r) == 3 and r[0][0] and r[2][0] is None and r[2][1] >= r[0][0] + 60
    wait_for(put_off)
    time.sleep(3)
    assert len(gw.got) == 2 and put_off(), rows(d, sql)
    # a minute later (the test clock, after a restart), it goes
    d.stop()
    d.env["KIOSKD_TEST_CLOCK"] = "62"
    d.start()
    wait_for(lambda: len(gw.got) == 3)
    claimed = sorted(c for c, _ in rows(d, sql))
    assert claimed[2] - claimed[0] >= 60, claimed
    assert all(g[0] == "/cgi-bin/webhook/send?key=k3y" for g in gw.got)
    assert all(g[1]["msgtype"] == "text" and "【活动小结】" in g[1]["text"]["content"]
               for g in gw.got)
    assert "k3y" not in d.stderr()
    d.stop()
    gw.close()


def test_each_kind_is_scheduled_with_the_test_clock():
    # no daily cap: one phone gets more than three of these kinds in a China day
    d = Daemon(config="[messages]\nquiet_hours =\nchannel = log\ndaily_cap = 0\n"
                      "[kiosk]\nsignups_per_phone = 0\n", start=False)
    # a birthday message is due at 10:00 China time on the day: before that
    # hour the daemon's clock is set to 10:30 (every time below follows it)
    real = datetime.datetime.now(CN)
    shift = 0
    if real.hour < 10:
        shift = int((real.replace(hour=10, minute=30, second=0, microsecond=0) - real)
                    .total_seconds())
        d.env["KIOSKD_TEST_CLOCK"] = str(shift)
    from harness import add_staff, login
    add_staff(d, "S1", "staff", "222222")
    today = (real + datetime.timedelta(seconds=shift)).date()
    with open(os.path.join(d.dir, "m.csv"), "w", encoding="utf-8") as f:
        f.write("member_no,name,phone,aum,birthday,household,last_txn\n"
                f"M001,张三丰,13811114444,52000,1960-{today:%m-%d},,\n"
                "M002,李四,13811115555,52000,1961-01-01,,\n")
    d.cli("import", "members", os.path.join(d.dir, "m.csv"))
    now = datetime.datetime.now(CN) + datetime.timedelta(seconds=shift)

    def at(h):
        return (now + datetime.timedelta(hours=h)).isoformat(timespec="seconds")
    with open(os.path.join(d.dir, "e.csv"), "w", encoding="utf-8") as f:
        f.write(EVENTS_HEADER + f"明天,salon,{at(20)},{at(21)},一楼,10\n"
                f"马上,salon,{at(1)},{at(1.7)},二楼,10\n")
    d.cli("import", "events", os.path.join(d.dir, "e.csv"))
    d.start()
    staff = login(d, "S1", "222222")
    for ev, phone in ((1, "13811114444"), (2, "13811114444"), (2, "13811115555")):
        r = d.post(f"/api/v1/events/{ev}/signups", {"name": "张三丰", "phone": phone, "consent": True})
        assert r.status == 201, r
    r = d.post("/api/v1/checkins", {"event_id": 2, "phone": "13811114444"}, headers=auth(staff))
    assert r.status == 200, r
    want = {"confirmation", "day_before", "two_hours", "birthday"}
    wait_for(lambda: want <= {k for k, st in statuses(d) if st == "sent"})
    d.stop()
    d.env["KIOSKD_TEST_CLOCK"] = str(shift + 3 * 3600)  # the second event is over
    d.start()
    want |= {"thank_you", "no_show", "staff_summary"}
    wait_for(lambda: want <= {k for k, st in statuses(d) if st == "sent"})
    assert rows(d, "SELECT count(*) FROM messages WHERE kind = 'points'")[0][0] == 1
    keys = [k for (k,) in rows(d, "SELECT dedup_key FROM messages")]
    assert len(keys) == len(set(keys)) and all("13811114444" not in k for k in keys)
    d.stop()
    d.start()  # scheduled again after a restart: nothing new for the same slots
    time.sleep(1.5)
    assert sorted(keys) == sorted(k for (k,) in rows(d, "SELECT dedup_key FROM messages"))
    log = d.all_stderr()
    assert "13811114444" not in log and "张三丰" not in log
    d.stop()


def test_a_template_with_an_unknown_variable_is_refused_at_start_with_its_place():
    d = Daemon(start=False)
    tdir = os.path.join(d.dir, "tpl")
    os.mkdir(tdir)
    d.config_path and open(d.config_path, "a").write(f"[messages]\ntemplates = {tdir}\n")
    with open(os.path.join(tdir, "birthday.sms.mustache"), "w", encoding="utf-8") as f:
        f.write("channel: sms\nkind: birthday\n---\n{{name}}您好\n祝您{{title}}快乐\n")
    try:
        d.start(timeout=5)
        raise AssertionError("started with a bad template")
    except AssertionError as e:
        assert "birthday.sms.mustache:5:3: 'title' is not a variable of birthday" in str(e), e
    with open(os.path.join(tdir, "birthday.sms.mustache"), "w", encoding="utf-8") as f:
        f.write("channel: wecom\nkind: birthday\n---\n{{name}}\n")
    try:
        d.start(timeout=5)
        raise AssertionError("started with a bad header")
    except AssertionError as e:
        assert "birthday.sms.mustache:1:10: the channel must be sms" in str(e), e
    with open(os.path.join(tdir, "birthday.sms.mustache"), "w", encoding="utf-8") as f:
        f.write("channel: sms\nkind: birthday\n---\n生日快乐，{{name}}！{{#points}}积分{{points}}\n")
    try:
        d.start(timeout=5)
        raise AssertionError("started with an unclosed section")
    except AssertionError as e:
        assert "birthday.sms.mustache:4:" in str(e) and "not closed" in str(e), e
    with open(os.path.join(tdir, "birthday.sms.mustache"), "w", encoding="utf-8") as f:
        f.write("channel: sms\nkind: birthday\n---\n生日快乐，{{name}}！\n")
    d.start()
    d.stop()
