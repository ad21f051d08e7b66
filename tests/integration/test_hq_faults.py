"""HQ sync under faults (docs/sync.md, "Faults tested"): a real branch daemon
and the real `kioskd hq` with a fault-injecting proxy between them
(faultproxy.py). Whatever the fault, once it clears every change the branch
acknowledged is at HQ exactly once. Nothing here waits a fixed time for an
outcome: every wait polls with a deadline."""
import os
import shutil
import sqlite3
from types import SimpleNamespace

from faultproxy import FaultProxy
from harness import HQ, Site, slow_fsync_env
from test_hq import busy_branch, devices, outbox
from test_hq_daemon import health, metric, wait_for

FAST = "[hq]\ninterval = 1\nmax_backoff = 2\n"
PHONES = [f"1380000{i:04d}" for i in range(100)]
NAMES = ["周一", "吴二", "郑三", "王四", "冯五", "陈六", "褚七", "卫八", "蒋九", "沈十"]


class Bench:
    """HQ, a proxy in front of it and a branch daemon syncing through the proxy."""

    def __init__(self, extra=FAST, hq_env=None, branch_env=None, device="branch-1",
                 hq_setup=None, rule=None):
        self.hq = HQ(env=hq_env)
        self.secret = self.hq.device_add(device)
        if hq_setup:
            hq_setup(self.hq)
        self.proxy = FaultProxy(self.hq.port)
        if rule:
            self.proxy.set(**rule)  # before the branch's first round
        self.s = Site(config=f"[hq]\nurl = {self.proxy.url()}\ndevice = {device}\n"
                      f"secret = {self.secret}\n" + extra, env=branch_env)
        self.device = device
        self.acked = 0  # sign-ups the branch answered 201
        self.ev = None
        self.n = 0

    def signups(self, n):
        """n sign-ups through the branch's API; counts those acknowledged."""
        if self.ev is None:
            self.ev = self.s.event(starts=24 * 60)
        for _ in range(n):
            r = self.s.signup(self.ev, PHONES[self.n], name=NAMES[self.n % len(NAMES)])
            self.n += 1
            assert r.status == 201, r
            self.acked += 1

    def restart_hq(self):
        self.hq.start()
        self.proxy.upstream = self.hq.port

    def exactly_once(self, timeout=30):
        """Waits for an empty outbox, then checks HQ holds each entry once."""
        wait_for(lambda: health(self.s)["outbox_pending"] == 0 and health(self.s)["hq"] == "online",
                 timeout=timeout, what="the outbox drained")
        rows = outbox(self.s)
        with self.hq.db() as db:
            at_hq = sorted(db.execute("SELECT seq, id, kind FROM hq_entries WHERE device = ?",
                                      (self.device,)))
            signups = db.execute("SELECT count(*) FROM hq_entries WHERE kind = 'signup'"
                                 ).fetchone()[0]
        assert at_hq == [tuple(r) for r in rows], (at_hq, rows)
        assert signups == self.acked
        d = devices(self.hq)[self.device]
        assert d["acked_through"] == rows[-1][0] and d["entries"] == len(rows), d
        return rows

    def hq_entries(self):
        with self.hq.db() as db:
            return db.execute("SELECT count(*) FROM hq_entries").fetchone()[0]

    def close(self):
        self.proxy.close()
        self.s.d.cleanup()
        self.hq.cleanup()


def failures(s, kind):
    return metric(s, f'kioskd_sync_failures_by_kind_total{{kind="{kind}"}}') or 0


def test_offline_work_then_drain_once():
    b = Bench()
    try:
        b.signups(2)
        b.exactly_once()
        b.proxy.set("drop")
        b.signups(5)
        busy_branch(b.s)
        b.acked += 3
        wait_for(lambda: failures(b.s, "network") >= 1, what="a failed round")
        assert health(b.s)["hq"] == "offline"
        assert health(b.s)["outbox_pending"] >= 9
        b.proxy.set("pass")
        b.exactly_once()
        b.s.d.stop()
        # the sync's own read connection closed first: a clean stop still removes the WAL
        assert not os.path.exists(f"{b.s.d.dir}/kioskd.db-wal")
    finally:
        b.close()


def test_hq_answering_500_is_counted_and_the_outbox_drains_after():
    b = Bench()
    try:
        b.proxy.set("status500")
        b.signups(3)
        wait_for(lambda: failures(b.s, "http_status") >= 2, what="refused rounds")
        assert b.hq_entries() == 0
        assert "kind=http_status detail=\"500 internal\"" in b.s.d.stderr()
        b.proxy.set("pass")
        b.exactly_once()
        b.s.d.stop()
    finally:
        b.close()


