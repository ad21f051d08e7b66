#!/usr/bin/env python3
"""A branch with a million members: import time, start-up, points lookups, memory.

    members_1m.py [--bin KIOSKD] [--members 1000000] [--lookups 5000] [--keep]
                  [--against OLD_KIOSKD [--rounds 4]]

Writes a synthetic members CSV (made-up names, 139 phones, no real person),
times `kioskd import members` on it (wall and CPU: on a shared machine the
wall time is mostly waiting), then starts `kioskd serve` on that
database three times (exec to the first 200 from GET /healthz, median; see
startup.py), reads VmRSS one second after the last start, logs a staff
account in and asks GET /api/v1/members/{no}/points for random members one
at a time on one keep-alive connection (each answer goes once its audit
line is queued for the writer, or after its commit with [store] read_audit =
committed and in builds before it; the latency is the client's, no
queueing), and reads VmHWM at the end. With --against, the import is this
build's, then both builds take turns (A B, B A, ...) on the same database,
each turn three start-ups and a daemon's lookups, so that the shared
machine's noise hits both; the figures of each build are pooled. Prints one table; asserts nothing about speed:
it fails only when something broke. Everything stays in bench/out/members.XXXXXX
(removed at the end unless --keep). All traffic goes to 127.0.0.1.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import startup  # noqa: E402  (bench/startup.py: exec to the first 200)

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = ["一", "二三", "四", "五六", "七", "八九"]


def write_csv(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("member_no,name,phone,aum,birthday,household,last_txn\n")
        rows = []
        for i in range(n):
            rows.append(f"M{i:07d},{SURNAMES[i % 16]}{GIVEN[i % 6]},139{i:08d},"
                        f"{(i * 7919) % 9000000}.{i % 100:02d},"
                        f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d},"
                        f"{'H' + str(i // 3) if i % 2 else ''},\n")
            if len(rows) == 10000:
                f.write("".join(rows))
                rows = []
        f.write("".join(rows))


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else 0


def die(msg):
    sys.exit(f"members_1m: {msg}")


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        die(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[:500]}")
    return p


def serve_side(kioskd, ini, log, members, lookups, seed):
    """Three start-ups, then one daemon: idle RSS, lookups one at a time, RSS and HWM."""
    starts = [startup.one(kioskd, ini, log) for _ in range(3)]

    with open(log, "wb") as err:
        proc = subprocess.Popen([kioskd, "serve", "-c", ini], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = None
        for _ in range(2000):
            if proc.poll() is not None:
                die(f"kioskd exited at start; see {log}")
            with open(log, "rb") as f:
                m = re.search(rb"event=listening .*?port=(\d+)", f.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.005)
        if port is None:
            die(f"kioskd did not start; see {log}")
        time.sleep(1)
        rss_idle = proc_status(proc.pid, "VmRSS")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/api/v1/staff/login",
                  json.dumps({"staff_id": "B001", "pin": "123456", "device": "bench"}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            die(f"login: {r.status} {body[:200]!r}")
        hwm_login = proc_status(proc.pid, "VmHWM")
        hdrs = {"Authorization": "Bearer " + json.loads(body)["token"]}
        rnd = random.Random(seed)
        lat = []
        for _ in range(lookups):
            no = f"M{rnd.randrange(members):07d}"
            t = time.perf_counter()
            c.request("GET", f"/api/v1/members/{no}/points", headers=hdrs)
            r = c.getresponse()
            body = r.read()
            lat.append((time.perf_counter() - t) * 1000)
            if r.status != 200 or b'"balance"' not in body:
                die(f"GET points of {no}: {r.status} {body[:200]!r}")
        # the floor on this machine now: GET /healthz (no auth, no audit) the same way
        floor = []
        for _ in range(lookups // 5):
            t = time.perf_counter()
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            floor.append((time.perf_counter() - t) * 1000)
        c.close()
        rss_after = proc_status(proc.pid, "VmRSS")
        hwm = proc_status(proc.pid, "VmHWM")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    if rc != 0:
        die(f"kioskd exited with {rc} after SIGTERM; see {log}")

    return starts, sorted(lat), rss_idle, rss_after, hwm, hwm_login, sorted(floor)


def report(name, starts, lat, rss_idle, rss_after, hwm, hwm_login, floor):
    q = lambda p, xs=lat: xs[min(len(xs) - 1, int(p * len(xs)))]  # noqa: E731
    print(f"  {name}start-up: {statistics.median(starts):.1f} ms median of "
          f"{', '.join(f'{s:.1f}' for s in starts)} ms (exec to the first 200 of /healthz)")
    print(f"  {name}lookups:  {len(lat)} one at a time: p50 {q(0.5):.3f} ms, p99 {q(0.99):.3f} ms, "
          f"max {lat[-1]:.3f} ms")
    print(f"  {name}floor:    {len(floor)} GET /healthz the same way: p50 {q(0.5, floor):.3f} ms, "
          f"p99 {q(0.99, floor):.3f} ms, max {floor[-1]:.3f} ms")
    print(f"  {name}memory:   VmRSS idle {rss_idle / 1024:.1f} MB, after the lookups "
          f"{rss_after / 1024:.1f} MB; VmHWM {hwm / 1024:.1f} MB "
          f"({hwm_login / 1024:.1f} MB right after the login's argon2id)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "rel", "kioskd"))
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--against", metavar="KIOSKD",
                    help="an older build: start-ups and lookups of both, interleaved")
    ap.add_argument("--rounds", type=int, default=4, help="A/B rounds with --against")
    a = ap.parse_args()
    kioskd = os.path.abspath(a.bin)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    run_dir = tempfile.mkdtemp(prefix="members.", dir=os.path.join(HERE, "out"))
    ini = os.path.join(run_dir, "kioskd.ini")
    with open(ini, "w") as f:
        f.write(f"[http]\nlisten = 127.0.0.1:0\nrate_limit = 0\n"
                f"[store]\npath = {run_dir}/kioskd.db\nkey_file = {run_dir}/kioskd.key\n"
                f"[tickets]\nkey_file = {run_dir}/ticket.pem\n")
    csv_path = os.path.join(run_dir, "members.csv")
    t0 = time.monotonic()
    write_csv(csv_path, a.members)
    gen_s = time.monotonic() - t0

    cpu0 = os.times()
    t0 = time.monotonic()
    imp = subprocess.run([kioskd, "import", "members", csv_path, "-c", ini],
                         capture_output=True, text=True)
    import_s = time.monotonic() - t0
    cpu1 = os.times()
    import_cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system -
                                                              cpu0.children_system)
    if imp.returncode != 0:
        die(f"the import failed: {imp.stderr.strip()[:500]}")
    os.unlink(csv_path)
    run([kioskd, "staff", "add", "B001", "--name", "Bench", "--role", "staff", "-c", ini],
        input="123456\n")
    db_mb = sum(os.path.getsize(os.path.join(run_dir, n)) for n in os.listdir(run_dir)
                if n.startswith("kioskd.db")) / 1e6

    log = os.path.join(run_dir, "kioskd.log")
    # sides: this build alone, or with --against, A/B rounds interleaved on the same database
    sides = [("", kioskd)] if not a.against else [("after ", kioskd),
                                                  ("before ", os.path.abspath(a.against))]
    results = {name: [] for name, _ in sides}
    for rnd in range(a.rounds if a.against else 1):
        for name, exe in (sides if rnd % 2 == 0 else sides[::-1]):
            results[name].append(serve_side(exe, ini, log, a.members, a.lookups, rnd + 1))
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"{a.members} members (load {load}; {run_dir})")
    print(f"  CSV written in {gen_s:.1f} s; database {db_mb:.0f} MB")
    print(f"  import:   {import_s:.1f} s ({a.members / import_s:,.0f} rows/s; CPU {import_cpu:.1f} s, "
          f"the rest waited for a CPU or the disk): {imp.stdout.strip()}")
    for name, _ in sides:
        runs = results[name]
        report(name, [x for r in runs for x in r[0]], sorted(x for r in runs for x in r[1]),
               max(r[2] for r in runs), max(r[3] for r in runs), max(r[4] for r in runs),
               max(r[5] for r in runs), sorted(x for r in runs for x in r[6]))
    if not a.keep:
        shutil.rmtree(run_dir)


if __name__ == "__main__":
    main()
