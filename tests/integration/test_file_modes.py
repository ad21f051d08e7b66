"""The database, its WAL and shm, backups, logs and folders are 0600/0700; a readable database is refused."""
import os
import signal
import stat
import subprocess
import time

from harness import BIN, Daemon, Site, add_staff, auth, merge_ini


def configure(d, extra):
    with open(d.config_path) as f:
        text = f.read()
    with open(d.config_path, "w") as f:
        f.write(merge_ini(text, extra))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_wal_shm_backup_log_and_folders_are_private():
    old = os.umask(0o022)  # the umask a service manager commonly hands down
    try:
        d = Daemon(start=False)
        data = os.path.join(d.dir, "var", "site")
        configure(d, f"[store]\npath = {data}/kioskd.db\n")
        add_staff(d, "M1", "manager", "111111")
        d.start()
        s = Site.__new__(Site)
        s.d = d
        s.manager = d.post("/api/v1/staff/login", {"staff_id": "M1", "pin": "111111"}).json["token"]
        s.event()  # a write: the WAL and shm exist while the daemon runs
        db = os.path.join(data, "kioskd.db")
        for p in (db, db + "-wal", db + "-shm", db + ".lock"):
            assert os.path.exists(p), p
            assert mode(p) == 0o600, (p, oct(mode(p)))
        for folder in (os.path.join(d.dir, "var"), data):
            assert mode(folder) == 0o700, (folder, oct(mode(folder)))
        dest = os.path.join(d.dir, "backup.db")
        d.cli("backup", dest)
        assert mode(dest) == 0o600, oct(mode(dest))
        d.stop()
    finally:
        os.umask(old)
    d.cleanup()


def test_the_log_file_is_private():
    old = os.umask(0o022)
    try:
        d = Daemon(start=False)
        log = os.path.join(d.dir, "kioskd.log")
        configure(d, f"[log]\nfile = {log}\n")
        p = subprocess.Popen([BIN, "serve", "-c", d.config_path], env=d.env, cwd=d.dir,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if os.path.exists(log) and "event=listening" in open(log).read():
                    break
                time.sleep(0.02)
            assert "event=listening" in open(log).read()
            assert mode(log) == 0o600, oct(mode(log))
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(10) == 0
    finally:
        os.umask(old)
    d.cleanup()


def test_a_database_others_can_read_is_refused():
    d = Daemon()
    d.stop()
    db = os.path.join(d.dir, "kioskd.db")
    for victim in (db, db + "-wal"):
        if not os.path.exists(victim):
            open(victim, "wb").close()
            os.chmod(victim, 0o600)
        os.chmod(victim, 0o644)
        try:
            d.start()
            raise AssertionError(f"started on {victim} with mode 0644")
        except AssertionError as e:
            msg = str(e)
            assert "kioskd exited with 1" in msg, msg
            assert f"{victim}: database file has mode 0644" in msg, msg
            assert f"chmod 600 {victim}" in msg, msg
        finally:
            d.log.close()
            d.proc = None
        os.chmod(victim, 0o600)
    d.start()
    assert d.get("/healthz").status == 200
    d.stop()
    d.cleanup()


def test_the_demo_database_is_private_too():
    old = os.umask(0o022)
    try:
        d = Daemon(start=False)
        data = os.path.join(d.dir, "var", "demo")
        configure(d, f"[store]\npath = {data}/kioskd.db\n")
        d.args = ["--demo"]
        d.start()
        st, body = d.get("/api/v1/events")
        assert st == 200 and body["events"], body
        db = os.path.join(data, "kioskd.db")
        assert mode(db) == 0o600, oct(mode(db))
        for p in (db + "-wal", db + "-shm"):
            if os.path.exists(p):
                assert mode(p) == 0o600, (p, oct(mode(p)))
        assert mode(data) == 0o700 and mode(os.path.dirname(data)) == 0o700
        d.stop()
    finally:
        os.umask(old)
    d.cleanup()


def test_staff_tools_keep_the_database_private():
    old = os.umask(0o022)
    try:
        d = Daemon(start=False)
        add_staff(d, "S1", "staff")  # the first command creates the database
        db = os.path.join(d.dir, "kioskd.db")
        assert mode(db) == 0o600, oct(mode(db))
        d.start()
        assert d.get("/api/v1/staff/me", headers=auth("x" * 43)).status == 401
        d.stop()
    finally:
        os.umask(old)
    d.cleanup()
