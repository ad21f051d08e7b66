"""HQ sync data flows (docs/sync.md): guests' personal data reaching HQ
sealed, ticket keys, revocations and sign-ups taken elsewhere. Branches sync
with `kioskd sync --once`; HQ is `kioskd hq` on a temporary database, each
test once on SQLite and once on PostgreSQL."""
import csv
import datetime
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
    """HQ and branches A and B, each with an event of its own that is id 1 there."""
    hq = HQ(backend=backend)
    a, b = branch(hq, "branch-a"), branch(hq, "branch-b")
    ev = a.event()
    assert b.event() == ev
    return hq, a, b, ev


@on_both_backends
def test_two_branches_with_the_same_event_id_do_not_get_each_others_sign_ups(backend):
    hq, a, b, ev = two_branches(backend)
    r = a.signup(ev, PHONES[0], name=NAMES[0])
    assert r.status == 201, r
    code = r.json["ticket"]["code"]
    sync(a)
    out = sync(b)
    # A's key reaches B, A's sign-up does not: B's event 1 is another event
    assert "applied 1 new ticket keys, 0 sign-ups taken elsewhere" in out, out
    with hq.db() as hdb:
        kinds = sorted(k for (k,) in hdb.execute("SELECT kind FROM hq_changes"))
        keys = dict(hdb.execute("SELECT device, key FROM hq_device_events"))
    assert kinds == ["key", "key", "signup"], kinds
    assert keys == {"branch-a": "branch-a/1", "branch-b": "branch-b/1"}, keys
    hq.stop()
    assert_nowhere_in_clear(files_of(b.d.dir, "kioskd.db"), [NAMES[0], PHONES[0]])
    with sqlite3.connect(f"{b.d.dir}/kioskd.db") as db:
        assert db.execute("SELECT count(*) FROM signups").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM ticket_keys").fetchone()[0] == 1
    r = b.checkin(ticket=code)
    assert r.status != 200, r  # a ticket of A's event is no sign-up of B's
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
    # revocations travel to every branch: B refuses the cancelled ticket
    # though it never held its sign-up
    r = b.checkin(ticket=codes[1])
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    r = a.checkin(ticket=codes[0])
    assert r.status == 200 and r.json["status"] == "checked_in", r
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
    kid_a = served[0]["kid"]
    # B's event 1 is not A's: nothing merged across them
    assert rows == {"branch-a:1": "-", "branch-b:1": "-", "branch-b:2": "-"}, rows
    # HQ merges a sign-up for A's event with the phone A took first
    p = hq.cli("hq", "signup", f"branch-a/{ev}", NAMES[1], PHONES[0])
    assert p.stdout.decode().startswith(f"merged into {kid_a}:1"), p.stdout
    p = hq.cli("hq", "signup", f"branch-b/{ev}", NAMES[0], PHONES[1])
    assert p.stdout.decode().startswith("merged into "), p.stdout
    a.d.stop()
    b.d.stop()
    hq.stop()


def import_events(hq, rows):
    path = f"{hq.dir}/events.csv"
    with open(path, "w") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity,branch\n")
        for title, days, device in rows:
            t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                days=days, minutes=30)
            f.write(f"{title},salon,{t.isoformat()},"
                    f"{(t + datetime.timedelta(hours=2)).isoformat()},一楼大厅,20,{device}\n")
    hq.cli("hq", "import", "events", path)


@on_both_backends
def test_a_sign_up_taken_at_hq_checks_in_offline_at_the_branch(backend):
    hq = HQ(backend=backend)
    a = hq_branch(hq, "branch-a", hq.device_add("branch-a", area="north"))
    b = hq_branch(hq, "branch-b", hq.device_add("branch-b", area="north"))
    c = hq_branch(hq, "branch-c", hq.device_add("branch-c", area="south"))
    assert b.event() == 1 and c.event() == 1  # events of their own, id 1 there
    import_events(hq, [("北区沙龙", 0, "branch-a")])  # check-in open
    # not linked yet: HQ cannot tell which event of A it is
    p = hq.cli("hq", "signup", "branch-a/1", NAMES[0], PHONES[0], check=False)
    assert p.returncode == 1 and b"no event 1" in p.stderr, p
    assert hq.cli("hq", "signup", "x", NAMES[0], PHONES[0], check=False).returncode == 2
    assert "1 events (1 new)" in sync(a)
    sync(a)  # pushes event_linked: A's id of HQ's event
    (ev,) = [e["id"] for e in a.d.get("/api/v1/events").json["events"]]
    for s in (b, c):
        sync(s)
    p = hq.cli("hq", "signup", f"branch-a/{ev}", NAMES[0], PHONES[0])
    code = p.stdout.decode().splitlines()[0]
    assert code.startswith("K1."), p.stdout
    again = hq.cli("hq", "signup", f"branch-a/{ev}", NAMES[0], PHONES[0]).stdout.decode()
    assert again.startswith("merged into ") and "K1." not in again, again  # once per phone
    out = sync(a)
    assert "applied 3 new ticket keys, 1 sign-ups taken elsewhere" in out, out  # HQ's, B's, C's
    out = sync(a)
    assert "applied 0 new ticket keys, 0 sign-ups taken elsewhere" in out, out
    # B (same area, it lists A's event) and C (another area, its own event 1)
    # are never sent the guest
    for s in (b, c):
        out = sync(s)
        assert "0 sign-ups taken elsewhere" in out, out
        with sqlite3.connect(f"{s.d.dir}/kioskd.db") as db:
            assert db.execute("SELECT count(*) FROM signups").fetchone()[0] == 0
        assert_nowhere_in_clear(files_of(s.d.dir, "kioskd.db"), [NAMES[0], PHONES[0]])
        s.d.stop()
    hq.stop()
    r = a.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    # HQ's key, pulled: verified by its signature (only A's own tickets go by digest)
    text = a.d.get("/metrics").raw.decode()
    assert "\nkioskd_checkin_tickets_verified_total 1\n" in text, text
    assert "\nkioskd_checkin_tickets_by_digest_total 0\n" in text, text
    r = a.d.get(f"/api/v1/events/{ev}/roster", headers=auth(a.staff))
    assert r.status == 200 and len(r.json["guests"]) == 1, r
    assert_nowhere_in_clear(files_of(a.d.dir, "kioskd.db") + hq_files(hq),
                            [NAMES[0], PHONES[0]])
    for log in (hq.all_stderr(), a.d.all_stderr()):
        assert NAMES[0] not in log and PHONES[0] not in log
    a.d.stop()


