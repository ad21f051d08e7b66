"""Check-ins of this daemon's own tickets by the digest kept at issue (no ECDSA),
and the tickets that are still verified by their signature: tampered codes,
sign-ups from before migration 0018, revived sign-ups."""
import re
import sqlite3
import time

from harness import Site, auth

BY_DIGEST = "kioskd_checkin_tickets_by_digest_total"
VERIFIED = "kioskd_checkin_tickets_verified_total"


def metric(s, name):
    text = s.d.get("/metrics").raw.decode()
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    assert m, name
    return int(float(m.group(1)))


def counts(s):
    return metric(s, BY_DIGEST), metric(s, VERIFIED)


def digest_of(s, signup_id):
    with sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True) as db:
        row = db.execute("SELECT ticket_digest FROM signups WHERE id = ?", (signup_id,)).fetchone()
    return row[0] if row else None


def signed_up(s, ev, phone, name="张三丰"):
    """Signs up and waits until the writer kept the ticket's digest (written
    after the answer, not waited for by it)."""
    r = s.signup(ev, phone, name=name)
    assert r.status in (200, 201), r
    sid = r.json["signup_id"]
    deadline = time.monotonic() + 20
    while digest_of(s, sid) is None:
        assert time.monotonic() < deadline, "the ticket's digest was never kept"
        time.sleep(0.05)
    assert len(digest_of(s, sid)) == 32
    return sid, r.json["ticket"]["code"]


def flip(t, i):
    return t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1:]


def test_a_ticket_issued_here_checks_in_by_its_digest():
    s = Site()
    ev = s.event()
    sid, code = signed_up(s, ev, "13812345001")
    assert counts(s) == (0, 0)
    r = s.checkin(ticket=code, event_id=ev)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    assert r.json["signup_id"] == sid and r.json["name"] == "张*"
    assert counts(s) == (1, 0)  # no ECDSA
    again = s.checkin(ticket=code + "\r\n")
    assert again.status == 200 and again.json["status"] == "already_checked_in", again
    assert counts(s) == (2, 0)
    # the digest never leaves the device: not in the sign-up's outbox data
    with sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True) as db:
        blobs = [d for (d,) in db.execute("SELECT data FROM outbox")]
    digest = digest_of(s, sid)
    assert blobs and not any(digest.hex() in str(b) for b in blobs)
    s.d.stop()


def test_a_tampered_ticket_with_this_key_id_is_refused_without_ecdsa():
    s = Site()
    ev = s.event()
    _, code = signed_up(s, ev, "13812345002")
    k1, kid, payload, sig = code.split(".")
    # a re-encoded signature (the same payload, this kid): the digest differs
    for i in (0, 40, len(sig) - 2):
        r = s.checkin(ticket=f"{k1}.{kid}.{payload}.{flip(sig, i)}")
        assert r.status == 403 and r.json["error"]["code"] == "bad_ticket", r
    assert counts(s) == (3, 0)
    # another daemon's valid signature of the same text under this kid
    other = Site()
    other.event()
    foreign = other.signup(ev, "13812345002").json["ticket"]["code"]
    other.d.stop()
    r = s.checkin(ticket=f"{k1}.{kid}.{payload}.{foreign.split('.')[3]}")
    assert r.status == 403 and r.json["error"]["code"] == "bad_ticket", r
    assert counts(s) == (4, 0)
    # an altered payload names no kept digest: verified by ECDSA, refused
    r = s.checkin(ticket=f"{k1}.{kid}.{flip(payload, 12)}.{sig}")
    assert r.status == 403 and r.json["error"]["code"] == "bad_ticket", r
    assert counts(s) == (4, 1)
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["checked_in"] == 0  # nothing recorded by the refusals
    r = s.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    s.d.stop()


def test_a_sign_up_from_before_0018_checks_in_by_its_signature():
    s = Site()
    ev = s.event()
    old_id, old_code = signed_up(s, ev, "13812345003", name="李四")
    bad_id, bad_code = signed_up(s, ev, "13812345004")
    s.d.stop()
    path = f"{s.d.dir}/kioskd.db"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 18
        db.executescript("ALTER TABLE signups DROP COLUMN ticket_digest; PRAGMA user_version = 17;")
    s.d.start()
    assert digest_of(s, old_id) is None and digest_of(s, bad_id) is None
    s.staff = s.d.post("/api/v1/staff/login", {"staff_id": "S1", "pin": "222222",
                                               "device": "tablet-1"}).json["token"]
    r = s.checkin(ticket=old_code)
    assert r.status == 200 and r.json["status"] == "checked_in" and r.json["signup_id"] == old_id, r
    assert counts(s) == (0, 1)
    k1, kid, payload, sig = bad_code.split(".")
    r = s.checkin(ticket=f"{k1}.{kid}.{payload}.{flip(sig, 7)}")
    assert r.status == 403 and r.json["error"]["code"] == "bad_ticket", r
    assert counts(s) == (0, 2)
    # a new sign-up after the migration gets its digest again
    _, code = signed_up(s, ev, "13812345005")
    r = s.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    assert counts(s) == (1, 2)
    s.d.stop()


def test_a_revived_sign_up_gets_a_new_digest_and_its_old_ticket_is_replaced():
    s = Site()
    ev = s.event()
    sid, first = signed_up(s, ev, "13812345007")
    r = s.d.delete(f"/api/v1/events/{ev}/signups/{sid}", headers=auth(s.staff))
    assert r.status in (200, 204), r
    sid2, second = signed_up(s, ev, "13812345007")
    assert sid2 == sid and second != first
    r = s.checkin(ticket=first)
    assert r.status == 410 and r.json["error"]["code"] == "ticket_replaced", r
    r = s.checkin(ticket=second)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    assert counts(s) == (1, 1)  # the replaced ticket was verified, the new one was not
    s.d.stop()
