#!/usr/bin/env python3
"""Check-in latency during a login flood, and SIGTERM-to-exit during it.

    attack_login.py [KIOSKD] [SECONDS] [RATE]

Starts KIOSKD (default ./build/kioskd) with [http] rate_limit 0 (so the flood
is not simply rate-limited) and 2 workers, signs up guests, then for SECONDS
(default 15) sends logins with wrong PINs from 127.0.0.2 to 127.0.0.5, RATE
per second from each address (default 19), each on a new connection that
waits for its answer (one thread per login, as many clients would). Meanwhile
one tablet checks in a ticket every 0.25 s until SECONDS have passed (a
check-in under way then is waited for). Then, with logins still waiting for
their answers, it sends SIGTERM and waits (at most 300 s) for the exit.

Prints one line of figures: check-ins answered 200 checked_in, their latency
p50/p99/max, logins by status, and the SIGTERM-to-exit time and exit code.
Asserts nothing about speed. All traffic goes to 127.0.0.x.
"""
import http.client
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402

ADDRS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
MAX_LOGINS = 4000  # a bound on the whole flood, whatever SECONDS and RATE say


def login_from(port, addr, i, out, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(addr, 0))
    st = 0
    try:
        body = json.dumps({"staff_id": f"X{i % 97}", "pin": "000000", "device": "flood"})
        conn.request("POST", "/api/v1/staff/login", body=body,
                     headers={"Content-Type": "application/json"})
        st = conn.getresponse().status
    except OSError:
        st = 0
    finally:
        conn.close()
    with lock:
        out[st] = out.get(st, 0) + 1


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    kioskd = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.abspath(harness.BIN)
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 19.0
    harness.BIN = kioskd
    s = harness.Site(config="[http]\nrate_limit = 0\nworkers = 2\n")
    ev = s.event(kind="community", capacity=1000)
    n_checkins = int(seconds / 0.25) + 4
    codes = [s.signup(ev, f"137{i:08d}").json["ticket"]["code"] for i in range(n_checkins)]
    port = s.d.port
    statuses, lock, stop = {}, threading.Lock(), threading.Event()
    logins = []
    sent = [0]

    t_end = time.monotonic() + seconds

    def sender(addr):
        t0 = time.monotonic()
        k = 0
        while not stop.is_set() and sent[0] < MAX_LOGINS and time.monotonic() < t_end:
            k += 1
            with lock:
                sent[0] += 1
                i = sent[0]
            t = threading.Thread(target=login_from, args=(port, addr, i, statuses, lock),
                                 daemon=True)
            t.start()
            logins.append(t)
            delay = t0 + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    senders = [threading.Thread(target=sender, args=(a,), daemon=True) for a in ADDRS]
    for t in senders:
        t.start()
    lat, ok, other = [], 0, {}
    for code in codes:
        if time.monotonic() >= t_end:
            break
        t0 = time.monotonic()
        try:
            r = s.d.request("POST", "/api/v1/checkins", {"ticket": code, "event_id": ev},
                            headers=harness.auth(s.staff), timeout=60)
            good = r.status == 200 and r.json["status"] == "checked_in"
            key = "ok" if good else str(r.status)
        except OSError:
            key = "timeout"
        lat.append((time.monotonic() - t0) * 1000)
        if key == "ok":
            ok += 1
        else:
            other[key] = other.get(key, 0) + 1
        time.sleep(max(0.0, 0.25 - (time.monotonic() - t0)))
    # SIGTERM with the flood's logins still waiting for their answers
    pending = sum(1 for t in logins if t.is_alive())
    t_sig = time.monotonic()
    s.d.proc.send_signal(signal.SIGTERM)
    try:
        rc = s.d.proc.wait(300)
    except Exception:  # noqa: BLE001 - reported, then killed
        rc = "none (killed after 300 s)"
    exit_s = time.monotonic() - t_sig
    stop.set()
    for t in senders:
        t.join()
    for t in logins:
        t.join(0.5)
    s.d.proc = None
    s.d.kill()
    print(f"kioskd={kioskd} flood={len(ADDRS)}x{rate:g}/s for {seconds:g}s logins_sent={sent[0]}"
          f" logins_by_status={dict(sorted(statuses.items()))}")
    print(f"checkins={len(lat)} checked_in={ok} other={other} "
          f"p50_ms={pct(lat, 0.50):.1f} p99_ms={pct(lat, 0.99):.1f} max_ms={max(lat):.1f}")
    print(f"logins_pending_at_sigterm={pending} sigterm_to_exit_s={exit_s:.2f} exit_code={rc} "
          f"load_avg={os.getloadavg()[0]:.2f}")
    s.d.cleanup()


if __name__ == "__main__":
    main()
