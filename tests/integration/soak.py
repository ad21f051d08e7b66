"""Soak: one daemon under mixed load (kiosk sign-ups with SMS confirmations to a loopback gateway,
door check-ins, points lookups and redemptions, the chat bridge, the WeChat callback, live
WebSocket clients, the kiosk pages, /healthz and /metrics) while its resident memory and open
descriptors are read from /proc at a fixed interval.

The rule (flat()): the samples are cut in thirds; the first third is the warm-up. The last
third's highest RSS may exceed the warm-up's highest by at most RSS_GROWTH (10 %) and its
highest descriptor count the warm-up's by at most FD_GROWTH (8: load threads hold a few
connections at any instant). A daemon that leaks a little on every request fails it once the
leak outgrows the noise; how soon depends on the leak's size and the run's length.

Used by test_soak.py (2 minutes) and bench/soak.py (SOAK_MIN, 30 by default).
"""
import hashlib
import http.client
import os
import threading
import time
import urllib.parse

from harness import Site, WebSocket, auth, import_csv
from test_messages import Gateway, sms_config

RSS_GROWTH = 0.10
FD_GROWTH = 8
BOT_SECRET = "soak-bridge-secret-0123456789"
WX_TOKEN = "soakToken"
MEMBERS = 20  # S001..S010 redeem points, S011..S020 are bound to the chat bridge
PACE = 0.02   # seconds each load thread waits between requests
BURST_SIGNUPS = 12  # threads that add sign-ups during the burst


def sample(pid):
    """(VmRSS in KiB, RssAnon in KiB, open descriptors) of process pid, from /proc."""
    rss = anon = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1])
    return rss, anon, len(os.listdir(f"/proc/{pid}/fd"))


