"""Upgrade registrations (升级确认单): the products import, registration for a
checked-in guest or a member, the manager's approval with the trial tier and
the new-business points, the assets' arrival, the lists, the funnel and the
event's stats."""
import datetime
import os
import re
import sqlite3

from harness import CN, Daemon, Site, auth, eventually

MEMBERS = ("member_no,name,phone,aum,birthday,household\n"
           "M001,张三丰,13812340001,100000,1960-03-01,\n"
           "M002,李四,13812340002,30000,1970-01-02,\n"
           "M003,王五,13812340003,300000,1980-12-31,\n")
PRODUCTS = ("code,name,coefficient\n"
            "DEP,定期存款,1\n"
            "WM,理财产品,1.5\n"
            "CC,信用卡,0.5\n")


def write(d, name, text):
    path = os.path.join(d.dir, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def query(d, sql, *args):
    c = sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def products(d):
    return query(d, "SELECT code, name, coef_milli FROM products ORDER BY code")


def site():
    s = Site()
    s.d.cli("import", "members", write(s.d, "m.csv", MEMBERS))
    s.d.cli("import", "products", write(s.d, "p.csv", PRODUCTS))
    return s


def trial_mark(days=90):
    until = datetime.datetime.now(CN).date() + datetime.timedelta(days=days)
    return f"（体验期至 {until.month}月{until.day}日）"


def register(s, token=None, **body):
    return s.d.post("/api/v1/upgrades", body, headers=auth(token or s.staff))


def by_member(s, no, pledged=200000, tier="中高端", products=(), **extra):
    body = dict(member_no=no, pledged_aum=pledged, target_tier=tier,
                products=[{"code": c, "amount": a} for c, a in products], **extra)
    r = register(s, **body)
    assert r.status == 201, r
    return r.json["id"]


def decide(s, uid, what="approve", token=None, **body):
    return s.d.post(f"/api/v1/upgrades/{uid}/{what}", body, headers=auth(token or s.manager))


def test_products_import_all_or_nothing_and_reimport():
    d = Daemon(start=False)
    p = d.cli("import", "products", write(d, "p.csv", PRODUCTS))
    assert re.search(r"imported 3 products \(3 new, 0 updated\) in \d+\.\d+ s", p.stdout.decode())
    assert products(d) == [("CC", "信用卡", 500), ("DEP", "定期存款", 1000), ("WM", "理财产品", 1500)]
    before = products(d)
    bad_rows = {"coefficient": "GOLD,黄金,0.8x\n", "name": "GOLD,,0.8\n",
                "code": "GO LD,黄金,0.8\n"}
    for field, bad in bad_rows.items():
        text = "code,name,coefficient\nNEW1,新产品,2\n" + bad + "NEW2,新产品二,1\n"
        p = d.cli("import", "products", write(d, "bad.csv", text), check=False)
        err = p.stderr.decode()
        assert p.returncode != 0 and f"bad.csv:3: {field}:" in err, err
        assert "nothing was imported" in err
        assert products(d) == before, field
    p = d.cli("import", "products", write(d, "hdr.csv", "code,name\nX,y\n"), check=False)
    assert p.returncode != 0 and "no column 'coefficient'" in p.stderr.decode()
    p = d.cli("import", "products", write(d, "again.csv",
                                          "code,name,coefficient\nWM,理财产品,2\nGOLD,黄金,0.8\n"))
    assert "imported 2 products (1 new, 1 updated)" in p.stdout.decode()
    assert products(d) == [("CC", "信用卡", 500), ("DEP", "定期存款", 1000), ("GOLD", "黄金", 800),
                           ("WM", "理财产品", 2000)]


def test_registration_for_a_checked_in_guest_and_for_a_member():
    s = site()
    ev = s.event(starts=-1)
    sid = s.signup(ev, "13812340001", name="张三丰").json["signup_id"]
    body = {"signup_id": sid, "pledged_aum": "150000.50", "target_tier": "中高端",
            "products": [{"code": "DEP", "amount": 100000}, {"code": "WM", "amount": "50000.5"}],
            "mode": "onsite"}
    r = register(s, **body)
    assert r.status == 409 and r.json["error"]["code"] == "not_checked_in", r
    assert s.checkin(event_id=ev, phone="13812340001").status == 200
    r = register(s, **body)
    assert r.status == 201, r
    assert r.json["status"] == "registered" and r.json["member_no"] == "M001"
    assert r.json["event_id"] == ev and r.json["signup_id"] == sid
    assert r.json["pledged_aum"] == "150000.50" and r.json["tier"] == "潜力"
    assert r.json["products"] == [{"code": "DEP", "amount": "100000.00"},
                                  {"code": "WM", "amount": "50000.50"}]
    # a guest whose phone is no member's
    other = s.signup(ev, "13900009999", name="路人").json["signup_id"]
    assert s.checkin(event_id=ev, phone="13900009999").status == 200
    r = register(s, **dict(body, signup_id=other))
    assert r.status == 409 and r.json["error"]["code"] == "not_a_member", r
    r = register(s, **dict(body, signup_id=99999))
    assert r.status == 404 and r.json["error"]["code"] == "signup_not_found", r
    # by member number, an appointment, no products
    r = register(s, member_no="M002", pledged_aum=80000, target_tier="潜力", mode="appointment")
    assert r.status == 201 and "event_id" not in r.json and r.json["mode"] == "appointment", r
    r = register(s, member_no="NOPE", pledged_aum=1, target_tier="潜力")
    assert r.status == 404 and r.json["error"]["code"] == "member_not_found", r
    r = register(s, member_no="M002", pledged_aum=1, target_tier="潜力",
                 products=[{"code": "NOPE", "amount": 1}])
    assert r.status == 422 and r.json["error"]["code"] == "product_not_found", r
    # field checks
    for bad, field in [({"pledged_aum": "1.234"}, "pledged_aum"), ({"pledged_aum": 0}, "pledged_aum"),
                       ({"target_tier": "长尾"}, "target_tier"), ({"mode": "phone"}, "mode"),
                       ({"signup_id": sid}, "member_no"),
                       ({"products": [{"code": "DEP", "amount": 1}, {"code": "DEP", "amount": 2}]},
                        "products[1]")]:
        b = dict(member_no="M002", pledged_aum=1, target_tier="潜力")
        b.update(bad)
        r = register(s, **b)
        assert r.status == 422 and field in r.json["error"]["fields"], (bad, r)
    assert s.d.post("/api/v1/upgrades", body).status == 401
    rows = query(s.d, "SELECT member_id, signup_id, event_id, mode, status, pledged_enc "
                      "FROM upgrades ORDER BY id")
    assert [r[:5] for r in rows] == [(1, sid, ev, "onsite", "registered"),
                                     (2, None, None, "appointment", "registered")]
    assert b"15000050" not in rows[0][5]  # sealed
    assert query(s.d, "SELECT product, amount_fen FROM upgrade_products ORDER BY product") == \
        [("DEP", 10000000), ("WM", 5000050)]
    audit = query(s.d, "SELECT staff_id, action, subject FROM audit WHERE action = "
                       "'upgrade_register' ORDER BY id")
    assert audit == [("S1", "upgrade_register", "upgrade:1"), ("S1", "upgrade_register", "upgrade:2")]
    out = query(s.d, "SELECT data FROM outbox WHERE kind = 'upgrade' ORDER BY seq")
    assert len(out) == 2 and "15000050" not in out[0][0] and "150000" not in out[0][0]


def test_approval_grants_the_trial_and_new_business_points():
    s = site()
    uid = by_member(s, "M001", products=[("DEP", 200000), ("WM", 100000)])
    r = decide(s, uid, token=s.staff)
    assert r.status == 403, r
    assert query(s.d, "SELECT status FROM upgrades") == [("registered",)]
    assert query(s.d, "SELECT count(*) FROM points_lines") == [(0,)]
    r = decide(s, uid, reason="资料齐全")
    assert r.status == 200, r
    # 10 points per 10,000 CNY times the coefficient: 200 (deposits) + 150 (wealth 1.5)
    assert r.json["status"] == "approved" and r.json["points"] == 350, r
    assert r.json["balance"] == 350 and r.json["trial_granted"] is True
    assert r.json["tier"] == "中高端" + trial_mark(), r
    assert query(s.d, "SELECT tier, trial_tier, balance FROM members WHERE member_no='M001'") == \
        [("潜力", "中高端", 350)]
    # a coefficient changed afterwards applies to new lines only
    s.d.cli("import", "products", write(s.d, "q.csv", "code,name,coefficient\nWM,理财产品,3\n"))
    uid2 = by_member(s, "M002", tier="潜力", products=[("WM", 100000)])
    r = decide(s, uid2)
    assert r.status == 200 and r.json["points"] == 300, r
    lines = query(s.d, "SELECT m.member_no, l.delta, l.reason, l.upgrade_id, l.product, "
                       "l.coef_milli FROM points_lines l JOIN members m ON m.id = l.member_id "
                       "ORDER BY l.id")
    assert lines == [("M001", 200, "new_business", uid, "DEP", 1000),
                     ("M001", 150, "new_business", uid, "WM", 1500),
                     ("M002", 300, "new_business", uid2, "WM", 3000)]
    # deciding twice
    r = decide(s, uid)
    assert r.status == 409 and r.json["error"]["code"] == "already_decided", r
    r = decide(s, uid, "reject", reason="重复")
    assert r.status == 409 and r.json["error"]["code"] == "already_decided", r
    # a real tier at the target: no trial
    uid3 = by_member(s, "M003", tier="中高端")
    r = decide(s, uid3)
    assert r.status == 200 and r.json["trial_granted"] is False and r.json["tier"] == "中高端", r
    # reject needs a reason (bounded, no control characters)
    uid4 = by_member(s, "M002")
    for body in ({}, {"reason": ""}, {"reason": "a\u0007b"}, {"reason": "长" * 201}):
        r = decide(s, uid4, "reject", **body)
        assert r.status == 422 and "reason" in r.json["error"]["fields"], (body, r)
    r = decide(s, uid4, "reject", reason="资产证明不全")
    assert r.status == 200 and r.json["status"] == "rejected" and r.json["points"] == 0, r
    r = decide(s, uid4)
    assert r.status == 409 and r.json["error"]["code"] == "already_decided", r
    assert decide(s, 999).json["error"]["code"] == "upgrade_not_found"
    # the lists: the queue is empty, the approved ones show the trial
    r = s.d.get("/api/v1/upgrades", headers=auth(s.manager))
    assert r.status == 200 and r.json == {"upgrades": []}, r
    r = s.d.get("/api/v1/upgrades?status=approved", headers=auth(s.staff))
    assert r.status == 200, r
    got = {u["id"]: u for u in r.json["upgrades"]}
    assert [u["id"] for u in r.json["upgrades"]] == [uid3, uid2, uid]
    u = got[uid]
    assert u["member_no"] == "M001" and u["name"] == "张*" and u["tier"] == "中高端" + trial_mark()
    assert u["target_tier"] == "中高端" and u["pledged_aum"] == "200000.00"
    assert u["products"] == [{"code": "DEP", "amount": "200000.00"},
                             {"code": "WM", "amount": "100000.00"}]
    assert u["status"] == "approved" and u["reason"] == "资料齐全" and u["decided_by"] == "M1"
    r = s.d.get("/api/v1/upgrades?status=rejected", headers=auth(s.staff))
    assert [u["reason"] for u in r.json["upgrades"]] == ["资产证明不全"]
    assert s.d.get("/api/v1/upgrades?status=nope", headers=auth(s.staff)).status == 422
    assert "13812340001" not in s.d.all_stderr()
    # the view's audit line commits with the writer's next batch ([store] read_audit = queued)
    assert eventually(lambda: query(s.d, "SELECT 1 FROM audit WHERE subject = 'upgrades:approved'"))
    audit = query(s.d, "SELECT staff_id, action, subject FROM audit WHERE action LIKE 'upgrade%' "
                       "AND action <> 'upgrade_register' ORDER BY id")
    assert audit[:2] == [("M1", "upgrade_approve", f"upgrade:{uid}"),
                         ("M1", "upgrade_approve", f"upgrade:{uid2}")]
    assert ("S1", "upgrades_view", "upgrades:approved") in audit
    r = s.d.get("/api/v1/products", headers=auth(s.staff))
    assert r.json["products"] == [{"code": "CC", "name": "信用卡", "coefficient": "0.5"},
                                  {"code": "DEP", "name": "定期存款", "coefficient": "1"},
                                  {"code": "WM", "name": "理财产品", "coefficient": "3"}], r
    assert s.d.cli("check", check=False).returncode == 0


def test_arrival_ends_the_trial_when_the_real_tier_reaches_it():
    s = site()
    uid = by_member(s, "M001", tier="中高端")  # AUM 100,000: 潜力
    r = s.d.post(f"/api/v1/upgrades/{uid}/arrived", {"aum": 50000}, headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "not_approved", r
    assert decide(s, uid).status == 200
    r = s.d.post(f"/api/v1/upgrades/{uid}/arrived", {"aum": 50000}, headers=auth(s.staff))
    assert r.status == 200, r
    assert r.json["trial_ended"] is False and r.json["tier"] == "中高端" + trial_mark(), r
    assert r.json["arrived_aum"] == "50000.00"
    r = s.d.post(f"/api/v1/upgrades/{uid}/arrived", {"aum": 50000}, headers=auth(s.staff))
    assert r.status == 409 and r.json["error"]["code"] == "already_arrived", r
    assert query(s.d, "SELECT tier, trial_tier FROM members WHERE member_no='M001'") == \
        [("潜力", "中高端")]
    uid2 = by_member(s, "M001", tier="中高端")
    assert decide(s, uid2).status == 200
    r = s.d.post(f"/api/v1/upgrades/{uid2}/arrived", {"aum": "50000.00"}, headers=auth(s.staff))
    assert r.status == 200 and r.json["trial_ended"] is True and r.json["tier"] == "中高端", r
    assert query(s.d, "SELECT tier, trial_tier, trial_until FROM members WHERE member_no='M001'") \
        == [("中高端", None, None)]
    r = s.d.get("/api/v1/upgrades?status=approved", headers=auth(s.staff))
    assert [u.get("arrived_aum") for u in r.json["upgrades"]] == ["50000.00", "50000.00"]
    assert s.d.post("/api/v1/upgrades/999/arrived", {"aum": 1},
                    headers=auth(s.staff)).json["error"]["code"] == "upgrade_not_found"
    r = s.d.post(f"/api/v1/upgrades/{uid}/arrived", {"aum": -1}, headers=auth(s.staff))
    assert r.status == 422, r
    enc = query(s.d, "SELECT arrived_enc FROM upgrades WHERE id = ?", uid)[0][0]
    assert b"5000000" not in enc


def test_funnel_and_stats_count_a_known_scenario():
    s = site()
    ev = s.event(starts=-1)
    sids = [s.signup(ev, p, name=n).json["signup_id"]
            for p, n in (("13812340001", "张三丰"), ("13812340002", "李四"), ("13900000009", "路人"))]
    assert s.checkin(event_id=ev, phone="13812340001").status == 200
    assert s.checkin(event_id=ev, phone="13812340002").status == 200
    r = s.d.post(f"/api/v1/events/{ev}/walkins", {"name": "王五", "phone": "13812340003",
                                                   "consent": True}, headers=auth(s.staff))
    assert r.status == 201
    u1 = register(s, signup_id=sids[0], pledged_aum=200000, target_tier="中高端").json["id"]
    u2 = register(s, signup_id=sids[1], pledged_aum=100000, target_tier="潜力").json["id"]
    u3 = by_member(s, "M003", tier="财私")
    assert decide(s, u1).status == 200
    assert decide(s, u2, "reject", reason="未达标").status == 200
    assert decide(s, u3).status == 200
    assert s.d.post(f"/api/v1/upgrades/{u1}/arrived", {"aum": 150000},
                    headers=auth(s.staff)).status == 200
    r = s.d.get(f"/api/v1/events/{ev}/stats", headers=auth(s.staff))
    assert r.json["upgrades_registered"] == 2 and r.json["upgrades_approved"] == 1, r
    today = datetime.datetime.now(CN).date()
    q = f"/api/v1/funnel?from={today - datetime.timedelta(days=40)}&to={today}"
    assert s.d.get(q, headers=auth(s.staff)).status == 403
    r = s.d.get(q, headers=auth(s.manager))
    assert r.status == 200, r
    counts = {"invited": 0, "signed_up": 3, "checked_in": 3, "registered": 2, "approved": 1,
              "arrived": 1}
    e = r.json["events"]
    assert len(e) == 1 and e[0]["event_id"] == ev
    assert {k: e[0][k] for k in counts} == counts, e
    month = {"invited": 0, "signed_up": 3, "checked_in": 3, "registered": 3, "approved": 2,
             "arrived": 1}
    assert [m["month"] for m in r.json["months"]] == [today.strftime("%Y-%m")]
    assert {k: r.json["months"][0][k] for k in month} == month, r.json
    assert r.json["total"] == month
    r = s.d.get("/api/v1/funnel", headers=auth(s.manager))  # the last 30 days
    assert r.json["to"] == str(today) and r.json["from"] == str(today - datetime.timedelta(days=29))
    assert r.json["total"] == month, r
    # a range without events
    r = s.d.get("/api/v1/funnel?from=2020-01-01&to=2020-12-31", headers=auth(s.manager))
    assert r.status == 200 and r.json["events"] == [] and r.json["months"] == [], r
    for bad in ("from=2026-02-30&to=2026-03-01", "from=2024-01-01&to=2025-01-02",
                "from=2025-02-01&to=2025-01-01", "from=x&to=2025-01-01", "to=" + "9" * 40):
        r = s.d.get("/api/v1/funnel?" + bad, headers=auth(s.manager))
        assert r.status == 422 and r.json["error"]["code"] == "invalid_query", (bad, r)


def test_demo_members_and_products_line_up_with_the_banner():
    d = Daemon(args=["--demo"])
    banner = b""
    while b"Stop with" not in banner:
        chunk = d.proc.stdout.read1(4096)
        assert chunk, banner
        banner += chunk
    banner = banner.decode()
    m = re.search(r"try member (D\d+),\s+(\S+), phone (\d{11}) \(潜力\)", banner)
    assert m, banner
    no, name, phone = m.groups()
    assert query(d, "SELECT count(*) FROM members") == [(20000,)]
    tiers = dict(query(d, "SELECT tier, count(*) FROM members GROUP BY tier"))
    assert tiers == {"长尾": 18200, "潜力": 1200, "中高端": 500, "财私": 100}, tiers
    r = d.get("/api/v1/events")
    ev = r.json["events"][0]["id"]
    r = d.post(f"/api/v1/events/{ev}/signups", {"name": name, "phone": phone, "consent": True})
    assert r.status == 201, r
    staff = d.post("/api/v1/staff/login", {"staff_id": "S001", "pin": "246810",
                                           "device": "demo-tablet"}).json["token"]
    manager = d.post("/api/v1/staff/login", {"staff_id": "M001", "pin": "135790",
                                             "device": "demo-office"}).json["token"]
    r = d.post("/api/v1/checkins", {"event_id": ev, "phone": phone}, headers=auth(staff))
    assert r.status == 200 and r.json["member"]["member_no"] == no, r
    assert r.json["member"]["earned"] > 0, r
    r = d.post("/api/v1/upgrades", {"signup_id": r.json["signup_id"], "pledged_aum": 200000,
                                    "target_tier": "中高端",
                                    "products": [{"code": "WM", "amount": 100000}]},
               headers=auth(staff))
    assert r.status == 201, r
    r = d.post(f"/api/v1/upgrades/{r.json['id']}/approve", {}, headers=auth(manager))
    assert r.status == 200 and r.json["points"] == 150 and "体验期至" in r.json["tier"], r
    codes = [p["code"] for p in d.get("/api/v1/products", headers=auth(staff)).json["products"]]
    assert codes == ["CC", "DEP", "FUND", "GOLD", "INS", "WM"]
