"""HQ sync: `kioskd hq` on a temporary database and branch daemons syncing with
`kioskd sync --once` (docs/sync.md). Requests signed here are signed with
Python's own hmac and hashlib, independently of core/hqsig.c."""
import gzip
import hashlib
import hmac
import http.client
import json
import os
import sqlite3
import time
import uuid

from harness import HQ, Site, auth, merge_ini, on_both_backends

SIGNUP_NAMES = ["王小明", "李四", "赵六"]
PHONES = ["13700000001", "13700000002", "13700000003"]


def sign(secret, method, path, body, ts):
    text = f"{method}\n{path}\n{ts}\n{hashlib.sha256(body).hexdigest()}".encode()
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def signed(hq, device, secret, method, path, body=b"", ts=None, sig=None, gz=False, headers=None,
           timeout=10):
    """Sends a request signed as the protocol says; returns (status, parsed JSON or text)."""
    if gz:
        body = gzip.compress(body)
    ts = int(time.time()) if ts is None else ts
    sig = sig or sign(secret, method, path, body, ts)
    h = {"Authorization": f"KIOSKD-HMAC-SHA256 device={device},ts={ts},sig={sig}"}
    if method == "POST":
        h["Content-Type"] = "application/json"
    if gz:
        h["Content-Encoding"] = "gzip"
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", hq.port, timeout=timeout)
    c.request(method, path, body=body if method == "POST" else None, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


def push_body(device, seqs, ids=None):
    ids = ids or {s: str(uuid.uuid4()) for s in seqs}
    entries = [{"id": ids[s], "seq": s, "kind": "signup", "at": "2026-05-01T10:00:00.000Z",
                "data": {"signup_id": s, "name": "测试", "phone": "13700009999"}} for s in seqs]
    return json.dumps({"device": device, "entries": entries}).encode(), ids


def hq_count(hq):
    with hq.db() as db:
        return db.execute("SELECT count(*) FROM hq_entries").fetchone()[0]


def accepted_once_then_replayed(first, second, device, secret, body, ts):
    """Sends a signed push (of body, new entries) and a signed pull to first, then the very
    same requests to second, which refuses both as replays."""
    good = sign(secret, "POST", "/sync/v1/push", body, ts)
    st, r = signed(first, device, secret, "POST", "/sync/v1/push", body, ts=ts, sig=good)
    assert st == 200 and r["stored"] == r["received"] > 0, r
    st, r = signed(second, device, secret, "POST", "/sync/v1/push", body, ts=ts, sig=good)
    assert st == 401 and r["error"]["code"] == "replayed", r
    path = "/sync/v1/pull?since=0&limit=10"
    psig = sign(secret, "GET", path, b"", ts)
    st, r = signed(first, device, secret, "GET", path, ts=ts, sig=psig)
    assert st == 200, r
    st, r = signed(second, device, secret, "GET", path, ts=ts, sig=psig)
    assert st == 401 and r["error"]["code"] == "replayed", r


def devices(hq):
    r = hq.get("/hq/v1/devices", headers=auth(hq.admin_token))
    assert r.status == 200, r
    return {d["device"]: d for d in r.json["devices"]}


def branch(hq, device, secret, extra=""):
    """A branch whose `kioskd sync --once` syncs with hq. The daemon itself runs
    without [hq] url: its own rounds (test_hq_daemon.py) would race the commands."""
    s = Site()
    with open(s.d.config_path) as f:
        text = merge_ini(f.read(), f"[hq]\nurl = {hq.url()}\ndevice = {device}\n"
                         f"secret = {secret}\n" + extra)
    s.d.config_path = os.path.join(s.d.dir, "sync.ini")
    with open(s.d.config_path, "w") as f:
        f.write(text)
    return s


def busy_branch(s):
    """Fills the outbox through the HTTP API: sign-ups and a check-in."""
    ev = s.event()
    codes = []
    for name, phone in zip(SIGNUP_NAMES, PHONES):
        r = s.signup(ev, phone, name=name)
        assert r.status == 201, r
        codes.append(r.json["ticket"]["code"])
    r = s.checkin(ticket=codes[0])
    assert r.status == 200, r
    return ev


def outbox(s):
    db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
    try:
        return [row for row in db.execute("SELECT seq, id, kind FROM outbox ORDER BY seq")]
    finally:
        db.close()


def sync(s, check=True):
    p = s.d.cli("sync", "--once", check=False)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@on_both_backends
def test_sync_pushes_the_outbox_once_and_repeated_pushes_store_nothing_new(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("branch-1")
    s = branch(hq, "branch-1", secret, "[hq]\nbatch = 2\n")
    try:
        busy_branch(s)
        rows = outbox(s)
        assert len(rows) >= 5  # event, 3 sign-ups, check-in (and its points)
        p = sync(s)
        out = p.stdout.decode()
        assert f"pushed {len(rows)} entries" in out, out
        assert f"through seq {rows[-1][0]}" in out, out
        d = devices(hq)["branch-1"]
        assert d["entries"] == len(rows) and d["acked_through"] == rows[-1][0], d
        assert d["last_seen"] is not None
        with hq.db() as db:
            stored = {r[0]: r[1] for r in db.execute("SELECT id, seq FROM hq_entries")}
        assert stored == {r[1]: r[0] for r in rows}
        # nothing new: nothing pushed
        assert "pushed 0 entries" in sync(s).stdout.decode()
        # the branch forgets HQ's ack (as after restoring a backup): everything is sent
        # again, and HQ stores none of it twice
        db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
        db.execute("UPDATE meta SET value = '0' WHERE key = 'outbox_acked_seq'")
        db.commit()
        db.close()
        out = sync(s).stdout.decode()
        assert f"pushed {len(rows)} entries" in out, out
        assert hq_count(hq) == len(rows)
        assert devices(hq)["branch-1"]["entries"] == len(rows)
        # the branch's outbox cursor is HQ's acked_through
        db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
        assert db.execute("SELECT value FROM meta WHERE key = 'outbox_acked_seq'").fetchone()[0] \
            == str(rows[-1][0])
        db.close()
        # personal data never in either side's log
        for log in (hq.all_stderr(), s.d.all_stderr()):
            for phone in PHONES:
                assert phone not in log
            for name in SIGNUP_NAMES:
                assert name not in log
    finally:
        s.d.cleanup()
        hq.cleanup()


@on_both_backends
def test_push_is_stored_once_by_id_and_acked_over_contiguous_seqs_only(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("b1")
    try:
        body, ids = push_body("b1", [1, 2, 4])
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body)
        assert st == 200 and r["acked_through"] == 2 and r["stored"] == 3, r
        # the same entries again, gzip this time: stored once
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body, gz=True)
        assert st == 200 and r == {"acked_through": 2, "received": 3, "stored": 0}, r
        # 6 leaves a gap at 5: the ack stays
        body6, _ = push_body("b1", [6])
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body6)
        assert st == 200 and r["acked_through"] == 2, r
        # 3 fills the gap up to 4
        body3, _ = push_body("b1", [3])
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body3)
        assert st == 200 and r["acked_through"] == 4, r
        body5, _ = push_body("b1", [5])
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body5)
        assert st == 200 and r["acked_through"] == 6, r
        assert hq_count(hq) == 6
        assert devices(hq)["b1"]["acked_through"] == 6
        # personal data is sealed at HQ
        with hq.db() as db:
            data = [json.loads(x[0]) for x in db.execute("SELECT data FROM hq_entries")]
        assert all("phone" not in d and "name" not in d and "sealed" in d for d in data), data
        assert all("13700009999" not in json.dumps(d) for d in data)
        # another device's entries are its own: seq 1 of b2 is a new entry
        secret2 = hq.device_add("b2")
        body, _ = push_body("b2", [1])
        st, r = signed(hq, "b2", secret2, "POST", "/sync/v1/push", body)
        assert st == 200 and r["acked_through"] == 1
        # a body naming another device than the signer's is refused
        body, _ = push_body("b1", [7])
        st, r = signed(hq, "b2", secret2, "POST", "/sync/v1/push", body)
        assert st == 400 and r["error"]["code"] == "malformed", r
        assert hq_count(hq) == 7
    finally:
        hq.cleanup()


