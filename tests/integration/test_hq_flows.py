"""HQ sync data flows (docs/sync.md): guests' personal data reaching HQ
sealed, ticket keys, revocations and sign-ups taken elsewhere. Branches sync
with `kioskd sync --once`; HQ is `kioskd hq` on a temporary database."""
import csv
import glob
import io
import json
import sqlite3

from harness import HQ, Site, auth

NAMES = ["欧阳明远", "司马青衫"]
PHONES = ["13912345671", "13912345672"]


def branch(hq, device):
    secret = hq.device_add(device)
    return Site(config=f"[hq]\nurl = {hq.url()}\ndevice = {device}\nsecret = {secret}\n")


def sync(s):
    p = s.d.cli("sync", "--once", check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def files_of(dir, name):
    """The database file and what SQLite keeps beside it (-wal, -shm)."""
    return [p for p in glob.glob(f"{dir}/{name}*") if not p.endswith(".key")]


def assert_nowhere_in_clear(paths, secrets):
    for p in paths:
        with open(p, "rb") as f:
            raw = f.read()
        for s in secrets:
            assert s.encode() not in raw, (p, s)


def export(hq):
    p = hq.cli("hq", "export", "signups")
    return list(csv.DictReader(io.StringIO(p.stdout.decode())))


def test_names_and_phones_reach_hq_sealed_and_hq_exports_them():
    hq = HQ()
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
    assert_nowhere_in_clear(files_of(s.d.dir, "kioskd.db") + files_of(hq.dir, "hq.db"), secrets)
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
