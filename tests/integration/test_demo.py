"""`kioskd serve --demo` as a new user runs it: in an empty folder, without a
configuration file, the data under ./var/demo/, the banner, the bot's curl
line run as printed, a second start, and Ctrl-C."""
import datetime
import os
import re
import signal
import sqlite3
import subprocess

from harness import BIN, CN, Daemon, auth

# Only what a test machine needs: a free port and no rate limits. The store's
# paths are the demo's defaults (./var/demo/ under the daemon's folder).
CONFIG = ("[http]\nlisten = 127.0.0.1:0\nrate_limit = 0\n"
          "[staff]\nlogin_per_minute = 0\nlogin_id_per_minute = 0\n"
          "[kiosk]\nsignups_per_minute = 0\n")


def demo(dir=None):
    d = Daemon(start=False, dir=dir, args=["--demo"])
    with open(d.config_path, "w") as f:
        f.write(CONFIG)
    d.start()
    d.banner = read_banner(d)
    return d


def read_banner(d):
    banner = b""
    while b"Stop with Ctrl-C." not in banner:
        chunk = d.proc.stdout.read1(4096)
        assert chunk, (banner, d.stderr())
        banner += chunk
    return banner.decode()


def db_path(d):
    return os.path.join(d.dir, "var", "demo", "kioskd.db")


def query(d, sql, *args):
    c = sqlite3.connect(f"file:{db_path(d)}?mode=ro", uri=True)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def stop_with_ctrl_c(d):
    d.signal(signal.SIGINT)
    rc = d.proc.wait(10)
    d.proc.stdout.close()
    d.log.close()
    d.proc = None
    assert rc == 0, (rc, d.stderr())
    assert "event=stopped" in d.stderr(), d.stderr()
    assert not os.path.exists(db_path(d) + "-wal")