@on_both_backends
def test_bad_signature_stale_timestamp_and_replay_are_refused_with_nothing_stored(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("b1")
    try:
        body, _ = push_body("b1", [1])
        ts = int(time.time())
        good = sign(secret, "POST", "/sync/v1/push", body, ts)
        # a signature over other bytes, another path, another secret
        for sig in (sign(secret, "POST", "/sync/v1/push", body + b" ", ts),
                    sign(secret, "POST", "/sync/v1/pull", body, ts),
                    sign(secret[:-1] + ("0" if secret[-1] != "0" else "1"), "POST",
                         "/sync/v1/push", body, ts),
                    good[:-1] + ("0" if good[-1] != "0" else "1")):
            st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body, ts=ts, sig=sig)
            assert st == 401 and r["error"]["code"] == "bad_signature", r
        # the body changed after signing
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body.replace(b"13700", b"13800"),
                       ts=ts, sig=good)
        assert st == 401 and r["error"]["code"] == "bad_signature", r
        # stale and future timestamps, correctly signed, outside the 300 s window from the
        # time they are sent (the future one by a few seconds: a slow or emulated run's
        # seconds until HQ reads it must not bring it back in)
        for off in (-301, 305, -3600):
            st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body,
                           ts=int(time.time()) + off)
            assert st == 401 and r["error"]["code"] == "stale_timestamp", r
        # an unknown device, and no or a malformed header
        st, r = signed(hq, "nobody", secret, "POST", "/sync/v1/push", body)
        assert st == 401 and r["error"]["code"] == "unknown_device", r
        r = hq.post("/sync/v1/push", body, headers={"Content-Type": "application/json"})
        assert r.status == 401, r
        r = hq.post("/sync/v1/push", body, headers={"Content-Type": "application/json",
                                                     "Authorization": "KIOSKD-HMAC-SHA256 x"})
        assert r.status == 401, r
        assert hq_count(hq) == 0
        assert devices(hq)["b1"]["entries"] == 0
        # the good request once, then its replay; a pull too
        accepted_once_then_replayed(hq, hq, "b1", secret, body, ts)
        assert hq_count(hq) == 1
        d = devices(hq)["b1"]
        assert d["entries"] == 1 and d["failures"] >= 7, d
        # the seen signatures live in the database: a restarted HQ still refuses the replay
        hq.restart()
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body, ts=ts, sig=good)
        assert st == 401 and r["error"]["code"] == "replayed", r
        m = hq.get("/metrics").raw.decode()
        assert 'kioskd_hq_refused_total{reason="replayed"} 1' in m, m
    finally:
        hq.cleanup()


