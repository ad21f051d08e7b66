"""The points ledger through the real binary: what a check-in and a referral
earn (once, and taken back on undo), redemptions (also from the household's
pool), transfers that carry each point's expiry, the daily expiry catching up
at start, many tablets spending at once, and `kioskd check` over balances."""
import datetime
import os
import sqlite3

from harness import CN, Site, auth, parallel

HEADER = "member_no,name,phone,aum,birthday,household,last_txn\n"
MEMBERS = HEADER + ("M001,张三丰,13812340001,52000.50,1960-03-01,H1,\n"
                    "M002,李四,13812340002,49999.99,1970-01-02,,\n"
                    "M003,王五,13812340003,6000000,1980-12-31,H1,\n"
                    "M004,赵六,13812340004,200000,1990-06-15,,\n")
PHONE = {"M001": "13812340001", "M002": "13812340002", "M003": "13812340003",
         "M004": "13812340004"}
YEAR = datetime.datetime.now(CN).year


def site(config=""):
    s = Site(config=config)
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    return s


def db(d):
    return sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)


def rows(d, sql, *args):
    c = db(d)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def points(s, no):
    r = s.d.get(f"/api/v1/members/{no}/points", headers=auth(s.staff))
    assert r.status == 200, r
    return r.json


def balance(s, no):
    return points(s, no)["balance"]


def earn(s, ev, no, **extra):
    """Signs member `no` up for ev and checks them in by phone; returns the answer."""
    r = s.signup(ev, PHONE[no], name="测试", **extra)
    assert r.status in (200, 201), r
    r = s.checkin(event_id=ev, phone=PHONE[no])
    assert r.status == 200 and r.json["status"] == "checked_in", r
    return r.json


def check_clean(s):
    p = s.d.cli("check", check=False)
    assert p.returncode == 0 and p.stdout.decode() == "check: 0 differences\n", p.stdout


def test_a_checkin_earns_once_a_referral_once_per_guest_and_undo_takes_both_back():
    s = site()
    ev = s.event(starts=-1)
    got = earn(s, ev, "M001", referrer_phone=PHONE["M004"])
    assert got["member"] == {"member_no": "M001", "tier": "潜力", "balance": 50, "earned": 50}, got
    m4 = points(s, "M004")
    assert m4["balance"] == 200 and m4["ledger"][0]["reason"] == "referral", m4
    assert m4["ledger"][0]["expires_on"] == f"{YEAR + 1}-12-31"
    # a second scan earns nothing
    again = s.checkin(event_id=ev, phone=PHONE["M001"]).json
    assert again["status"] == "already_checked_in"
    assert again["member"] == {"member_no": "M001", "tier": "潜力", "balance": 50, "earned": 0}
    assert balance(s, "M001") == 50 and balance(s, "M004") == 200

    cid = got["checkin_id"]
    r = s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff))
    assert r.status == 200, r
    assert balance(s, "M001") == 0 and balance(s, "M004") == 0
    reasons = [l["reason"] for l in points(s, "M001")["ledger"]]
    assert reasons == ["reversal", "checkin"], reasons
    # checked in again: earned again (once per sign-up, net of the reversal)
    again = s.checkin(event_id=ev, phone=PHONE["M001"]).json
    assert again["member"]["earned"] == 50 and balance(s, "M004") == 200

    # the same guest referred again at another event: one referral per referred guest
    ev2 = s.event(starts=-1)
    earn(s, ev2, "M001", referrer_phone=PHONE["M004"])
    assert balance(s, "M001") == 100 and balance(s, "M004") == 200
    lines = rows(s.d, "SELECT m.member_no, l.delta, l.reason FROM points_lines l "
                      "JOIN members m ON m.id = l.member_id ORDER BY l.id")
    assert lines == [("M001", 50, "checkin"), ("M004", 200, "referral"),
                     ("M001", -50, "reversal"), ("M004", -200, "reversal"),
                     ("M001", 50, "checkin"), ("M004", 200, "referral"),
                     ("M001", 50, "checkin")], lines
    # a guest who is no member earns nothing, and their referrer still earns
    ev3 = s.event(starts=-1)
    assert s.signup(ev3, "13900001111", name="路人", referrer_phone=PHONE["M002"]).status == 201
    r = s.checkin(event_id=ev3, phone="13900001111")
    assert r.status == 200 and "member" not in r.json, r
    assert balance(s, "M002") == 200
    # every change is journalled and audited in its transaction
    kinds = rows(s.d, "SELECT count(*) FROM outbox WHERE kind = 'points'")[0][0]
    assert kinds == 7, kinds  # six earnings and one reversal (of two lines)
    audit = rows(s.d, "SELECT action, count(*) FROM audit WHERE action LIKE 'points_%' "
                      "GROUP BY action ORDER BY action")
    assert audit == [("points_earn", 6), ("points_reverse", 1)], audit
    check_clean(s)