def test_demo_creates_a_living_branch_under_var_demo():
    d = demo()
    created = re.search(r"event=demo_created events=(\d+) members=(\d+) ms=(\d+)", d.stderr())
    assert created, d.stderr()
    print(f"demo data created in {created.group(3)} ms")  # measured, never asserted
    assert os.path.exists(db_path(d))
    assert not os.path.exists(os.path.join(d.dir, "var", "kioskd.db"))
    for url in ("/\n", "/staff\n", "/staff/stats\n"):
        assert f"http://127.0.0.1:{d.port}{url}" in d.banner, (url, d.banner)
    assert "自助机" in d.banner and "kiosk" in d.banner, d.banner

    tiers = dict(query(d, "SELECT tier, count(*) FROM members GROUP BY tier"))
    assert tiers == {"长尾": 18200, "潜力": 1200, "中高端": 500, "财私": 100}, tiers
    households = query(d, "SELECT count(*), count(DISTINCT household) FROM members "
                          "WHERE household IS NOT NULL")[0]
    assert households == (2000, 1000), households
    cut = (datetime.datetime.now(CN).date() - datetime.timedelta(days=180)).isoformat()
    sleeping = query(d, "SELECT count(*) FROM members WHERE last_txn < ?", cut)[0][0]
    assert 1500 <= sleeping <= 2500, sleeping
    assert query(d, "SELECT count(*) FROM members WHERE last_txn IS NULL") == [(0,)]
    assert len(query(d, "SELECT code FROM products")) == 6
    # some sign-ups, and points earned by the guests already checked in today
    assert query(d, "SELECT count(*) FROM signups")[0][0] >= 20
    earned = query(d, "SELECT count(*) FROM members WHERE balance > 0")[0][0]
    assert earned == 3, earned

    # four weeks of events: upgrade meetings 2-3 a week (capacity 10), a salon,
    # a community event, and one starting within the hour
    now = datetime.datetime.now(CN)
    events = d.get("/api/v1/events").json["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("salon") == 1 and kinds.count("community") == 1, kinds
    upgrades = [e for e in events if e["kind"] == "upgrade"]
    assert 9 <= len(upgrades) <= 13, kinds
    assert all(e["capacity"] == 10 for e in upgrades), upgrades
    starts = [datetime.datetime.fromisoformat(e["starts_at"]) for e in events]
    assert starts[0] - now < datetime.timedelta(hours=1), events[0]
    assert max(starts) - now <= datetime.timedelta(days=29), events[-1]

    # the demo staff log in; the event within the hour takes a sign-up and a check-in
    m = re.search(r"S001 / (\d{6}) .*M001 / (\d{6})", d.banner)
    assert m, d.banner
    staff = d.post("/api/v1/staff/login", {"staff_id": "S001", "pin": m.group(1),
                                           "device": "demo-tablet"})
    manager = d.post("/api/v1/staff/login", {"staff_id": "M001", "pin": m.group(2),
                                             "device": "demo-office"})
    assert staff.status == 200 and manager.status == 200, (staff, manager)
    staff, manager = staff.json["token"], manager.json["token"]
    r = d.post(f"/api/v1/events/{events[0]['id']}/signups",
               {"name": "测试客", "phone": "13900000001", "consent": True})
    assert r.status == 201, r
    r = d.post("/api/v1/checkins", {"event_id": events[0]["id"], "phone": "13900000001"},
               headers=auth(staff))
    assert r.status == 200, r

    # a campaign for the next upgrade meeting: its SMS step queued on the log
    # channel, its call list waiting on the tablet
    r = d.get("/api/v1/campaigns", headers=auth(manager))
    assert r.status == 200 and len(r.json["campaigns"]) == 1, r
    camp = r.json["campaigns"][0]
    assert camp["event_id"] == upgrades[1]["id"], (camp, upgrades[:2])
    r = d.get(f"/api/v1/campaigns/{camp['id']}/calls", headers=auth(staff))
    assert r.status == 200 and len(r.json["calls"]) == 300, r
    channels = query(d, "SELECT DISTINCT channel FROM messages WHERE kind = 'invitation'")
    assert channels == [("log",)], channels

    # the banner's curl line, through a shell, exactly as printed
    line = next(x.strip() for x in d.banner.splitlines() if x.strip().startswith("curl "))
    out = subprocess.run(["sh", "-c", line], capture_output=True, timeout=30, check=True)
    reply = out.stdout.decode()
    assert "积分" in reply and re.search(r"积分：\d+", reply.replace("\\n", "\n")), reply
    stop_with_ctrl_c(d)
    d.cleanup()


def test_a_second_start_keeps_the_demo_data():
    d = demo()
    signups = query(d, "SELECT count(*) FROM signups")[0][0]
    r = d.post(f"/api/v1/events/{d.get('/api/v1/events').json['events'][0]['id']}/signups",
               {"name": "测试客", "phone": "13900000002", "consent": True})
    assert r.status == 201, r
    stop_with_ctrl_c(d)
    banner = d.banner
    d.start()
    d.banner = read_banner(d)
    assert "demo_created" not in d.stderr(), d.stderr()
    port = re.compile(r":\d+/")
    assert port.sub(":P/", d.banner) == port.sub(":P/", banner)  # the same members and PINs
    assert query(d, "SELECT count(*) FROM members") == [(20000,)]
    assert query(d, "SELECT count(*) FROM signups") == [(signups + 1,)]
    assert query(d, "SELECT count(*) FROM campaigns") == [(1,)]
    stop_with_ctrl_c(d)
    d.cleanup()


def content(d):
    """What two creations must share: everything but times, keys and sealed data."""
    return {
        "members": query(d, "SELECT member_no, name_mask, phone_last4, tier, birthday, household,"
                            " last_txn, balance FROM members ORDER BY member_no"),
        "products": query(d, "SELECT code, name, coef_milli FROM products ORDER BY code"),
        "events": query(d, "SELECT title, kind, venue, capacity, description, ends_at - starts_at"
                           " FROM events ORDER BY starts_at"),
        "staff": query(d, "SELECT id, name, role FROM staff ORDER BY id"),
        "campaign": query(d, "SELECT count(*) FROM campaign_members"),
        "signups": query(d, "SELECT e.title, s.name_mask, s.phone_last4, s.status FROM signups s"
                            " JOIN events e ON e.id = s.event_id ORDER BY e.starts_at, s.id"),
    }


def test_the_same_seed_gives_the_same_demo():
    a, b = demo(), demo()
    stop_with_ctrl_c(a)
    stop_with_ctrl_c(b)
    ca, cb = content(a), content(b)
    assert ca["members"] and ca == cb
    # the banner names the same member, with the same name
    pick = re.compile(r"try member (D\d+),\s+(\S+), phone (\d{11})")
    assert pick.search(a.banner).groups() == pick.search(b.banner).groups()
    a.cleanup()
    b.cleanup()


def test_in_a_terminal_the_log_goes_beside_the_demo_so_the_banner_stays():
    d = Daemon(start=False, args=["--demo"])
    with open(d.config_path, "w") as f:
        f.write(CONFIG)
    main, tty = os.openpty()
    proc = subprocess.Popen([BIN, "serve", "--demo", "-c", d.config_path], cwd=d.dir,
                            env=d.env, stdout=subprocess.PIPE, stderr=tty)
    os.close(tty)
    try:
        banner = b""
        while b"Stop with Ctrl-C." not in banner:
            chunk = proc.stdout.read1(4096)
            assert chunk, banner
            banner += chunk
        assert "日志 log: ./var/demo/kioskd.log" in banner.decode(), banner.decode()
        with open(os.path.join(d.dir, "var", "demo", "kioskd.log")) as f:
            log = f.read()
        assert "event=demo_created" in log and "event=listening" in log, log
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        os.close(main)
    d.cleanup()


def test_demo_never_fills_a_database_that_holds_a_branch_data():
    d = Daemon(start=False)
    csv = os.path.join(d.dir, "products.csv")
    with open(csv, "w") as f:
        f.write("code,name,coefficient\nDEP,定期存款,1\n")
    d.cli("import", "products", csv)
    p = subprocess.run([BIN, "serve", "--demo", "-c", d.config_path], cwd=d.dir, env=d.env,
                       capture_output=True, timeout=30)
    assert p.returncode != 0, p
    assert b"already holds data" in p.stderr, p.stderr
    db = sqlite3.connect(os.path.join(d.dir, "kioskd.db"))
    try:
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM members").fetchone() == (0,)
    finally:
        db.close()
    d.cleanup()