@on_both_backends
def test_devices_list_needs_the_admin_token(backend):
    hq = HQ(backend=backend)
    hq.device_add("b1")
    try:
        assert hq.get("/hq/v1/devices").status == 401
        assert hq.get("/hq/v1/devices", headers=auth("wrong")).status == 401
        assert hq.get("/hq/v1/devices", headers=auth(hq.admin_token + "x")).status == 401
        r = hq.get("/hq/v1/devices", headers=auth(hq.admin_token))
        assert r.status == 200
        assert r.json == {"devices": [{"device": "b1", "entries": 0, "acked_through": 0,
                                       "last_seen": None, "failures": 0, "area": ""}]}
        page = hq.get("/hq")
        assert page.status == 200 and b"/hq/v1/devices" in page.raw
        assert hq.get("/healthz").json == {"status": "ok", "db": "ok"}
        # a device id is taken once; its secret is never printed again
        p = hq.cli("hq", "device", "add", "b1", check=False)
        assert p.returncode == 1 and p.stdout == b"", p
        p = hq.cli("hq", "device", "add", "bad id", check=False)
        assert p.returncode == 2
    finally:
        hq.cleanup()
    hq = HQ(config="[hqserver]\nadmin_token =\n", backend=backend)
    try:
        assert hq.get("/hq/v1/devices", headers=auth("anything")).status == 503
    finally:
        hq.cleanup()


