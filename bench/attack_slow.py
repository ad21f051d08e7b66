#!/usr/bin/env python3
"""Check-in latency of a staff tablet while anonymous clients hold slow-body
connections (the "257 slow requests" attack).

    python3 bench/attack_slow.py [--bin ./build/kioskd] [--seconds 15] [--conns 40]

8 source addresses (127.0.0.2 .. 127.0.0.9) each keep --conns connections
open: headers of a sign-up with Content-Length 2000, then one byte a second;
a connection that is closed is opened again. Meanwhile one tablet on
127.0.0.1 checks the same ticket in again and again (a new connection each
time, as a tablet waking from sleep does), with a 5 s client timeout. Prints
the check-in count, failures and latency percentiles. Default config (rate
limit 20/s, max_connections 1024). Traffic goes to 127.0.0.1 only; bounded by
--seconds. Prints figures; asserts nothing.
"""
import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=None)
ap.add_argument("--seconds", type=float, default=15)
ap.add_argument("--conns", type=int, default=40)
args = ap.parse_args()
if args.bin:
    harness.BIN = os.path.abspath(args.bin)

s = harness.Site(config="[http]\nrate_limit = 20\n")
stop = threading.Event()
opened = [0]


def attacker(src, path):
    socks = []
    while not stop.is_set():
        while len(socks) < args.conns and not stop.is_set():
            try:
                c = socket.socket()
                c.settimeout(1)
                c.bind((src, 0))
                c.connect(("127.0.0.1", s.d.port))
                c.sendall((f"POST {path} HTTP/1.1\r\nHost: k\r\nContent-Type: application/json"
                           f"\r\nContent-Length: 2000\r\n\r\n{{").encode())
                socks.append(c)
                opened[0] += 1
            except OSError:
                c.close()
                time.sleep(0.05)
        alive = []
        for c in socks:
            try:
                c.send(b" ")
                alive.append(c)
            except OSError:
                c.close()
        socks = alive
        stop.wait(1)
    for c in socks:
        c.close()


try:
    ev = s.event()
    code = s.signup(ev, "13800001111").json["ticket"]["code"]
    path = f"/api/v1/events/{ev}/signups"
    threads = [threading.Thread(target=attacker, args=(f"127.0.0.{i}", path))
               for i in range(2, 10)]
    for t in threads:
        t.start()
    time.sleep(2)  # let the crowd build up
    lat, fails = [], 0
    body = json.dumps({"ticket": code})
    t_end = time.monotonic() + args.seconds
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", s.d.port, timeout=5)
            conn.request("POST", "/api/v1/checkins", body=body,
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + s.staff})
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        dt = time.monotonic() - t0
        lat.append(dt if ok else 5.0)
        fails += not ok
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

    print(f"binary={harness.BIN}")
    print(f"load_average={os.getloadavg()[0]:.2f} attack_connections_opened={opened[0]}")
    print(f"checkins={len(lat)} failed={fails} p50_ms={pct(50):.1f} p90_ms={pct(90):.1f} "
          f"p99_ms={pct(99):.1f} max_ms={lat[-1] * 1000:.1f}")
finally:
    s.d.cleanup()
