"""Short codes: 6 digits per sign-up, unique within its event, typed by staff at the door."""
import os
import re
import sqlite3

from harness import DROP_AFTER_0008, Site, auth


def test_every_signup_has_a_six_digit_code_unique_in_its_event():
    s = Site()
    ev, other = s.event(capacity=20), s.event(starts=60, capacity=20)
    codes = set()
    for i in range(60):
        r = s.signup(ev, f"1390000{i:04d}")
        assert r.status == 201, r
        code = r.json["ticket"]["short_code"]
        assert re.fullmatch(r"[0-9]{6}", code), code
        codes.add(code)
    assert len(codes) == 60, "a code repeated within the event"
    first = s.signup(ev, "13900000000")
    assert first.status == 200 and first.json["ticket"]["short_code"] in codes, "same code again"
    r = s.signup(other, "13900000000")
    assert r.status == 201 and re.fullmatch(r"[0-9]{6}", r.json["ticket"]["short_code"])
    db = sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True)
    dup = db.execute("SELECT event_id, short_code, count(*) FROM signups GROUP BY 1, 2 "
                     "HAVING count(*) > 1").fetchall()
    assert dup == [], dup
    db.close()


def test_staff_check_in_by_short_code():
    s = Site()
    ev, other = s.event(), s.event(starts=60)
    mine = s.signup(ev, "13800001111", name="王短码").json
    theirs = s.signup(other, "13800002222").json
    code = mine["ticket"]["short_code"]
    r = s.checkin(event_id=ev, code=code)
    assert r.status == 200 and r.json["status"] == "checked_in" and r.json["name"] == "王*", r
    again = s.checkin(event_id=ev, code=code)
    assert again.status == 200 and again.json["status"] == "already_checked_in", again
    db = sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True)
    assert db.execute("SELECT method FROM checkins").fetchall() == [("code",)]
    db.close()
    # another event's code, an unknown code, a malformed one
    r = s.checkin(event_id=ev, code=theirs["ticket"]["short_code"])
    if theirs["ticket"]["short_code"] != code:
        assert r.status == 404 and r.json["error"]["code"] == "no_signup", r
    unused = next(c for c in (f"{n:06d}" for n in range(1000000)) if c != code)
    r = s.checkin(event_id=ev, code=unused)
    assert r.status == 404 and r.json["error"]["code"] == "no_signup", r
    for bad in ("12345", "1234567", "12a456", "", " 123456"):
        r = s.checkin(event_id=ev, code=bad)
        assert r.status == 422 and "code" in r.json["error"]["fields"], (bad, r)
    r = s.d.post("/api/v1/checkins", {"code": code})
    assert r.status == 401, r
    # a cancelled sign-up's code no longer checks in
    c = s.signup(ev, "13800003333").json
    assert s.d.delete(f"/api/v1/events/{ev}/signups/{c['signup_id']}", headers=auth(s.staff)).status == 200
    r = s.checkin(event_id=ev, code=c["ticket"]["short_code"])
    assert r.status == 410 and r.json["error"]["code"] == "signup_cancelled", r


def test_signups_of_an_earlier_schema_get_codes():
    s = Site()
    ev = s.event(capacity=20)
    ids = [s.signup(ev, f"1370000{i:04d}").json["signup_id"] for i in range(12)]
    s.d.stop()
    path = f"{s.d.dir}/kioskd.db"
    db = sqlite3.connect(path)
    db.executescript(DROP_AFTER_0008 + "DROP INDEX signups_event_code; ALTER TABLE signups DROP COLUMN short_code;"
                     "DROP TABLE members; PRAGMA user_version = 6;")
    db.close()
    s.d.start()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    codes = dict(db.execute("SELECT id, short_code FROM signups").fetchall())
    db.close()
    assert sorted(codes) == sorted(ids)
    assert all(re.fullmatch(r"[0-9]{6}", c) for c in codes.values()), codes
    assert len(set(codes.values())) == len(ids)
    r = s.d.post("/api/v1/checkins", {"event_id": ev, "code": codes[ids[3]]},
                 headers=auth(s.staff))
    assert r.status == 200 and r.json["signup_id"] == ids[3], r


def test_the_guests_ticket_page_reads_its_own_ticket_only():
    s = Site()
    ev = s.event(capacity=1)
    first = s.signup(ev, "13800005551", name="王页面").json
    second = s.signup(ev, "13800005552", name="李候补").json
    r = s.d.get("/api/v1/tickets/" + first["ticket"]["code"])
    assert r.status == 200, r
    assert r.json["status"] == "confirmed" and r.json["short_code"] == first["ticket"]["short_code"]
    assert r.json["name"] == "王*" and r.json["event"]["id"] == ev
    assert "13800005551" not in r.raw.decode() and "王页面" not in r.raw.decode()
    assert s.d.get("/api/v1/tickets/" + second["ticket"]["code"]).json["status"] == "waitlisted"
    # an altered code is nobody's ticket; a cancelled one is gone
    code = first["ticket"]["code"]
    bad = code[:-3] + ("AAA" if not code.endswith("AAA") else "BBB")
    assert s.d.get("/api/v1/tickets/" + bad).status == 404
    assert s.d.delete("/api/v1/tickets/" + code).status == 200
    r = s.d.get("/api/v1/tickets/" + code)
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    # the page itself is served for any code (it asks the API), and its path is never logged
    page = s.d.get("/t/" + second["ticket"]["code"])
    assert page.status == 200 and b"ticket.js" in page.raw
    assert second["ticket"]["code"] not in s.d.stderr()
