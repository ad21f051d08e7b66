#!/usr/bin/env python3
"""Start-up time of kioskd: from exec to the first 200 answer of GET /healthz.

    startup.py KIOSKD INI LOG [RUNS]

Starts `KIOSKD serve -c INI` RUNS times (default 1), its log in LOG; each
time waits for the "event=listening ... port=N" line, polls GET /healthz on
that port every millisecond until it answers 200, then stops the daemon with
SIGTERM and requires exit status 0. Prints one line per run: `startup_ms=X`.
Exits non-zero (with the reason) if the daemon fails to start or to stop.
"""
import os
import re
import socket
import subprocess
import sys
import time

import peakrss

TIMEOUT = 20.0


def healthz_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def one(kioskd, ini, log):
    with open(log, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([kioskd, "serve", "-c", ini], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    port = None
    try:
        while time.monotonic() - t0 < TIMEOUT:
            if proc.poll() is not None:
                sys.exit(f"startup: kioskd exited with {proc.returncode} at start; see {log}")
            if port is None:
                with open(log, "rb") as f:
                    m = re.search(rb"event=listening .*?port=(\d+)", f.read())
                if m:
                    port = int(m.group(1))
            if port is not None and healthz_ok(port):
                ms = (time.monotonic() - t0) * 1000
                break
            time.sleep(0.001)
        else:
            sys.exit(f"startup: no answer from /healthz within {TIMEOUT:.0f} s; see {log}")
    finally:
        try:
            rc = peakrss.stop(proc, "startup.py kioskd serve", timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            sys.exit(f"startup: kioskd did not stop within 10 s of SIGTERM; see {log}")
    if rc != 0:
        sys.exit(f"startup: kioskd exited with status {rc} after SIGTERM; see {log}")
    return ms


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    kioskd, ini, log = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) == 5 else 1
    for _ in range(runs):
        print(f"startup_ms={one(kioskd, ini, log):.1f}", flush=True)


if __name__ == "__main__":
    main()
