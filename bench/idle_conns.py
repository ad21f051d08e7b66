#!/usr/bin/env python3
"""GET /healthz latency with many idle keep-alive connections open.

    idle_conns.py [--bin KIOSKD] [--conns N] [--seconds S] [--rounds R]

Starts `KIOSKD serve` on a fresh data folder ([http] max_connections and
max_per_address raised to fit N, everything comes from 127.0.0.1;
event_loop = epoll unless --loop poll), opens N
connections that each make one GET /healthz and then stay open, silent (a
fleet of kiosks and tablets between two requests), and, with them open,
sends GET /healthz one after the other on one more keep-alive connection for
S seconds. A connection the daemon closes (its keep-alive timeout) is opened
again at once, so N stay open all along; how many were reopened is printed.
Prints p50 and p99 (ms) beside the target (p99 under 10 ms with 2,000 open),
then the same with no idle connection as the reference, for R rounds
(interleaved: loaded, unloaded, loaded, ...).

Raises its own open-file limit to the hard limit (N + a few are needed) and
the daemon's likewise (it inherits it). All traffic is on 127.0.0.1.
"""
import argparse
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import peakrss

TARGET_P99_MS = 10.0
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))] if s else float("nan")


def start(kioskd, folder, conns, keepalive, loop):
    ini = os.path.join(folder, "kioskd.ini")
    with open(ini, "w") as f:
        f.write("[http]\nlisten = 127.0.0.1:0\nrate_limit = 0\n"
                f"max_connections = {conns + 128}\nmax_per_address = {conns + 64}\n"
                + (f"keepalive_timeout = {keepalive}\nevent_loop = {loop}\n" if keepalive else "") +
                f"[store]\npath = {folder}/kioskd.db\nkey_file = {folder}/kioskd.key\n"
                f"[tickets]\nkey_file = {folder}/ticket.pem\n")
    log = os.path.join(folder, "kioskd.log")
    err = open(log, "wb")
    proc = subprocess.Popen([kioskd, "serve", "-c", ini], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        if proc.poll() is not None:
            sys.exit(f"idle_conns: kioskd exited with {proc.returncode}; see {log}")
        with open(log, "rb") as f:
            m = re.search(rb"event=listening .*?port=(\d+)", f.read())
        if m:
            return proc, int(m.group(1)), log
        time.sleep(0.02)
    proc.kill()
    sys.exit(f"idle_conns: kioskd did not log its port; see {log}")


def read_answer(sock, buf=b""):
    """Reads one answer (headers and Content-Length body); returns (status, rest) or None."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return int(head.split(b" ", 2)[1]), rest[need:]


class Idle:
    """N connections that each made one request and then stay silent."""

    def __init__(self, port, n):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks = set()
        self.reopened = 0
        self.refused = 0
        while len(self.socks) < n:
            self.open_batch(min(200, n - len(self.socks)))

    def open_batch(self, n):
        """Opens n connections at once, each makes one request; keeps those answered 200."""
        batch = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            s.sendall(REQUEST)
            batch.append(s)
        for s in batch:
            got = read_answer(s)
            if got and got[0] == 200:
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ)
                self.socks.add(s)
            else:
                self.refused += 1
                s.close()
        if self.refused > 10 * n:
            sys.exit("idle_conns: the daemon keeps refusing connections (see its log)")

    def open_one(self):
        self.open_batch(1)

    def tend(self):
        """Reopens every idle connection the daemon closed."""
        for key, _ in self.sel.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(s)
                self.socks.discard(s)
                s.close()
                self.reopened += 1
                self.open_one()

    def close(self):
        for s in self.socks:
            self.sel.unregister(s)
            s.close()
        self.socks.clear()


def measure(port, seconds, idle):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    rest = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        s.sendall(REQUEST)
        got = read_answer(s, rest)
        t1 = time.perf_counter()
        if got is None:  # closed (keep-alive timeout between two samples): reconnect
            s.close()
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rest = b""
            continue
        status, rest = got
        if status != 200:
            sys.exit(f"idle_conns: GET /healthz answered {status}")
        lat.append((t1 - t0) * 1000.0)
        if idle:
            idle.tend()
    s.close()
    return lat


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "rel", "kioskd"))
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--loop", default="epoll", choices=("epoll", "poll"),
                    help="the daemon's [http] event_loop")
    ap.add_argument("--keepalive", type=int, default=60,
                    help="the daemon's [http] keepalive_timeout; 0 leaves it and event_loop at their "
                         "defaults (an older daemon has neither; keep --seconds short then, "
                         "or the idle connections are reopened)")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < a.conns + 64:
        sys.exit(f"idle_conns: the open-file hard limit ({hard}) is below {a.conns + 64}; "
                 "raise it (ulimit -Hn, docs/operations.md)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    folder = tempfile.mkdtemp(prefix="idle_conns.")
    proc, port, log = start(os.path.abspath(a.bin), folder, a.conns, a.keepalive, a.loop)
    rows = []
    try:
        for rnd in range(1, a.rounds + 1):
            t0 = time.monotonic()
            idle = Idle(port, a.conns)
            open_s = time.monotonic() - t0
            lat = measure(port, a.seconds, idle)
            rows.append((f"{a.conns} idle open, round {rnd}", lat, idle.reopened, open_s))
            idle.close()
            time.sleep(0.5)
            lat0 = measure(port, a.seconds, None)
            rows.append((f"none open, round {rnd}", lat0, 0, 0.0))
            if proc.poll() is not None:
                sys.exit(f"idle_conns: kioskd died; see {log}")
    finally:
        rc = peakrss.stop(proc, f"idle_conns.py kioskd serve ({a.conns} conns)", timeout=15)
    if rc != 0:
        sys.exit(f"idle_conns: kioskd exited {rc} after SIGTERM; see {log}")
    shutil.rmtree(folder, ignore_errors=True)

    print(f"GET /healthz, one keep-alive client, sequential, {a.seconds:.0f} s per row; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"  {'':34} {'samples':>8} {'p50 ms':>8} {'p99 ms':>8} {'target p99':>11} {'reopened':>9}")
    for name, lat, reopened, open_s in rows:
        target = f"< {TARGET_P99_MS:.0f}" if "idle" in name else "-"
        print(f"  {name:34} {len(lat):8d} {pct(lat, 50):8.2f} {pct(lat, 99):8.2f} "
              f"{target:>11} {reopened:9d}" + (f"  (opened in {open_s:.1f} s)" if open_s else ""))


if __name__ == "__main__":
    main()
