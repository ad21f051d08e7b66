"""The database's folder (or its files) goes read-only, or away, while the daemon runs: writes get 503 with
the error shape (storage_read_only, storage_missing) and change nothing, reads go on,
/healthz says what is wrong, and once the folder is back the next write succeeds without a
restart; every acknowledged sign-up is kept.

Read-only: as root (as CI runs) the folder is made immutable with `chattr +i`, which binds
root too (a chmod does not); otherwise it is chmod 0555. A write to a file already open
would still succeed in both cases: the daemon checks the folder before each batch. When the
folder cannot be made read-only here, that half says so and is not run (tests/run.py has no
skip state)."""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading

from harness import Site


def _read_only_switch(path):
    """(make read-only, undo) for the folder (or for paths), or None when it cannot be done
    here."""
    paths = [path] if isinstance(path, str) else path
    if os.geteuid() != 0:
        return ((lambda: [os.chmod(p, 0o555) for p in paths]),
                (lambda: [os.chmod(p, 0o700) for p in paths]))
    p = subprocess.run(["chattr", "+i", paths[0]], capture_output=True, text=True)
    if p.returncode != 0:
        print(f"SKIP test_db_dir read-only: chattr +i: {p.stderr.strip()!r} (needs "
              "CAP_LINUX_IMMUTABLE and a file system with the flag)", flush=True)
        return None
    subprocess.run(["chattr", "-i", paths[0]], check=True)
    return ((lambda: subprocess.run(["chattr", "+i"] + paths, check=True)),
            (lambda: subprocess.run(["chattr", "-i"] + paths, check=True)))


def _writers(s, ev, acked, refused, other, stop, prefix):
    lock = threading.Lock()

    def run(t):
        n = 0
        while not stop.is_set():
            phone = f"{prefix}{t:02d}{n:05d}"
            n += 1
            r = s.signup(ev, phone, name="测试")
            with lock:
                if r.status == 201:
                    acked[phone] = r.json["signup_id"]
                elif r.status == 503 and r.json and r.headers.get("retry-after"):
                    refused[phone] = r.json["error"]["code"]
                else:
                    other.append((phone, r))
    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    return threads


def _until(cond, what):
    for _ in range(2000):
        if cond():
            return
        threading.Event().wait(0.005)
    raise AssertionError("timed out waiting for " + what)


def _outage(s, ev, acked, refused, code, break_it, mend_it, prefix, reads=True):
    """Writers run while the folder breaks and mends; returns the codes seen while broken.
    reads False: the files break, before the writers start (a file turning read-only under a
    batch in flight can still fault SQLite's mapped -shm); reads may then be refused."""
    other, stop = [], threading.Event()
    if not reads:
        break_it()
        r = s.d.get("/healthz")  # which also has the loop's reads look again at once
        assert r.status == 503 and r.json["db_error"] == code[len("storage_"):], r
    threads = _writers(s, ev, acked, refused, other, stop, prefix)
    try:
        if reads:
            _until(lambda: len(acked) >= 20, "acknowledged sign-ups")
            break_it()
        n = len(refused)
        _until(lambda: len(refused) >= n + 10, "refused sign-ups")
        r = s.d.get("/healthz")
        assert r.status == 503 and r.json["db"] == "error", r
        assert r.json["db_error"] == code[len("storage_"):], r
        r = s.signup(ev, f"{prefix}9900000", name="测试")
        assert r.status == 503 and r.json["error"]["code"] == code, r
        assert "nothing was recorded" in r.json["error"]["message"]
        refused[f"{prefix}9900000"] = code
        for path in (f"/api/v1/events/{ev}", "/api/v1/events"):
            r = s.d.get(path)
            assert r.status == 200 or (not reads and r.status == 503), r  # reads go on
    finally:
        mend_it()
        stop.set()
        for t in threads:
            t.join()
    assert not other, other[:3]
    # back: no restart, the next write succeeds and /healthz is ok again
    assert s.d.get("/healthz").status == 200
    r = s.signup(ev, f"{prefix}9900001", name="测试")
    assert r.status == 201, r
    acked[f"{prefix}9900001"] = r.json["signup_id"]
    return {c for p, c in refused.items() if p.startswith(prefix)}


def _check_kept(s, ev, acked, refused):
    for phone, sid in acked.items():
        again = s.signup(ev, phone, name="测试")
        assert again.status == 200 and again.json["signup_id"] == sid, (phone, sid, again)
    for phone in refused:
        again = s.signup(ev, phone, name="测试")
        assert again.status == 201, (phone, again)  # nothing was left of the refused try
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "db", "kioskd.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = db.execute("SELECT count(*) FROM signups WHERE event_id=?", (ev,)).fetchone()[0]
    confirmed = db.execute("SELECT confirmed FROM events WHERE id=?", (ev,)).fetchone()[0]
    outbox = db.execute("SELECT count(*) FROM outbox WHERE kind='signup'").fetchone()[0]
    db.close()
    assert n == len(acked) + len(refused) == confirmed == outbox, (n, len(acked), len(refused))
    s.d.cli("check")


def test_read_only_or_vanished_folder_refuses_writes_and_recovers_by_itself():
    top = tempfile.mkdtemp(prefix="kioskd-dbdir-")
    folder = os.path.join(top, "db")  # the database in a folder of its own
    s = Site(config=f"[store]\npath = {folder}/kioskd.db\n", dir=top)
    try:
        ev = s.event(kind="community", capacity=1000000, minutes=600)
        acked, refused = {}, {}
        switch = _read_only_switch(folder)
        if switch:
            codes = _outage(s, ev, acked, refused, "storage_read_only", *switch, "1361")
            assert codes == {"storage_read_only"}, codes
            # the files themselves read-only (the folder still writable): SQLite's mapped
            # -shm would fault on a write, reads too may be refused, the daemon lives on
            files = [os.path.join(folder, "kioskd.db" + x) for x in ("", "-wal", "-shm")]
            codes = _outage(s, ev, acked, refused, "storage_read_only",
                            *_read_only_switch(files), "1363", reads=False)
            assert codes == {"storage_read_only"}, codes
        moved = folder + ".moved"
        codes = _outage(s, ev, acked, refused, "storage_missing",
                        lambda: os.rename(folder, moved), lambda: os.rename(moved, folder), "1362")
        assert codes == {"storage_missing"}, codes
        _check_kept(s, ev, acked, refused)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-R", "-i", folder], capture_output=True)
        s.d.kill()
        shutil.rmtree(top, ignore_errors=True)
