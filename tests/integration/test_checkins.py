"""Check-in at the door: tickets, phones, walk-ins, undo, races, windows, staff logins, live view."""
import datetime
import os
import sqlite3
import time

import harness
from harness import Daemon, Site, WebSocket, add_staff, auth, login, parallel, skip_if_emulated


def test_journey_checkin_twice_undo_and_stats():
    s = Site()
    ev = s.event()
    code = s.signup(ev, "13812340001", name="王小明").json["ticket"]["code"]
    r = s.checkin(ticket=code, event_id=ev)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    assert r.json["name"] == "王*" and r.json["at"].endswith("+08:00")
    cid = r.json["checkin_id"]
    other = login(s.d, "S1", "222222", "tablet-2")
    again = s.checkin(token=other, ticket=code + "\r\n")  # a scanner's line ending is fine
    assert again.status == 200 and again.json["status"] == "already_checked_in", again
    assert again.json["first_at"] == r.json["at"] and again.json["first_device"] == "tablet-1"
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["checked_in"] == 1 and st["signed_up"] == 1 and st["walk_ins"] == 0
    u = s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff))
    assert u.status == 200 and u.json["status"] == "undone"
    assert s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff)).status == 409
    assert s.d.delete("/api/v1/checkins/424242", headers=auth(s.staff)).status == 404
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["checked_in"] == 0
    r = s.checkin(ticket=code)
    assert r.json["status"] == "checked_in" and r.json["checkin_id"] != cid
    # by event and phone
    s.signup(ev, "13812340002")
    r = s.checkin(event_id=ev, phone="13812340002")
    assert r.status == 200 and r.json["status"] == "checked_in"
    r = s.checkin(event_id=ev, phone="13812349999")
    assert r.status == 404 and r.json["error"]["code"] == "no_signup"
    assert s.checkin(event_id=ev, phone="12345").status == 422
    assert s.checkin().status == 422
    s.d.stop()


def test_forged_truncated_and_foreign_tickets_are_refused():
    s = Site()
    ev = s.event()
    code = s.signup(ev, "13812340003").json["ticket"]["code"]
    k1, kid, payload, sig = code.split(".")
    flip = lambda t, i: t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1:]
    forged = [
        f"{k1}.{kid}.{flip(payload, 5)}.{sig}",      # altered payload
        f"{k1}.{kid}.{payload}.{flip(sig, 10)}",      # altered signature
        code[:-1], code[:40], "K1", "", "hello", "K2" + code[2:], code + "A",
        f"{k1}.{kid}.{payload}",
    ]
    for bad in forged:
        r = s.checkin(ticket=bad) if bad else s.checkin(ticket=" ")
        assert r.status in (403, 422), (bad, r)
        if r.status == 403:
            assert r.json["error"]["code"] == "bad_ticket"
    # a ticket signed by another daemon's key: unknown kid
    other = Site()
    ev2 = other.event()
    foreign = other.signup(ev2, "13812340003").json["ticket"]["code"]
    assert foreign.split(".")[1] != kid
    r = s.checkin(ticket=foreign)
    assert r.status == 403 and r.json["error"]["code"] == "bad_ticket"
    # the other daemon's signature presented under this daemon's key id
    fk1, fkid, fpayload, fsig = foreign.split(".")
    r = s.checkin(ticket=f"{fk1}.{kid}.{fpayload}.{fsig}")
    assert r.status == 403
    assert s.d.get(f"/api/v1/tickets/{code[:-2]}xx.svg").status == 404
    other.d.stop()
    # nothing was checked in by the refusals
    assert s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json["checked_in"] == 0
    s.d.stop()


def test_concurrent_scans_of_one_ticket_give_one_checkin():
    s = Site()
    ev = s.event()
    code = s.signup(ev, "13812340004").json["ticket"]["code"]
    tokens = [login(s.d, "S1", "222222", f"tablet-{i}") for i in range(4)]
    results = parallel(lambda t: s.checkin(token=t, ticket=code),
                       [(tokens[i % 4],) for i in range(24)])
    statuses = [r.json["status"] for r in results]
    assert statuses.count("checked_in") == 1, statuses
    assert statuses.count("already_checked_in") == 23
    ids = {r.json["checkin_id"] for r in results}
    assert len(ids) == 1
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 1
    assert db.execute("SELECT checked_in FROM events WHERE id=?", (ev,)).fetchone()[0] == 1
    db.close()


