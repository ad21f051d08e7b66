"""Events, sign-ups, tickets and their QR images, through HTTP and the command line."""
import os
import sqlite3
import stat
import subprocess
import time

from harness import BIN, Daemon, Site, auth, from_now, login, add_staff


def test_signup_is_idempotent_and_issues_a_ticket():
    s = Site()
    ev = s.event(capacity=10)
    r = s.signup(ev, "13812345678")
    assert r.status == 201, r
    j = r.json
    assert j["status"] == "confirmed" and j["event_id"] == ev
    code = j["ticket"]["code"]
    assert code.startswith("K1.") and len(code.split(".")) == 4
    assert j["ticket"]["qr_svg"] == f"/api/v1/tickets/{code}.svg"
    again = s.signup(ev, "13812345678")
    assert again.status == 200 and again.json["signup_id"] == j["signup_id"]
    assert again.json["ticket"]["code"] == code
    svg = s.d.get(j["ticket"]["qr_svg"])
    assert svg.status == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.raw and b"crispEdges" in svg.raw
    png = s.d.get(j["ticket"]["qr_png"])
    assert png.status == 200 and png.raw.startswith(b"\x89PNG")
    events = s.d.get("/api/v1/events").json["events"]
    mine = [e for e in events if e["id"] == ev][0]
    assert mine["signed_up"] == 1 and mine["waitlisted"] == 0 and mine["status"] == "open"
    assert mine["starts_at"].endswith("+08:00") and mine["kind"] == "upgrade"
    s.d.stop()


