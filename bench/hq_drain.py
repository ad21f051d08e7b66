#!/usr/bin/env python3
"""Drain rate of a branch's outbox to a loopback `kioskd hq`, on SQLite and on PostgreSQL.

    bench/hq_drain.py [--bin build/rel/kioskd] [--entries 100000] [--batch 500] [--gzip on|off]
                      [--backend both|sqlite|pg] [--daemon]
                      [--hq-returns DOWN_SECONDS [--interval S] [--max-backoff S]]

Creates a branch database (migrated by the binary itself), fills its outbox
with N sign-up-shaped entries (about 250 bytes of JSON each) straight through
sqlite3, registers the branch at a fresh `kioskd hq`, then times one
`kioskd sync --once`, which pushes everything in batches. Prints entries per
second and checks that HQ stored every entry once; with both backends, side by
side. PostgreSQL is a throwaway server on a Unix socket in a temporary folder
(tests/integration/pgserver.py; Debian's postgresql). With --daemon, `kioskd
serve` drains it by its own rounds instead (timed from its start to HQ holding
every entry), and the longest time one push took to build (on a worker) is
printed from its event=sync_round lines. With --hq-returns, `kioskd serve`
starts with HQ down and keeps failing its rounds (backing off) for
DOWN_SECONDS; then HQ starts, and what is timed is HQ's return to the
branch's /metrics saying kioskd_outbox_pending 0 ([hq] interval and
max_backoff as given: the defaults are the daemon's). All traffic is on 127.0.0.1;
everything is written under a temporary folder, removed at the end.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import peakrss  # noqa: E402
import pgserver  # noqa: E402


def start_kioskd(kioskd, command, ini, log_path):
    """Starts `kioskd COMMAND -c ini` (hq or serve); returns (process, port)."""
    log = open(log_path, "w+")
    proc = subprocess.Popen([kioskd, command, "-c", ini], stderr=log)
    for _ in range(1000):
        log.seek(0)
        m = re.search(r"event=listening .*port=(\d+)", log.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.kill()
    log.seek(0)
    sys.exit(f"kioskd {command} did not start:\n" + log.read())


def start_hq(kioskd, ini, log_path):
    """Starts `kioskd hq -c ini`; returns (process, port)."""
    return start_kioskd(kioskd, "hq", ini, log_path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "rel", "kioskd"))
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--gzip", default="on", choices=("on", "off"))
    ap.add_argument("--backend", default="both", choices=("both", "sqlite", "pg"))
    ap.add_argument("--daemon", action="store_true")
    ap.add_argument("--hq-returns", type=float, metavar="DOWN_SECONDS")
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--max-backoff", type=int, default=300)
    a = ap.parse_args()
    backends = ["sqlite", "pg"] if a.backend == "both" else [a.backend]
    results = {}
    for backend in backends:
        if backend == "pg" and not pgserver.available():
            results[backend] = None
            continue
        results[backend] = drain(a, backend)
    what = f"from HQ's return after {a.hq_returns:.0f} s down to an empty outbox" \
        if a.hq_returns is not None else "drained"
    print(f"\n{a.entries} entries {what}, batch {a.batch}, gzip {a.gzip}, loopback:")
    print(f"  {'HQ store':<12} {'seconds':>8} {'entries/s':>10}")
    for backend, r in results.items():
        name = {"sqlite": "SQLite", "pg": "PostgreSQL"}[backend]
        if r is None:
            print(f"  {name:<12} {'-':>8} {'-':>10}  (PostgreSQL cannot run here)")
        else:
            print(f"  {name:<12} {r:8.2f} {a.entries / r:10,.0f}")
    pgserver.stop()


def drain(a, backend):
    """Drains a.entries entries to a new `kioskd hq` on backend; returns the seconds it took."""
    kioskd = os.path.abspath(a.bin)
    d = tempfile.mkdtemp(prefix="kioskd-hqbench-")
    hq = None
    url = pgserver.new_database() if backend == "pg" else None
    returns = a.hq_returns is not None
    port = free_port() if returns else 0
    try:
        hq_ini = os.path.join(d, "hq.ini")
        with open(hq_ini, "w") as f:
            f.write(f"[hqserver]\nlisten = 127.0.0.1:{port}\ndatabase = {d}/hq.db\n"
                    f"key_file = {d}/hq.key\nticket_key_file = {d}/hq-ticket.pem\n"
                    "admin_token = bench-admin-token\n"
                    + (f"database_url = {url}\n" if url else ""))
        secret = subprocess.run([kioskd, "hq", "device", "add", "bench-1", "-c", hq_ini],
                                check=True, capture_output=True, text=True).stdout.strip()
        if not returns:
            hq, port = start_hq(kioskd, hq_ini, os.path.join(d, "hq.log"))

        br_ini = os.path.join(d, "branch.ini")
        with open(br_ini, "w") as f:
            f.write(f"[store]\npath = {d}/branch.db\nkey_file = {d}/branch.key\n"
                    f"[tickets]\nkey_file = {d}/ticket.pem\n"
                    f"[hq]\nurl = http://127.0.0.1:{port}\ndevice = bench-1\nsecret = {secret}\n"
                    f"batch = {a.batch}\ngzip = {a.gzip}\n"
                    f"interval = {a.interval}\nmax_backoff = {a.max_backoff}\n"
                    f"[log]\nlevel = {'info' if a.daemon or returns else 'warn'}\n"
                    "[http]\nlisten = 127.0.0.1:0\n[messages]\nchannel = off\n")
        with open(os.path.join(d, "p.csv"), "w") as f:  # any import creates and migrates it
            f.write("code,name,coefficient\nB1,bench,1\n")
        subprocess.run([kioskd, "import", "products", os.path.join(d, "p.csv"), "-c", br_ini],
                       check=True, capture_output=True)
        db = sqlite3.connect(f"{d}/branch.db")
        rows = []
        for i in range(a.entries):
            data = {"signup_id": i + 1, "event_id": 1 + i % 40, "status": "confirmed",
                    "source": "kiosk", "name_masked": "张*", "phone_last4": f"{i % 10000:04d}",
                    "consent_version": "2026-01"}
            rows.append((str(uuid.uuid4()), "signup", "2026-05-01T10:00:00.000Z",
                         json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
        db.executemany("INSERT INTO outbox(id, kind, at, data) VALUES (?, ?, ?, ?)", rows)
        db.commit()
        db.close()

        def hq_db():
            return pgserver.Connection(url) if url else sqlite3.connect(f"{d}/hq.db")

        t0 = time.monotonic()
        if returns:
            hq, dt, out = hq_returns(kioskd, br_ini, hq_ini, d, a.hq_returns)
        elif a.daemon:
            out = daemon_drain(kioskd, br_ini, d, a.entries, hq_db)
        else:
            p = peakrss.run([kioskd, "sync", "--once", "-c", br_ini],
                            f"hq_drain.py kioskd sync --once ({backend})")
            if p.returncode != 0:
                sys.exit(f"sync failed: {p.stderr}")
            out = p.stdout.strip()
        if not returns:
            dt = time.monotonic() - t0
        hdb = hq_db()
        stored = hdb.execute("SELECT count(*) FROM hq_entries").fetchone()[0]
        acked = hdb.execute("SELECT acked_through FROM hq_devices").fetchone()[0]
        hdb.close()
        if stored != a.entries or acked != a.entries:
            sys.exit(f"HQ stored {stored} entries, acked through {acked}; expected {a.entries}")
        print(f"{a.entries} entries, batch {a.batch}, gzip {a.gzip}: {dt:.2f} s, "
              f"{a.entries / dt:,.0f} entries/s to kioskd hq on {backend} (loopback)"
              + (" from HQ's return" if returns else ""))
        print(out)
        return dt
    finally:
        if hq:
            peakrss.stop(hq, f"hq_drain.py kioskd hq ({backend})")
        shutil.rmtree(d, ignore_errors=True)


def daemon_drain(kioskd, ini, d, n, hq_db):
    """Runs `kioskd serve` until HQ acknowledged n entries and the round ended;
    returns what its event=sync_round lines say."""
    log_path = os.path.join(d, "branch.log")
    with open(log_path, "w") as log:
        br = subprocess.Popen([kioskd, "serve", "-c", ini], stderr=log)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            hdb = hq_db()
            row = hdb.execute("SELECT acked_through FROM hq_devices").fetchone()
            hdb.close()
            with open(log_path) as f:
                done = "event=sync_round" in f.read()
            if row and row[0] >= n and done:
                break
            time.sleep(0.05)
        else:
            sys.exit("the daemon did not drain its outbox in 600 s")
    finally:
        peakrss.stop(br, "hq_drain.py kioskd serve (branch)")
    with open(log_path) as f:
        rounds = [line for line in f if "event=sync_round" in line]
    builds = [float(m) for m in re.findall(r"build_ms=([0-9.]+)", "".join(rounds))]
    return (f"{len(rounds)} rounds; longest push build (a worker, off the loop): "
            f"{max(builds) if builds else 0:.2f} ms")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def branch_metric(port, name):
    """A gauge of the branch daemon's /metrics (None when it does not answer)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
    except OSError:
        return None
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def hq_returns(kioskd, ini, hq_ini, d, down):
    """Runs `kioskd serve` with HQ down for `down` seconds, then starts HQ;
    returns (HQ's process, the seconds from HQ listening to the branch's
    /metrics saying its outbox is empty, a summary)."""
    br, port = start_kioskd(kioskd, "serve", ini, os.path.join(d, "branch.log"))
    try:
        time.sleep(down)
        failed = branch_metric(port, "kioskd_sync_failures_total")
        hq, _ = start_hq(kioskd, hq_ini, os.path.join(d, "hq.log"))
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1200:
            if branch_metric(port, "kioskd_outbox_pending") == 0:
                break
            time.sleep(0.05)
        else:
            sys.exit("the outbox was not empty 1200 s after HQ returned")
        dt = time.monotonic() - t0
    finally:
        peakrss.stop(br, "hq_drain.py kioskd serve (branch)")
    return hq, dt, (f"{failed:.0f} failed rounds while HQ was down; outbox empty "
                    f"{dt:.2f} s after HQ returned")


if __name__ == "__main__":
    main()
