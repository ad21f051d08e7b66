#!/usr/bin/env python3
"""Apply rate of a branch's pull from a loopback `kioskd hq` on SQLite.

    bench/hq_pull.py [--bin build/rel/kioskd] [--members 10000] [--lines 30000] [--events 500]
                     [--daemon]

Imports N members, N points lines earned at HQ (kind balance) and E events
for the branch at a fresh `kioskd hq`, then times one `kioskd sync --once` of
a new branch (pages of 500 changes, each applied with its cursor in one
transaction), and once more after the pull cursor is reset, when every
balance line is already in the ledger (merged by id: nothing is added).
Prints changes per second. With --daemon, `kioskd serve` pulls it by its own
rounds instead while another thread asks it for /healthz without pause: it
prints the longest time a page took to read (members checked and sealed),
and the /healthz latencies meanwhile (p50, p99, max), which show how long the
loop was held. Everything is written under a temporary folder,
removed at the end; all traffic is on 127.0.0.1.
"""
import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import http.client

from hq_drain import start_kioskd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "rel", "kioskd"))
    ap.add_argument("--members", type=int, default=10000)
    ap.add_argument("--lines", type=int, default=30000)
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--daemon", action="store_true")
    a = ap.parse_args()
    kioskd = os.path.abspath(a.bin)
    d = tempfile.mkdtemp(prefix="kioskd-hqpull-")
    hq = None
    try:
        hq_ini = os.path.join(d, "hq.ini")
        with open(hq_ini, "w") as f:
            f.write(f"[hqserver]\nlisten = 127.0.0.1:0\ndatabase = {d}/hq.db\n"
                    f"key_file = {d}/hq.key\nticket_key_file = {d}/hq-ticket.pem\n"
                    "admin_token = bench-admin-token\n")

        def hq_cli(*args):
            return subprocess.run([kioskd, "hq", *args, "-c", hq_ini], check=True,
                                  capture_output=True, text=True).stdout.strip()
        secret = hq_cli("device", "add", "bench-1", "--area", "north")
        with open(f"{d}/m.csv", "w") as f:
            f.write("member_no,name,phone,aum,birthday,household\n")
            for i in range(a.members):
                f.write(f"B{i:06d},测试,137{i:08d},{1000 + i},1980-01-01,\n")
        with open(f"{d}/b.csv", "w") as f:
            f.write("member_no,id,points,reason,at\n")
            for i in range(a.lines):
                f.write(f"B{i % a.members:06d},L{i:07d},{1 + i % 50},总行活动,"
                        "2026-11-01T10:00:00+08:00\n")
        with open(f"{d}/e.csv", "w") as f:
            f.write("title,kind,starts_at,ends_at,venue,capacity,branch\n")
            for i in range(a.events):
                f.write(f"沙龙{i},salon,2027-01-{1 + i % 28:02d}T10:00:00+08:00,"
                        f"2027-01-{1 + i % 28:02d}T11:00:00+08:00,一楼,30,bench-1\n")
        for what, path in (("members", "m.csv"), ("balances", "b.csv"), ("events", "e.csv")):
            hq_cli("import", what, f"{d}/{path}")
        hq, port = start_kioskd(kioskd, "hq", hq_ini, os.path.join(d, "hq.log"))
        br_ini = os.path.join(d, "branch.ini")
        with open(br_ini, "w") as f:
            f.write(f"[store]\npath = {d}/branch.db\nkey_file = {d}/branch.key\n"
                    f"[tickets]\nkey_file = {d}/ticket.pem\n"
                    f"[hq]\nurl = http://127.0.0.1:{port}\ndevice = bench-1\nsecret = {secret}\n"
                    f"[log]\nlevel = {'info' if a.daemon else 'warn'}\n"
                    "[http]\nlisten = 127.0.0.1:0\n[messages]\nchannel = off\n")
        total = a.members + a.lines + a.events
        if a.daemon:
            daemon_pull(kioskd, br_ini, d, total)
            return
        for run in ("first pull", "pulled again"):
            if run == "pulled again":
                db = sqlite3.connect(f"{d}/branch.db")
                db.execute("UPDATE sync_state SET pull_cursor = '' WHERE id = 1")
                db.commit()
                db.close()
            t0 = time.monotonic()
            p = subprocess.run([kioskd, "sync", "--once", "-c", br_ini], capture_output=True,
                               text=True)
            dt = time.monotonic() - t0
            if p.returncode != 0:
                sys.exit(f"sync failed: {p.stderr}")
            print(f"{run}: {total} changes in {dt:.2f} s, {total / dt:,.0f} changes/s")
            print("  " + p.stdout.strip().splitlines()[-1])
        db = sqlite3.connect(f"{d}/branch.db")
        n, s = db.execute("SELECT count(*), sum(delta) FROM points_lines WHERE reason = 'hq'"
                          ).fetchone()
        bal = db.execute("SELECT sum(balance) FROM members").fetchone()[0]
        db.close()
        if n != a.lines or bal != s:
            sys.exit(f"the ledger has {n} HQ lines, balances {bal} for {s} points")
    finally:
        if hq:
            hq.terminate()
            hq.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def daemon_pull(kioskd, ini, d, total):
    """Runs `kioskd serve` until it pulled total changes, asking /healthz meanwhile."""
    log_path = os.path.join(d, "branch.log")
    br, port = start_kioskd(kioskd, "serve", ini, log_path)
    lat, stop = [], threading.Event()
    try:
        def probe():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while not stop.is_set():
                t = time.monotonic()
                c.request("GET", "/healthz")
                c.getresponse().read()
                lat.append(time.monotonic() - t)
        th = threading.Thread(target=probe)
        th.start()
        t0 = time.monotonic()
        pulled = 0
        while time.monotonic() - t0 < 600 and pulled < total:
            with open(log_path) as f:
                pulled = sum(int(n) for n in re.findall(r"event=sync_round .*pulled=(\d+)",
                                                        f.read()))
            time.sleep(0.05)
        dt = time.monotonic() - t0
        stop.set()
        th.join()
        if pulled < total:
            sys.exit(f"the daemon pulled {pulled} of {total} changes in 600 s")
    finally:
        br.terminate()
        br.wait(10)
    with open(log_path) as f:
        reads = [float(m) for m in re.findall(r"event=sync_round .*read_ms=([0-9.]+)", f.read())]
    lat.sort()
    print(f"daemon: {total} changes pulled in about {dt:.1f} s; longest page read "
          f"{max(reads):.1f} ms; /healthz while pulling ({len(lat)} answers): "
          f"p50 {lat[len(lat) // 2] * 1000:.2f} ms, p99 {lat[len(lat) * 99 // 100] * 1000:.2f} ms, "
          f"max {lat[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
