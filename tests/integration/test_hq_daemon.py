"""The daemon's own sync rounds with HQ (docs/sync.md, "The daemon's rounds"):
a branch daemon with [hq] url set against the real `kioskd hq`."""
import json
import re
import socket
import time

from harness import HQ, Loopback, Site, auth, free_port, on_both_backends
from test_hq import MEMBERS_CSV, PHONES, SIGNUP_NAMES, busy_branch, devices, hq_count, outbox

FAST = "[hq]\ninterval = 1\nmax_backoff = 2\n"


def branch(url, device, secret, extra=FAST):
    return Site(config=f"[hq]\nurl = {url}\ndevice = {device}\nsecret = {secret}\n" + extra)


def health(s):
    r = s.d.get("/healthz")
    assert r.status == 200, r
    return r.json


def metrics_text(s):
    r = s.d.get("/metrics")
    assert r.status == 200, r
    return r.raw.decode()


def metric(s, name):
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", metrics_text(s), re.M)
    return float(m.group(1)) if m else None


def wait_for(cond, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@on_both_backends
def test_a_branch_daemon_drains_its_outbox_to_hq_by_itself(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("branch-1")
    s = branch(hq.url(), "branch-1", secret, FAST + "batch = 2\n")
    try:
        busy_branch(s)
        rows = outbox(s)
        assert len(rows) >= 5
        wait_for(lambda: health(s)["outbox_pending"] == 0 and health(s)["hq"] == "online",
                 what="an empty outbox")
        h = health(s)
        assert h["hq"] == "online", h
        d = devices(hq)["branch-1"]
        assert d["entries"] == len(rows) and d["acked_through"] == rows[-1][0], d
        assert hq_count(hq) == len(rows)
        assert metric(s, "kioskd_sync_rounds_total") >= 1
        assert metric(s, "kioskd_sync_last_success_seconds") > time.time() - 60
        assert metric(s, "kioskd_hq_online") == 1
        # a later change goes too, in a later round
        r = s.signup(s.event(title="第二场"), "13700000009", name="钱七")
        assert r.status == 201, r
        wait_for(lambda: hq_count(hq) == len(outbox(s)), what="the later change at HQ")
        for log in (hq.all_stderr(), s.d.all_stderr()):
            for phone in PHONES + ["13700000009"]:
                assert phone not in log
            for name in SIGNUP_NAMES + ["钱七"]:
                assert name not in log
        s.d.stop()
    finally:
        s.d.cleanup()
        hq.cleanup()


@on_both_backends
def test_members_imported_at_hq_reach_the_branch_daemon_by_itself(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("branch-2")
    s = branch(hq.url(), "branch-2", secret)
    try:
        with open(f"{hq.dir}/m.csv", "w") as f:
            f.write(MEMBERS_CSV)
        hq.cli("hq", "import", "members", f"{hq.dir}/m.csv")

        def found():
            r = s.d.post("/api/v1/members/lookup", {"phone": "13611110001"},
                         headers=auth(s.staff))
            return r if r.status == 200 else None
        r = wait_for(found, what="the pulled member")
        assert r.json["member_no"] == "HQ001" and r.json["tier"] == "中高端", r.json
        s.d.stop()
    finally:
        s.d.cleanup()
        hq.cleanup()


@on_both_backends
def test_hq_down_the_branch_works_offline_and_drains_once_when_hq_returns(backend):
    port = free_port()
    hq = HQ(config=f"[hqserver]\nlisten = 127.0.0.1:{port}\n", backend=backend)
    secret = hq.device_add("branch-1")
    s = branch(f"http://127.0.0.1:{port}", "branch-1", secret)
    try:
        ev = s.event()
        wait_for(lambda: health(s)["hq"] == "online" and health(s)["outbox_pending"] == 0,
                 what="a first round")
        before = hq_count(hq)
        hq.stop()
        # sign-ups keep working with HQ gone
        for phone, name in zip(["13700000011", "13700000012", "13700000013"],
                               ["周一", "吴二", "郑三"]):
            r = s.signup(ev, phone, name=name)
            assert r.status == 201, r
        wait_for(lambda: health(s)["hq"] == "offline", what="hq offline")
        h = health(s)
        assert h["outbox_pending"] >= 3, h
        assert metric(s, 'kioskd_sync_failures_by_kind_total{kind="network"}') >= 1
        # more failures back off (at most [hq] max_backoff) and keep counting
        time.sleep(2.5)
        assert "kind=network" in s.d.stderr()
        hq.start()
        wait_for(lambda: health(s)["outbox_pending"] == 0 and health(s)["hq"] == "online",
                 what="the outbox drained after HQ's return")
        rows = outbox(s)
        assert hq_count(hq) == len(rows) > before
        with hq.db() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM hq_entries")]
        assert len(ids) == len(set(ids)) == len(rows)
        d = devices(hq)["branch-1"]
        assert d["acked_through"] == rows[-1][0], d
        s.d.stop()
    finally:
        s.d.cleanup()
        hq.cleanup()


@on_both_backends
def test_a_wrong_secret_is_offline_counted_as_a_refused_signature_and_nothing_is_stored(backend):
    hq = HQ(backend=backend)
    hq.device_add("branch-1")
    s = branch(hq.url(), "branch-1", "0" * 64)
    try:
        busy_branch(s)
        wait_for(lambda: metric(s, 'kioskd_sync_failures_by_kind_total{kind="signature"}'),
                 what="a refused signature")
        h = health(s)
        assert h["hq"] == "offline" and h["outbox_pending"] == len(outbox(s)), h
        assert hq_count(hq) == 0
        assert "bad_signature" in s.d.stderr()
        assert metric(s, "kioskd_sync_last_success_seconds") == 0
        s.d.stop()
    finally:
        s.d.cleanup()
        hq.cleanup()


def test_sigterm_does_not_wait_for_a_round_in_flight():
    # HQ accepts the connection and never answers: the round hangs until [hq] timeout
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    port = lst.getsockname()[1]
    s = branch(f"http://127.0.0.1:{port}", "branch-1", "0" * 64,
               "[hq]\ninterval = 1\ntimeout = 60\n")
    try:
        busy_branch(s)
        pending = health(s)["outbox_pending"]
        wait_for(lambda: "event=sync_started" in s.d.stderr(), what="sync started")
        conn = wait_for(lambda: lst.accept(), what="a connection from the branch")
        t0 = time.monotonic()
        s.d.stop(timeout=5)
        assert time.monotonic() - t0 < 3
        assert "event=sync_cancelled" in s.d.stderr()
        conn[0].close()
        s.d.start()
        assert health(s)["outbox_pending"] == pending
        assert health(s)["hq"] == "offline"
        s.d.stop()
    finally:
        lst.close()
        s.d.cleanup()


def test_without_hq_url_health_says_disabled():
    s = Site()
    try:
        assert health(s)["hq"] == "disabled"
        assert "kioskd_sync_rounds_total" not in metrics_text(s)
    finally:
        s.d.cleanup()


class FakeHQ:
    """An HQ that answers every pull with the page set in .page (pushes with
    nothing acknowledged): what a branch does with a page HQ got wrong."""

    def __init__(self):
        self.page = {"changes": [], "cursor": "0", "more": False}
        self.pulls = 0
        self.server = Loopback(self.handle)

    def handle(self, method, path, headers, body):
        if method == "GET":
            self.pulls += 1
            return 200, self.page
        return 200, {"acked_through": 0}

    def url(self):
        return self.server.url

    def close(self):
        self.server.close()


def test_a_page_read_off_the_loop_fails_whole_when_a_change_is_bad_then_applies_when_fixed():
    fake = FakeHQ()
    member = {"member_no": "HQ777", "name": "孙悟空", "phone": "13611117777", "aum_fen": 30000000,
              "birthday": "1980-01-01", "household": "", "last_txn": ""}
    bad = dict(member, member_no="HQ 778")
    fake.page = {"changes": [{"kind": "member", "data": member}, {"kind": "member", "data": bad}],
                 "cursor": "2", "more": False}
    s = branch(fake.url(), "branch-9", "s" * 32)
    try:
        wait_for(lambda: (metric(s, 'kioskd_sync_failures_by_kind_total{kind="answer"}') or 0) > 0,
                 what="the bad page counted as a bad answer")
        assert "a member's member_no is not valid" in s.d.stderr()

        def lookup():
            return s.d.post("/api/v1/members/lookup", {"phone": "13611117777"},
                            headers=auth(s.staff))
        assert lookup().status == 404  # nothing of the page was applied
        fake.page = {"changes": [{"kind": "member", "data": member}], "cursor": "1",
                     "more": False}
        r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(lookup()),
                     what="the fixed page applied")
        assert r.json["member_no"] == "HQ777" and r.json["tier"] == "中高端", r.json
        log = s.d.all_stderr()
        assert "孙悟空" not in log and "13611117777" not in log
        s.d.stop()
    finally:
        s.d.cleanup()
        fake.close()
