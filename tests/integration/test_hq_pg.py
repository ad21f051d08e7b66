"""`kioskd hq` on PostgreSQL only: several HQ processes on one database (replay
protection and cursors live in the database), and a database that goes away and
comes back. The tests shared with SQLite are in test_hq.py and test_hq_daemon.py.
Each test says SKIP once and passes when PostgreSQL cannot run here (pgserver.py)."""
import json
import re
import threading
import time
import uuid

import pgserver
from harness import HQ, parallel
from test_hq import accepted_once_then_replayed, devices, hq_count, push_body, sign, signed


def two_hqs():
    """Two `kioskd hq` processes on one new database, sharing HQ's key file."""
    a = HQ(backend="pg")
    b = HQ(database_url=a.database_url, config=f"[hqserver]\nkey_file = {a.dir}/hq.key\n")
    return a, b


def test_two_hq_processes_store_each_entry_once_and_ack_right_under_concurrent_pushes():
    if not pgserver.available():
        return
    a, b = two_hqs()
    try:
        secret = a.device_add("b1")
        others = {f"c{i}": a.device_add(f"c{i}") for i in range(16)}
        seqs = list(range(1, 201))
        ids = {s: None for s in seqs}
        batches = [seqs[i:i + 25] for i in range(0, len(seqs), 25)]
        bodies = []
        for batch in batches:
            body, got = push_body("b1", batch)
            ids.update(got)
            bodies.append(body)
        ts = int(time.time())

        def push(hq, device, sec, body, t):
            return signed(hq, device, sec, "POST", "/sync/v1/push", body, ts=t)
        # b1: every batch to both processes at once (the branch retrying on the other one),
        # the last batch first so that acks arrive out of order
        jobs = []
        for body in reversed(bodies):
            jobs.append((a, "b1", secret, body, ts))
            jobs.append((b, "b1", secret, body, ts - 1))  # a signature of its own
        # beside it, devices whose two batches (1-25, 26-50) go at once one to each
        # process, each once: their acks are right only if pushes of one device see each
        # other's entries (the device's row lock)
        for dev, sec in others.items():
            for i, hq in enumerate((a, b)):
                body, _ = push_body(dev, list(range(1 + 25 * i, 26 + 25 * i)))
                jobs.append((hq, dev, sec, body, ts))
        results = parallel(push, jobs)
        assert all(st == 200 for st, _ in results), results
        b1 = [r for (st, r), j in zip(results, jobs) if j[1] == "b1"]
        assert sum(r["stored"] for r in b1) == 200, b1
        assert sum(r["received"] for r in b1) == 400, b1
        assert max(r["acked_through"] for r in b1) == 200, b1
        assert hq_count(a) == 200 + 50 * len(others)
        with a.db() as db:
            rows = db.execute("SELECT id, seq FROM hq_entries WHERE device = 'b1'").fetchall()
        assert sorted(r[1] for r in rows) == seqs
        assert {r[0] for r in rows} == {ids[s] for s in seqs}
        for hq in (a, b):
            d = devices(hq)
            assert d["b1"]["acked_through"] == 200 and d["b1"]["entries"] == 200, d
            for dev in others:
                assert d[dev]["acked_through"] == 50 and d[dev]["entries"] == 50, d
        # again, to the other process: stored nothing, same ack
        st, r = signed(b, "b1", secret, "POST", "/sync/v1/push", bodies[0], ts=ts - 2)
        assert st == 200 and r == {"acked_through": 200, "received": 25, "stored": 0}, r
    finally:
        a.cleanup()
        b.cleanup()


def test_a_request_accepted_by_one_hq_process_is_refused_as_a_replay_by_the_other():
    if not pgserver.available():
        return
    a, b = two_hqs()
    try:
        secret = a.device_add("b1")
        body, _ = push_body("b1", [1, 2])
        ts = int(time.time())
        accepted_once_then_replayed(a, b, "b1", secret, body, ts)
        # one signed request sent to both at once: one of them takes it
        body, _ = push_body("b1", [3])
        sig = sign(secret, "POST", "/sync/v1/push", body, ts)
        results = parallel(lambda hq: signed(hq, "b1", secret, "POST", "/sync/v1/push", body,
                                             ts=ts, sig=sig), [(a,), (b,)] * 3)
        assert sorted(st for st, _ in results) == [200] + [401] * 5, results
        assert all(r["error"]["code"] == "replayed" for st, r in results if st == 401), results
        assert hq_count(a) == 3
        assert devices(b)["b1"]["acked_through"] == 3
    finally:
        a.cleanup()
        b.cleanup()


