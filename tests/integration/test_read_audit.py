"""Audited reads ([store] read_audit): a staff lookup's audit line is handed to the writer before
the answer goes; `queued` (the default) answers once the line is queued, `committed` once it has
committed. A full queue refuses the read; a phone reveal always waits for its commit."""
import http.client
import os
import sqlite3

from harness import Site, auth, eventually, parallel, slow_fsync_env

MEMBERS = ("member_no,name,phone,aum,birthday,household,last_txn\n" +
           "".join(f"M{i:03d},{'赵钱孙李周吴郑王冯陈'[i % 10]}{'一二三四五'[i % 5]},1381234{i:04d},"
                   f"{1000 + i},1960-03-01,,\n" for i in range(1, 21)))


def site(mode=None, config="", **kw):
    ini = config + (f"[store]\nread_audit = {mode}\n" if mode else "")
    s = Site(config=ini, **kw)
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    return s


def audit_lines(d, action="member_points_view"):
    c = sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return c.execute("SELECT staff_id, device, subject FROM audit WHERE action = ? "
                         "ORDER BY id", (action,)).fetchall()
    finally:
        c.close()


def points(s, no):
    return s.d.get(f"/api/v1/members/{no}/points", headers=auth(s.staff))


def leaks(r):
    """Whether a refused answer carries anything of the member."""
    return any(x in r.raw for x in (b"balance", b"member_no", b"M0"))


def test_lookup_audit_line_is_there_after_the_lookup_in_both_modes():
    for mode in (None, "queued", "committed"):
        s = site(mode)
        r = points(s, "M007")
        assert r.status == 200 and r.json["member_no"] == "M007", r
        r = s.d.post("/api/v1/members/lookup", {"phone": "13812340009"}, headers=auth(s.staff))
        assert r.status == 200 and r.json["member_no"] == "M009", r
        want = [("S1", "tablet-1", "member:M007")]
        if mode == "committed":  # the answer went after the commit
            assert audit_lines(s.d) == want
        assert eventually(lambda: audit_lines(s.d) == want), audit_lines(s.d)
        assert eventually(lambda: audit_lines(s.d, "member_lookup") ==
                          [("S1", "tablet-1", "member:M009")])
        # a member that does not exist is refused and audits nothing
        assert points(s, "M999").status == 404
        s.d.stop()
        assert audit_lines(s.d) == want, mode
        assert "13812340009" not in s.d.all_stderr()


def test_full_queue_refuses_the_lookup_and_every_answered_one_is_audited():
    # a commit takes 300 ms: the writer's queue of 2 fills with the lookups behind it
    s = site(config="[store]\nqueue_max = 2\n", env=slow_fsync_env(300))
    answered, refused = [], []
    for i in range(60):
        no = f"M{1 + i % 20:03d}"
        r = points(s, no)
        assert r.status in (200, 503), r
        if r.status == 200:
            answered.append(no)
        else:
            refused.append(r)
            if len(refused) >= 3:
                break
    assert refused, "the queue never filled"
    for r in refused:
        assert r.json["error"]["code"] == "busy" and r.headers["retry-after"], r
        assert not leaks(r), r.raw
    s.d.stop()  # a clean stop commits what is queued
    assert [a[2] for a in audit_lines(s.d)] == [f"member:{no}" for no in answered]


def fault_site(mode):
    # the 5th job of the first batch that holds 5 fails: lookups queue behind a 300 ms commit
    return site(mode, env=dict(slow_fsync_env(300), KIOSKD_TEST_FAULT="job=5,stmt=1,rc=ioerr"))


def test_committed_mode_answers_a_failed_audit_line_with_an_error():
    s = fault_site("committed")
    results = []
    for _ in range(5):  # rounds of concurrent lookups until the fault has met one
        results += parallel(lambda no: points(s, no), [(f"M{i:03d}",) for i in range(1, 13)])
        if any(r.status != 200 for r in results):
            break
    failed = [r for r in results if r.status != 200]
    assert len(failed) == 1, [r.status for r in results]
    assert failed[0].status >= 500 and not leaks(failed[0]), failed[0]
    s.d.stop()
    assert len(audit_lines(s.d)) == len(results) - 1


def test_queued_mode_does_not_wait_so_a_failed_audit_line_is_logged():
    s = fault_site("queued")
    results = []
    for _ in range(5):
        results += [points(s, f"M{i:03d}") for i in range(1, 13)]
        if "event=read_audit_failed" in s.d.stderr():
            break
    assert all(r.status == 200 for r in results), [r.status for r in results]
    s.d.stop()
    assert "event=read_audit_failed" in s.d.all_stderr()
    assert len(audit_lines(s.d)) == len(results) - 1


def test_phone_reveal_still_waits_for_its_commit_in_queued_mode():
    # the waitlist reveal discloses a whole phone number: never before its audit line commits
    s = Site(env=dict(slow_fsync_env(300), KIOSKD_TEST_FAULT="job=5,stmt=1,rc=ioerr"))
    ev = s.event(kind="community", capacity=1)
    assert s.signup(ev, "13800002000", name="赵一").status == 201
    r = s.signup(ev, "13800002001", name="钱二")
    assert r.json["status"] == "waitlisted", r
    sid = r.json["signup_id"]
    url = f"/api/v1/events/{ev}/waitlist/{sid}/reveal"
    results = []
    for _ in range(5):
        results += parallel(lambda: s.d.post(url, {}, headers=auth(s.staff)), [()] * 12)
        if any(r.status != 200 for r in results):
            break
    failed = [r for r in results if r.status != 200]
    assert len(failed) == 1, [r.status for r in results]
    assert b"13800002001" not in failed[0].raw
    s.d.stop()
    assert len(audit_lines(s.d, "waitlist_reveal")) == len(results) - 1


def test_kill_9_after_many_queued_lookups_leaves_a_consistent_database():
    s = site()
    c = http.client.HTTPConnection("127.0.0.1", s.d.port, timeout=10)
    answered = 0
    for i in range(300):
        c.request("GET", f"/api/v1/members/M{1 + i % 20:03d}/points", headers=auth(s.staff))
        r = c.getresponse()
        r.read()
        assert r.status == 200
        answered += 1
    s.d.kill()
    c.close()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    s.d.start()
    lines = audit_lines(s.d)
    assert len(lines) <= answered
    assert all(a[:2] == ("S1", "tablet-1") and a[2].startswith("member:M0") for a in lines)
    # the daemon goes on: a lookup after the restart is audited as before
    token = s.d.post("/api/v1/staff/login", {"staff_id": "S1", "pin": "222222",
                                             "device": "tablet-1"}).json["token"]
    assert s.d.get("/api/v1/members/M001/points", headers=auth(token)).status == 200
    assert eventually(lambda: len(audit_lines(s.d)) == len(lines) + 1)
    assert s.d.cli("check").returncode == 0
    s.d.stop()