def test_closing_mid_response_in_the_headers_or_the_body_doubles_nothing():
    b = Bench("[hq]\ninterval = 1\nmax_backoff = 2\nbatch = 2\n")
    try:
        for cut in (12, -3):  # in the status line; just before the body's end
            b.proxy.set("close_mid", only="/sync/v1/push", times=1, cut=cut)
            before = failures(b.s, "network")
            b.signups(3)
            wait_for(lambda: failures(b.s, "network") > before, what=f"a cut answer ({cut})")
            cut_req = [r for r in b.proxy.pushes() if r.mode == "close_mid"]
            assert cut_req and cut_req[-1].status == 200  # HQ took it; the branch never knew
            b.exactly_once()
        b.s.d.stop()
    finally:
        b.close()


def test_an_answer_slower_than_hq_timeout_fails_the_round_and_is_resent_once():
    b = Bench("[hq]\ninterval = 1\nmax_backoff = 2\ntimeout = 1\n")
    try:
        b.proxy.set("slow", only="/sync/v1/push", times=1, secs=4)
        b.signups(3)
        wait_for(lambda: failures(b.s, "network") >= 1, what="a timed-out round")
        assert "timed out" in b.s.d.stderr().lower() or "timeout" in b.s.d.stderr().lower()
        b.exactly_once()
        slow = [r for r in b.proxy.pushes() if r.mode == "slow"]
        assert slow[0].status == 200  # stored at HQ before the branch gave up on it
        b.s.d.stop()
    finally:
        b.close()


def test_a_refused_signature_stores_nothing_and_recovers():
    b = Bench()
    try:
        b.proxy.set("bad_sig")
        b.signups(3)
        wait_for(lambda: failures(b.s, "signature") >= 2, what="refused signatures")
        assert b.hq_entries() == 0
        assert "bad_signature" in b.s.d.stderr()
        assert devices(b.hq)["branch-1"]["failures"] >= 2
        b.proxy.set("pass")
        b.exactly_once()
        b.s.d.stop()
    finally:
        b.close()


def test_kill_9_of_the_branch_mid_push_loses_and_doubles_nothing():
    b = Bench("[hq]\ninterval = 1\nmax_backoff = 2\nbatch = 3\n")
    try:
        b.signups(2)
        b.exactly_once()
        # killed while its push waits before HQ, then while HQ's answer is on its way
        for mode in ("hold_request", "hold_answer"):
            b.proxy.set(mode, only="/sync/v1/push", times=1)
            b.signups(7)
            assert b.proxy.reached.wait(20), f"no push reached the proxy ({mode})"
            b.s.d.kill()
            b.proxy.release()
            if mode == "hold_answer":
                held = [r for r in b.proxy.pushes() if r.mode == mode]
                wait_for(lambda: held[-1].status == 200, what="HQ's answer to the held push")
            b.proxy.set("pass")
            b.s.d.start()
            b.exactly_once()
        b.s.d.stop()
    finally:
        b.close()


def test_kill_9_of_hq_mid_push_loses_and_doubles_nothing():
    # HQ's fsync is slow: the kill comes while it is storing the push
    b = Bench("[hq]\ninterval = 1\nmax_backoff = 2\nbatch = 4\n", hq_env=slow_fsync_env(500))
    try:
        b.signups(2)
        b.exactly_once(timeout=60)
        b.proxy.set("hold_request", only="/sync/v1/push", times=1)
        b.signups(9)
        assert b.proxy.reached.wait(20)
        held = [r for r in b.proxy.pushes() if r.mode == "hold_request"][0]
        b.proxy.release()
        wait_for(lambda: held.forwarded, what="the push forwarded")
        b.hq.kill()
        wait_for(lambda: health(b.s)["hq"] == "offline", what="HQ seen gone")
        b.restart_hq()
        b.exactly_once(timeout=60)
        b.s.d.stop()
    finally:
        b.close()


