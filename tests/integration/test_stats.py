"""The manager's follow-up of an event: sign-ups by source, the no-show list and the CSV export."""
import csv
import io
import os
import re
import sqlite3
import time

from harness import Site, auth, eventually

PHONE_MASK = re.compile(r"^1\d{2}\*{4}\d{4}$")


def audit_actions(s):
    db = sqlite3.connect(f"file:{os.path.join(s.d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return [(r[0], r[1], r[2]) for r in
                db.execute("SELECT staff_id, action, subject FROM audit ORDER BY id")]
    finally:
        db.close()


def meeting(s, ends_in_seconds=None):
    """Five booked guests (one referred), four of them in, one walk-in."""
    if ends_in_seconds is None:
        ev = s.event(starts=-1)  # running: check-in is open
    else:
        ev = s.event(starts=-1, minutes=1, starts_seconds=ends_in_seconds)
    phones = [f"1381234{n:04d}" for n in range(7001, 7006)]
    names = ["张三丰", "李四", "王五", "赵六", "孙七"]
    s.signup(ev, phones[0], name=names[0], referrer_phone="13900001111")
    for phone, name in zip(phones[1:], names[1:]):
        assert s.signup(ev, phone, name=name).status == 201
    for phone in phones[:4]:
        r = s.checkin(event_id=ev, phone=phone)
        assert r.status == 200 and r.json["status"] == "checked_in", r
    r = s.d.post(f"/api/v1/events/{ev}/walkins", {"name": "周八", "phone": "13812347009",
                                                   "consent": True}, headers=auth(s.staff))
    assert r.status == 201, r
    return ev, phones


def test_stats_by_source_and_no_shows():
    s = Site()
    ev, phones = meeting(s, ends_in_seconds=6)
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["by_source"] == {"kiosk": 4, "bot": 0, "staff": 0, "walkin": 1, "referral": 1}, st
    assert st["signed_up"] == 5 and st["checked_in"] == 5 and st["walk_ins"] == 1, st
    # while it runs: those not yet in
    r = s.d.get(f"/api/v1/events/{ev}/no_shows", headers=auth(s.staff))
    assert r.status == 200 and r.json["over"] is False, r
    assert [(g["name"], g["phone"]) for g in r.json["guests"]] == [("孙*", "138****7005")], r
    # once it is over: the same guest, and the stats agree
    deadline = time.monotonic() + 20
    while not s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json["over"]:
        assert time.monotonic() < deadline, "the event never ended"
        time.sleep(0.5)
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["no_shows"] == 1, st
    r = s.d.get(f"/api/v1/events/{ev}/no_shows", headers=auth(s.staff))
    assert r.status == 200 and r.json["over"] is True and len(r.json["guests"]) == 1, r
    g = r.json["guests"][0]
    assert g["name"] == "孙*" and PHONE_MASK.match(g["phone"]) and g["source"] == "kiosk", g
    assert b"13812347005" not in r.raw and "孙七".encode() not in r.raw
    assert eventually(lambda: ("S1", "no_shows_view", f"event:{ev}") in audit_actions(s))
    s.d.stop()


def test_no_shows_refused_before_start_unknown_event_and_without_token():
    s = Site()
    later = s.event(starts=60)
    s.signup(later, "13812347010")
    r = s.d.get(f"/api/v1/events/{later}/no_shows", headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "not_started", r
    r = s.d.get("/api/v1/events/999999/no_shows", headers=auth(s.staff))
    assert r.status == 404, r
    assert s.d.get(f"/api/v1/events/{later}/no_shows").status == 401
    assert s.d.get(f"/api/v1/events/{later}/stats", headers=auth(s.staff)).json["by_source"] == \
        {"kiosk": 1, "bot": 0, "staff": 0, "walkin": 0, "referral": 0}
    assert not [a for a in audit_actions(s) if a[1] == "no_shows_view"]
    s.d.stop()


def test_export_csv_parses_is_masked_and_neutralises_formulas():
    s = Site()
    ev, phones = meeting(s)
    # a name that a spreadsheet would read as a formula once masked ("-*")
    r = s.signup(ev, "13812347011", name="-李")
    assert r.status == 201, r
    formula_guest = True
    r = s.d.get(f"/api/v1/events/{ev}/export.csv", headers=auth(s.manager))
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/csv"), r.headers
    assert "attachment" in r.headers.get("content-disposition", "")
    assert r.raw.startswith(b"\xef\xbb\xbf"), r.raw[:10]
    text = r.raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["报名号", "姓名", "手机", "状态", "来源", "签到时间"], rows[0]
    guests = rows[1:]
    assert len(guests) == 6 + formula_guest, rows
    for row in guests:
        assert len(row) == 6, row
        assert PHONE_MASK.match(row[2]), row
        assert re.match(r"^'?[-\w]\*$", row[1]), row
        assert row[1][0] not in "=+-@", row
    for phone in phones + ["13812347009", "13812347011"]:
        assert phone.encode() not in r.raw
    for name in ["张三丰", "李四", "王五", "赵六", "孙七", "周八"]:
        assert name.encode() not in r.raw
    by_phone = {row[2]: row for row in guests}
    assert by_phone["138****7001"][5].endswith("+08:00"), by_phone  # checked in
    assert by_phone["138****7005"][5] == "" and by_phone["138****7005"][3] == "已报名"
    assert by_phone["138****7009"][4] == "现场登记"
    if formula_guest:
        assert by_phone["138****7011"][1] == "'-*", by_phone["138****7011"]
    assert ("M1", "export_csv", f"event:{ev}") in audit_actions(s)
    # staff may not export; an unknown event is 404
    assert s.d.get(f"/api/v1/events/{ev}/export.csv", headers=auth(s.staff)).status == 403
    assert s.d.get("/api/v1/events/999999/export.csv", headers=auth(s.manager)).status == 404
    s.d.stop()
