#!/usr/bin/env python3
"""Messages delivered per second to a loopback SMS gateway.

    bench/messages.py [KIOSKD] [N]      (default ./build/kioskd, 2000)

Queues N day-before reminders (N sign-ups made in quiet hours, so they wait),
restarts the daemon with the test clock two hours on (past the quiet hours),
and times from the restart until the gateway has every one. The gateway is
Python's ThreadingHTTPServer answering 200 at once (it may be the limit).
Prints messages/s and the gateway's request count; asserts one delivery per
message, every body correctly signed.
"""
import concurrent.futures
import datetime
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
if len(sys.argv) > 1:
    os.environ["KIOSKD_BIN"] = os.path.abspath(sys.argv[1])
import harness  # noqa: E402

N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
SECRET = "bench"
got, bad = [], []
lock = threading.Lock()
done = threading.Event()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = hmac.compare_digest(self.headers.get("X-Kioskd-Signature", ""),
                                 hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())
        with lock:
            got.append((time.monotonic(), json.loads(body)))
            if not ok:
                bad.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
now = datetime.datetime.now(harness.CN)
quiet = f"{now - datetime.timedelta(hours=1):%H:%M}-{now + datetime.timedelta(hours=1):%H:%M}"
d = harness.Daemon(config=(f"[sms]\nurl = http://127.0.0.1:{srv.server_port}/sms\nsecret = {SECRET}\n"
                           f"[messages]\nquiet_hours = {quiet}\n[kiosk]\nsignups_per_phone = 0\n"),
                   start=False)
starts = (now + datetime.timedelta(hours=20)).isoformat(timespec="seconds")
ends = (now + datetime.timedelta(hours=21)).isoformat(timespec="seconds")
with open(os.path.join(d.dir, "e.csv"), "w", encoding="utf-8") as f:
    f.write(f"title,kind,starts_at,ends_at,venue,capacity\n社区讲座,community,{starts},{ends},一楼,{N}\n")
d.cli("import", "events", os.path.join(d.dir, "e.csv"))
d.start()


def signup(i):
    r = d.post("/api/v1/events/1/signups", {"name": "测试", "phone": f"139{i:08d}", "consent": True})
    assert r.status == 201, r


with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(signup, range(N)))
while len(got) < N:  # the confirmations go at once
    time.sleep(0.1)
d.stop()
with lock:
    got.clear()
d.env["KIOSKD_TEST_CLOCK"] = str(2 * 3600)
t0 = time.monotonic()
d.start()
deadline = time.monotonic() + 600
while len(got) < N and time.monotonic() < deadline:
    time.sleep(0.05)
t1 = got[-1][0] if got else time.monotonic()
ids = {b["id"] for _, b in got}
d.stop()
print(f"messages: {N} day-before reminders delivered in {t1 - t0:.2f} s (from the restart): "
      f"{N / (t1 - t0):.0f} messages/s; {len(got)} requests, {len(ids)} distinct ids, "
      f"{len(bad)} bad signatures")
assert len(got) == N and len(ids) == N and not bad