def test_checkin_window_wrong_event_and_waitlist():
    s = Site()
    later = s.event(starts=180)  # opens two hours before: not yet
    code = s.signup(later, "13812340005").json["ticket"]["code"]
    r = s.checkin(ticket=code)
    assert r.status == 409 and r.json["error"]["code"] == "not_open_yet"
    now_ev = s.event(starts=10)
    r = s.checkin(ticket=code, event_id=now_ev)
    assert r.status == 409 and r.json["error"]["code"] == "wrong_event"
    short = s.event(starts=-1, minutes=1, starts_seconds=3)  # ends in about 3 seconds
    code2 = s.signup(short, "13812340006").json["ticket"]["code"]
    time.sleep(4)
    r = s.checkin(ticket=code2)
    assert r.status == 409 and r.json["error"]["code"] == "event_over", r
    tiny = s.event(capacity=1)
    s.signup(tiny, "13812340007")
    wait = s.signup(tiny, "13812340008").json
    assert wait["status"] == "waitlisted"
    r = s.checkin(ticket=wait["ticket"]["code"])
    assert r.status == 409 and r.json["error"]["code"] == "waitlisted"
    s.d.stop()


def test_walkins():
    s = Site()
    ev = s.event(capacity=1)
    url = f"/api/v1/events/{ev}/walkins"
    r = s.d.post(url, {"name": "赵六", "phone": "13812340009", "consent": True}, headers=auth(s.staff))
    assert r.status == 201 and r.json["status"] == "checked_in" and r.json["name"] == "赵*", r
    r = s.d.post(url, {"name": "赵六", "phone": "13812340009", "consent": True}, headers=auth(s.staff))
    assert r.status == 200 and r.json["status"] == "already_checked_in"
    # a waitlisted guest admitted at the door
    s.signup(ev, "13812340010")
    assert s.signup(ev, "13812340011").json["status"] == "waitlisted"
    r = s.d.post(url, {"name": "孙七", "phone": "13812340011", "consent": True}, headers=auth(s.staff))
    assert r.status == 200 and r.json["status"] == "checked_in"
    assert s.d.post(url, {"name": "x", "phone": "1", "consent": True},
                    headers=auth(s.staff)).status == 422
    assert s.d.post(url, {"name": "x", "phone": "13812340012"}, headers=auth(s.staff)).status == 422
    assert s.d.post(url, {"name": "x", "phone": "13812340012", "consent": True}).status == 401
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["walk_ins"] == 1 and st["checked_in"] == 2 and st["signed_up"] == 2, st
    s.d.stop()


