#!/usr/bin/env python3
"""Pushes per second from 50 simulated branches at once to `kioskd hq` on PostgreSQL,
with one and with two HQ processes on the same database.

    bench/hq_branches.py [--bin build/rel/kioskd] [--branches 50] [--pushes 20] [--entries 50]

Each branch is a thread with its own device (registered with `kioskd hq device
add`) that sends --pushes signed, gzip pushes of --entries sign-up-shaped
entries each, one after the other, as fast as HQ answers; all branches start
together. With two processes, branch i talks to process i % 2. Prints pushes/s
and entries/s per set-up, and checks that HQ stored every entry once and acked
every branch through its last seq. PostgreSQL is a throwaway server on a Unix
socket in a temporary folder (tests/integration/pgserver.py); all traffic is
on 127.0.0.1.
"""
import argparse
import gzip
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hq_drain import peakrss, pgserver, start_hq  # noqa: E402


def signed_push(port, device, secret, body):
    ts = int(time.time())
    digest = hashlib.sha256(body).hexdigest()
    text = f"POST\n/sync/v1/push\n{ts}\n{digest}".encode()
    sig = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/sync/v1/push", body=body, headers={
        "Authorization": f"KIOSKD-HMAC-SHA256 device={device},ts={ts},sig={sig}",
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"push answered {r.status}: {raw[:200]!r}")
    return json.loads(raw)


def bodies_of(device, pushes, entries):
    out = []
    for p in range(pushes):
        rows = []
        for k in range(entries):
            seq = p * entries + k + 1
            rows.append({"id": str(uuid.uuid4()), "seq": seq, "kind": "signup",
                         "at": "2026-05-01T10:00:00.000Z",
                         "data": {"signup_id": seq, "event_id": 1 + seq % 40,
                                  "status": "confirmed", "source": "kiosk",
                                  "name_masked": "张*", "phone_last4": f"{seq % 10000:04d}",
                                  "consent_version": "2026-01"}})
        out.append(gzip.compress(json.dumps({"device": device, "entries": rows},
                                            ensure_ascii=False).encode()))
    return out


def run(a, processes):
    """One set-up: a new database, `processes` HQ processes; returns (seconds, pushes)."""
    kioskd = os.path.abspath(a.bin)
    d = tempfile.mkdtemp(prefix="kioskd-hqbranches-")
    url = pgserver.new_database()
    hqs = []
    try:
        ports = []
        for i in range(processes):
            ini = os.path.join(d, f"hq{i}.ini")
            with open(ini, "w") as f:
                f.write(f"[hqserver]\nlisten = 127.0.0.1:0\ndatabase = {d}/unused.db\n"
                        f"key_file = {d}/hq.key\nticket_key_file = {d}/hq-ticket.pem\n"
                        "admin_token = bench-admin-token\n"
                        f"database_url = {url}\n")
            if i == 0:
                secrets = {}
                for b in range(a.branches):
                    dev = f"branch-{b:03d}"
                    secrets[dev] = subprocess.run(
                        [kioskd, "hq", "device", "add", dev, "-c", ini], check=True,
                        capture_output=True, text=True).stdout.strip()
            p, port = start_hq(kioskd, ini, os.path.join(d, f"hq{i}.log"))
            hqs.append(p)
            ports.append(port)
        work = {dev: bodies_of(dev, a.pushes, a.entries) for dev in secrets}
        errors = []
        barrier = threading.Barrier(a.branches + 1)

        def branch(i, dev):
            barrier.wait()
            try:
                for body in work[dev]:
                    signed_push(ports[i % processes], dev, secrets[dev], body)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"{dev}: {e}")
        threads = [threading.Thread(target=branch, args=(i, dev))
                   for i, dev in enumerate(sorted(secrets))]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.monotonic()
        for t in threads:
            t.join()
        dt = time.monotonic() - t0
        if errors:
            sys.exit("pushes failed: " + "; ".join(errors[:5]))
        db = pgserver.Connection(url)
        stored = db.execute("SELECT count(*) FROM hq_entries").fetchone()[0]
        acks = {r[0] for r in db.execute("SELECT acked_through FROM hq_devices").fetchall()}
        want = a.branches * a.pushes * a.entries
        if stored != want or acks != {a.pushes * a.entries}:
            sys.exit(f"HQ stored {stored} entries (expected {want}), acks {sorted(acks)}")
        return dt, a.branches * a.pushes
    finally:
        for p in hqs:
            peakrss.stop(p, f"hq_branches.py kioskd hq ({processes} processes)")
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "rel", "kioskd"))
    ap.add_argument("--branches", type=int, default=50)
    ap.add_argument("--pushes", type=int, default=20)
    ap.add_argument("--entries", type=int, default=50)
    a = ap.parse_args()
    if not pgserver.available():
        print("hq_branches: PostgreSQL cannot run here; nothing measured")
        return
    rows = [(n, *run(a, n)) for n in (1, 2)]
    pgserver.stop()
    print(f"\n{a.branches} branches at once, {a.pushes} pushes of {a.entries} entries each "
          f"(gzip), kioskd hq on PostgreSQL, loopback:")
    print(f"  {'HQ processes':<13} {'seconds':>8} {'pushes/s':>9} {'entries/s':>10}")
    for n, dt, pushes in rows:
        print(f"  {n:<13} {dt:8.2f} {pushes / dt:9,.0f} {pushes * a.entries / dt:10,.0f}")


if __name__ == "__main__":
    main()
