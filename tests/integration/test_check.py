"""`kioskd check`: the stored counters recomputed from their rows, beside a running daemon or not."""
import os
import re
import sqlite3

from harness import Site, auth


def busy_site():
    s = Site()
    ev = s.event(capacity=2)
    a = s.signup(ev, "13812347001", name="甲一").json
    b = s.signup(ev, "13812347002", name="乙二").json
    c = s.signup(ev, "13812347003", name="丙三").json
    s.signup(ev, "13812347004", name="丁四")
    assert c["status"] == "waitlisted"
    # a cancel promotes the first on the waitlist
    assert s.d.delete(f"/api/v1/events/{ev}/signups/{a['signup_id']}",
                      headers=auth(s.staff)).status == 200
    assert s.d.delete(f"/api/v1/tickets/{b['ticket']['code']}").status == 200
    cid = s.checkin(ticket=c["ticket"]["code"]).json["checkin_id"]
    assert s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff)).status == 200
    assert s.checkin(ticket=c["ticket"]["code"]).json["status"] == "checked_in"
    url = f"/api/v1/events/{ev}/walkins"
    for phone, name in (("13812347005", "戊五"), ("13812347004", "丁四")):
        r = s.d.post(url, {"name": name, "phone": phone, "consent": True}, headers=auth(s.staff))
        assert r.status in (200, 201), r
    other = s.event(capacity=5)
    s.signup(other, "13812347006")
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["checked_in"] == 3 and st["walk_ins"] >= 1, st
    return s, ev


def test_check_finds_no_difference_after_a_busy_day_then_names_a_tampered_counter():
    s, ev = busy_site()
    p = s.d.cli("check", check=False)
    assert p.returncode == 0, p
    assert p.stdout.decode() == "check: 0 differences\n", p.stdout
    # tampered while the daemon runs (WAL; check only reads)
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    db.execute("UPDATE events SET walk_ins = walk_ins + 2 WHERE id = ?", (ev,))
    db.commit()
    stored = db.execute("SELECT walk_ins FROM events WHERE id = ?", (ev,)).fetchone()[0]
    db.close()
    p = s.d.cli("check", check=False)
    assert p.returncode == 1, p
    lines = p.stdout.decode().splitlines()
    assert lines == [f"event {ev} walk_ins: stored {stored}, rows {stored - 2}",
                     "check: 1 difference"], lines
    s.d.stop()
    # and with the daemon stopped, a second counter
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    db.execute("UPDATE events SET confirmed = confirmed - 1 WHERE id = ?", (ev,))
    db.commit()
    db.close()
    p = s.d.cli("check", check=False)
    assert p.returncode == 1, p
    out = p.stdout.decode()
    assert re.search(rf"^event {ev} confirmed: stored (\d+), rows (\d+)$", out, re.M), out
    assert out.splitlines()[-1] == "check: 2 differences", out
    assert len(out.splitlines()) == 3, out


def test_check_refuses_a_missing_database():
    s = Site()
    s.d.stop()
    s.d.env["KIOSKD_STORE_PATH"] = f"{s.d.dir}/nothing-here.db"
    p = s.d.cli("check", check=False)
    assert p.returncode == 2 and b"kioskd check:" in p.stderr, p
    assert not os.path.exists(os.path.join(s.d.dir, "nothing-here.db"))