def test_signup_validation_errors():
    s = Site()
    ev = s.event()
    url = f"/api/v1/events/{ev}/signups"
    cases = [
        ({"name": "李四", "phone": "13812345678"}, "consent"),
        ({"name": "李四", "phone": "13812345678", "consent": False}, "consent"),
        ({"name": "李四", "phone": "1381234567", "consent": True}, "phone"),
        ({"name": "李四", "phone": "12812345678", "consent": True}, "phone"),
        ({"name": "李四", "phone": "+8613812345678", "consent": True}, "phone"),
        ({"name": "李四", "phone": 13812345678, "consent": True}, "phone"),
        ({"name": "", "phone": "13812345678", "consent": True}, "name"),
        ({"name": "　 ", "phone": "13812345678", "consent": True}, "name"),
        ({"name": "张" * 33, "phone": "13812345678", "consent": True}, "name"),
        ({"name": "bad\u0007name", "phone": "13812345678", "consent": True}, "name"),
        ({"phone": "13812345678", "consent": True}, "name"),
        ({"name": "李四", "phone": "13812345678", "consent": True, "referrer_phone": "13812345678"},
         "referrer_phone"),
        ({"name": "李四", "phone": "13812345678", "consent": True, "referrer_phone": "123"},
         "referrer_phone"),
        ({"name": "李四", "phone": "13812345678", "consent": True, "member_no": "a b"}, "member_no"),
    ]
    for body, field in cases:
        r = s.d.post(url, body)
        assert r.status == 422, (body, r)
        assert r.json["error"]["code"] == "invalid_fields"
        assert field in r.json["error"]["fields"], (body, r.json)
    ok = s.d.post(url, {"name": "  王五  ", "phone": "13912345678", "consent": True})
    assert ok.status == 201  # trimmed
    assert s.d.post(url, b"{not json", headers={"Content-Type": "application/json"}).status == 400
    assert s.d.post(url, b"[1,2]", headers={"Content-Type": "application/json"}).status == 400
    assert s.d.post(url, b"", headers={"Content-Type": "application/json"}).status == 400
    r = s.d.post(url, b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415
    r = s.d.post(url, b"{" + b" " * 70000 + b"}", headers={"Content-Type": "application/json"})
    assert r.status == 413 and r.json["error"]["code"] == "too_large"
    assert s.d.post("/api/v1/events/999/signups",
                    {"name": "李四", "phone": "13812345678", "consent": True}).status == 404
    assert s.d.post("/api/v1/events/abc/signups",
                    {"name": "李四", "phone": "13812345678", "consent": True}).status == 404
    # nothing was recorded by the refused requests
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["signed_up"] == 1
    s.d.stop()


def test_waitlist_and_promotion_in_order():
    s = Site()
    ev = s.event(capacity=2)
    ids = []
    for i, phone in enumerate(["13800000001", "13800000002", "13800000003", "13800000004"]):
        r = s.signup(ev, phone)
        assert r.status == 201
        assert r.json["status"] == ("confirmed" if i < 2 else "waitlisted"), (i, r.json)
        ids.append(r.json["signup_id"])
    events = {e["id"]: e for e in s.d.get("/api/v1/events").json["events"]}
    assert events[ev]["status"] == "full" and events[ev]["waitlisted"] == 2
    r = s.d.delete(f"/api/v1/events/{ev}/signups/{ids[0]}", headers=auth(s.staff))
    assert r.status == 200 and r.json["status"] == "cancelled"
    roster = {g["signup_id"]: g for g in
              s.d.get(f"/api/v1/events/{ev}/roster", headers=auth(s.staff)).json["guests"]}
    assert ids[0] not in roster
    assert roster[ids[2]]["status"] == "confirmed"  # first on the waitlist moves up
    assert roster[ids[3]]["status"] == "waitlisted"
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["signed_up"] == 2 and st["waitlisted"] == 1
    # cancelling twice is refused
    r = s.d.delete(f"/api/v1/events/{ev}/signups/{ids[0]}", headers=auth(s.staff))
    assert r.status == 410
    assert s.d.delete(f"/api/v1/events/{ev}/signups/99999", headers=auth(s.staff)).status == 404
    s.d.stop()


def test_guest_cancels_with_ticket_and_signs_up_again():
    s = Site()
    ev = s.event()
    first = s.signup(ev, "13700000001").json
    code = first["ticket"]["code"]
    r = s.d.delete(f"/api/v1/tickets/{code}")
    assert r.status == 200, r
    assert s.d.get(f"/api/v1/tickets/{code}.svg").status == 410
    assert s.checkin(ticket=code).status == 410
    again = s.signup(ev, "13700000001")
    assert again.status == 201 and again.json["signup_id"] == first["signup_id"]
    new_code = again.json["ticket"]["code"]
    assert new_code != code  # the old ticket stays revoked
    r = s.checkin(ticket=code)
    assert r.status == 410 and r.json["error"]["code"] == "ticket_replaced"
    assert s.checkin(ticket=new_code).json["status"] == "checked_in"
    assert s.d.delete(f"/api/v1/tickets/{code[:-4]}AAAA").status == 403
    s.d.stop()


def test_event_creation_rules_and_roles():
    s = Site()
    base = {"title": "升级会", "kind": "upgrade", "starts_at": from_now(60), "ends_at": from_now(100),
            "venue": "二楼"}
    r = s.d.post("/api/v1/events", base, headers=auth(s.manager))
    assert r.status == 201 and r.json["capacity"] == 10  # the upgrade meeting default
    r = s.d.post("/api/v1/events", dict(base, capacity=21), headers=auth(s.manager))
    assert r.status == 422 and "capacity" in r.json["error"]["fields"]
    r = s.d.post("/api/v1/events", dict(base, capacity=20), headers=auth(s.manager))
    assert r.status == 201
    r = s.d.post("/api/v1/events", dict(base, kind="salon"), headers=auth(s.manager))
    assert r.status == 422 and "capacity" in r.json["error"]["fields"]
    r = s.d.post("/api/v1/events", dict(base, kind="party", capacity=5), headers=auth(s.manager))
    assert r.status == 422 and "kind" in r.json["error"]["fields"]
    r = s.d.post("/api/v1/events", dict(base, ends_at=base["starts_at"]), headers=auth(s.manager))
    assert r.status == 422 and "ends_at" in r.json["error"]["fields"]
    r = s.d.post("/api/v1/events", dict(base, starts_at="tomorrow"), headers=auth(s.manager))
    assert r.status == 422 and "starts_at" in r.json["error"]["fields"]
    r = s.d.post("/api/v1/events", base, headers=auth(s.staff))
    assert r.status == 403 and r.json["error"]["code"] == "forbidden"
    r = s.d.post("/api/v1/events", base)
    assert r.status == 401
    r = s.d.post("/api/v1/events", base, headers=auth("x" * 43))
    assert r.status == 401
    s.d.stop()


def test_cancelled_event_refuses_signups_and_checkins():
    s = Site()
    ev = s.event()
    code = s.signup(ev, "13600000001").json["ticket"]["code"]
    r = s.d.post(f"/api/v1/events/{ev}/cancel", {}, headers=auth(s.manager))
    assert r.status == 200 and r.json["status"] == "cancelled"
    r = s.signup(ev, "13600000002")
    assert r.status == 410 and r.json["error"]["code"] == "event_cancelled"
    r = s.checkin(ticket=code)
    assert r.status == 410 and r.json["error"]["code"] == "event_cancelled"
    assert s.d.get(f"/api/v1/tickets/{code}.png").status == 410
    assert ev not in [e["id"] for e in s.d.get("/api/v1/events").json["events"]]
    s.d.stop()


def test_event_over_refuses_signups():
    s = Site()
    ev = s.event(starts=-60, minutes=30)
    r = s.signup(ev, "13600000003")
    assert r.status == 410 and r.json["error"]["code"] == "event_over"
    assert ev not in [e["id"] for e in s.d.get("/api/v1/events").json["events"]]
    staff_list = s.d.get("/api/v1/staff/events", headers=auth(s.staff)).json["events"]
    assert [e["over"] for e in staff_list if e["id"] == ev] == [True]
    assert s.d.get("/api/v1/staff/events").status == 401
    s.d.stop()


def test_import_events_csv_all_or_nothing():
    d = Daemon(start=False)
    good = os.path.join(d.dir, "events.csv")
    with open(good, "w", encoding="utf-8") as f:
        f.write("\ufefftitle,kind,starts_at,ends_at,venue,capacity\r\n"
                "客户财富升级会,upgrade,2030-01-02T14:00:00+08:00,2030-01-02T14:40:00+08:00,贵宾室,10\r\n"
                "\"沙龙, 第二场\",salon,2030-01-03T15:00:00+08:00,2030-01-03T16:00:00+08:00,一楼,30\r\n")
    p = d.cli("import", "events", good)
    assert p.stdout.decode().count("event ") == 2, p
    bad = os.path.join(d.dir, "bad.csv")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity\n"
                "A,community,2030-01-02T14:00:00+08:00,2030-01-02T15:00:00+08:00,X,100\n"
                "B,community,2030-01-02T14:00:00+08:00,not a time,X,100\n")
    p = d.cli("import", "events", bad, check=False)
    assert p.returncode == 1 and b"line 3" in p.stderr and b"ends_at" in p.stderr, p.stderr
    assert b"nothing was imported" in p.stderr
    p = d.cli("import", "events", os.path.join(d.dir, "missing.csv"), check=False)
    assert p.returncode == 1
    d.start()
    titles = [e["title"] for e in d.get("/api/v1/events").json["events"]]
    assert titles == ["客户财富升级会", "沙龙, 第二场"], titles
    d.stop()