def test_staff_tokens_expire_lock_out_and_log_out():
    if skip_if_emulated("test_checkins.test_staff_tokens_expire_lock_out_and_log_out",
                        "its 2-second token lifetime is shorter than an emulated login and lookup"):
        return
    # lifetimes in whole seconds, longer where PIN hashing is slow (SAN): a login's hash must
    # not outlast the token it gives, nor the three wrong PINs the lock they set
    ttl = 2 * harness.PATIENCE
    d = Daemon(config=f"[staff]\ntoken_ttl = {ttl}\nlock_after = 3\nlock_seconds = {ttl}\n")
    add_staff(d, "S9", "staff", "4242")
    tok = login(d, "S9", "4242")
    assert d.get("/api/v1/staff/me", headers=auth(tok)).json["staff_id"] == "S9"
    time.sleep(ttl + 0.2)
    assert d.get("/api/v1/staff/me", headers=auth(tok)).status == 401
    for _ in range(2):
        r = d.post("/api/v1/staff/login", {"staff_id": "S9", "pin": "0000", "device": "t"})
        assert r.status == 401 and r.json["error"]["code"] == "bad_credentials"
    r = d.post("/api/v1/staff/login", {"staff_id": "S9", "pin": "0000", "device": "t"})
    assert r.status == 429 and r.json["error"]["code"] == "account_locked"
    assert int(r.headers["retry-after"]) >= 1
    r = d.post("/api/v1/staff/login", {"staff_id": "S9", "pin": "4242", "device": "t"})
    assert r.status == 429  # even the right PIN while locked
    time.sleep(ttl + 0.2)
    tok = login(d, "S9", "4242")
    r = d.post("/api/v1/staff/logout", b"", headers=dict(auth(tok), **{"Content-Type": "application/json"}))
    assert r.status == 200
    assert d.get("/api/v1/staff/me", headers=auth(tok)).status == 401
    # an admin logs a staff member out everywhere (a lost tablet): with tokens that outlive
    # the logins below however busy the machine is
    d.stop()
    with open(d.config_path) as f:
        conf = f.read()
    assert f"token_ttl = {ttl}\n" in conf, conf
    with open(d.config_path, "w") as f:
        f.write(conf.replace(f"token_ttl = {ttl}\n", "token_ttl = 3600\n"))
    d.start()
    add_staff(d, "A9", "admin", "9090")
    admin = login(d, "A9", "9090")
    t1, t2 = login(d, "S9", "4242", "t1"), login(d, "S9", "4242", "t2")
    assert d.delete("/api/v1/staff/S9/sessions", headers=auth(t1)).status == 403
    r = d.delete("/api/v1/staff/S9/sessions", headers=auth(admin))
    assert r.status == 200 and r.json["revoked"] == 2, r
    assert d.get("/api/v1/staff/me", headers=auth(t2)).status == 401
    assert d.delete("/api/v1/staff/nobody/sessions", headers=auth(admin)).status == 404
    r = d.post("/api/v1/staff/login", {"staff_id": "nobody", "pin": "4242", "device": "t"})
    assert r.status == 401
    r = d.post("/api/v1/staff/login", {"staff_id": "S9"})
    assert r.status == 422
    d.stop()
    db = sqlite3.connect(os.path.join(d.dir, "kioskd.db"))
    actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")]
    db.close()
    for a in ("login", "login_failed", "lockout", "login_refused_locked", "logout",
              "sessions_revoke"):
        assert a in actions, (a, actions)
    assert "staff_locked" in d.all_stderr()


def test_live_view_pushes_to_every_tablet():
    s = Site()
    ev = s.event()
    other_ev = s.event()
    ws1 = WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={s.staff}")
    tablet2 = login(s.d, "S1", "222222", "tablet-2")
    ws2 = WebSocket(s.d.port, f"/api/v1/live?event={ev}", headers=auth(tablet2))
    ws3 = WebSocket(s.d.port, f"/api/v1/live?event={other_ev}&token={s.staff}")
    hello = ws1.recv()
    assert hello["type"] == "hello" and hello["counts"]["signed_up"] == 0
    assert ws2.recv()["type"] == "hello" and ws3.recv()["type"] == "hello"
    code = s.signup(ev, "13812340013", name="周八").json["ticket"]["code"]
    m = ws1.recv_until("signup")
    assert m["counts"]["signed_up"] == 1 and m["name"] == "周*" and m["event_id"] == ev
    s.checkin(ticket=code)
    for ws in (ws1, ws2):
        m = ws.recv_until("checkin")
        assert m["counts"]["checked_in"] == 1 and m["device"] == "tablet-1"
    s.d.post(f"/api/v1/events/{ev}/walkins", {"name": "吴九", "phone": "13812340014", "consent": True},
             headers=auth(s.staff))
    assert ws2.recv_until("walkin")["counts"]["walk_ins"] == 1
    cid = s.checkin(ticket=code).json["checkin_id"]
    s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff))
    assert ws1.recv_until("undo")["counts"]["checked_in"] == 1
    # the other event's tablet heard nothing of this one: its next message is its own
    s.signup(other_ev, "13812340018", name="冯十一")
    m = ws3.recv()
    assert m["type"] == "signup" and m["event_id"] == other_ev and m["name"] == "冯*", m
    # a refused upgrade is closed by the daemon before any answer (not left hanging)
    for bad in (f"/api/v1/live?event={ev}&token=nope" + "x" * 40, f"/api/v1/live?event={ev}",
                f"/api/v1/live?token={s.staff}", f"/api/v1/live?event=999&token={s.staff}"):
        try:
            WebSocket(s.d.port, bad, timeout=10)
            raise AssertionError("accepted " + bad)
        except ConnectionError as e:
            assert str(e) == "closed during handshake", (bad, e)
    assert s.d.stderr().count("event=live_refused") == 4, s.d.stderr()
    for ws in (ws1, ws2, ws3):
        ws.close()
    s.d.stop()