@on_both_backends
def test_a_sign_up_taken_at_hq_and_cancelled_at_its_branch_is_revoked_by_hqs_id(backend):
    hq = HQ(backend=backend)
    a = hq_branch(hq, "branch-a", hq.device_add("branch-a"))
    ev = a.event()
    assert a.signup(ev, PHONES[1], name=NAMES[1]).status == 201  # id 1 at A
    sync(a)
    p = hq.cli("hq", "signup", f"branch-a/{ev}", NAMES[0], PHONES[0])
    code = p.stdout.decode().splitlines()[0]
    assert "sign-up " in p.stdout.decode() and ":1 for event branch-a/1" in p.stdout.decode(), p
    assert "1 sign-ups taken elsewhere" in sync(a)
    roster = a.d.get(f"/api/v1/events/{ev}/roster", headers=auth(a.staff)).json
    (row,) = [g for g in roster["guests"] if g["signup_id"] != 1]
    r = a.d.delete(f"/api/v1/events/{ev}/signups/{row['signup_id']}", headers=auth(a.staff))
    assert r.status in (200, 204), r
    sync(a)
    with hq.db() as hdb:
        (data,) = [json.loads(d) for (d,) in hdb.execute(
            "SELECT data FROM hq_changes WHERE kind = 'revocation'")]
    assert data["signup_id"] == 1 and data["device"] == "branch-a", data  # HQ's id, not A's 2
    hq.stop()
    r = a.checkin(ticket=code)
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    a.d.stop()


@on_both_backends
def test_a_sign_up_taken_at_hq_before_its_branch_linked_the_event_is_applied_once_it_has(backend):
    hq = HQ(backend=backend)
    a = hq_branch(hq, "branch-a", hq.device_add("branch-a"))
    import_events(hq, [("先报后连", 0, "branch-a")])  # check-in open
    with hq.db() as hdb:
        (key,) = [k for (k,) in hdb.execute("SELECT key FROM hq_changes WHERE kind = 'event'")]
    p = hq.cli("hq", "signup", "branch-a 1 no such event", NAMES[0], PHONES[0], check=False)
    assert p.returncode == 1 and b"no event under that key" in p.stderr, p
    # HQ knows the event by its key only: the sign-up is kept, its ticket names event 0
    p = hq.cli("hq", "signup", key, NAMES[0], PHONES[0])
    out = p.stdout.decode()
    code = out.splitlines()[0]
    assert code.startswith("K1.") and "once it has linked it" in out, out
    import_events(hq, [("后来的沙龙", 2, "branch-a")])  # a change after it: the cursor passes it
    out = sync(a)  # brings the events (the sign-up waits for the link)
    assert "2 events (2 new)" in out and "1 sign-ups taken elsewhere" not in out, out
    out = sync(a)  # pushes event_linked; the pull after it brings the sign-up
    assert "1 sign-ups taken elsewhere" in out, out
    assert "0 sign-ups taken elsewhere" in sync(a)  # once
    (ev,) = [e["id"] for e in a.d.get("/api/v1/events").json["events"] if e["title"] == "先报后连"]
    # once linked, a second sign-up at HQ for the phone is merged into the first
    again = hq.cli("hq", "signup", key, NAMES[0], PHONES[0]).stdout.decode()
    assert again.startswith("merged into "), again
    hq.stop()
    r = a.checkin(ticket=code)  # HQ down: offline, by HQ's key pulled with the sign-up
    assert r.status == 200 and r.json["status"] == "checked_in", r
    r = a.d.get(f"/api/v1/events/{ev}/roster", headers=auth(a.staff))
    assert r.status == 200 and len(r.json["guests"]) == 1, r
    for log in (hq.all_stderr(), a.d.all_stderr()):
        assert NAMES[0] not in log and PHONES[0] not in log
    a.d.stop()