MEMBERS_CSV = ("member_no,name,phone,aum,birthday,household\n"
               "HQ001,钱七,13611110001,250000,1970-02-03,\n"
               "HQ002,孙八,13611110002,1000,1985-06-07,F1\n")


@on_both_backends
def test_pull_brings_members_and_products_imported_at_hq_and_hq_wins_on_members(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("branch-2")
    s = branch(hq, "branch-2", secret)
    try:
        with open(f"{hq.dir}/m.csv", "w") as f:
            f.write(MEMBERS_CSV)
        with open(f"{hq.dir}/p.csv", "w") as f:
            f.write("code,name,coefficient\nFUND1,稳健基金,1.25\n")
        p = hq.cli("hq", "import", "members", f"{hq.dir}/m.csv")
        assert b"imported 2 members" in p.stdout, p
        hq.cli("hq", "import", "products", f"{hq.dir}/p.csv")
        # HQ's copy is sealed
        with hq.db() as db:
            text = " ".join(r[0] for r in db.execute("SELECT data FROM hq_changes"))
        assert "13611110001" not in text and "钱七" not in text
        r = s.d.post("/api/v1/members/lookup", {"phone": "13611110001"}, headers=auth(s.staff))
        assert r.status == 404, r
        out = sync(s).stdout.decode()
        assert "pulled 3 changes" in out and "2 members, 1 products" in out, out
        r = s.d.post("/api/v1/members/lookup", {"phone": "13611110001"}, headers=auth(s.staff))
        assert r.status == 200, r
        assert r.json["member_no"] == "HQ001" and r.json["name"] == "钱*"
        assert r.json["tier"] == "中高端", r.json
        # the branch sealed it with its own key
        db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
        assert db.execute("SELECT count(*) FROM members").fetchone()[0] == 2
        assert db.execute("SELECT coef_milli FROM products WHERE code = 'FUND1'").fetchone()[0] \
            == 1250
        db.close()
        # nothing changed at HQ: nothing pulled
        assert "pulled 0 changes" in sync(s).stdout.decode()
        # HQ changes a member's AUM: the branch follows (HQ wins for master data)
        with open(f"{hq.dir}/m.csv", "w") as f:
            f.write("member_no,name,phone,aum,birthday,household\n"
                    "HQ002,孙八,13611110002,7000000,1985-06-07,F1\n")
        hq.cli("hq", "import", "members", f"{hq.dir}/m.csv")
        assert "pulled 1 changes" in sync(s).stdout.decode()
        r = s.d.post("/api/v1/members/lookup", {"phone": "13611110002"}, headers=auth(s.staff))
        assert r.json["tier"] == "财私", r.json
        # a bad row names its line and imports nothing
        with open(f"{hq.dir}/bad.csv", "w") as f:
            f.write("member_no,name,phone,aum,birthday,household\n"
                    "HQ003,周九,13611110003,1,1990-01-01,\nHQ004,吴十,123,1,1990-01-01,\n")
        p = hq.cli("hq", "import", "members", f"{hq.dir}/bad.csv", check=False)
        assert p.returncode == 1 and b"bad.csv:3: phone" in p.stderr, p
        assert "pulled 0 changes" in sync(s).stdout.decode()
        for log in (hq.all_stderr(), s.d.all_stderr()):
            assert "13611110001" not in log and "钱七" not in log
    finally:
        s.d.cleanup()
        hq.cleanup()


@on_both_backends
def test_sync_refused_or_unconfigured_says_so(backend):
    hq = HQ(backend=backend)
    hq.device_add("b1")
    s = branch(hq, "b1", "0" * 64)
    try:
        busy_branch(s)
        p = sync(s, check=False)
        assert p.returncode == 1 and b"bad_signature" in p.stderr, p
        assert hq_count(hq) == 0
        db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
        assert db.execute("SELECT value FROM meta WHERE key = 'outbox_acked_seq'").fetchone()[0] \
            == "0"
        db.close()
    finally:
        s.d.cleanup()
        hq.cleanup()
    s = Site()
    try:
        p = sync(s, check=False)
        assert p.returncode == 2 and b"[hq] url" in p.stderr, p
        assert s.d.cli("sync", check=False).returncode == 2
    finally:
        s.d.cleanup()