def test_a_branch_clock_far_off_is_refused_counted_and_recovers_when_fixed():
    b = Bench(branch_env={"KIOSKD_TEST_CLOCK": "3600"})
    try:
        b.signups(3)
        wait_for(lambda: failures(b.s, "signature") >= 1, what="a refused timestamp")
        assert "stale_timestamp" in b.s.d.stderr()
        assert b.hq_entries() == 0 and health(b.s)["hq"] == "offline"
        assert metric(SimpleNamespace(d=b.hq),
                      'kioskd_hq_refused_total{reason="stale_timestamp"}') >= 1
        b.s.d.stop()
        del b.s.d.env["KIOSKD_TEST_CLOCK"]  # the clock is set right
        b.s.d.start()
        b.exactly_once()
        b.s.d.stop()
    finally:
        b.close()


def test_a_replayed_push_is_refused_and_stores_nothing():
    b = Bench()
    try:
        b.signups(3)
        b.exactly_once()
        stored = b.hq_entries()
        push = b.proxy.pushes()[0]
        status, body = b.proxy.replay(push)
        assert status == 401 and b"replayed" in body, (status, body)
        assert b.hq_entries() == stored
        b.s.d.stop()
    finally:
        b.close()


def test_a_pull_page_is_applied_once_across_a_kill_9_between_pages():
    n = 1100  # three pages of 500

    def products(hq):
        with open(f"{hq.dir}/p.csv", "w") as f:
            f.write("code,name,coefficient\n")
            for i in range(n):
                f.write(f"PX{i:05d},产品{i},1.5\n")
        hq.cli("hq", "import", "products", f"{hq.dir}/p.csv")
    b = Bench(hq_setup=products,
              rule=dict(mode="hold_request", only="/sync/v1/pull", skip=1, times=1))
    try:
        assert b.proxy.reached.wait(20), "no second page asked for"

        def branch_db(q):
            db = sqlite3.connect(f"{b.s.d.dir}/kioskd.db")
            try:
                return db.execute(q).fetchone()
            finally:
                db.close()
        assert branch_db("SELECT count(*) FROM products WHERE code LIKE 'PX%'")[0] == 500
        cursor, pulled = branch_db("SELECT pull_cursor, pulled FROM sync_state")
        assert cursor and pulled == 500
        b.s.d.kill()
        b.proxy.release()
        b.proxy.set("pass")
        b.s.d.start()
        wait_for(lambda: branch_db("SELECT count(*) FROM products WHERE code LIKE 'PX%'")[0] == n,
                 timeout=30, what="every page")
        wait_for(lambda: health(b.s)["hq"] == "online", what="a round done")
        assert branch_db("SELECT pulled FROM sync_state")[0] == n  # no page applied twice
        again = [r for r in b.proxy.requests("/sync/v1/pull") if r.mode == "pass"]
        assert any(f"since={cursor}&" in r.target for r in again)
        b.s.d.stop()
    finally:
        b.close()


def test_a_change_reaches_hq_long_before_hq_interval():
    b = Bench("[hq]\ninterval = 600\nmax_backoff = 2\n")
    try:
        # a first round soon after start, not after 600 s
        wait_for(lambda: health(b.s)["hq"] == "online", what="a round soon after start")
        for _ in range(3):
            b.signups(4)
            b.exactly_once()
        assert metric(b.s, "kioskd_sync_early_rounds_total") >= 1
        assert b.proxy.max_in_flight == 1  # never two requests (so two rounds) at once
        b.s.d.stop()
    finally:
        b.close()


def test_an_hq_restored_from_an_older_copy_gets_everything_once():
    b = Bench()
    try:
        b.signups(3)
        b.exactly_once()
        old = f"{b.hq.dir}/hq-backup.db"  # HQ IT's nightly backup (SQLite's online backup)
        src, dst = sqlite3.connect(f"{b.hq.dir}/hq.db"), sqlite3.connect(old)
        src.backup(dst)
        src.close()
        dst.close()
        b.signups(4)
        b.exactly_once()
        # HQ's disk dies; it comes back from the copy, missing the last four sign-ups
        b.hq.stop()
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(f"{b.hq.dir}/hq.db{ext}"):
                os.remove(f"{b.hq.dir}/hq.db{ext}")
        shutil.copy(old, f"{b.hq.dir}/hq.db")
        os.chmod(f"{b.hq.dir}/hq.db", 0o600)
        b.restart_hq()
        assert b.hq_entries() < len(outbox(b.s))
        b.signups(1)  # the next push learns what HQ lacks
        wait_for(lambda: "event=sync_rewind" in b.s.d.stderr(), what="a rewind")
        b.exactly_once()
        assert metric(b.s, "kioskd_sync_rewinds_total") == 1
        assert failures(b.s, "answer") == 0
        b.s.d.stop()
    finally:
        b.close()
