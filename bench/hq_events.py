#!/usr/bin/env python3
"""活动 at HQ's bot with many events at HQ, two or more builds side by side.

    bench/hq_events.py --bin before=/tmp/kioskd.old --bin after=build/rel/kioskd
                       [--devices 8] [--ended 500] [--messages 200] [--rounds 3]

For each build, a fresh `kioskd hq` on SQLite with [bot] secret; each of
DEVICES branches pushes ENDED event_created entries of events that are over
and 2 that are not (signed pushes, 400 entries each). Then ROUNDS rounds,
the builds interleaved (A, B, A, B...) so that the shared machine's noise
hits every side alike: MESSAGES 活动 through the JSON bridge, one at a
time, each from its own sender; prints messages/s, p50 and p99 per message,
how many events the last reply listed, and the load average. Everything is
under a temporary folder, removed at the end; all traffic is on 127.0.0.1.
Asserts nothing about speed.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

from hq_drain import start_kioskd

SECRET = "bench-bridge-secret-0123456789"


def post(port, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, raw


def push(port, device, secret, entries):
    for at in range(0, len(entries), 400):
        body = json.dumps({"device": device, "entries": entries[at:at + 400]}).encode()
        ts = int(time.time())
        text = f"POST\n/sync/v1/push\n{ts}\n{hashlib.sha256(body).hexdigest()}".encode()
        sig = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
        st, raw = post(port, "/sync/v1/push", body, {
            "Authorization": f"KIOSKD-HMAC-SHA256 device={device},ts={ts},sig={sig}",
            "Content-Type": "application/json"})
        if st != 200:
            raise SystemExit(f"push refused: {st} {raw[:200]!r}")


def setup(name, kioskd, d, a):
    d = os.path.join(d, name)
    os.makedirs(d)
    ini = os.path.join(d, "hq.ini")
    with open(ini, "w") as f:
        f.write(f"[hqserver]\nlisten = 127.0.0.1:0\ndatabase = {d}/hq.db\nkey_file = {d}/hq.key\n"
                f"ticket_key_file = {d}/hq-ticket-key.pem\n"
                f"[bot]\nsecret = {SECRET}\nper_minute = 100000\n")
    secrets = [subprocess.run([kioskd, "hq", "device", "add", f"bench-{i}", "-c", ini],
                              check=True, capture_output=True, text=True).stdout.strip()
               for i in range(a.devices)]
    proc, port = start_kioskd(kioskd, "hq", ini, os.path.join(d, "hq.log"))
    now = int(time.time())
    for i, secret in enumerate(secrets):
        events = [(f"旧讲座{k}", now - 200 * 86400 + k * 3600) for k in range(a.ended)]
        events += [(f"讲座{i}-{k}", now + (i * 2 + k + 1) * 3600) for k in range(2)]
        push(port, f"bench-{i}", secret, [
            {"id": str(uuid.uuid4()), "seq": n + 1, "kind": "event_created",
             "at": "2026-05-01T10:00:00.000Z",
             "data": {"event_id": n + 1, "title": t, "kind": "salon", "venue": "三楼",
                      "starts_at": s, "ends_at": s + 1800, "capacity": 20}}
            for n, (t, s) in enumerate(events)])
    return proc, port


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def round_of(port, a, tag):
    times, listed = [], 0
    for m in range(a.messages):
        body = json.dumps({"from": f"bench-{tag}-{m}", "text": "活动"}).encode()
        t0 = time.perf_counter()
        st, raw = post(port, "/api/v1/bot/messages", body,
                       {"X-Bot-Secret": SECRET, "Content-Type": "application/json"})
        times.append(time.perf_counter() - t0)
        if st != 200:
            raise SystemExit(f"活动 answered {st}: {raw[:200]!r}")
        listed = len(re.findall(r"(?m)^\d+\. ", json.loads(raw)["reply"]))
    times.sort()
    return (len(times) / sum(times), times[len(times) // 2] * 1000,
            times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, listed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--devices", type=int, default=8)
    ap.add_argument("--ended", type=int, default=500)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.bin]
    d = tempfile.mkdtemp(prefix="kioskd-hqevents-")
    procs = []
    try:
        ports = {}
        for name, path in builds:
            proc, ports[name] = setup(name, os.path.abspath(path), d, a)
            procs.append(proc)
        print(f"{a.devices} devices x {a.ended} ended + 2 current events; "
              f"{a.messages} 活动 per round")
        for r in range(a.rounds):
            for name, _ in builds:
                rate, p50, p99, listed = round_of(ports[name], a, f"{name}{r}")
                print(f"round {r + 1} {name:>8}: {rate:8.1f} msg/s  p50 {p50:7.2f} ms  "
                      f"p99 {p99:7.2f} ms  listed {listed}  load {loadavg()}", flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
