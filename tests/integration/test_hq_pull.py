"""What a branch applies from HQ's pulls beyond members and products
(docs/sync.md, "What is pulled"): the events of its area, points earned at
HQ. `kioskd hq` and branch daemons on temporary databases, synced with
`kioskd sync --once`; HQ once on SQLite and once on PostgreSQL."""
import csv
import datetime
import io
import json
import os
import sqlite3

from harness import HQ, Site, auth, on_both_backends
from test_hq import branch as hq_branch
from test_messages import Gateway, sms_config, wait_for


def branch(hq, device, secret):
    """Its daemon runs without [hq] url (see test_hq.branch); `sync` syncs it."""
    return hq_branch(hq, device, secret)


LOGS = []


def sync(s):
    """Runs one round; returns what it printed (its log lines go to LOGS)."""
    p = s.d.cli("sync", "--once", check=False)
    assert p.returncode == 0, p.stderr
    LOGS.append(p.stderr.decode())
    return p.stdout.decode()


def at(days, hour=10):
    t = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))) + \
        datetime.timedelta(days=days)
    return t.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


def import_csv(hq, what, text, check=True):
    path = f"{hq.dir}/{what}.csv"
    with open(path, "w") as f:
        f.write(text)
    return hq.cli("hq", "import", what, path, check=check)


def events_csv(rows):
    return "title,kind,starts_at,ends_at,venue,capacity,branch\n" + "".join(
        f"{t},salon,{at(d)},{at(d, 12)},一楼大厅,{c},{b}\n" for t, d, c, b in rows)


def db_of(s):
    return sqlite3.connect(f"file:{s.d.dir}/kioskd.db?mode=ro", uri=True)