def test_a_guest_cannot_refer_themselves():
    s = site()
    ev = s.event(starts=-1)
    r = s.signup(ev, PHONE["M001"], name="张三丰", referrer_phone=PHONE["M001"])
    assert r.status == 422 and "referrer_phone" in r.json["error"]["fields"], r
    assert rows(s.d, "SELECT count(*) FROM signups")[0][0] == 0


def test_undo_is_refused_once_the_points_are_spent():
    s = site()
    ev = s.event(starts=-1)
    cid = earn(s, ev, "M002")["checkin_id"]
    r = s.d.post("/api/v1/points/redemptions", {"member_no": "M002", "points": 30, "item": "雨伞"},
                 headers=auth(s.staff))
    assert r.status == 201 and r.json["balance"] == 20, r
    r = s.d.delete(f"/api/v1/checkins/{cid}", headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "points_spent", r
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff)).json
    assert st["checked_in"] == 1 and balance(s, "M002") == 20
    check_clean(s)


def test_redemptions_spend_oldest_first_and_refuse_a_short_balance():
    s = site("[points]\ncheckin_bonus = 1000\n")
    for _ in range(2):
        earn(s, s.event(starts=-1), "M002")
    url = "/api/v1/points/redemptions"
    r = s.d.post(url, {"member_no": "M002", "points": 1200, "item": "购物卡 ☕"},
                 headers=auth(s.staff))
    assert r.status == 201, r
    assert r.json["balance"] == 800 and r.json["item"] == "购物卡 ☕" and r.json["id"] > 0
    draws = rows(s.d, "SELECT delta, lot_id FROM points_lines WHERE reason = 'redemption' "
                      "ORDER BY id")
    lots = [i for (i,) in rows(s.d, "SELECT id FROM points_lines WHERE delta > 0 ORDER BY id")]
    assert draws == [(-1000, lots[0]), (-200, lots[1])], draws
    before = rows(s.d, "SELECT count(*) FROM points_lines")
    r = s.d.post(url, {"member_no": "M002", "points": 801, "item": "x"}, headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "insufficient_points", r
    assert rows(s.d, "SELECT count(*) FROM points_lines") == before
    for body, field in (({"member_no": "M002", "points": 0, "item": "x"}, "points"),
                        ({"member_no": "M002", "points": 1, "item": ""}, "item"),
                        ({"member_no": "M002", "points": 1, "item": "a\u0007b"}, "item"),
                        ({"member_no": "M002", "points": 1, "item": "长" * 101}, "item"),
                        ({"member_no": "M 2", "points": 1, "item": "x"}, "member_no"),
                        ({"member_no": "M002", "points": "5", "item": "x"}, "points")):
        r = s.d.post(url, body, headers=auth(s.staff))
        assert r.status == 422 and field in r.json["error"]["fields"], (body, r)
    r = s.d.post(url, {"member_no": "NOPE", "points": 1, "item": "x"}, headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "member_not_found", r
    assert s.d.post(url, {"member_no": "M002", "points": 1, "item": "x"}).status == 401
    assert rows(s.d, "SELECT count(*) FROM points_lines") == before
    assert balance(s, "M002") == 800
    check_clean(s)


def test_a_household_redemption_draws_across_the_household_oldest_first():
    s = site("[points]\ncheckin_bonus = 1000\n")
    ev = s.event(starts=-1)
    earn(s, ev, "M001")
    earn(s, ev, "M003")
    r = s.d.post("/api/v1/points/redemptions",
                 {"member_no": "M001", "points": 1500, "item": "家庭礼包", "from_household": True},
                 headers=auth(s.staff))
    assert r.status == 201, r
    assert r.json["balance"] == 0 and r.json["household_balance"] == 500, r
    spent = rows(s.d, "SELECT m.member_no, l.delta FROM points_lines l JOIN members m "
                      "ON m.id = l.member_id WHERE l.reason = 'redemption' ORDER BY l.id")
    assert spent == [("M001", -1000), ("M003", -500)], spent
    assert points(s, "M003")["balance"] == 500
    assert points(s, "M001")["household_balance"] == 500
    r = s.d.post("/api/v1/points/redemptions",
                 {"member_no": "M001", "points": 501, "item": "x", "from_household": True},
                 headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "insufficient_points", r
    r = s.d.post("/api/v1/points/redemptions",
                 {"member_no": "M002", "points": 1, "item": "x", "from_household": True},
                 headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "no_household", r
    check_clean(s)


def to_next_year():
    """Seconds from now to 2 January of next year, China time."""
    now = datetime.datetime.now(CN)
    return int((datetime.datetime(YEAR + 1, 1, 2, tzinfo=CN) - now).total_seconds())


def two_lots(s):
    """Gives M001 1000 points expiring at the end of this year and 1000 at the
    end of next year (two runs of the daemon with another [points] expiry_years)."""
    earn(s, s.event(starts=-1), "M001")
    s.d.stop()
    s.d.env["KIOSKD_POINTS_EXPIRY_YEARS"] = "1"
    s.d.start()
    earn(s, s.event(starts=-1), "M001")
    expiries = rows(s.d, "SELECT expires_on FROM points_lines ORDER BY id")
    assert expiries == [(f"{YEAR}-12-31",), (f"{YEAR + 1}-12-31",)], expiries


def test_a_transfer_carries_each_points_expiry_and_needs_a_manager():
    s = site("[points]\ncheckin_bonus = 1000\nexpiry_years = 0\n")
    two_lots(s)
    url = "/api/v1/points/transfers"
    body = {"from": "M001", "to": "M004", "points": 1500, "note": "邻里互助"}
    r = s.d.post(url, body, headers=auth(s.staff))
    assert r.status == 403, r
    r = s.d.post(url, body, headers=auth(s.manager))
    assert r.status == 201, r
    assert r.json["from"] == {"member_no": "M001", "balance": 500}
    assert r.json["to"] == {"member_no": "M004", "balance": 1500}
    got = rows(s.d, "SELECT l.delta, l.expires_on FROM points_lines l JOIN members m "
                    "ON m.id = l.member_id WHERE m.member_no = 'M004' ORDER BY l.id")
    assert got == [(1000, f"{YEAR}-12-31"), (500, f"{YEAR + 1}-12-31")], got
    m4 = points(s, "M004")
    assert m4["expiring_this_year"] == 1000, m4
    for bad, code, status in ((dict(body, to="NOPE"), "member_not_found", 404),
                              (dict(body, points=501), "insufficient_points", 409),
                              (dict(body, to="M001"), "invalid_fields", 422)):
        r = s.d.post(url, bad, headers=auth(s.manager))
        assert r.status == status and r.json["error"]["code"] == code, (bad, r)
    r = s.d.post(url, dict(body, to="NOPE"), headers=auth(s.manager))
    assert r.json["error"]["member"] == "to", r
    check_clean(s)


def test_points_expire_at_the_year_end_also_after_a_transfer_caught_up_at_start():
    s = site("[points]\ncheckin_bonus = 1000\nexpiry_years = 0\n")
    two_lots(s)
    r = s.d.post("/api/v1/points/transfers", {"from": "M001", "to": "M004", "points": 300},
                 headers=auth(s.manager))
    assert r.status == 201, r
    assert balance(s, "M001") == 1700 and balance(s, "M004") == 300
    # the daemon was off over new year: the run at start catches up
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(to_next_year())
    s.d.start()
    s.d.stop()  # the run at start has committed once the daemon has drained
    assert "event=points_expired lines=2 points=1000" in s.d.stderr(), s.d.stderr()
    got = rows(s.d, "SELECT m.member_no, l.delta, l.expires_on FROM points_lines l JOIN members m "
                    "ON m.id = l.member_id WHERE l.reason = 'expiry' ORDER BY l.id")
    assert got == [("M001", -700, f"{YEAR}-12-31"), ("M004", -300, f"{YEAR}-12-31")], got
    del s.d.env["KIOSKD_TEST_CLOCK"]
    s.d.start()
    assert balance(s, "M001") == 1000 and balance(s, "M004") == 0
    # a second start the same day finds nothing left to expire
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(to_next_year())
    s.d.start()
    s.d.stop()
    assert "points_expired" not in s.d.stderr()
    s.d.start()
    check_clean(s)


def test_many_tablets_spending_at_once_never_take_a_balance_below_zero():
    s = site("[points]\ncheckin_bonus = 1000\n")
    ev = s.event(starts=-1)
    earn(s, ev, "M001")
    earn(s, ev, "M004")
    tokens = [s.staff] + [s.manager]

    def act(i):
        if i % 3 == 0:
            r = s.d.post("/api/v1/points/transfers",
                         {"from": "M001" if i % 2 else "M004", "to": "M004" if i % 2 else "M001",
                          "points": 70}, headers=auth(tokens[1]))
        else:
            r = s.d.post("/api/v1/points/redemptions",
                         {"member_no": "M001" if i % 2 else "M004", "points": 70, "item": "礼品"},
                         headers=auth(tokens[0]))
        return ("transfer" if i % 3 == 0 else "redeem", r.status,
                r.json["error"]["code"] if r.status != 201 else "")

    results = parallel(act, [(i,) for i in range(60)])
    redeemed = sum(70 for kind, st, _ in results if kind == "redeem" and st == 201)
    assert all(st in (201, 409) for _, st, _ in results), results
    assert all(code in ("", "insufficient_points") for _, _, code in results), results
    assert any(st == 409 for _, st, _ in results), results  # 40 redemptions of 70 > 2000
    b1, b4 = balance(s, "M001"), balance(s, "M004")
    assert b1 >= 0 and b4 >= 0 and b1 + b4 == 2000 - redeemed, (b1, b4, redeemed)
    assert rows(s.d, "SELECT count(*) FROM members WHERE balance < 0")[0][0] == 0
    check_clean(s)


def test_check_names_a_balance_altered_in_the_database():
    s = site()
    earn(s, s.event(starts=-1), "M001")
    check_clean(s)
    c = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    c.execute("UPDATE members SET balance = balance + 7 WHERE member_no = 'M001'")
    c.commit()
    c.close()
    p = s.d.cli("check", check=False)
    out = p.stdout.decode()
    assert p.returncode == 1, out
    mid = rows(s.d, "SELECT id FROM members WHERE member_no = 'M001'")[0][0]
    assert f"member {mid} balance: stored 57, rows 50" in out and "check: 1 difference" in out, out
    # and a balance the database refuses to take below zero
    c = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    try:
        c.execute("UPDATE members SET balance = -1 WHERE member_no = 'M001'")
        raise AssertionError("a negative balance was stored")
    except sqlite3.IntegrityError as e:
        assert "below zero" in str(e)
    finally:
        c.close()


def test_a_redemption_failing_after_its_first_lines_leaves_nothing_behind():
    # Statement 6 of a redemption is its first balance update, after its op row and
    # first ledger line: the job fails there with SQLITE_FULL inside a batch of others (the third of a batch
    # of three or more: the daily run at start is a batch of two).
    from harness import slow_fsync_env
    s = Site(config="[points]\ncheckin_bonus = 1000\n",
             env=dict(slow_fsync_env(200), KIOSKD_TEST_FAULT="job=3,stmt=6,rc=full"))
    path = os.path.join(s.d.dir, "m.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(MEMBERS)
    s.d.cli("import", "members", path)
    earn(s, s.event(starts=-1), "M002")
    results = parallel(lambda i: s.d.post("/api/v1/points/redemptions",
                                          {"member_no": "M002", "points": 70, "item": f"礼品{i}"},
                                          headers=auth(s.staff)), [(i,) for i in range(6)])
    statuses = sorted(r.status for r in results)
    assert statuses == [201] * 5 + [503], statuses
    bad = [r for r in results if r.status == 503][0]
    assert bad.json["error"]["code"] == "disk_full", bad
    assert balance(s, "M002") == 1000 - 5 * 70
    assert rows(s.d, "SELECT count(*) FROM points_ops")[0][0] == 5
    assert rows(s.d, "SELECT count(*) FROM points_lines WHERE reason = 'redemption'")[0][0] == 5
    check_clean(s)


def test_expiry_reaches_household_spending_and_reversals():
    s = site("[points]\ncheckin_bonus = 1000\nexpiry_years = 0\n")
    ev1 = s.event(starts=-1)
    first = earn(s, ev1, "M001")["checkin_id"]  # lot A: ends with this year
    s.d.stop()
    s.d.env["KIOSKD_POINTS_EXPIRY_YEARS"] = "1"
    s.d.start()
    earn(s, s.event(starts=-1), "M003")  # lot B: ends with next year
    third = earn(s, s.event(starts=-1), "M001")["checkin_id"]  # lot C: ends with next year
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(to_next_year())
    s.d.start()  # lot A expires at start
    r = s.d.post("/api/v1/points/redemptions",
                 {"member_no": "M003", "points": 1500, "item": "家庭礼包", "from_household": True},
                 headers=auth(s.staff))
    assert r.status == 201 and r.json["household_balance"] == 500, r
    spent = rows(s.d, "SELECT m.member_no, l.delta, l.expires_on FROM points_lines l JOIN members m "
                      "ON m.id = l.member_id WHERE l.reason = 'redemption' ORDER BY l.id")
    assert spent == [("M003", -1000, f"{YEAR + 1}-12-31"), ("M001", -500, f"{YEAR + 1}-12-31")]
    # the expired check-in's points are gone already: its undo takes nothing more
    r = s.d.delete(f"/api/v1/checkins/{first}", headers=auth(s.staff))
    assert r.status == 200, r
    assert balance(s, "M001") == 500
    # the other one's points were spent in part: its undo is refused
    r = s.d.delete(f"/api/v1/checkins/{third}", headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "points_spent", r
    assert balance(s, "M001") == 500 and balance(s, "M003") == 0
    check_clean(s)