def test_staff_add_and_keys_from_the_command_line():
    d = Daemon(start=False)
    add_staff(d, "A1", "admin", "9999")
    p = d.cli("staff", "add", "A1", "--name", "X", "--role", "admin", input=b"9999\n", check=False)
    assert p.returncode == 1 and b"exists" in p.stderr
    p = d.cli("staff", "add", "A2", "--name", "X", "--role", "boss", input=b"9999\n", check=False)
    assert p.returncode == 2
    p = d.cli("staff", "add", "A3", "--name", "X", "--role", "staff", input=b"12\n", check=False)
    assert p.returncode == 2 and b"PIN" in p.stderr
    p = d.cli("keygen")
    assert p.stdout.startswith(b"kid ") and b"BEGIN PUBLIC KEY" in p.stdout
    key = os.path.join(d.dir, "var", "ticket-key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    kid = p.stdout.split()[1]
    p = d.cli("keygen")
    assert p.stdout.split()[1] == kid and b"existing" in p.stdout  # never replaced
    d.start()
    assert login(d, "A1", "9999")
    d.stop()
    os.chmod(key, 0o644)
    p = subprocess.run([BIN, "serve", "-c", d.config_path], env=d.env, cwd=d.dir,
                       capture_output=True, timeout=10)
    assert p.returncode != 0 and b"chmod 600" in p.stderr, p.stderr
    os.chmod(key, 0o600)
    store_key = os.path.join(d.dir, "kioskd.key")
    assert stat.S_IMODE(os.stat(store_key).st_mode) == 0o600


def test_personal_data_is_encrypted_at_rest_and_never_logged():
    s = Site()
    ev = s.event()
    phone, name = "13598765432", "欧阳娜娜"
    r = s.signup(ev, phone, name=name)
    assert r.status == 201
    code = r.json["ticket"]["code"]
    checked = s.checkin(ticket=code).json
    assert checked["name"] == "欧*"
    roster = s.d.get(f"/api/v1/events/{ev}/roster?q=4321"[:-4] + "5432", headers=auth(s.staff)).json
    assert roster["guests"][0]["phone"] == "135****5432"
    assert roster["guests"][0]["name"] == "欧*"
    by_name = s.d.get("/api/v1/events/%d/roster?q=%s" % (ev, "%E6%AC%A7%E9%98%B3"),
                      headers=auth(s.staff)).json
    assert len(by_name["guests"]) == 1
    assert s.d.get(f"/api/v1/events/{ev}/roster?q=9999", headers=auth(s.staff)).json["guests"] == []
    s.d.stop()
    blob = b""
    for suffix in ("", "-wal"):
        path = os.path.join(s.d.dir, "kioskd.db" + suffix)
        if os.path.exists(path):
            blob += open(path, "rb").read()
    assert blob, "no database"
    assert phone.encode() not in blob and name.encode() not in blob
    assert name[1:].encode() not in blob
    log = s.d.all_stderr()
    assert phone not in log and name not in log and name[1:] not in log
    assert code not in log  # tickets are credentials; their paths are logged as patterns
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    for table in ("audit", "outbox"):
        for row in db.execute(f"SELECT * FROM {table}"):
            text = repr(row)
            assert phone not in text and name not in text, (table, row)
    db.close()


def test_a_replaced_ticket_cannot_cancel_nor_show_its_qr():
    s = Site()
    ev = s.event()
    first = s.signup(ev, "13700000101").json
    old = first["ticket"]["code"]
    assert s.d.delete(f"/api/v1/events/{ev}/signups/{first['signup_id']}",
                      headers=auth(s.staff)).status == 200
    again = s.signup(ev, "13700000101")
    assert again.status == 201 and again.json["signup_id"] == first["signup_id"], again
    new = again.json["ticket"]["code"]
    assert new != old
    r = s.d.delete(f"/api/v1/tickets/{old}")
    assert r.status == 410 and r.json["error"]["code"] == "ticket_replaced", r
    for ext in ("svg", "png"):
        r = s.d.get(f"/api/v1/tickets/{old}.{ext}")
        assert r.status == 410, (ext, r)
        assert r.json["error"]["code"] in ("ticket_replaced", "ticket_cancelled"), (ext, r)
    # the refused old ticket left the new one as it was
    assert s.d.get(f"/api/v1/tickets/{new}.svg").status == 200
    assert s.d.get(f"/api/v1/tickets/{new}.png").status == 200
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["signed_up"] == 1, st
    assert s.d.delete(f"/api/v1/tickets/{new}").status == 200
    s.d.stop()


def test_a_repeat_signup_seconds_later_returns_the_same_ticket():
    s = Site()
    ev = s.event()
    first = s.signup(ev, "13700000102", name="钱七")
    assert first.status == 201, first
    time.sleep(1.1)  # past the second of the first issue time
    again = s.signup(ev, "13700000102", name="钱七")
    assert again.status == 200, again
    assert again.json["signup_id"] == first.json["signup_id"]
    assert again.json["ticket"]["code"] == first.json["ticket"]["code"]
    assert s.checkin(ticket=first.json["ticket"]["code"]).status != 410
    s.d.stop()