@on_both_backends
def test_a_branch_pulls_its_own_events_and_marks_those_of_its_area(backend):
    hq = HQ(backend=backend)
    sa = hq.device_add("north-1", area="北区")
    hq.device_add("north-2", area="北区")
    hq.device_add("south-1", area="南区")
    sl = hq.device_add("lone-1")
    a = branch(hq, "north-1", sa)
    lone = branch(hq, "lone-1", sl)
    try:
        p = import_csv(hq, "events", events_csv([("北一沙龙", 3, 3, "north-1"),
                                                 ("北二沙龙", 4, 50, "north-2"),
                                                 ("南一沙龙", 5, 50, "south-1"),
                                                 ("独立沙龙", 6, 50, "lone-1")]))
        assert b"imported 4 events" in p.stdout, p
        r = hq.get("/hq/v1/devices", headers=auth(hq.admin_token))
        assert {d["device"]: d["area"] for d in r.json["devices"]} == \
            {"north-1": "北区", "north-2": "北区", "south-1": "南区", "lone-1": ""}, r.json
        out = sync(a)
        assert "2 events (2 new)" in out, out
        evs = {e["title"]: e for e in a.d.get("/api/v1/events").json["events"]}
        assert set(evs) == {"北一沙龙", "北二沙龙"}, evs
        own, other = evs["北一沙龙"], evs["北二沙龙"]
        assert "branch" not in own and other["branch"] == "north-2", evs
        assert own["capacity"] == 3 and other["capacity"] == 50
        # another branch's event is signed up for there, not at this kiosk
        r = a.signup(other["id"], "13700001001")
        assert r.status == 409 and r.json["error"]["code"] == "event_at_other_branch", r
        r = a.d.post(f"/api/v1/events/{other['id']}/walkins",
                     {"name": "王五", "phone": "13700001002", "consent": True},
                     headers=auth(a.staff))
        assert r.status == 409 and r.json["error"]["code"] == "event_at_other_branch", r
        # the staff's own list has this branch's events only
        r = a.d.get("/api/v1/staff/events", headers=auth(a.staff))
        assert [e["title"] for e in r.json["events"]] == ["北一沙龙"], r.json
        # and so has the manager's funnel
        today = datetime.date.today()
        r = a.d.get(f"/api/v1/funnel?from={today}&to={today + datetime.timedelta(days=9)}",
                    headers=auth(a.manager))
        assert [e["event_id"] for e in r.json["events"]] == [own["id"]], r.json
        # HQ's own event for this branch is a normal event here
        for phone in ("13700001003", "13700001004"):
            assert a.signup(own["id"], phone).status == 201
        # a branch of no area gets its own events only
        assert "1 events (1 new)" in sync(lone)
        assert [e["title"] for e in lone.d.get("/api/v1/events").json["events"]] == ["独立沙龙"]
        # HQ changes the event: HQ wins on title and times; a capacity below
        # the sign-ups taken here is not applied (and the log says so)
        import_csv(hq, "events", "title,kind,starts_at,ends_at,venue,capacity,branch\n"
                   f"北一沙龙,salon,{at(3)},{at(3, 12)},二楼会议室,1,north-1\n"
                   f"北二沙龙,salon,{at(4)},{at(4, 12)},一楼大厅,20,north-2\n")
        out = sync(a)
        assert "2 events (0 new)" in out, out
        evs = {e["title"]: e for e in a.d.get("/api/v1/events").json["events"]}
        assert evs["北一沙龙"]["venue"] == "二楼会议室" and evs["北一沙龙"]["capacity"] == 3, evs
        assert evs["北一沙龙"]["id"] == own["id"] and evs["北一沙龙"]["signed_up"] == 2
        assert evs["北二沙龙"]["capacity"] == 20, evs
        assert "event=hq_event_capacity_kept" in LOGS[-1], LOGS[-1]
        assert "hq_capacity=1 capacity=3 signed_up=2" in LOGS[-1], LOGS[-1]
        # a capacity HQ raises gives the waitlist its places, in its order
        assert a.signup(own["id"], "13700001005").json["status"] == "confirmed"
        r = a.signup(own["id"], "13700001006")
        assert r.status == 201 and r.json["status"] == "waitlisted", r
        import_csv(hq, "events", "title,kind,starts_at,ends_at,venue,capacity,branch\n"
                   f"北一沙龙,salon,{at(3)},{at(3, 12)},二楼会议室,5,north-1\n")
        assert "1 events (0 new)" in sync(a)
        e = {e["title"]: e for e in a.d.get("/api/v1/events").json["events"]}["北一沙龙"]
        assert (e["capacity"], e["signed_up"], e["waitlisted"]) == (5, 4, 0), e
        # nothing new: nothing pulled, nothing changed
        assert "pulled 0 changes" in sync(a)
        # HQ learned once which event id here is its event (pushed with the outbox)
        with hq.db() as db:
            linked = [json.loads(d) for (d,) in db.execute(
                "SELECT data FROM hq_entries WHERE kind = 'event_linked' AND device = 'north-1'")]
        assert len(linked) == 1 and linked[0]["event_id"] == own["id"], linked
        assert linked[0]["key"].startswith("north-1 "), linked
        # a bad row names its line and imports nothing
        p = import_csv(hq, "events", events_csv([("坏", 3, 3, "no such/branch")]), check=False)
        assert p.returncode == 1 and b"events.csv:2: branch" in p.stderr, p
        p = a.d.cli("check", check=False)
        assert p.returncode == 0, p
    finally:
        for s in (a, lone):
            s.d.cleanup()
        hq.cleanup()


MEMBERS = ("member_no,name,phone,aum,birthday,household\n"
           "HQ101,钱七,13611110101,1000,1970-02-03,\n")


