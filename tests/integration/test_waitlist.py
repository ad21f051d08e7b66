"""The waitlist: each waitlisted guest's place, the staff's list in order, and
the audited reveal of a number to call."""
import os
import sqlite3

from harness import Site, auth, eventually


def audit_rows(d, action):
    db = sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT staff_id, device, subject FROM audit WHERE action = ? ORDER BY id",
                          (action,)).fetchall()
    finally:
        db.close()


def full_event(s, waiting=3):
    ev = s.event(capacity=1)
    assert s.signup(ev, "13800001000", name="赵一").json["status"] == "confirmed"
    names = ["钱二", "孙三", "李四", "周五"][:waiting]
    ids = []
    for i, name in enumerate(names):
        r = s.signup(ev, f"1380000100{i + 1}", name=name)
        assert r.status == 201 and r.json["status"] == "waitlisted", r
        assert r.json["waitlist_position"] == i + 1, r
        ids.append(r.json["signup_id"])
    return ev, ids


def test_signup_tells_the_place_on_the_waitlist_and_again_when_repeated():
    s = Site()
    ev, ids = full_event(s)
    first = s.signup(ev, "13800001000", name="赵一")
    assert first.status == 200 and "waitlist_position" not in first.json, first
    again = s.signup(ev, "13800001002", name="孙三")
    assert again.status == 200 and again.json["signup_id"] == ids[1], again
    assert again.json["waitlist_position"] == 2, again
    # the first waitlisted guest cancels: the others move up
    r = s.d.delete(f"/api/v1/events/{ev}/signups/{ids[0]}", headers=auth(s.staff))
    assert r.status == 200, r
    assert s.signup(ev, "13800001003", name="李四").json["waitlist_position"] == 2
    assert s.signup(ev, "13800001002", name="孙三").json["waitlist_position"] == 1
    s.d.stop()


def test_staff_waitlist_in_order_and_masked():
    s = Site()
    ev, ids = full_event(s)
    r = s.d.get(f"/api/v1/events/{ev}/waitlist", headers=auth(s.staff))
    assert r.status == 200, r
    rows = r.json["waitlist"]
    assert [w["signup_id"] for w in rows] == ids
    assert [w["position"] for w in rows] == [1, 2, 3]
    assert [w["name"] for w in rows] == ["钱*", "孙*", "李*"]
    assert [w["phone_last4"] for w in rows] == ["1001", "1002", "1003"]
    assert b"1380000" not in r.raw
    assert all(set(w) == {"signup_id", "name", "phone_last4", "position"} for w in rows)
    assert eventually(lambda: audit_rows(s.d, "waitlist_view") == [("S1", "tablet-1", f"event:{ev}")])
    # a confirmed guest is not on it; a cancelled one leaves it; a promoted one too
    s.d.delete(f"/api/v1/events/{ev}/signups/{ids[1]}", headers=auth(s.staff))
    confirmed = s.signup(ev, "13800001000", name="赵一").json["signup_id"]
    s.d.delete(f"/api/v1/events/{ev}/signups/{confirmed}", headers=auth(s.staff))
    rows = s.d.get(f"/api/v1/events/{ev}/waitlist", headers=auth(s.staff)).json["waitlist"]
    assert [(w["signup_id"], w["position"]) for w in rows] == [(ids[2], 1)]
    empty = s.d.get(f"/api/v1/events/{s.event(capacity=5)}/waitlist", headers=auth(s.staff))
    assert empty.status == 200 and empty.json["waitlist"] == [], empty
    s.d.stop()


def test_reveal_gives_the_number_after_its_audit_line_and_never_logs_it():
    s = Site()
    ev, ids = full_event(s)
    r = s.d.post(f"/api/v1/events/{ev}/waitlist/{ids[1]}/reveal", {}, headers=auth(s.staff))
    assert r.status == 200 and r.json == {"phone": "13800001002"}, r
    assert audit_rows(s.d, "waitlist_reveal") == [("S1", "tablet-1", f"signup:{ids[1]}")]
    s.d.stop()
    assert "13800001002" not in s.d.all_stderr()
    logs = os.path.join(s.d.dir, "kioskd.log")
    if os.path.exists(logs):
        assert "13800001002" not in open(logs, encoding="utf-8", errors="replace").read()


def test_reveal_refuses_strangers_other_events_and_guests_not_waiting():
    s = Site()
    ev, ids = full_event(s, waiting=1)
    other = s.event(capacity=5)
    before = audit_rows(s.d, "waitlist_reveal")
    r = s.d.post(f"/api/v1/events/{ev}/waitlist/{ids[0]}/reveal", {})
    assert r.status == 401, r
    r = s.d.get(f"/api/v1/events/{ev}/waitlist")
    assert r.status == 401, r
    r = s.d.post(f"/api/v1/events/{other}/waitlist/{ids[0]}/reveal", {}, headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "signup_not_found", r
    confirmed = s.signup(ev, "13800001000", name="赵一").json["signup_id"]
    r = s.d.post(f"/api/v1/events/{ev}/waitlist/{confirmed}/reveal", {}, headers=auth(s.staff))
    assert r.status == 404, r
    r = s.d.post(f"/api/v1/events/99999/waitlist/{ids[0]}/reveal", {}, headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "event_not_found", r
    r = s.d.post(f"/api/v1/events/{ev}/waitlist/99999/reveal", {}, headers=auth(s.staff))
    assert r.status == 404, r
    assert audit_rows(s.d, "waitlist_reveal") == before == []
    s.d.stop()
