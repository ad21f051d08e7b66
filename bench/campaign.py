#!/usr/bin/env python3
"""A campaign over many members: building it, then queuing and rendering its SMS step.

    bench/campaign.py [KIOSKD] [N]      (default ./build/kioskd, 100000)

Imports N synthetic members, then times through HTTP: a dry run over all of
them (no AUM filter: the store's filters only), a dry run with near_next_tier
(every candidate's AUM opened on the loop), and the creation that freezes the
audience (one store job). The campaign's one SMS step is already past, so the
scheduler queues it at once: times until every invitation is queued, then
until every one is rendered and sent on the log channel (the SMS gateway's
place: what is measured is kioskd's own work).
"""
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
if len(sys.argv) > 1:
    os.environ["KIOSKD_BIN"] = os.path.abspath(sys.argv[1])
import harness  # noqa: E402

N = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = ["一", "二三", "四", "五六", "七", "八九"]


def count(d, sql):
    c = sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchone()[0]
    finally:
        c.close()


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


def main():
    d = harness.Daemon(config="[messages]\nchannel = log\nquiet_hours =\ndaily_cap = 10\n"
                              "[bot]\npublic_url = https://kiosk.example.cn\n",
                       start=False)
    harness.add_staff(d, "M1", "manager", "111111")
    rnd = random.Random(7)
    path = os.path.join(d.dir, "members.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("member_no,name,phone,aum,birthday,household,last_txn\n")
        for i in range(N):
            aum = rnd.choice([rnd.randint(0, 49999), rnd.randint(50000, 199999),
                              rnd.randint(200000, 5999999), rnd.randint(6000000, 9000000)])
            f.write(f"B{i:06d},{SURNAMES[i % 16]}{GIVEN[i % 6]},139{i:08d},{aum},19{60 + i % 40}-0{1 + i % 9}-1{i % 9},,"
                    f"2026-0{1 + i % 9}-15\n")
    _, t_import = timed(lambda: d.cli("import", "members", path))
    d.start()
    token = harness.login(d, "M1", "111111", "office")
    h = harness.auth(token)
    ev = d.post("/api/v1/events", {"title": "客户财富升级会", "kind": "upgrade",
                                   "starts_at": harness.from_now(60 * 24 * 40),
                                   "ends_at": harness.from_now(60 * 24 * 40 + 90),
                                   "venue": "二楼贵宾室", "capacity": 20}, headers=h).json["id"]
    step = [{"channel": "sms", "at": "-45d"}]
    body = {"event_id": ev, "name": "压测", "steps": step}
    r, t_dry = timed(lambda: d.post("/api/v1/campaigns", dict(body, dry_run=True, audience={}),
                                    headers=h, timeout=120))
    assert r.status == 200, r
    r2, t_dry_near = timed(lambda: d.post("/api/v1/campaigns",
                                          dict(body, dry_run=True,
                                               audience={"near_next_tier": 20000}),
                                          headers=h, timeout=120))
    assert r2.status == 200, r2
    t0 = time.monotonic()
    r3 = d.post("/api/v1/campaigns", dict(body, audience={}), headers=h, timeout=120)
    t_create = time.monotonic() - t0
    assert r3.status == 201 and r3.json["audience_size"] == N, r3
    while count(d, "SELECT count(*) FROM messages WHERE kind = 'invitation'") < N:
        time.sleep(0.05)
    t_queued = time.monotonic() - t0
    while count(d, "SELECT count(*) FROM messages WHERE kind = 'invitation' "
                   "AND status = 'sent'") < N:
        time.sleep(0.2)
    t_sent = time.monotonic() - t0
    d.stop()
    print(f"members {N}: import {t_import:.1f} s")
    print(f"dry run (store filters only) {t_dry * 1000:.0f} ms -> {r.json['audience_size']}")
    print(f"dry run with near_next_tier (AUM opened) {t_dry_near * 1000:.0f} ms "
          f"-> {r2.json['audience_size']}")
    print(f"create (audience frozen) {t_create * 1000:.0f} ms")
    print(f"SMS step queued {t_queued:.1f} s after the request; all rendered and sent (log) "
          f"{t_sent:.1f} s ({N / (t_sent - t_queued):.0f}/s after queuing)")
    d.cleanup()


main()