@on_both_backends
def test_points_earned_at_hq_are_merged_by_line_id_once(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("branch-b")
    s = branch(hq, "branch-b", secret)
    try:
        import_csv(hq, "members", MEMBERS)
        balances = ("member_no,id,points,reason,at\n"
                    f"HQ101,hq-line-1,120,总行理财节,{at(-2)}\n"
                    f"NOBODY,hq-line-2,50,总行理财节,{at(-2)}\n")
        p = import_csv(hq, "balances", balances)
        assert b"imported 2 balances" in p.stdout, p
        out = sync(s)
        assert "2 balance lines (1 merged, 0 already here, 1 kept until HQ sends their member)" \
            in out, out
        assert "event=hq_balance_pending lines=1" in LOGS[-1], LOGS[-1]

        def lookup():
            r = s.d.get("/api/v1/members/HQ101/points", headers=auth(s.staff))
            assert r.status == 200, r
            return r.json
        m = lookup()
        assert m["balance"] == 120, m
        assert [(l["delta"], l["reason"], l.get("note")) for l in m["ledger"]] == \
            [(120, "hq", "总行理财节")], m
        # HQ serves the same lines again (imported again): counted once
        import_csv(hq, "balances", balances)
        out = sync(s)
        assert "(0 merged, 1 already here, 1 kept until HQ sends their member)" in out, out
        # the same page applied again (the pull cursor lost): counted once
        db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
        db.execute("UPDATE sync_state SET pull_cursor = '' WHERE id = 1")
        db.commit()
        db.close()
        out = sync(s)
        assert "(0 merged, 1 already here" in out, out
        assert lookup()["balance"] == 120
        # the line kept aside is merged when HQ sends its member, once
        import_csv(hq, "members", MEMBERS + "NOBODY,孙九,13611110102,10,1971-02-03,\n")
        out = sync(s)
        assert "(1 merged, 0 already here, 0 kept" in out, out
        r = s.d.get("/api/v1/members/NOBODY/points", headers=auth(s.staff))
        assert r.json["balance"] == 50, r
        import_csv(hq, "balances", balances)
        assert "(0 merged, 2 already here, 0 kept" in sync(s)
        # the lot is spendable like any other: a redemption draws on it
        r = s.d.post("/api/v1/points/redemptions",
                     {"member_no": "HQ101", "points": 20, "item": "雨伞"}, headers=auth(s.staff))
        assert r.status == 201, r
        assert lookup()["balance"] == 100
        p = s.d.cli("check", check=False)
        assert p.returncode == 0 and p.stdout.decode() == "check: 0 differences\n", p
        # products pulled from HQ carry their coefficient, applied to new business
        import_csv(hq, "products", "code,name,coefficient\nWM,理财产品,1.5\n")
        sync(s)

        def approve():
            r = s.d.post("/api/v1/upgrades", {"member_no": "HQ101", "pledged_aum": 100000,
                                              "target_tier": "潜力",
                                              "products": [{"code": "WM", "amount": 100000}]},
                         headers=auth(s.staff))
            assert r.status == 201, r
            r = s.d.post(f"/api/v1/upgrades/{r.json['id']}/approve", {},
                         headers=auth(s.manager))
            assert r.status == 200, r
            return r.json["points"]
        assert approve() == 150  # 10 points per 10,000 CNY times 1.5
        import_csv(hq, "products", "code,name,coefficient\nWM,理财产品,3\n")
        assert "1 products" in sync(s)
        assert approve() == 300
        # a bad line names its row and imports nothing
        p = import_csv(hq, "balances", "member_no,id,points,reason,at\n"
                       f"HQ101,hq-line-3,-5,扣减,{at(-1)}\n", check=False)
        assert p.returncode == 1 and b"balances.csv:2: points" in p.stderr, p
    finally:
        s.d.cleanup()
        hq.cleanup()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@on_both_backends
def test_a_template_pulled_from_hq_is_checked_then_renders_the_reminders(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("branch-t")
    gw = Gateway([200])
    s = Site(config=f"[hq]\nurl = {hq.url()}\ndevice = branch-t\nsecret = {secret}\n"
                    "interval = 1\nmax_backoff = 2\n" + sms_config(gw))
    tdir = f"{hq.dir}/tpl"
    os.mkdir(tdir)
    tpl = f"{tdir}/day_before.sms.mustache"
    try:
        # refused by the branch (a variable day_before messages lack): the embedded one stays
        write(tpl, "channel: sms\nkind: day_before\n---\n{{name}}您好，积分{{balance}}\n")
        p = hq.cli("hq", "import", "templates", tdir)
        assert b"imported 1 templates" in p.stdout, p
        wait_for(lambda: "event=hq_template_refused name=day_before.sms.mustache"
                 in s.d.all_stderr())
        assert "'balance' is not a variable of day_before" in s.d.all_stderr()
        ev = s.event(starts=20 * 60)
        assert s.signup(ev, "13700002001", name="周一").status == 201
        wait_for(lambda: any("提醒您明天参加" in b["text"] for b in gw.bodies()))
        # a good one, imported as a file: used for the reminders rendered from then on
        write(tpl, "channel: sms\nkind: day_before\n---\n【总行】{{name}}您好，明天{{time}}"
                   "「{{title}}」，地点{{venue}}。\n")
        hq.cli("hq", "import", "templates", tpl)
        wait_for(lambda: "event=hq_template name=day_before.sms.mustache" in s.d.all_stderr())
        assert s.signup(ev, "13700002002", name="吴二").status == 201
        wait_for(lambda: any(b["text"].startswith("【总行】吴*您好") for b in gw.bodies()))
        # stored: still used after a restart; the other kinds keep their own
        s.d.stop()
        s.d.start()
        assert s.signup(ev, "13700002003", name="郑三").status == 201
        wait_for(lambda: any(b["text"].startswith("【总行】郑*您好") for b in gw.bodies()))
        assert sum("提醒您明天参加" in b["text"] for b in gw.bodies()) == 1
        wait_for(lambda: sum("您已报名" in b["text"] for b in gw.bodies()) == 3)
        assert all("【总行】" not in b["text"] for b in gw.bodies() if "您已报名" in b["text"])
        # HQ refuses what is not a template file
        write(f"{hq.dir}/notes.txt", "x")
        p = hq.cli("hq", "import", "templates", f"{hq.dir}/notes.txt", check=False)
        assert p.returncode == 1 and b"KIND.CHANNEL.mustache" in p.stderr, p
    finally:
        s.d.cleanup()
        hq.cleanup()
        gw.close()


def test_a_ledger_of_an_earlier_schema_keeps_its_lines_through_migration_0017():
    s = Site()
    try:
        path = f"{s.d.dir}/m.csv"
        write(path, "member_no,name,phone,aum,birthday,household,last_txn\n"
                    "M001,张三丰,13812340001,52000,1960-03-01,,\n")
        s.d.cli("import", "members", path)
        ev = s.event(starts=-1)
        assert s.signup(ev, "13812340001", name="测试").status == 201
        r = s.checkin(event_id=ev, phone="13812340001")
        assert r.status == 200, r
        r = s.d.post("/api/v1/points/redemptions", {"member_no": "M001", "points": 1, "item": "笔"},
                     headers=auth(s.staff))
        assert r.status == 201, r
        s.d.stop()
        db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
        before = db.execute("SELECT id, member_id, delta, reason, lot_id, expires_on, signup_id, "
                            "op_id, at_us FROM points_lines ORDER BY id").fetchall()
        assert len(before) == 2 and before[1][4] == before[0][0], before  # a draw on the lot
        db.executescript("""
            DROP TABLE templates_pulled;
            DROP TABLE points_hq_pending;
            DROP INDEX events_hq_key;
            ALTER TABLE events DROP COLUMN hq_key;
            ALTER TABLE events DROP COLUMN branch;
            ALTER TABLE signups DROP COLUMN ticket_digest; -- added by migration 0018
            ALTER TABLE signup_origins DROP COLUMN ticket_event_id; -- added by 0019
            PRAGMA user_version = 16;
        """)
        db.close()
        s.d.start()
        db = db_of(s)
        after = db.execute("SELECT id, member_id, delta, reason, lot_id, expires_on, signup_id, "
                           "op_id, at_us FROM points_lines ORDER BY id").fetchall()
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        db.close()
        assert after == before
        r = s.d.get("/api/v1/members/M001/points", headers=auth(s.staff))
        assert r.json["balance"] == before[0][2] - 1, r
        p = s.d.cli("check", check=False)
        assert p.returncode == 0 and p.stdout.decode() == "check: 0 differences\n", p
    finally:
        s.d.cleanup()


@on_both_backends
def test_hq_export_of_sign_ups_names_hqs_event_key_beside_the_branchs_event_id(backend):
    hq = HQ(backend=backend)
    secret = hq.device_add("east-1")
    s = branch(hq, "east-1", secret)
    try:
        import_csv(hq, "events", events_csv([("东一沙龙", 3, 20, "east-1")]))
        sync(s)  # pulls the event; the next push links it at HQ
        imported = s.d.get("/api/v1/events").json["events"][0]["id"]
        own = s.event(title="本行自办")
        assert s.signup(imported, "13700002001", name="周一").status == 201
        assert s.signup(own, "13700002002", name="吴二").status == 201
        sync(s)
        p = hq.cli("hq", "export", "signups")
        lines = p.stdout.decode().splitlines()
        assert lines[0] == ("device,entry_id,at,event_id,signup_id,source,status,name,phone,"
                            "event_key"), lines[0]
        rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(p.stdout.decode()))}
        start = int(datetime.datetime.fromisoformat(at(3)).timestamp())
        a, b = rows["13700002001"], rows["13700002002"]
        assert a["device"] == "east-1" and a["event_id"] == str(imported), a
        assert a["event_key"] == f"east-1 {start} 东一沙龙", a
        assert b["event_id"] == str(own) and b["event_key"] == f"east-1/{own}", b
        assert a["name"] == "周一" and b["name"] == "吴二"
    finally:
        s.d.cleanup()
        hq.cleanup()