def flat(series, rss_growth=RSS_GROWTH, fd_growth=FD_GROWTH):
    """series: [(seconds, rss_kib, anon_kib, fds), ...] in time order. Returns a list of what
    grew beyond the rule (empty: flat after warm-up)."""
    n = len(series)
    assert n >= 6, f"too few samples to judge ({n})"
    warm, last = series[:n // 3], series[n - n // 3:]
    problems = []
    warm_rss, last_rss = max(s[1] for s in warm), max(s[1] for s in last)
    if last_rss > warm_rss * (1 + rss_growth):
        problems.append(f"RSS grew: the last third's highest {last_rss} KiB > warm-up's highest "
                        f"{warm_rss} KiB + {rss_growth:.0%}")
    warm_fd, last_fd = max(s[3] for s in warm), max(s[3] for s in last)
    if last_fd > warm_fd + fd_growth:
        problems.append(f"descriptors grew: the last third's highest {last_fd} > warm-up's "
                        f"highest {warm_fd} + {fd_growth}")
    return problems


def _wx_query():
    ts, nonce = str(int(time.time())), "20261207"
    sig = hashlib.sha1("".join(sorted([WX_TOKEN, ts, nonce])).encode()).hexdigest()
    return urllib.parse.urlencode({"signature": sig, "timestamp": ts, "nonce": nonce})


def _wx_text(sender, text, msg_id):
    return (f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>")


class Load:
    """A site set up for the soak, and the threads that load it until stop()."""

    def __init__(self, env=None):
        self.gw = Gateway()
        self.s = Site(config=sms_config(self.gw) +
                      f"[bot]\nsecret = {BOT_SECRET}\nper_minute = 100000\n"
                      f"[wechat]\ntoken = {WX_TOKEN}\n"
                      "[points]\ncheckin_bonus = 1000000\n", env=env)
        s = self.s
        self.staff = auth(s.staff)
        import_csv(s.d, "members", "member_no,name,phone,aum,birthday,household,last_txn\n" +
                   "".join(f"S{i:03d},测试,1392000{i:04d},60000,1970-01-01,,\n"
                           for i in range(1, MEMBERS + 1)))
        self.kiosk = s.event(kind="community", capacity=10000000, starts=-1, minutes=600)
        points = s.event(kind="community", capacity=100, starts=-1, minutes=600)
        self.bot_event = s.event(kind="community", capacity=100, minutes=600)
        for i in range(1, 11):  # points to redeem from, one point at a time
            assert s.signup(points, f"1392000{i:04d}", name="测试").status == 201
            assert s.checkin(event_id=points, phone=f"1392000{i:04d}").status == 200
        for i in range(11, MEMBERS + 1):
            r = s.d.post(f"/api/v1/members/S{i:03d}/bind_code", {}, headers=self.staff)
            assert r.status == 201, r
            assert self._bot(f"wx-{i}", f"绑定 1392000{i:04d} {r.json['code']}",
                             f"bind-{i}").startswith("绑定成功")
        self.lock = threading.Lock()
        self.to_check_in = []
        self.counts = {}
        self.stopping = threading.Event()
        self.threads = []

    def _bot(self, sender, text, msg_id):
        r = self.s.d.post("/api/v1/bot/messages", {"from": sender, "text": text,
                                                   "msg_id": msg_id},
                          headers={"X-Bot-Secret": BOT_SECRET})
        return r.json["reply"] if r.status == 200 else ""

    def _count(self, what, status):
        key = f"{what} {status}"
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def signup(self, n):
        phone = f"137{n:08d}"
        r = self.s.signup(self.kiosk, phone, name="测试")
        self._count("signup", r.status)
        if r.status == 201:
            with self.lock:
                self.to_check_in.append(phone)

    def checkin(self, n):
        with self.lock:
            phone = self.to_check_in.pop(0) if self.to_check_in else None
        if phone:
            r = self.s.checkin(event_id=self.kiosk, phone=phone)
            self._count("checkin", r.status)

    def points(self, n):
        no = f"S{n % 10 + 1:03d}"
        if n % 2:
            r = self.s.d.get(f"/api/v1/members/{no}/points", headers=self.staff)
            self._count("points", r.status)
        else:
            r = self.s.d.post("/api/v1/points/redemptions",
                              {"member_no": no, "points": 1, "item": "水杯"}, headers=self.staff)
            self._count("redeem", r.status)

    def bot(self, n):
        i = 11 + n % 10
        text = f"报名 {self.bot_event}" if n % 3 == 0 else "积分"
        r = self.s.d.post("/api/v1/bot/messages", {"from": f"wx-{i}", "text": text,
                                                   "msg_id": f"soak-{n}"},
                          headers={"X-Bot-Secret": BOT_SECRET})
        self._count("bot", r.status)  # 202: the answer took longer than [bot] reply_within

    def wechat(self, n):
        r = self.s.d.request("POST", "/wechat?" + _wx_query(),
                             body=_wx_text(f"oVsoak{n % 50:06d}", "积分", f"{n}").encode(),
                             headers={"Content-Type": "text/xml"})
        self._count("wechat", r.status)

    def pages(self, n):
        path = ["/", "/staff", "/api/v1/kiosk", "/healthz", "/metrics",
                f"/api/v1/events/{self.kiosk}", "/api/v1/events"][n % 7]
        r = self.s.d.get(path)
        self._count("page", r.status)

    def live(self, n):
        """A staff tablet's live feed: connect, read the first message, leave."""
        ws = WebSocket(self.s.d.port, f"/api/v1/live?event={self.kiosk}&token={self.s.staff}")
        try:
            ws.recv()
            self._count("live", 101)
        finally:
            ws.close()

    def start(self, burst=0.0):
        """burst: seconds at full speed first (warm-up: SQLite's page caches fill to their
        bound), then PACE between requests."""
        paced_from = time.monotonic() + burst

        def loop(fn, base, until=None):
            n = base
            while not self.stopping.is_set() and (until is None or time.monotonic() < until):
                n += 1
                try:
                    fn(n)
                except (OSError, ConnectionError, http.client.HTTPException, ValueError):
                    self._count(fn.__name__, "error")
                if time.monotonic() >= paced_from:
                    time.sleep(PACE)
        jobs = [(self.signup, 0), (self.signup, 50000000), (self.checkin, 0), (self.points, 0),
                (self.bot, 0), (self.wechat, 0), (self.pages, 0), (self.live, 0)]
        # the burst's sign-ups come from more threads at once: commits are grouped
        jobs += [(self.signup, 1000000 * (10 + i), paced_from) for i in range(BURST_SIGNUPS)
                 if burst]
        self.threads = [threading.Thread(target=loop, args=job, daemon=True) for job in jobs]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def close(self):
        self.s.d.stop(timeout=15)
        self.s.d.cleanup()
        self.gw.close()


def run(seconds, every, burst=0.0, env=None, say=None):
    """Loads a fresh daemon for seconds (the first burst of them at full speed), sampling it
    every `every` seconds from the start of the load. Returns (series, counts, messages sent to
    the gateway)."""
    load = Load(env=env)
    series = []
    try:
        pid = load.s.d.proc.pid
        load.start(burst)
        t0 = time.monotonic()
        for i in range(int(seconds // every) + 1):
            time.sleep(max(0.0, t0 + i * every - time.monotonic()))
            assert load.s.d.proc.poll() is None, "kioskd died:\n" + load.s.d.stderr()[-2000:]
            rss, anon, fds = sample(pid)
            series.append((round(time.monotonic() - t0), rss, anon, fds))
            if say:
                say(series[-1])
        load.stop()
        sent = len(load.gw.bodies())
        load.close()
    finally:
        load.stopping.set()
        load.s.d.cleanup()
    return series, dict(sorted(load.counts.items())), sent