def test_every_staff_action_is_audited_and_journalled():
    s = Site()
    ev = s.event(capacity=5)
    code = s.signup(ev, "13812340015").json["ticket"]["code"]
    sid2 = s.signup(ev, "13812340016").json["signup_id"]
    cid = s.checkin(ticket=code).json["checkin_id"]
    s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff))
    s.d.post(f"/api/v1/events/{ev}/walkins", {"name": "郑十", "phone": "13812340017", "consent": True},
             headers=auth(s.staff))
    s.d.get(f"/api/v1/events/{ev}/roster?q=0016", headers=auth(s.staff))
    s.d.delete(f"/api/v1/events/{ev}/signups/{sid2}", headers=auth(s.staff))
    s.d.post(f"/api/v1/events/{ev}/cancel", {}, headers=auth(s.manager))
    assert s.d.get("/healthz").json["outbox_pending"] >= 7
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    audit = db.execute("SELECT staff_id, device, action, subject FROM audit").fetchall()
    acts = {(a[0], a[2]) for a in audit}
    for want in [("S1", "checkin"), ("S1", "checkin_undo"), ("S1", "walkin"), ("S1", "roster_search"),
                 ("S1", "signup_cancel"), ("M1", "event_cancel"), ("M1", "event_create"),
                 ("S1", "login"), ("M1", "login")]:
        assert want in acts, (want, acts)
    assert all(a[1] for a in audit if a[0] == "S1"), "the device is recorded"
    seqs = [r[0] for r in db.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    kinds = {r[0] for r in db.execute("SELECT kind FROM outbox")}
    assert {"event_created", "signup", "checkin", "checkin_undone", "signup_cancelled",
            "event_cancelled"} <= kinds, kinds
    ids = [r[0] for r in db.execute("SELECT id FROM outbox")]
    assert len(set(ids)) == len(ids) and all(len(i) == 36 for i in ids)
    # counters agree with the rows they count
    row = db.execute("SELECT confirmed, waitlisted, checked_in, walk_ins FROM events WHERE id=?",
                     (ev,)).fetchone()
    confirmed = db.execute("SELECT count(*) FROM signups WHERE event_id=? AND status='confirmed' "
                           "AND source<>'walkin'", (ev,)).fetchone()[0]
    checked = db.execute("SELECT count(*) FROM checkins WHERE event_id=? AND undone_us IS NULL",
                         (ev,)).fetchone()[0]
    assert row[0] == confirmed and row[2] == checked and row[3] == 1, (row, confirmed, checked)
    db.close()


def test_a_tablet_that_stops_reading_is_dropped_and_holds_nobody_back():
    s = Site()
    ev = s.event(kind="community", capacity=10000)
    good = WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={s.staff}")
    assert good.recv()["type"] == "hello"
    # a tablet with a tiny receive window that never reads
    import socket as socketmod
    slow = socketmod.socket()
    slow.setsockopt(socketmod.SOL_SOCKET, socketmod.SO_RCVBUF, 1024)
    slow.connect(("127.0.0.1", s.d.port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    slow.sendall((f"GET /api/v1/live?event={ev}&token={s.staff} HTTP/1.1\r\nHost: x\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    n = 2000  # about 340 KB of messages: more than a tablet may leave waiting
    seen = []

    def read_good():
        while len(seen) < n:
            if good.recv()["type"] == "signup":
                seen.append(1)
    import threading
    reader = threading.Thread(target=read_good)
    reader.start()

    def batch(t):
        return [s.signup(ev, "1380%03d%04d" % (t, i), name="测试").status for i in range(n // 40)]
    statuses = sum(parallel(batch, [(t,) for t in range(40)]), [])
    assert statuses == [201] * n
    reader.join(10)
    assert len(seen) == n  # the reading tablet got every message
    assert "event=live_dropped" in s.d.stderr()
    assert s.d.get("/healthz").status == 200
    slow.close()
    good.close()
    s.d.stop()


def test_a_good_login_resets_the_wrong_pin_count():
    d = Daemon()  # [staff] lock_after = 5 (the default)
    add_staff(d, "S8", "staff", "5151")
    for _ in range(2):
        for _ in range(4):
            r = d.post("/api/v1/staff/login", {"staff_id": "S8", "pin": "0000", "device": "t"})
            assert r.status == 401 and r.json["error"]["code"] == "bad_credentials", r
        login(d, "S8", "5151")
    # and the count still locks after five in a row
    for _ in range(4):
        assert d.post("/api/v1/staff/login",
                      {"staff_id": "S8", "pin": "0000", "device": "t"}).status == 401
    r = d.post("/api/v1/staff/login", {"staff_id": "S8", "pin": "0000", "device": "t"})
    assert r.status == 429 and r.json["error"]["code"] == "account_locked", r
    d.stop()


def test_the_schema_refuses_a_second_checkin_in_force():
    s = Site()
    ev = s.event()
    sid = s.signup(ev, "13812340099").json
    s.checkin(ticket=sid["ticket"]["code"])
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    row = (ev, sid["signup_id"], 1, "S1", "tablet-9", "phone")
    sql = ("INSERT INTO checkins(event_id, signup_id, at_us, staff_id, device, method, undone_us) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
    db.execute(sql, row + (5,))  # an undone one beside it is allowed
    try:
        db.execute(sql, row + (None,))
        raise AssertionError("a second check-in in force was stored")
    except sqlite3.IntegrityError as e:
        assert "UNIQUE" in str(e), e
    db.rollback()
    db.close()


def test_refusals_say_which_event_and_when_checkin_opens():
    s = Site(config="[events]\ncheckin_opens = 5400\n")
    later = s.event(title="客户财富升级会（下午场）", starts=180)
    signup = s.signup(later, "13812340011").json
    starts_at = s.d.get(f"/api/v1/events/{later}").json["starts_at"]
    now_ev = s.event(starts=10)
    r = s.checkin(ticket=signup["ticket"]["code"], event_id=now_ev)
    assert r.status == 409 and r.json["error"]["code"] == "wrong_event", r
    assert r.json["error"]["message"] == "this ticket is for another event"
    assert r.json["error"]["event"] == {"id": later, "title": "客户财富升级会（下午场）",
                                        "starts_at": starts_at}, r.json
    r = s.checkin(ticket=signup["ticket"]["code"])
    assert r.status == 409 and r.json["error"]["code"] == "not_open_yet", r
    opens = datetime.datetime.fromisoformat(r.json["error"]["opens_at"])
    assert r.json["error"]["opens_at"].endswith("+08:00"), r.json
    assert opens == datetime.datetime.fromisoformat(starts_at) - datetime.timedelta(seconds=5400)
    # by phone too, and other refusals keep the plain shape
    r = s.checkin(event_id=later, phone="13812340011")
    assert r.status == 409 and "opens_at" in r.json["error"], r
    r = s.checkin(event_id=now_ev, phone="13812340099")
    assert r.status == 404 and set(r.json["error"]) == {"code", "message"}, r


def test_tablet_named_at_login_is_recorded_and_shown():
    s = Site()
    ev = s.event()
    code = s.signup(ev, "13812340012").json["ticket"]["code"]
    r = s.d.post("/api/v1/staff/login", {"staff_id": "S1", "pin": "222222", "device": " 东门1号 "})
    assert r.status == 200 and r.json["device"] == "东门1号", r
    east = r.json["token"]
    me = s.d.get("/api/v1/staff/me", headers=auth(east))
    assert me.json["device"] == "东门1号", me
    first = s.checkin(token=east, ticket=code)
    assert first.json["status"] == "checked_in", first
    again = s.checkin(ticket=code)
    assert again.json["first_device"] == "东门1号", again
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    assert db.execute("SELECT device FROM checkins").fetchone()[0] == "东门1号"
    db.close()
    for name in ["East gate 2", "Zürich-1", "tablet-c12bd0", "old_tablet.v2", "東門 二號"]:
        r = s.d.post("/api/v1/staff/login", {"staff_id": "S1", "pin": "222222", "device": name})
        assert r.status == 200 and r.json["device"] == name, (name, r)
    for name, why in [("东门\u00071号", "control"), ("东门\n1号", "control"),
                      ("\u202e东门", "control"), ("东门1号!", "may contain"),
                      ("东" * 17, "longer than 16"), ("   ", "empty")]:
        r = s.d.post("/api/v1/staff/login", {"staff_id": "S1", "pin": "222222", "device": name})
        assert r.status == 422 and r.json["error"]["code"] == "invalid_fields", (name, r)
        assert why in r.json["error"]["fields"]["device"], (name, r.json)
