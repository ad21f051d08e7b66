"""Allocation failures (tests/failalloc.c, preloaded): for representative requests the k-th
allocation after arming fails, for k over the allocations the request makes. Each time the
answer is a success or a well-formed error (503 for the memory fault), never a crash or a hang;
a change that was acknowledged is present exactly once; the daemon keeps serving; and
`kioskd check` passes at the end. Start-up that meets a failed allocation exits cleanly."""
import os
import re
import signal
import socket
import sqlite3
import tempfile
import time

import harness
from harness import Daemon, Site, auth, failalloc_env

WX_TOKEN = "kioskdToken"


def skipped_under_san(test):
    """Under SAN=1 ASan's allocator takes malloc over, so the preloaded shim cannot fail
    anything: says SKIP (with the reason) and returns True."""
    if harness.SAN:
        print(f"SKIP {test}: the allocation shim cannot work beside ASan's allocator (SAN=1)",
              flush=True)
    return harness.SAN
# How many k to try per request: the first FIRST of them, then SPREAD more spread over the rest.
FIRST, SPREAD = 24, 16
# Seconds to wait for an answer: a connection whose accept met the failure inside
# libwebsockets is left unanswered until lws times it out (a library limitation).
WAIT = 3


def failed_in_lws_alone(stderr):
    """True when the last failed call (its trace=1 backtrace in stderr) came from
    libwebsockets with none of kioskd's callbacks on the stack (the frames above the
    service loop)."""
    if "failalloc: event=failed" not in stderr:
        return False
    trace = stderr.split("failalloc: event=failed")[-1].splitlines()[1:]
    frames = [f for f in trace if "failalloc.so" not in f]
    above = []
    for f in frames:
        if "lws_service" in f or not f.startswith("/"):
            break
        above.append(f)
    return bool(above) and all("libwebsockets" in f for f in above)


