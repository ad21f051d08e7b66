"""Members: the streaming CSV import (all or nothing, re-import updates), the link
of sign-ups and walk-ins by phone, and the staff's audited points lookups."""
import os
import re
import sqlite3

from harness import Daemon, Site, auth

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = ["一", "二三", "四", "五六", "七", "八九"]
HEADER = "member_no,name,phone,aum,birthday,household,last_txn\n"
GOOD = HEADER + ("M001,张三丰,13812340001,52000.50,1960-03-01,H1,2026-10-01\n"
                 "M002,李四,13812340002,49999.99,1970-01-02,,\n"
                 "M003,\"王五\",13812340003,6000000,1980-12-31,H1,\n"
                 "M004,赵六,13812340004,200000,1990-06-15,,\n")


def write(d, name, text):
    path = os.path.join(d.dir, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def db(d):
    return sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)


def members(d):
    c = db(d)
    try:
        return c.execute("SELECT member_no, name_mask, phone_last4, tier, household, last_txn "
                         "FROM members ORDER BY member_no").fetchall()
    finally:
        c.close()


def test_import_good_file_then_reimport_updates():
    d = Daemon(start=False)
    p = d.cli("import", "members", write(d, "m.csv", GOOD))
    assert re.search(r"imported 4 members \(4 new, 0 updated\) in \d+\.\d+ s", p.stdout.decode())
    assert members(d) == [
        ("M001", "张*", "0001", "潜力", "H1", "2026-10-01"),
        ("M002", "李*", "0002", "长尾", None, None),
        ("M003", "王*", "0003", "财私", "H1", None),
        ("M004", "赵*", "0004", "中高端", None, None),
    ]
    c = db(d)
    row = c.execute("SELECT name_enc, phone_enc, aum_enc FROM members "
                    "WHERE member_no='M001'").fetchone()
    c.close()
    for blob in row:  # sealed: neither the name, the phone nor the amount in clear
        assert b"13812340001" not in blob and "张三丰".encode() not in blob and b"5200050" not in blob
    again = HEADER + "M002,李四,13812340002,60000,1970-01-02,H2,2026-11-30\n" \
                     "M005,孙七,13812340005,0,2000-02-29,,\n"
    p = d.cli("import", "members", write(d, "again.csv", again))
    assert "imported 2 members (1 new, 1 updated)" in p.stdout.decode()
    got = dict((r[0], r) for r in members(d))
    assert got["M002"] == ("M002", "李*", "0002", "潜力", "H2", "2026-11-30")
    assert len(got) == 5


def test_a_bad_row_in_the_middle_imports_nothing():
    d = Daemon(start=False)
    d.cli("import", "members", write(d, "m.csv", GOOD))
    before = members(d)
    bad_rows = {
        "phone": "M010,周八,1381234000,100,1960-03-01,,\n",
        "aum": "M010,周八,13812340010,12.345,1960-03-01,,\n",
        "birthday": "M010,周八,13812340010,12,1960-02-30,,\n",
        "name": "M010,,13812340010,12,1960-02-01,,\n",
        "member_no": "M 10,周八,13812340010,12,1960-02-01,,\n",
    }
    for field, bad in bad_rows.items():
        text = HEADER + "M020,吴九,13812340020,1,1960-03-01,,\n" + bad + \
            "M021,郑十,13812340021,1,1960-03-01,,\n"
        path = write(d, "bad.csv", text)
        p = d.cli("import", "members", path, check=False)
        assert p.returncode != 0, field
        err = p.stderr.decode()
        assert f"bad.csv:3: {field}:" in err and "nothing was imported" in err, err
        assert members(d) == before, field
    # a wrong number of fields, and a header without a column
    p = d.cli("import", "members", write(d, "short.csv", HEADER + "M030,x\n"), check=False)
    assert p.returncode != 0 and "short.csv:2:" in p.stderr.decode()
    p = d.cli("import", "members", write(d, "hdr.csv", "member_no,name\nM1,x\n"), check=False)
    assert p.returncode != 0 and "no column 'phone'" in p.stderr.decode()
    assert members(d) == before


def test_signups_and_walkins_are_linked_to_members_and_lookups_are_audited():
    s = Site()
    s.d.cli("import", "members", write(s.d, "m.csv", GOOD))
    ev = s.event(starts=-1)
    assert s.signup(ev, "13812340001", name="张三丰").status == 201
    assert s.signup(ev, "13900009999", name="路人").status == 201
    r = s.d.post(f"/api/v1/events/{ev}/walkins", {"name": "王五", "phone": "13812340003",
                                                   "consent": True}, headers=auth(s.staff))
    assert r.status == 201, r
    c = db(s.d)
    links = c.execute("SELECT phone_last4, member_no FROM signups ORDER BY id").fetchall()
    c.close()
    assert links == [("0001", "M001"), ("9999", None), ("0003", "M003")]

    r = s.d.get("/api/v1/members/M001/points", headers=auth(s.staff))
    assert r.status == 200, r
    assert r.json == {"member_no": "M001", "name": "张*", "tier": "潜力", "balance": 0,
                      "household_balance": 50, "expiring_this_year": 0, "ledger": []}
    # (50: M003 of the same household earned the check-in bonus at the walk-in above)
    r = s.d.get("/api/v1/members/M002/points", headers=auth(s.staff))
    assert r.status == 200 and "household_balance" not in r.json, r
    r = s.d.post("/api/v1/members/lookup", {"phone": "13812340004"}, headers=auth(s.staff))
    assert r.status == 200 and r.json["member_no"] == "M004" and r.json["tier"] == "中高端", r
    assert "13812340004" not in r.raw.decode()
    r = s.d.get("/api/v1/members/NOPE/points", headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "member_not_found", r
    r = s.d.post("/api/v1/members/lookup", {"phone": "13800000000"}, headers=auth(s.staff))
    assert r.status == 404 and r.json["error"]["code"] == "member_not_found", r
    r = s.d.post("/api/v1/members/lookup", {"phone": "12"}, headers=auth(s.staff))
    assert r.status == 422, r
    assert s.d.get("/api/v1/members/M001/points").status == 401
    assert s.d.post("/api/v1/members/lookup", {"phone": "13812340001"}).status == 401
    s.d.stop()  # the lookups' audit lines are queued for the writer, committed by now
    c = db(s.d)
    audit = c.execute("SELECT staff_id, device, action, subject FROM audit "
                      "WHERE action IN ('member_points_view', 'member_lookup') "
                      "ORDER BY id").fetchall()
    c.close()
    assert audit == [("S1", "tablet-1", "member_points_view", "member:M001"),
                     ("S1", "tablet-1", "member_points_view", "member:M002"),
                     ("S1", "tablet-1", "member_lookup", "member:M004")]
    assert "13812340004" not in s.d.all_stderr()


def test_import_of_100000_members_measured():
    d = Daemon(start=False)
    path = os.path.join(d.dir, "big.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(HEADER)
        for i in range(100000):
            f.write(f"B{i:06d},{SURNAMES[i % len(SURNAMES)]}{GIVEN[i % len(GIVEN)]},139{i:08d},{(i * 7919) % 9000000}.{i % 100:02d},"
                    f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d},"
                    f"{'H' + str(i // 3) if i % 2 else ''},\n")
    p = d.cli("import", "members", path)
    out = p.stdout.decode().strip()
    print(f"\nmeasured: {out}")
    assert "imported 100000 members (100000 new, 0 updated)" in out
