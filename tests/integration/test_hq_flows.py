"""HQ sync data flows (docs/sync.md): guests' personal data reaching HQ
sealed, ticket keys, revocations and sign-ups taken elsewhere. Branches sync
with `kioskd sync --once`; HQ is `kioskd hq` on a temporary database, each
test once on SQLite and once on PostgreSQL."""
import csv
import glob
import io
import json
import sqlite3

from harness import HQ, auth, on_both_backends
from test_hq import branch as hq_branch

NAMES = ["欧阳明远", "司马青衫"]
PHONES = ["13912345671", "13912345672"]


def branch(hq, device):
    """Its daemon runs without [hq] url (see test_hq.branch); `sync` syncs it."""
    return hq_branch(hq, device, hq.device_add(device))


def sync(s):
    p = s.d.cli("sync", "--once", check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def files_of(dir, name):
    """The database file and what SQLite keeps beside it (-wal, -shm)."""
    return [p for p in glob.glob(f"{dir}/{name}*") if not p.endswith(".key")]


def hq_files(hq):
    """HQ's database files on SQLite; on PostgreSQL a dump of every table HQ
    writes, as a file beside them."""
    if not hq.database_url:
        return files_of(hq.dir, "hq.db")
    path = f"{hq.dir}/hq-dump.txt"
    with hq.db() as hdb, open(path, "w") as f:
        for table in ("hq_entries", "hq_changes", "hq_signups", "hq_devices"):
            for row in hdb.execute(f"SELECT * FROM {table}"):
                f.write(repr(row) + "\n")
    return [path]


def assert_nowhere_in_clear(paths, secrets):
    for p in paths:
        with open(p, "rb") as f:
            raw = f.read()
        for s in secrets:
            assert s.encode() not in raw, (p, s)


def export(hq):
    p = hq.cli("hq", "export", "signups")
    return list(csv.DictReader(io.StringIO(p.stdout.decode())))


@on_both_backends
def test_names_and_phones_reach_hq_sealed_and_hq_exports_them(backend):
    hq = HQ(backend=backend)
    s = branch(hq, "branch-pii")
    ev = s.event()
    r = s.signup(ev, PHONES[0], name=NAMES[0])
    assert r.status == 201, r
    r = s.d.post(f"/api/v1/events/{ev}/walkins",
                 {"name": NAMES[1], "phone": PHONES[1], "consent": True}, headers=auth(s.staff))
    assert r.status == 201, r
    # an entry written before the outbox kept names: pushed without them
    old = s.signup(ev, "13912345679", name="旧记录")
    assert old.status == 201, old
    db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
    with db:
        db.execute("UPDATE outbox SET data = json_remove(data, '$.name_enc', '$.phone_enc') "
                   "WHERE kind = 'signup' AND json_extract(data, '$.signup_id') = ?",
                   (old.json["signup_id"],))
    db.close()

    sync(s)
    rows = export(hq)
    by_phone = {r["phone"]: r for r in rows}
    assert by_phone[PHONES[0]]["name"] == NAMES[0]
    assert by_phone[PHONES[0]]["source"] == "kiosk"
    assert by_phone[PHONES[1]]["name"] == NAMES[1]
    assert by_phone[PHONES[1]]["source"] == "walkin"
    assert by_phone[""]["signup_id"] == str(old.json["signup_id"]), rows
    assert all(r["device"] == "branch-pii" and r["event_id"] == str(ev) for r in rows)

    secrets = NAMES + PHONES
    assert_nowhere_in_clear(files_of(s.d.dir, "kioskd.db") + hq_files(hq), secrets)
    for log in (hq.all_stderr(), s.d.all_stderr()):
        for x in secrets:
            assert x not in log
    # HQ keeps them sealed: its entries hold neither, however they are read
    with hq.db() as hdb:
        data = [json.loads(d) for (d,) in hdb.execute("SELECT data FROM hq_entries")]
    assert all("name" not in d and "phone" not in d for d in data)
    assert sum("sealed" in d for d in data) == 2
    s.d.stop()
    hq.stop()


def two_branches(backend):
    """HQ and branches A and B with the same event (id 1 at both)."""
    hq = HQ(backend=backend)
    a, b = branch(hq, "branch-a"), branch(hq, "branch-b")
    ev = a.event()
    assert b.event() == ev
    return hq, a, b, ev


@on_both_backends
def test_a_ticket_issued_on_branch_a_checks_in_offline_on_branch_b(backend):
    hq, a, b, ev = two_branches(backend)
    r = a.signup(ev, PHONES[0], name=NAMES[0])
    assert r.status == 201, r
    code = r.json["ticket"]["code"]
    # B does not know A's key yet: a forged-looking ticket to it
    r = b.checkin(ticket=code)
    assert r.status == 403 and r.json["error"]["code"] == "bad_ticket", r
    sync(a)
    out = sync(b)
    assert "applied 1 new ticket keys, 1 sign-ups taken elsewhere" in out, out
    with hq.db() as hdb:
        kinds = sorted(k for (k,) in hdb.execute("SELECT kind FROM hq_changes"))
    assert kinds == ["key", "key", "signup"], kinds  # B pushed its event and key too
    hq.stop()

    # A's sign-up is a sign-up at B, its guest sealed with B's key
    assert_nowhere_in_clear(files_of(b.d.dir, "kioskd.db"), [NAMES[0], PHONES[0]])
    tampered = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    r = b.checkin(ticket=tampered)
    assert r.status == 403, r
    r = b.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    assert r.json["name"].startswith(NAMES[0][0]) and NAMES[0] != r.json["name"], r
    r = b.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "already_checked_in", r
    # the same check-in works after B restarts (the key is in its ring then)
    b.d.restart()
    r = b.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "already_checked_in", r
    # a second pull applies nothing twice
    with sqlite3.connect(f"{b.d.dir}/kioskd.db") as db:
        assert db.execute("SELECT count(*) FROM signups").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM ticket_keys").fetchone()[0] == 1
    for log in (hq.all_stderr(), a.d.all_stderr(), b.d.all_stderr()):
        assert NAMES[0] not in log and PHONES[0] not in log
    a.d.stop()
    b.d.stop()


@on_both_backends
def test_a_sign_up_cancelled_on_branch_a_is_refused_on_branch_b(backend):
    hq, a, b, ev = two_branches(backend)
    codes, ids = [], []
    for name, phone in zip(NAMES, PHONES):
        r = a.signup(ev, phone, name=name)
        assert r.status == 201, r
        codes.append(r.json["ticket"]["code"])
        ids.append(r.json["signup_id"])
    sync(a)
    sync(b)
    r = a.d.delete(f"/api/v1/events/{ev}/signups/{ids[1]}", headers=auth(a.staff))
    assert r.status in (200, 204), r
    out = sync(a)
    out = sync(b)
    assert "1 revocations" in out, out
    with hq.db() as hdb:
        kinds = sorted(k for (k,) in hdb.execute("SELECT kind FROM hq_changes"))
    assert kinds == ["key", "key", "revocation", "signup", "signup"], kinds
    hq.stop()
    r = b.checkin(ticket=codes[1])
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    r = b.checkin(ticket=codes[0])
    assert r.status == 200 and r.json["status"] == "checked_in", r
    # the place it held is free at B too
    r = b.d.get(f"/api/v1/events/{ev}/stats", headers=auth(b.manager))
    assert r.status == 200 and r.json["signed_up"] == 1, r
    a.d.stop()
    b.d.stop()


@on_both_backends
def test_hq_merges_a_second_sign_up_for_the_same_event_and_phone(backend):
    hq, a, b, ev = two_branches(backend)
    assert a.signup(ev, PHONES[0], name=NAMES[0]).status == 201
    sync(a)
    assert b.signup(ev, PHONES[0], name=NAMES[1]).status == 201  # the same phone, at B
    assert b.signup(ev, PHONES[1], name=NAMES[1]).status == 201
    sync(b)
    with hq.db() as hdb:
        rows = dict(hdb.execute("SELECT device || ':' || signup_id, coalesce(merged_into, '-') "
                                "FROM hq_signups"))
        served = [json.loads(d) for (d,) in hdb.execute(
            "SELECT data FROM hq_changes WHERE kind = 'signup' ORDER BY seq")]
        assert hdb.execute("SELECT count(*) FROM hq_entries WHERE kind = 'signup'"
                           ).fetchone()[0] == 3
    kid_a = served[0]["kid"]
    assert rows == {"branch-a:1": "-", "branch-b:1": f"{kid_a}:1", "branch-b:2": "-"}, rows
    assert [(s["device"], s["signup_id"]) for s in served] == [("branch-a", 1), ("branch-b", 2)]
    # HQ itself merges the same way: the phone A took first
    p = hq.cli("hq", "signup", str(ev), NAMES[1], PHONES[0])
    assert p.stdout.decode().startswith(f"merged into {kid_a}:1"), p.stdout
    a.d.stop()
    b.d.stop()
    hq.stop()


@on_both_backends
def test_a_sign_up_taken_at_hq_checks_in_offline_at_the_branch(backend):
    hq, a, b, ev = two_branches(backend)
    p = hq.cli("hq", "signup", str(ev), NAMES[0], PHONES[0])
    code = p.stdout.decode().splitlines()[0]
    assert code.startswith("K1."), p.stdout
    assert hq.cli("hq", "signup", "x", NAMES[0], PHONES[0], check=False).returncode == 2
    again = hq.cli("hq", "signup", str(ev), NAMES[0], PHONES[0]).stdout.decode()
    assert again.startswith("merged into ") and "K1." not in again, again  # once per phone
    out = sync(b)
    assert "applied 1 new ticket keys, 1 sign-ups taken elsewhere" in out, out
    out = sync(b)
    assert "applied 0 new ticket keys, 0 sign-ups taken elsewhere" in out, out
    # a branch that holds no such event is not sent the guest at all
    c = branch(hq, "branch-c")
    out = sync(c)
    assert "pulled 2 changes" in out and "2 new ticket keys, 0 sign-ups" in out, out  # HQ, B
    c.d.stop()
    hq.stop()
    r = b.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    r = b.d.get(f"/api/v1/events/{ev}/roster", headers=auth(b.staff))
    assert r.status == 200, r
    assert_nowhere_in_clear(files_of(b.d.dir, "kioskd.db") + hq_files(hq),
                            [NAMES[0], PHONES[0]])
    for log in (hq.all_stderr(), b.d.all_stderr()):
        assert NAMES[0] not in log and PHONES[0] not in log
    a.d.stop()
    b.d.stop()


@on_both_backends
def test_a_sign_up_taken_on_a_cancelled_on_b_is_refused_on_a(backend):
    hq, a, b, ev = two_branches(backend)
    r = a.signup(ev, PHONES[0], name=NAMES[0])
    assert r.status == 201, r
    code = r.json["ticket"]["code"]
    sync(a)
    sync(b)
    roster = b.d.get(f"/api/v1/events/{ev}/roster", headers=auth(b.staff)).json
    (row,) = roster["guests"]
    r = b.d.delete(f"/api/v1/events/{ev}/signups/{row['signup_id']}", headers=auth(b.staff))
    assert r.status in (200, 204), r
    sync(b)
    with hq.db() as hdb:
        (data,) = [json.loads(d) for (d,) in hdb.execute(
            "SELECT data FROM hq_changes WHERE kind = 'revocation'")]
    assert data["signup_id"] == 1 and data["device"] == "branch-b", data  # A's id, not B's
    sync(a)
    hq.stop()
    r = a.checkin(ticket=code)
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    a.d.stop()
    b.d.stop()


@on_both_backends
def test_a_sign_up_promoted_from_the_waitlist_on_a_checks_in_on_b(backend):
    hq = HQ(backend=backend)
    a, b = branch(hq, "branch-a"), branch(hq, "branch-b")
    ev = a.event(capacity=1)
    assert b.event() == ev
    first = a.signup(ev, PHONES[0], name=NAMES[0])
    second = a.signup(ev, PHONES[1], name=NAMES[1])
    assert first.json["status"] == "confirmed" and second.json["status"] == "waitlisted", second
    sync(a)
    sync(b)
    r = b.checkin(ticket=second.json["ticket"]["code"])
    assert r.status == 409 and r.json["error"]["code"] == "waitlisted", r
    r = a.d.delete(f"/api/v1/events/{ev}/signups/{first.json['signup_id']}", headers=auth(a.staff))
    assert r.status in (200, 204), r
    sync(a)
    out = sync(b)
    assert "1 sign-ups taken elsewhere, 1 revocations" in out, out
    hq.stop()
    r = b.checkin(ticket=second.json["ticket"]["code"])
    assert r.status == 200 and r.json["status"] == "checked_in", r
    r = b.checkin(ticket=first.json["ticket"]["code"])
    assert r.status == 410, r
    a.d.stop()
    b.d.stop()