def test_a_request_that_meets_a_lost_database_gets_503_and_the_next_works_once_it_is_back():
    if not pgserver.available():
        return
    hq = HQ(backend="pg")
    try:
        secret = hq.device_add("b1")
        body, _ = push_body("b1", [1])
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body)
        assert st == 200 and r["acked_through"] == 1, r
        pgserver.pause()
        try:
            body2, _ = push_body("b1", [2])
            st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body2)
            assert st == 503 and r["error"]["code"] == "storage_unavailable", r
            assert hq.get("/healthz").status == 503
            st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body2)
            assert st == 503, r
        finally:
            pgserver.resume()
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body2)
        assert st == 200 and r == {"acked_through": 2, "received": 1, "stored": 1}, r
        assert hq.get("/healthz").status == 200
        assert hq_count(hq) == 2
        hq.stop()
    finally:
        hq.cleanup()


def test_postgresql_stopped_during_a_large_push_leaves_all_or_nothing_and_the_resend_stores_once():
    if not pgserver.available():
        return
    hq = HQ(backend="pg")
    try:
        secret = hq.device_add("b1")
        body, _ = push_body("b1", list(range(1, 20001)))
        got = {}
        # 20000 entries: a busy machine (tests run beside this one) can take longer than 10 s
        t = threading.Thread(target=lambda: got.update(
            r=signed(hq, "b1", secret, "POST", "/sync/v1/push", body, gz=True, timeout=60)))
        t.start()
        time.sleep(0.3)  # most likely while HQ stores the entries; either outcome is checked
        pgserver.pause()
        t.join()
        pgserver.resume()
        st, r = got["r"]
        assert st in (200, 503), (st, r)
        # nothing half: a 503 whose commit reached PostgreSQL but not its answer stored all
        assert hq_count(hq) in ((20000,) if st == 200 else (0, 20000))
        st, r = signed(hq, "b1", secret, "POST", "/sync/v1/push", body, gz=True,
                       ts=int(time.time()) - 1, timeout=60)
        assert st == 200 and r["acked_through"] == 20000, r
        assert hq_count(hq) == 20000
        assert devices(hq)["b1"]["entries"] == 20000
        hq.stop()
    finally:
        hq.cleanup()


