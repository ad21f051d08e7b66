"""Durable writes: nothing acknowledged is lost to SIGKILL; the loop keeps answering while the
disk is slow; a full queue, a stop and a vanished client are handled (store writer, group commit)."""
import os
import re
import signal
import socket
import sqlite3
import threading
import time

from harness import Site, auth, parallel, slow_fsync_env


def _writers(s, ev, prefix, acked, stop, nthreads=12):
    """Threads signing up distinct phones until stop is set; acked[phone] = signup_id on 2xx."""
    def run(t):
        n = 0
        while not stop.is_set():
            phone = prefix + f"{t:02d}{n:0{9 - len(prefix)}d}"  # 11 digits
            n += 1
            try:
                r = s.signup(ev, phone, name="测试")
            except OSError:
                time.sleep(0.01)
                continue
            if r.status in (200, 201):
                acked[phone] = r.json["signup_id"]
    threads = [threading.Thread(target=run, args=(t,)) for t in range(nthreads)]
    for t in threads:
        t.start()
    return threads


def test_sigkill_loses_no_acknowledged_signup():
    s = Site()
    ev = s.event(kind="community", capacity=1000000, minutes=600)
    acked = {}
    for round_ in range(3):
        stop = threading.Event()
        threads = _writers(s, ev, f"139{round_}", acked, stop)
        time.sleep(1.2)
        s.d.proc.send_signal(signal.SIGKILL)  # a power cut, mid-stream
        s.d.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        s.d.kill()
        s.d.start()
    assert len(acked) > 100, len(acked)
    for phone, sid in acked.items():
        r = s.signup(ev, phone, name="测试")
        assert r.status == 200 and r.json["signup_id"] == sid, (phone, sid, r)
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = db.execute("SELECT count(*) FROM signups WHERE event_id=?", (ev,)).fetchone()[0]
    assert n >= len(acked)
    confirmed = db.execute("SELECT confirmed FROM events WHERE id=?", (ev,)).fetchone()[0]
    assert confirmed == n  # the counter committed with its rows
    db.close()


def test_loop_keeps_answering_while_commits_are_slow():
    s = Site(env=slow_fsync_env(100))
    ev = s.event(kind="community", capacity=100000)
    acked, stop = {}, threading.Event()
    threads = _writers(s, ev, "137", acked, stop, nthreads=8)
    worst, answered = 0.0, 0
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        assert s.d.get("/healthz").status == 200
        worst = max(worst, time.monotonic() - t0)
        answered += 1
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    # generous bound: a commit takes 100 ms here, a /healthz must not wait for one
    assert worst < 0.2, worst
    assert answered > 50 and len(acked) > 8
    metrics = s.d.get("/metrics").raw.decode()
    total = float(re.search(r"^kioskd_store_batch_size_sum (\S+)", metrics, re.M).group(1))
    count = float(re.search(r"^kioskd_store_batch_size_count (\S+)", metrics, re.M).group(1))
    assert total / count > 2, (total, count)  # requests that arrive together share a commit
    s.d.stop()


def test_full_queue_answers_503_and_loses_nothing():
    s = Site(config="[store]\nqueue_max = 2\n", env=slow_fsync_env(300))
    ev = s.event(kind="community", capacity=1000)
    phones = [f"1360000{i:04d}" for i in range(16)]
    results = parallel(lambda p: s.signup(ev, p, name="测试"), [(p,) for p in phones])
    codes = [r.status for r in results]
    assert set(codes) <= {201, 503}, codes
    busy = [r for r in results if r.status == 503]
    assert busy, codes
    assert all(r.json["error"]["code"] == "busy" and r.headers["retry-after"] for r in busy)
    for p, r in zip(phones, results):
        again = s.signup(ev, p, name="测试")
        if r.status == 201:
            assert again.status == 200 and again.json["signup_id"] == r.json["signup_id"]
    s.d.stop()


def test_sigterm_answers_writes_in_flight():
    s = Site(env=slow_fsync_env(300))
    ev = s.event(kind="community", capacity=1000)
    out = {}

    def one(i):
        out[i] = s.signup(ev, f"1350000{i:04d}", name="测试")
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    s.d.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    assert s.d.proc.wait(5) == 0
    assert time.monotonic() - t0 < 2.5
    assert sorted(r.status for r in out.values()) == [201] * 6, out
    s.d.kill()
    s.d.start()
    for i, r in out.items():
        assert s.signup(ev, f"1350000{i:04d}", name="测试").json["signup_id"] == r.json["signup_id"]
    s.d.stop()


def test_client_that_leaves_while_waiting_harms_nothing():
    s = Site(env=slow_fsync_env(300))
    ev = s.event(kind="community", capacity=1000)
    body = '{"name":"测试","phone":"13400000001","consent":true}'.encode()
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", s.d.port))
        sock.sendall(f"POST /api/v1/events/{ev}/signups HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                     .encode() + body)
        time.sleep(0.05)
        sock.close()  # gone before the commit
    time.sleep(1.0)
    assert s.d.get("/healthz").status == 200
    r = s.signup(ev, "13400000001", name="测试")
    assert r.status == 200  # the first attempt was committed all the same
    assert "kioskd_clients_gone_total" in s.d.get("/metrics").raw.decode()
    s.d.stop()
    st = s.d.get  # noqa: F841 - the daemon stopped cleanly (checked by stop)


def test_wal_stays_bounded_under_load():
    s = Site(config="[store]\ncheckpoint_pages = 100\n")
    ev = s.event(kind="community", capacity=100000)
    wal = os.path.join(s.d.dir, "kioskd.db-wal")
    stop, biggest = threading.Event(), [0]

    def watch():
        while not stop.is_set():
            if os.path.exists(wal):
                biggest[0] = max(biggest[0], os.path.getsize(wal))
            time.sleep(0.02)
    watcher = threading.Thread(target=watch)
    watcher.start()
    acked, done = {}, threading.Event()
    threads = _writers(s, ev, "133", acked, done, nthreads=16)
    # enough writes to pass the checkpoint many times over: 2.5 s on an idle
    # machine, longer on a busy one or under the sanitizers (never a timing check)
    deadline = time.monotonic() + 60
    time.sleep(2.5)
    while len(acked) <= 1000 and time.monotonic() < deadline:
        time.sleep(0.2)
    done.set()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    db_size = os.path.getsize(os.path.join(s.d.dir, "kioskd.db"))
    assert len(acked) > 500
    # checkpoints run on the writer every 100 pages: the WAL never holds the whole history
    assert biggest[0] < 4 * 1024 * 1024 and biggest[0] < db_size, (biggest[0], db_size, len(acked))
    s.d.stop()
