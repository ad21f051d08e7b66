"""What an anonymous client on the kiosk network must not be able to do: take
someone's place with their phone, book out events, find staff ids, lock staff
out. Every test drives the real daemon."""
import os
import sqlite3

from harness import Daemon, Site, add_staff, auth, login


def test_another_name_with_the_same_phone_gets_409_and_no_ticket():
    s = Site()
    ev = s.event(capacity=10)
    first = s.signup(ev, "13812340001", name="张三")
    assert first.status == 201, first
    code = first.json["ticket"]["code"]
    r = s.signup(ev, "13812340001", name="李四")
    assert r.status == 409 and r.json["error"]["code"] == "already_signed_up", r
    assert "ticket" not in r.json and code.encode() not in r.raw
    assert "张" not in r.raw.decode() and "1381234" not in r.raw.decode()
    # the resident's place and ticket stand
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["signed_up"] == 1, st
    assert s.d.get(f"/api/v1/tickets/{code}.svg").status == 200
    # the same name, typed with spaces around or inside, is the same sign-up
    for name in (" 张三 ", "张 三", "\u3000张三"):
        again = s.signup(ev, "13812340001", name=name)
        assert again.status == 200, (name, again)
        assert again.json["signup_id"] == first.json["signup_id"]
        assert again.json["ticket"]["code"] == code
    # Latin letters compare without case (ASCII and fullwidth alike)
    latin = s.signup(ev, "13812340002", name="Zhang San")
    assert latin.status == 201, latin
    for name in ("zhang san", "ZHANG SAN", "ＺＨＡＮＧ San", "ZhangSan"):
        again = s.signup(ev, "13812340002", name=name)
        assert again.status == 200 and again.json["ticket"]["code"] == latin.json["ticket"]["code"], (name, again)
    assert s.signup(ev, "13812340002", name="Zhang Shan").status == 409
    assert s.checkin(ticket=code).json["status"] == "checked_in"
    s.d.stop()
    assert "李四" not in s.d.all_stderr()


def test_a_signup_from_before_names_were_hashed_gives_no_ticket_to_anyone():
    s = Site()
    ev = s.event()
    first = s.signup(ev, "13812340003", name="王五")
    assert first.status == 201
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    db.execute("UPDATE signups SET name_hash = NULL")  # as migration 0004 leaves older rows
    db.commit()
    db.close()
    s.d.start()
    for name in ("王五", "赵六"):
        r = s.signup(ev, "13812340003", name=name)
        assert r.status == 409 and r.json["error"]["code"] == "already_signed_up", r
    assert s.checkin(ticket=first.json["ticket"]["code"]).json["status"] == "checked_in"
    s.d.stop()


def test_signups_per_address_are_limited_with_retry_after():
    s = Site(config="[kiosk]\nsignups_per_minute = 3\n")
    ev = s.event(capacity=20)
    for i in range(3):
        assert s.signup(ev, f"1391234000{i}", name="张三").status == 201
    r = s.signup(ev, "13912340009", name="张三")
    assert r.status == 429 and r.json["error"]["code"] == "rate_limited", r
    assert int(r.headers["retry-after"]) >= 1
    # another address (another kiosk) is not held back
    body = {"name": "张三", "phone": "13912340009", "consent": True}
    r = s.d.post(f"/api/v1/events/{ev}/signups", body, source="127.0.0.2")
    assert r.status == 201, r
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["signed_up"] == 4
    s.d.stop()


def test_one_phone_holds_at_most_signups_per_phone_upcoming_places():
    s = Site(config="[kiosk]\nsignups_per_phone = 2\n")
    evs = [s.event() for _ in range(3)]
    ids = [s.signup(e, "13612340001", name="孙七") for e in evs[:2]]
    assert all(r.status == 201 for r in ids)
    r = s.signup(evs[2], "13612340001", name="孙七")
    assert r.status == 409 and r.json["error"]["code"] == "signup_limit", r
    assert "2 upcoming events" in r.json["error"]["message"]
    # asking again for a place already held is not a new one
    assert s.signup(evs[0], "13612340001", name="孙七").status == 200
    # another phone is not affected
    assert s.signup(evs[2], "13612340002", name="孙七").status == 201
    # a cancelled place no longer counts
    sid = ids[0].json["signup_id"]
    assert s.d.delete(f"/api/v1/events/{evs[0]}/signups/{sid}", headers=auth(s.staff)).status == 200
    assert s.signup(evs[2], "13612340001", name="孙七").status == 201
    s.d.stop()