def test_the_schema_version_lives_in_the_database_and_a_newer_or_missing_database_is_refused():
    if not pgserver.available():
        return
    hq = HQ(backend="pg")
    try:
        assert pgserver.psql(hq.database_url, "SELECT version FROM kioskd_schema") == [["6"]]
        tables = {r[0] for r in pgserver.psql(
            hq.database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"hq_devices", "hq_entries", "hq_seen_sigs", "hq_changes", "hq_device_events",
                "hq_signups", "hq_bot_codes", "hq_bot_bindings", "hq_bot_deliveries",
                "hq_bot_events", "hq_events"} <= tables, tables
        columns = {r[0] for r in pgserver.psql(
            hq.database_url, "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'hq_changes'")}
        assert {"device", "event_id", "branch", "event_key"} <= columns, columns
        hq.restart()  # migrated already: nothing to do
        hq.stop()
        pgserver.psql(hq.database_url, "UPDATE kioskd_schema SET version = 99")
        p = hq.cli("hq", "device", "add", "b1", check=False)
        assert p.returncode == 1 and b"schema version 99 is newer" in p.stderr, p
        pgserver.psql(hq.database_url, "UPDATE kioskd_schema SET version = 6")
        missing = HQ(database_url=hq.database_url.replace("/kioskd_hq_", "/nowhere_"),
                     start=False)
        try:
            p = missing.cli("hq", "device", "add", "b1", check=False)
            assert p.returncode == 1 and b"cannot connect to PostgreSQL" in p.stderr, p
        finally:
            missing.cleanup()
    finally:
        hq.cleanup()


def push_entries(device, entries):
    """A push body of (seq, kind, data) entries."""
    return json.dumps({"device": device, "entries": [
        {"id": str(uuid.uuid4()), "seq": seq, "kind": kind, "at": "2026-05-01T10:00:00.000Z",
         "data": data} for seq, kind, data in entries]}, ensure_ascii=False).encode()


def test_two_hq_processes_merge_the_same_sign_up_from_two_devices_pushed_at_once_into_one():
    if not pgserver.available():
        return
    a, b = two_hqs()
    try:
        devs = {"box-1": (a.device_add("box-1"), a, "AAAAAAA1"),
                "box-2": (a.device_add("box-2"), b, "AAAAAAA2")}
        # both boxes hold the event HQ imported under one key (two boxes of one branch)
        for dev, (sec, _, _) in devs.items():
            body = push_entries(dev, [(1, "event_linked", {"event_id": 1, "key": "shared 1 沙龙"})])
            st, r = signed(a, dev, sec, "POST", "/sync/v1/push", body)
            assert st == 200 and r["acked_through"] == 1, r
        phones = [f"1370000{i:04d}" for i in range(12)]
        jobs = []
        for dev, (sec, hq, kid) in devs.items():
            entries = [(2 + i, "signup", {"kid": kid, "signup_id": 1 + i, "event_id": 1,
                                          "issued_at": 1770000000, "status": "confirmed",
                                          "source": "kiosk", "consent_version": "2026-01",
                                          "name": "测试", "phone": phone})
                       for i, phone in enumerate(phones)]
            # one push per sign-up, each box's to its own HQ process, all at once
            for e in entries:
                jobs.append((hq, dev, sec, push_entries(dev, [e])))
        results = parallel(lambda hq, dev, sec, body: signed(hq, dev, sec, "POST",
                                                              "/sync/v1/push", body), jobs)
        assert all(st == 200 and r["stored"] == 1 for st, r in results), results
        with a.db() as db:
            rows = db.execute("SELECT kid, signup_id, merged_into FROM hq_signups").fetchall()
            served = db.execute("SELECT key FROM hq_changes WHERE kind = 'signup'").fetchall()
        assert len(rows) == 2 * len(phones), rows
        standing = {(k, i) for k, i, m in rows if not m}  # NULL reads as ""
        merged = {(k, i): m for k, i, m in rows if m}
        # per phone (the same signup_id at both boxes): one stands, the other is merged into it
        assert len(standing) == len(phones) and len(merged) == len(phones), rows
        for (kid, i), first in merged.items():
            other = "AAAAAAA2" if kid == "AAAAAAA1" else "AAAAAAA1"
            assert first == f"{other}:{i}" and (other, i) in standing, (kid, i, first)
        # and only the one that stands is served
        assert sorted(k for (k,) in served) == sorted(f"{k}:{i}" for k, i in standing), served
    finally:
        a.cleanup()
        b.cleanup()


def test_two_hq_processes_taking_sign_ups_at_once_give_distinct_ids():
    if not pgserver.available():
        return
    a = HQ(backend="pg")
    b = HQ(database_url=a.database_url,
           config=f"[hqserver]\nkey_file = {a.dir}/hq.key\n"
                  f"ticket_key_file = {a.dir}/var/hq-ticket-key.pem\n")
    try:
        sec = a.device_add("branch-a")
        body = push_entries("branch-a", [(1, "event_created", {"event_id": 1})])
        st, r = signed(a, "branch-a", sec, "POST", "/sync/v1/push", body)
        assert st == 200 and r["acked_through"] == 1, r
        first = a.cli("hq", "signup", "branch-a/1", "测试", "13800000000").stdout.decode()
        assert "sign-up " in first, first  # HQ's ticket key now exists, for both
        jobs = [((a, b)[i % 2], f"138000{i:05d}") for i in range(1, 17)]
        outs = parallel(lambda hq, phone: hq.cli("hq", "signup", "branch-a/1", "测试", phone)
                        .stdout.decode(), jobs)
        ids = [re.search(r"sign-up (\S+):(\d+) ", o).groups() for o in outs]
        kids = {k for k, _ in ids}
        assert len(kids) == 1, kids  # one key: the ids alone tell them apart
        assert sorted(int(i) for _, i in ids) == list(range(2, 18)), ids
        with a.db() as db:
            n = db.execute("SELECT count(*), count(DISTINCT signup_id) FROM hq_signups "
                           "WHERE device = 'hq'").fetchone()
        assert tuple(n) == (17, 17), n
    finally:
        a.cleanup()
        b.cleanup()