@on_both_backends
def test_an_event_cancelled_at_hq_is_cancelled_at_its_branch_and_keeps_its_sign_ups(backend):
    hq = HQ(backend=backend)
    sa = hq.device_add("west-1", area="西区")
    sb = hq.device_add("west-2", area="西区")
    a, b = branch(hq, "west-1", sa), branch(hq, "west-2", sb)
    row = f"西一沙龙,salon,{at(3)},{at(3, 12)},一楼大厅,20,west-1"
    header = "title,kind,starts_at,ends_at,venue,capacity,branch,status\n"
    try:
        import_csv(hq, "events", header + row + ",\n")  # empty status: open
        sync(a)
        sync(b)
        ev = a.d.get("/api/v1/events").json["events"][0]
        assert ev["status"] == "open", ev
        for phone in ("13700003001", "13700003002"):
            assert a.signup(ev["id"], phone).status == 201
        import_csv(hq, "events", header + row + ",cancelled\n")
        assert "1 events (0 new)" in sync(a)
        # nor does HQ take a sign-up for it any more
        with hq.db() as hdb:
            (key,) = [k for (k,) in hdb.execute("SELECT key FROM hq_changes WHERE kind = 'event'")]
        for event in (key, f"west-1/{ev['id']}"):
            p = hq.cli("hq", "signup", event, "测试", "13700003009", check=False)
            assert p.returncode == 1 and b"HQ cancelled that event" in p.stderr, p
        r = a.d.get(f"/api/v1/events/{ev['id']}")
        assert r.status == 200 and r.json["status"] == "cancelled", r
        assert r.json["signed_up"] == 2, r.json  # kept for the record
        r = a.signup(ev["id"], "13700003003")
        assert r.status == 410, r
        db = db_of(a)
        statuses = [s for (s,) in db.execute("SELECT status FROM signups WHERE event_id = ?",
                                             (ev["id"],))]
        audit = db.execute("SELECT count(*) FROM audit WHERE action = 'event_cancel' "
                           "AND device = 'hq'").fetchone()[0]
        db.close()
        assert statuses == ["confirmed", "confirmed"] and audit == 1, (statuses, audit)
        assert "event=hq_event_cancelled" in LOGS[-1], LOGS[-1]
        # the other branch of the area lists it cancelled too
        sync(b)
        db = db_of(b)
        other = db.execute("SELECT status, branch FROM events WHERE title = '西一沙龙'").fetchall()
        db.close()
        assert other == [("cancelled", "west-1")], other
        # a cancellation is final: HQ's "open" again does not reopen it
        import_csv(hq, "events", header + row + ",open\n")
        sync(a)
        assert a.d.get(f"/api/v1/events/{ev['id']}").json["status"] == "cancelled"
        # a status that is neither is refused with its line, nothing imported
        p = import_csv(hq, "events", header + row + ",closed\n", check=False)
        assert p.returncode == 1 and b"events.csv:2: status" in p.stderr, p
    finally:
        for s in (a, b):
            s.d.cleanup()
        hq.cleanup()