class Armed:
    """A site whose daemon fails one chosen allocation when armed (SIGUSR2 + a control file)."""

    def __init__(self, config=""):
        fd, self.ctl = tempfile.mkstemp(prefix="kioskd-failalloc-")
        os.close(fd)
        self.s = Site(config=config, env=failalloc_env(f"ctl={self.ctl},trace=1"))
        self.d = self.s.d
        self.failed_total = 0
        self.no_answer = 0
        plain = self.d.request
        self.d.request = lambda method, path, body=None, headers=None, timeout=WAIT, source=None: \
            plain(method, path, body=body, headers=headers, timeout=timeout, source=source)

    def _arm(self, plan):
        """Arms plan; returns the calls counted since the previous arming."""
        before = len(re.findall(r"failalloc: event=armed", self.d.all_stderr()))
        with open(self.ctl, "w") as f:
            f.write(plan)
        self.d.proc.send_signal(signal.SIGUSR2)
        for _ in range(2000):
            found = re.findall(r"failalloc: event=armed call=(\d+)", self.d.all_stderr())
            if len(found) > before:
                return int(found[-1])
            assert self.d.proc.poll() is None, self.d.stderr()
            time.sleep(0.005)
        raise AssertionError("the allocation shim did not arm")

    def failures(self):
        return len(re.findall(r"failalloc: event=failed", self.d.all_stderr()))

    def failed_in_lws_alone(self):
        return failed_in_lws_alone(self.d.all_stderr())

    def count(self, request, setup):
        """The allocations request() makes, with none failing."""
        x = setup()
        self._arm("nth=0")
        r = request(x)
        n = self._arm("nth=0")
        assert r.status < 400, r
        return n

    def attempt(self, k, request, setup):
        """request(setup()) with the k-th allocation after setup failing; the Reply, or None
        when the connection was dropped unanswered (a failure inside libwebsockets' own accept
        or read)."""
        x = setup()
        before = self.failures()
        self._arm(f"nth={k}")
        try:
            r = request(x)
        except ValueError as e:  # the answer says JSON but is not
            raise AssertionError(f"k={k}: a broken JSON answer ({e})\n{self.d.stderr()[-3000:]}")
        except (ConnectionError, OSError) as e:
            # unanswered only when the failure was libwebsockets' own, before any of kioskd
            assert self.failures() > before and self.failed_in_lws_alone(), \
                f"k={k}: no answer ({e!r})\n{self.d.stderr()[-4000:]}"
            r = None
        self._arm("nth=0")
        assert self.d.proc.poll() is None, f"k={k}: the daemon died\n{self.d.stderr()[-3000:]}"
        self.failed_total += self.failures() - before
        if r is None:
            self.no_answer += 1
        else:
            well_formed(r, k)
        # still serving (not /healthz: it reports a failed commit until the next one succeeds)
        st, _ = self.d.get("/api/v1/events")
        assert st == 200, (k, st)
        return r

    def run(self, request, setup=lambda: None):
        """attempt() for each k over the allocations of request; the answers by k."""
        n = self.count(request, setup)
        ks = list(range(1, min(n, FIRST) + 1))
        if n > FIRST:
            step = max(1, (n - FIRST) // SPREAD)
            ks += list(range(FIRST + step, n + 1, step))[:SPREAD]
        return {k: self.attempt(k, request, setup) for k in ks}

    def finish(self):
        assert self.failed_total > 0, "no allocation was made to fail"
        self.d.stop()
        p = self.d.cli("check", check=False)
        assert p.returncode == 0, p.stdout + p.stderr
        os.unlink(self.ctl)
        return sqlite3.connect(os.path.join(self.d.dir, "kioskd.db"))


def well_formed(r, k):
    """A success, or the error shape; a memory fault is 503 with Retry-After."""
    if r.status < 400:
        return
    assert r.status == 503, (k, r)
    assert r.json and set(r.json["error"]) >= {"code", "message"}, (k, r)
    assert r.headers.get("retry-after"), (k, r.headers)


def test_signups_and_checkins_meeting_a_failed_allocation():
    if skipped_under_san("test_signups_and_checkins_meeting_a_failed_allocation"):
        return
    a = Armed()
    ev = a.s.event(kind="community", capacity=5000)
    phones = {}

    def signup(_):
        phone = f"1391{len(phones):07d}"
        r = a.s.signup(ev, phone, name="测试")
        phones[phone] = r
        return r
    answers = a.run(signup)
    assert any(r is not None and r.status == 503 for r in answers.values()), answers
    acked = {p: r.json["signup_id"] for p, r in phones.items() if r is not None and r.status == 201}
    # a retry of a refused or unanswered sign-up is a sign-up like any other; an acknowledged
    # one gives the same sign-up back
    for p, r in phones.items():
        again = a.s.signup(ev, p, name="测试")
        assert again.status in (200, 201), (p, again)
        if p in acked:
            assert again.status == 200 and again.json["signup_id"] == acked[p], (p, again)

    guests = []

    def guest():
        code = a.s.signup(ev, f"1392{len(guests):07d}", name="测试").json["ticket"]["code"]
        guests.append([code, None])
        return code

    def checkin(code):
        r = a.s.checkin(ticket=code, event_id=ev)
        guests[-1][1] = r
        return r
    a.run(checkin, guest)
    for code, r in guests:
        again = a.s.checkin(ticket=code, event_id=ev)
        assert again.status == 200, (code, again)
        if r is not None and r.status == 200:  # the first one was recorded
            assert again.json["status"] == "already_checked_in", (code, r, again)

    db = a.finish()
    n = db.execute("SELECT COUNT(*) FROM signups WHERE event_id=?", (ev,)).fetchone()[0]
    assert n == len(phones) + len(guests), n
    checked = db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0]
    assert checked == len(guests), checked
    db.close()


