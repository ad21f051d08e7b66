#!/usr/bin/env python3
"""Two or more kioskd builds side by side, runs interleaved (A, B, A, B...)
so that the shared machine's noise hits every side alike.

    ab.py checkins --bin before=/tmp/kioskd.old --bin after=build/rel/kioskd
    ab.py slow-signups --bin before=... --bin after=...

checkins: for each build, a data folder whose tickets that build issued
(64 connections signing up, the ticket codes kept), then ROUNDS rounds of
`wrk -c64` check-ins by ticket, each ticket used once, with `wrk -t1 -c4`
on GET /healthz beside; the daemon restarts between rounds.

slow-signups: `wrk -c64` sign-ups on a fresh folder with every fsync slowed
by SLOWFSYNC_MS (bench/out/slowfsync.so), /healthz beside; printed beside
out/commit_rate under the same library (one commit per write).

Prints requests/s, p99, /healthz p99 and the store's batches from /metrics.
Needs wrk and the helpers (make -C bench helpers). Asserts nothing about speed.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "lua")
OUT = os.path.join(HERE, "out")


def die(msg):
    sys.exit("ab: " + msg)


def result(text):
    m = re.search(r"^RESULT (.*)$", text, re.M)
    if not m:
        die("no RESULT line in wrk's output:\n" + text[-2000:])
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def prom(text, name):
    v = 0.0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            v = float(parts[1])
    return v


def make_data(binary, d):
    os.makedirs(d, exist_ok=True)
    ini = os.path.join(d, "kioskd.ini")
    with open(ini, "w") as f:
        f.write(f"[http]\nlisten = 127.0.0.1:0\nrate_limit = 0\n[store]\npath = {d}/kioskd.db\n"
                f"key_file = {d}/kioskd.key\n[tickets]\nkey_file = {d}/ticket.pem\n"
                "[kiosk]\nsignups_per_minute = 0\n")
    starts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 1800))
    ends = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 72000))
    with open(os.path.join(d, "events.csv"), "w") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity\n"
                f"Bench,community,{starts},{ends},Bench hall,1000000\n")
    with open(os.path.join(d, "setup.log"), "w") as log:
        subprocess.run([binary, "import", "events", os.path.join(d, "events.csv"), "-c", ini],
                       stdout=log, stderr=log, check=True)
        subprocess.run([binary, "staff", "add", "B001", "--name", "Bench", "--role", "staff",
                        "-c", ini], input=b"123456\n", stdout=log, stderr=log, check=True)
    return ini


class Daemon:
    def __init__(self, binary, ini, log, slow_ms=0):
        env = dict(os.environ)
        if slow_ms:
            env["LD_PRELOAD"] = os.path.join(OUT, "slowfsync.so")
            env["SLOWFSYNC_MS"] = str(slow_ms)
        self.log = log
        self.p = subprocess.Popen([binary, "serve", "-c", ini], stderr=open(log, "w"), env=env)
        for _ in range(400):
            with open(log) as f:
                m = re.search(r"event=listening .*port=(\d+)", f.read())
            if m:
                self.base = f"http://127.0.0.1:{m.group(1)}"
                return
            if self.p.poll() is not None:
                die(f"kioskd exited at start; see {log}")
            time.sleep(0.05)
        die(f"kioskd did not start; see {log}")

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return r.read().decode()

    def login(self):
        body = json.dumps({"staff_id": "B001", "pin": "123456", "device": "bench"}).encode()
        req = urllib.request.Request(self.base + "/api/v1/staff/login", body,
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["token"]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        if self.p.wait(60) != 0:
            die(f"kioskd exited with {self.p.returncode} after SIGTERM; see {self.log}")


def wrk(secs, conns, script, url, env, out):
    e = dict(os.environ, BENCH_LUA=LUA, **env)
    return subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--timeout", "10s",
                             "--latency", "-s", os.path.join(LUA, script), url, "--", "1"],
                            stdout=open(out, "w"), stderr=subprocess.STDOUT, env=e)


def load(d, secs, conns, script, path, env, name, run):
    before = d.get("/metrics")
    perf = None
    if os.environ.get("AB_PERF"):  # AB_PERF=1: perf record -g of the daemon over the run
        perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(d.p.pid), "-o",
                                 f"{run}/{name}.perf.data"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    h = wrk(secs, 4, "get.lua", d.base + "/healthz", {}, f"{run}/{name}.healthz.txt")
    w = wrk(secs, conns, script, d.base + path, env, f"{run}/{name}.txt")
    w.wait()
    h.wait()
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    if d.p.poll() is not None:
        die(f"kioskd died during {name}; see {d.log}")
    after = d.get("/metrics")
    r = result(open(f"{run}/{name}.txt").read())
    hz = result(open(f"{run}/{name}.healthz.txt").read())
    n = prom(after, "kioskd_store_batch_size_count") - prom(before, "kioskd_store_batch_size_count")
    s = prom(after, "kioskd_store_batch_size_sum") - prom(before, "kioskd_store_batch_size_sum")
    return {"rps": float(r["rps"]), "p99": float(r["p99_ms"]), "hz_p99": float(hz["p99_ms"]),
            "statuses": r["statuses"], "commits": n / secs, "batch": s / n if n else 0.0,
            "extra": {k: r[k] for k in ("checked_in", "already", "wrapped") if k in r}}


def issue_tickets(binary, d, n, run, label):
    ini = make_data(binary, d)
    k = Daemon(binary, ini, f"{run}/{label}.loader.log")
    tdir = os.path.join(d, "tickets")
    os.makedirs(tdir)
    w = wrk(600, 64, "signup.lua", k.base + "/api/v1/events/1/signups",
            {"PHONE_PREFIX": "137", "TICKETS_OUT": tdir, "QUOTA": str(n)}, f"{run}/{label}.loader.txt")
    t0 = time.time()
    while True:
        have = sum(1 for f in os.listdir(tdir) for _ in open(os.path.join(tdir, f)))
        if have >= n or w.poll() is not None:
            break
        time.sleep(0.2)
    w.terminate()
    w.wait()
    took = time.time() - t0
    time.sleep(0.5)  # let the last writes commit
    k.stop()
    codes = [c for f in sorted(os.listdir(tdir)) for c in open(os.path.join(tdir, f)).read().split()]
    print(f"  {label}: {len(codes)} tickets issued in {took:.1f} s ({len(codes) / took:.0f} sign-ups/s)",
          flush=True)
    return ini, codes


def show(label, r):
    print(f"  {label:<10} {r['rps']:>9.0f}/s  p99 {r['p99']:7.1f} ms  /healthz p99 {r['hz_p99']:6.2f} ms"
          f"  commits/s {r['commits']:6.0f}  batch {r['batch']:5.1f}  {r['statuses']}"
          f" {' '.join(f'{k}={v}' for k, v in r['extra'].items())}", flush=True)


def checkins(args, bins, run):
    per_round = args.tickets
    sides = {}
    for label, binary in bins:
        d = os.path.join(run, label)
        sides[label] = issue_tickets(binary, d, per_round * args.rounds, run, label)
    best = {}
    for rnd in range(args.rounds):
        for label, binary in bins:
            ini, codes = sides[label]
            part = codes[rnd * per_round:(rnd + 1) * per_round]
            tf = f"{run}/{label}.tickets.{rnd}"
            with open(tf, "w") as f:
                f.write("\n".join(part) + "\n")
            k = Daemon(binary, ini, f"{run}/{label}.{rnd}.log")
            token = k.login()
            r = load(k, args.seconds, 64, "checkin.lua", "/api/v1/checkins",
                     {"TOKEN": token, "TICKETS": tf}, f"{label}.checkin.{rnd}", run)
            k.stop()
            show(f"{label}#{rnd + 1}", r)
            if label not in best or r["rps"] > best[label]["rps"]:
                best[label] = r
    return best


def slow_signups(args, bins, run):
    rate = subprocess.run([os.path.join(OUT, "commit_rate"), f"{run}/commit.db", "3"],
                          env=dict(os.environ, LD_PRELOAD=os.path.join(OUT, "slowfsync.so"),
                                   SLOWFSYNC_MS=str(args.slow_ms)),
                          capture_output=True, text=True, check=True).stdout
    one = float(re.search(r"rate=([0-9.]+)", rate).group(1))
    print(f"  one commit per write (+{args.slow_ms} ms per fsync): {one:.1f} commits/s", flush=True)
    best = {}
    for rnd in range(args.rounds):
        for label, binary in bins:
            d = os.path.join(run, f"{label}.slow.{rnd}")
            ini = make_data(binary, d)
            k = Daemon(binary, ini, f"{d}.log", slow_ms=args.slow_ms)
            r = load(k, args.seconds, 64, "signup.lua", "/api/v1/events/1/signups",
                     {"PHONE_PREFIX": "138"}, f"{label}.slow.{rnd}", run)
            k.stop()
            show(f"{label}#{rnd + 1}", r)
            print(f"  {'':<10} ratio to one commit per write: {r['rps'] / one:.1f}x", flush=True)
            if label not in best or r["rps"] > best[label]["rps"]:
                best[label] = r
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("checkins", "slow-signups"))
    ap.add_argument("--bin", action="append", required=True, help="LABEL=PATH (repeat)")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tickets", type=int, default=30000, help="tickets per check-in round")
    ap.add_argument("--slow-ms", type=int, default=20)
    args = ap.parse_args()
    bins = []
    for b in args.bin:
        label, _, path = b.partition("=")
        if not os.access(path, os.X_OK):
            die(f"{path} is not an executable")
        bins.append((label, os.path.abspath(path)))
    os.makedirs(OUT, exist_ok=True)
    run = tempfile.mkdtemp(prefix="ab.", dir=OUT)
    print(f"ab {args.what}: {args.rounds} rounds x {args.seconds} s, load {open('/proc/loadavg').read().split()[:3]}, "
          f"raw output {run}", flush=True)
    best = (checkins if args.what == "checkins" else slow_signups)(args, bins, run)
    print("best of each:", flush=True)
    first = bins[0][0]
    for label, _ in bins:
        print(f"  {label:<10} {best[label]['rps']:>9.0f}/s  ({best[label]['rps'] / best[first]['rps']:.2f}x {first})")
    if not os.environ.get("AB_KEEP"):
        for label, _ in bins:
            shutil.rmtree(os.path.join(run, label), ignore_errors=True)


if __name__ == "__main__":
    main()