def test_reads_logins_and_the_wechat_callback_meeting_a_failed_allocation():
    if skipped_under_san("test_reads_logins_and_the_wechat_callback_meeting_a_failed_allocation"):
        return
    cfg = f"[wechat]\ntoken = {WX_TOKEN}\n"
    a = Armed(config=cfg)
    path = os.path.join(a.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("member_no,name,phone,aum,birthday,household,last_txn\n"
                "M001,张三丰,13812340001,52000.50,1960-03-01,,\n")
    a.d.stop()
    a.d.cli("import", "members", path)
    a.d.start()
    ev = a.s.event(kind="community", capacity=5000)
    for i in range(60):
        assert a.s.signup(ev, f"1393{i:07d}", name="测试").status == 201

    a.run(lambda _: a.d.get("/api/v1/members/M001/points", headers=auth(a.s.staff)))
    logins = a.run(lambda _: a.d.post("/api/v1/staff/login",
                                      {"staff_id": "S1", "pin": "222222", "device": "t2"}))
    for k, r in logins.items():
        if r is not None and r.status == 200:  # an issued token works
            assert a.d.get("/api/v1/staff/me", headers=auth(r.json["token"])).status == 200, k
    roster = a.run(lambda _: a.d.get(f"/api/v1/events/{ev}/roster", headers=auth(a.s.staff)))
    assert any(r is not None and r.status == 503 for r in roster.values()), roster

    import test_wechat
    seq = [0]

    def wechat(_):
        seq[0] += 1
        q, _, _ = wx_query()
        return a.d.request("POST", "/wechat?" + q,
                           body=test_wechat.text_xml("积分", msg_id=str(10**15 + seq[0])).encode(),
                           headers={"Content-Type": "text/xml"})
    a.run(wechat)
    a.finish().close()


def wx_query():
    import hashlib
    import urllib.parse
    ts, nonce = str(int(time.time())), "461056294"
    sig = hashlib.sha1("".join(sorted([WX_TOKEN, ts, nonce])).encode()).hexdigest()
    return urllib.parse.urlencode({"signature": sig, "timestamp": ts, "nonce": nonce}), ts, nonce


def test_start_up_meeting_a_failed_allocation_exits_cleanly():
    if skipped_under_san("test_start_up_meeting_a_failed_allocation_exits_cleanly"):
        return
    fd, stats = tempfile.mkstemp(prefix="kioskd-failalloc-")
    os.close(fd)
    d = Daemon(env=failalloc_env(f"nth=0,stats={stats}"))
    d.stop()
    with open(stats) as f:
        total = int(re.findall(r"event=stats call=(\d+)", f.read())[-1])
    os.unlink(stats)
    started = exited = 0
    for k in sorted(set(list(range(1, 16)) + list(range(16, total, max(1, total // 30))))):
        d = Daemon(env=failalloc_env(f"nth={k},trace=1"), start=False)
        try:
            d.start()
        except AssertionError as e:
            rc = d.proc.wait(5)
            assert rc > 0, f"k={k}: start-up ended by signal {-rc}\n{e}"
            assert "kioskd" in d.stderr(), (k, d.stderr())
            exited += 1
        else:  # the failure was met somewhere it could be answered: the daemon serves
            started += 1
            try:
                r = d.request("GET", "/api/v1/events", timeout=WAIT)  # (k may land here)
            except (ConnectionError, OSError) as e:
                # unanswered only when the failure was libwebsockets' own accept or read
                assert failed_in_lws_alone(d.all_stderr()), \
                    f"k={k}: no answer ({e!r})\n{d.stderr()[-4000:]}"
            else:
                if r.status != 200:
                    well_formed(r, k)
            assert d.get("/api/v1/events").status == 200, (k, d.stderr())
            d.stop()
        finally:
            d.cleanup()
    assert exited > 0, (started, exited)
    harness.stop_all()


def test_the_event_loop_meeting_a_failed_allocation_keeps_serving():
    """libev aborts the process when one of its own allocations fails (growing its
    tables as connections come); kioskd's allocator for it waits and tries again."""
    if skipped_under_san("test_the_event_loop_meeting_a_failed_allocation_keeps_serving"):
        return
    if os.environ.get("KIOSKD_TEST_EVENT_LOOP") == "poll":
        print("SKIP test_the_event_loop_meeting_a_failed_allocation_keeps_serving: "
              "[http] event_loop = poll (no libev)", flush=True)
        return
    a = Armed(config="[http]\nmax_per_address = 512\n")
    before = a.failures()
    a._arm("nth=1,from=libev")
    # Many connections at once: libev grows its per-descriptor table to hold them.
    socks = []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", a.d.port), timeout=WAIT * harness.PATIENCE)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n")
        socks.append(s)
    answered = 0
    for s in socks:
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        answered += head.startswith(b"HTTP/1.1 200")
        s.close()
    assert a.failures() > before, "no allocation of libev's was made to fail"
    assert a.d.proc.poll() is None, f"the daemon died\n{a.d.stderr()[-3000:]}"
    assert "event=event_loop alloc=failed" in a.d.all_stderr(), a.d.stderr()[-3000:]
    assert answered == len(socks), (answered, a.d.stderr()[-3000:])
    a.failed_total += a.failures() - before
    assert a.d.get("/api/v1/events").status == 200
    a.finish().close()
