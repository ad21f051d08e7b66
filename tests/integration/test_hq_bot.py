"""The chat bot at HQ (docs/wechat.md, "The bot at HQ"): `kioskd hq` answers
/wechat (plain and safe mode) and the JSON bridge from HQ's data: binding with
a one-time code from `kioskd hq bind-code`, 积分 from members and balances
imported at HQ, 活动 of every branch, 报名 N signed with HQ's ticket key (the
branch pulls it and checks it in with HQ down), refusals, and a repeated
delivery answered once. Each test once on SQLite and once on PostgreSQL."""
import json
import os
import re
import time
import urllib.parse
import uuid

from harness import HQ, auth, on_both_backends, parallel
from test_hq import branch as hq_branch, signed
from test_hq_flows import (assert_nowhere_in_clear, export, files_of, hq_files, import_events,
                           sync)
from test_wechat import (AES, APPID, TOKEN, decrypt, encrypt, query, reply_content, sha1,
                         text_xml)

SECRET = "hq-bridge-secret-0123456789"
NAME, PHONE = "欧阳明远", "13912345671"
MEMBERS = ("member_no,name,phone,aum,birthday,household,last_txn\n"
           f"M001,{NAME},{PHONE},52000.50,1960-03-01,,\n"
           "M002,司马青衫,13912345672,1000,1970-01-02,,\n")
BALANCES = ("member_no,id,points,reason,at\n"
            "M001,hq-1,300,开户礼,2026-01-05T10:00:00+08:00\n"
            "M001,hq-2,20,问卷,2026-02-05T10:00:00+08:00\n"
            "M002,hq-3,7,问卷,2026-02-05T10:00:00+08:00\n")


def hq_with_bot(backend):
    hq = HQ(backend=backend,
            config=f"[bot]\nsecret = {SECRET}\nper_minute = 30\n[wechat]\ntoken = {TOKEN}\nappid = {APPID}\n"
            f"encoding_aes_key = {AES}\n")
    for what, text in (("members", MEMBERS), ("balances", BALANCES)):
        path = os.path.join(hq.dir, f"{what}.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        hq.cli("hq", "import", what, path)
    return hq


def say(hq, text, sender="wx-user-1", status=200, extra=None, **kw):
    body = {"from": sender, "text": text}
    body.update(extra or {}, **kw)
    r = hq.post("/api/v1/bot/messages", body, headers={"X-Bot-Secret": SECRET})
    assert r.status == status, r
    return r.json["reply"] if status == 200 else r


def bind_code(hq, no):
    p = hq.cli("hq", "bind-code", no)
    code = p.stdout.decode().splitlines()[0]
    assert re.fullmatch(r"\d{6}", code), p.stdout
    return code


def wx(hq, text, safe=False, **kw):
    """Sends text through /wechat; the reply's text."""
    xml = text_xml(text, **kw)
    if safe:
        enc = encrypt(xml)
        q, ts, nonce = query(encrypt_type="aes")
        q["msg_signature"] = sha1(TOKEN, ts, nonce, enc)
        xml = (f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
               f"<Encrypt><![CDATA[{enc}]]></Encrypt></xml>")
    else:
        q, _, _ = query()
    r = hq.request("POST", "/wechat?" + urllib.parse.urlencode(q), body=xml.encode(),
                   headers={"Content-Type": "text/xml"})
    assert r.status == 200, r
    raw = r.raw.decode()
    if safe:
        raw = decrypt(re.search(r"<Encrypt><!\[CDATA\[([^\]]*)", raw).group(1))
    return reply_content(raw)


def a_branch_with_an_event(hq):
    """Branch A with an event of its own and one HQ imported for it, both
    known at HQ; returns (branch, its events' ids)."""
    a = hq_branch(hq, "branch-a", hq.device_add("branch-a", area="north"))
    own = a.event(title="客户财富升级会", starts=60)
    import_events(hq, [("北区沙龙", 0, "branch-a")])
    sync(a)
    sync(a)  # pushes event_linked: A's id of HQ's event
    return a, own


@on_both_backends
def test_points_and_events_through_the_bridge_and_a_bound_identity(backend):
    hq = hq_with_bot(backend)
    a, _ = a_branch_with_an_event(hq)
    assert "绑定" in say(hq, "积分")  # unbound: how to bind, nobody's data
    code = bind_code(hq, "M001")
    assert say(hq, "绑定 13912345672 " + code).startswith("手机号或绑定码不对")  # M002's phone
    assert say(hq, f"绑定 {PHONE} {code}").startswith("绑定成功")
    assert say(hq, f"绑定 {PHONE} {code}", sender="wx-user-2").startswith("手机号或绑定码不对")
    points = say(hq, "积分")
    assert points.startswith("欧*，您好") and "积分：320" in points, points  # HQ's balances
    # a branch's points lines add up with HQ's (another member's do not)
    line = {"reason": "checkin", "expires_on": "2028-12-31"}
    body = json.dumps({"device": "branch-p", "entries": [{
        "id": str(uuid.uuid4()), "seq": 1, "kind": "points", "at": "2026-05-01T10:00:00.000Z",
        "data": {"op": "checkin", "lines": [dict(line, id=1, member_no="M001", delta=50),
                                            dict(line, id=2, member_no="M002", delta=1000)]}}]})
    st, r = signed(hq, "branch-p", hq.device_add("branch-p"), "POST", "/sync/v1/push",
                   body.encode())
    assert st == 200 and r["stored"] == 1, r
    points = say(hq, "积分")
    assert "积分：370" in points, points
    # a balance line imported again counts as its latest version, once
    path = os.path.join(hq.dir, "again.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(BALANCES.replace("M001,hq-1,300,", "M001,hq-1,400,"))
    hq.cli("hq", "import", "balances", path)
    points = say(hq, "积分")
    assert "积分：470" in points, points
    assert "等级：潜力" in points and PHONE not in points and NAME not in points, points
    events = say(hq, "活动")
    lines = [ln for ln in events.splitlines() if re.match(r"\d+\. ", ln)]
    assert len(lines) == 2 and all("branch-a" in ln for ln in lines), events
    assert "北区沙龙" in lines[0] and "客户财富升级会" in lines[1], events  # soonest first
    assert say(hq, "退订").startswith("退订和订阅提醒请在")  # a branch-only command
    assert "积分 — 查询积分" in say(hq, "帮助")
    assert say(hq, "解绑").startswith("已解除绑定")
    assert "绑定" in say(hq, "积分")
    for log in (hq.all_stderr(),):
        assert NAME not in log and PHONE not in log and "wx-user-1" not in log
    a.d.stop()
    hq.stop()


@on_both_backends
def test_bad_secret_bad_signatures_and_wrong_codes_are_refused(backend):
    hq = hq_with_bot(backend)
    for headers in ({}, {"X-Bot-Secret": "wrong"}, {"X-Bot-Secret": SECRET[:-1]}):
        r = hq.post("/api/v1/bot/messages", {"from": "a", "text": "积分"}, headers=headers)
        assert r.status == 401, (headers, r)
    q, _, _ = query()
    bad = dict(q, signature="0" * 40)
    r = hq.request("POST", "/wechat?" + urllib.parse.urlencode(bad),
                   body=text_xml("积分").encode(), headers={"Content-Type": "text/xml"})
    assert r.status == 401, r
    enc = encrypt(text_xml("积分"))
    q, ts, nonce = query(encrypt_type="aes", msg_signature="0" * 40)
    body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    r = hq.request("POST", "/wechat?" + urllib.parse.urlencode(q), body=body.encode(),
                   headers={"Content-Type": "text/xml"})
    assert r.status == 401, r
    q, _, _ = query(echostr="5837397520665046")
    r = hq.get("/wechat?" + urllib.parse.urlencode(q))
    assert r.status == 200 and r.raw == b"5837397520665046", r
    with hq.db() as db:
        assert db.execute("SELECT count(*) FROM hq_bot_deliveries").fetchone()[0] == 0
    p = hq.cli("hq", "bind-code", "M999", check=False)
    assert p.returncode == 1 and b"no member M999" in p.stderr, p
    assert hq.cli("hq", "bind-code", "M 1", check=False).returncode == 2
    # wrong codes lock binding ([bot] bind_failures = 5), even for the right code then
    code = bind_code(hq, "M001")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert say(hq, f"绑定 {PHONE} {wrong}", sender="guesser").startswith("手机号或绑定码不对")
    assert say(hq, f"绑定 {PHONE} {wrong}", sender="guesser").startswith("绑定码错误次数太多")
    assert say(hq, f"绑定 {PHONE} {code}", sender="guesser").startswith("绑定码错误次数太多")
    assert "绑定" in say(hq, "积分", sender="guesser")
    assert say(hq, f"绑定 {PHONE} {code}", sender="other").startswith("绑定成功")  # still valid
    hq.stop()


@on_both_backends
def test_wechat_plain_and_safe_answer_from_hqs_data_and_a_repeated_msgid_once(backend):
    hq = hq_with_bot(backend)
    a, _ = a_branch_with_an_event(hq)
    assert "绑定" in wx(hq, "积分", msg_id="1001")
    code = bind_code(hq, "M001")
    first = wx(hq, f"绑定 {PHONE} {code}", msg_id="1002")
    assert first.startswith("绑定成功"), first
    assert wx(hq, f"绑定 {PHONE} {code}", msg_id="1002") == first  # the same delivery
    for safe in (False, True):
        points = wx(hq, "积分", safe=safe, msg_id=f"11{int(safe)}")
        assert points.startswith("欧*，您好") and "积分：320" in points, (safe, points)
        events = wx(hq, "活动", safe=safe, msg_id=f"12{int(safe)}")
        assert "北区沙龙" in events and "branch-a" in events, (safe, events)
    no = re.search(r"(\d+)\. \S+ \S+ \S+ 北区沙龙", events).group(1)
    signed = wx(hq, f"报名 {no}", safe=True, msg_id="1301")
    assert signed.startswith("报名成功") and "K1." in signed, signed
    assert wx(hq, f"报名 {no}", msg_id="1301", safe=True) == signed  # answered once
    with hq.db() as db:
        assert db.execute("SELECT count(*) FROM hq_signups").fetchone()[0] == 1
    again = wx(hq, f"报名 {no}", msg_id="1302")  # a new delivery: the merge rule
    assert again.startswith("您已报名") and "K1." not in again, again
    with hq.db() as db:
        assert db.execute("SELECT count(*) FROM hq_signups WHERE merged_into IS NULL"
                          ).fetchone()[0] == 1
    none = wx(hq, "报名 999", msg_id="1303")
    assert none.startswith("没有编号为 999 的活动"), none
    # a subscribe event greets with HQ's words; an unsubscribe is answered success only
    event = ("<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName>"
             "<![CDATA[oVnew]]></FromUserName><CreateTime>{t}</CreateTime><MsgType><![CDATA[event]]>"
             "</MsgType><Event><![CDATA[{e}]]></Event></xml>")
    for e, expect in (("subscribe", "欢迎关注"), ("unsubscribe", None)):
        q, _, _ = query()
        r = hq.request("POST", "/wechat?" + urllib.parse.urlencode(q),
                       body=event.format(t=int(time.time()), e=e).encode(),
                       headers={"Content-Type": "text/xml"})
        assert r.status == 200, r
        if expect:
            assert expect in reply_content(r.raw.decode()) and "网点或客服" in r.raw.decode(), r
        else:
            assert r.raw == b"success", r
    assert "oVtest_openid_0001" not in hq.all_stderr() and PHONE not in hq.all_stderr()
    a.d.stop()
    hq.stop()


@on_both_backends
def test_a_signup_through_hqs_bot_checked_in_at_the_branch_with_hq_down(backend):
    hq = hq_with_bot(backend)
    a, _ = a_branch_with_an_event(hq)
    say(hq, f"绑定 {PHONE} {bind_code(hq, 'M001')}")
    events = say(hq, "活动")
    no = re.search(r"(\d+)\. \S+ \S+ \S+ 北区沙龙", events).group(1)
    reply = say(hq, f"报名 {no}", msg_id="m-1")
    assert reply.startswith("报名成功：「北区沙龙」") and "branch-a" in reply, reply
    code = re.search(r"K1\.[A-Za-z0-9._-]+", reply).group(0)
    assert say(hq, f"报名 {no}", msg_id="m-1") == reply  # the same delivery: once
    out = sync(a)
    assert "1 sign-ups taken elsewhere" in out, out
    hq.stop()
    r = a.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    r = a.checkin(ticket=code)
    assert r.status != 200 or r.json["status"] != "checked_in", r  # once
    assert_nowhere_in_clear(files_of(a.d.dir, "kioskd.db") + hq_files(hq), [NAME, PHONE])
    for log in (hq.all_stderr(), a.d.all_stderr()):
        assert NAME not in log and PHONE not in log
    a.d.stop()


def test_two_hq_processes_on_one_postgresql_answer_a_repeated_delivery_once():
    import pgserver
    if not pgserver.available():
        return
    a = hq_with_bot("pg")
    b = HQ(database_url=a.database_url,
           config=f"[hqserver]\nkey_file = {a.dir}/hq.key\nticket_key_file = {a.dir}/var/hq-ticket-key.pem\n"
           f"[bot]\nsecret = {SECRET}\nper_minute = 30\n")
    s, _ = a_branch_with_an_event(a)
    assert say(a, f"绑定 {PHONE} {bind_code(a, 'M001')}").startswith("绑定成功")
    assert "积分：320" in say(b, "积分")  # bound through A, known at B
    no = re.search(r"(\d+)\. \S+ \S+ \S+ 北区沙龙", say(b, "活动")).group(1)
    for attempt in range(3):  # the same delivery to both processes at once
        replies = parallel(say, [(a, f"报名 {no}", "wx-user-1", 200, {"msg_id": f"d{attempt}"}),
                                 (b, f"报名 {no}", "wx-user-1", 200, {"msg_id": f"d{attempt}"})])
        assert replies[0] == replies[1] and isinstance(replies[0], str), replies
        if attempt == 0:
            assert replies[0].startswith("报名成功") and "K1." in replies[0], replies
        else:
            assert replies[0].startswith("您已报名"), replies
    with a.db() as db:
        assert db.execute("SELECT count(*) FROM hq_signups WHERE merged_into IS NULL"
                          ).fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM hq_bot_deliveries").fetchone()[0] >= 3
    s.d.stop()
    a.stop()
    b.stop()


@on_both_backends
def test_an_event_imported_at_hq_is_listed_and_taken_before_its_branch_links_it(backend):
    """活动 lists an event HQ imported for a branch that has not pulled it yet (and not
    one HQ imported as cancelled); 报名 takes it by HQ's key, and the branch checks
    the ticket in offline once it has linked the event and pulled the sign-up."""
    import datetime
    hq = hq_with_bot(backend)
    a = hq_branch(hq, "branch-a", hq.device_add("branch-a", area="north"))
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)
    path = os.path.join(hq.dir, "events.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity,branch,status\n")
        for title, status in (("南区讲座", "open"), ("取消的讲座", "cancelled")):
            f.write(f"{title},salon,{t.isoformat()},{(t + datetime.timedelta(hours=2)).isoformat()},"
                    f"二楼,20,branch-a,{status}\n")
    hq.cli("hq", "import", "events", path)
    say(hq, f"绑定 {PHONE} {bind_code(hq, 'M001')}")
    events = say(hq, "活动")
    assert "取消的讲座" not in events, events
    no = re.search(r"(\d+)\. \S+ \S+ \S+ 南区讲座（branch-a", events).group(1)
    reply = say(hq, f"报名 {no}")
    assert reply.startswith("报名成功：「南区讲座」"), reply
    code = re.search(r"K1\.[A-Za-z0-9._-]+", reply).group(0)
    assert say(hq, f"报名 {no}").startswith("您已报名"), "merged, not taken twice"
    sync(a)
    sync(a)  # links HQ's event, and the sign-up held for the link comes with the next pull
    sync(a)
    hq.stop()
    r = a.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    a.d.stop()


@on_both_backends
def test_many_senders_together_cannot_guess_one_members_code(backend):
    """Each sender stays under its own lock, yet 10 wrong codes naming one phone burn that
    phone's live code, as at a branch."""
    hq = hq_with_bot(backend)
    code = bind_code(hq, "M001")
    wrong = [f"{n:06d}" for n in range(100000, 100020) if f"{n:06d}" != code][:10]
    for i, w in enumerate(wrong):
        assert say(hq, f"绑定 {PHONE} {w}", sender=f"guesser-{i}").startswith("手机号或绑定码不对")
    assert say(hq, f"绑定 {PHONE} {code}", sender="owner").startswith("手机号或绑定码不对")
    with hq.db() as db:
        assert db.execute("SELECT count(*) FROM hq_bot_codes").fetchone()[0] == 0
    fresh = bind_code(hq, "M001")
    assert say(hq, f"绑定 {PHONE} {fresh}", sender="owner").startswith("绑定成功")
    hq.stop()


def push_events(hq, device, secret, events):
    """Pushes event_created entries (title, start, end in unix seconds) as device's seqs
    1..n, then event_cancelled entries for the titles starting with 取消; returns the
    number of entries."""
    entries = [{"id": str(uuid.uuid4()), "seq": i + 1, "kind": "event_created",
                "at": "2026-05-01T10:00:00.000Z",
                "data": {"event_id": i + 1, "title": title, "kind": "salon", "venue": "三楼",
                         "starts_at": s, "ends_at": e, "capacity": 20}}
               for i, (title, s, e) in enumerate(events)]
    entries += [{"id": str(uuid.uuid4()), "seq": len(entries) + k + 1, "kind": "event_cancelled",
                 "at": "2026-05-01T10:00:00.000Z", "data": {"event_id": i + 1}}
                for k, i in enumerate(i for i, ev in enumerate(events) if ev[0].startswith("取消"))]
    for at in range(0, len(entries), 400):
        body = json.dumps({"device": device, "entries": entries[at:at + 400]})
        st, r = signed(hq, device, secret, "POST", "/sync/v1/push", body.encode())
        assert st == 200 and r["acked_through"] == min(at + 400, len(entries)), r
    return len(entries)


@on_both_backends
def test_current_events_are_listed_however_many_have_ended(backend):
    """活动 lists the events that have not ended, soonest first, with more than 512 ended
    events at HQ (imported at HQ and created at branches): not those cancelled at their
    branch or at HQ; 报名 takes a listed one. What HQ stored before its table of events
    existed is listed too (the first 活动 writes it)."""
    import datetime
    hq = hq_with_bot(backend)
    now = int(time.time())
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
    path = os.path.join(hq.dir, "events.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity,branch,status\n")
        for i in range(400):  # keys "branch-a START TITLE": before the current one's
            t = past + datetime.timedelta(hours=i)
            f.write(f"旧沙龙{i},salon,{t.isoformat()},{(t + datetime.timedelta(minutes=50)).isoformat()},"
                    f"二楼,20,branch-a,open\n")
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
        for title, status in (("新沙龙", "open"), ("撤销的沙龙", "cancelled")):
            f.write(f"{title},salon,{soon.isoformat()},{(soon + datetime.timedelta(hours=2)).isoformat()},"
                    f"二楼,20,branch-a,{status}\n")
    hq.cli("hq", "import", "events", path)
    events = [(f"旧讲座{i}", now - 90 * 86400 + i * 3600, now - 90 * 86400 + i * 3600 + 1800)
              for i in range(300)]
    events += [("正在进行的讲座", now - 600, now + 3600), ("取消的讲座", now + 60, now + 7200),
               ("明年的讲座", now + 300 * 86400, now + 300 * 86400 + 3600)]
    push_events(hq, "branch-p", hq.device_add("branch-p"), events)

    def listed():
        reply = say(hq, "活动")
        return [ln for ln in reply.splitlines() if re.match(r"\d+\. ", ln)], reply
    lines, reply = listed()
    assert len(lines) == 3, reply
    assert "正在进行的讲座" in lines[0] and "新沙龙" in lines[1] and "明年的讲座" in lines[2], reply
    assert "取消" not in reply and "撤销" not in reply and "旧" not in reply, reply
    say(hq, f"绑定 {PHONE} {bind_code(hq, 'M001')}")
    no = re.search(r"(\d+)\. \S+ \S+ \S+ 正在进行的讲座", reply).group(1)
    assert say(hq, f"报名 {no}").startswith("报名成功：「正在进行的讲座」")
    # as HQ was before its table of events: the first 活动 writes it from what is stored
    with hq.db() as db:
        db.execute("DELETE FROM hq_events")
        db.execute("DELETE FROM hq_bot_cursors WHERE source = '*events'")
    assert listed()[0] == lines, reply
    with hq.db() as db:
        assert db.execute("SELECT count(*) FROM hq_events").fetchone()[0] == 705
        assert db.execute("SELECT count(*) FROM hq_events WHERE cancelled = 1").fetchone()[0] == 2
    hq.stop()


@on_both_backends
def test_sign_ups_taken_by_hqs_bot_are_in_hqs_export(backend):
    """kioskd hq export signups has the sign-ups HQ's bot took (device hq, source bot), with
    the same columns as the branches' and their event's id at its branch once linked; a
    second 报名 merged into the first is not another row."""
    hq = hq_with_bot(backend)
    a, _ = a_branch_with_an_event(hq)
    import_events(hq, [("南区沙龙", 1, "branch-b")])  # branch-b has not linked it
    say(hq, f"绑定 {PHONE} {bind_code(hq, 'M001')}")
    events = say(hq, "活动")
    for title in ("北区沙龙", "南区沙龙"):
        no = re.search(rf"(\d+)\. \S+ \S+ \S+ {title}", events).group(1)
        assert say(hq, f"报名 {no}").startswith("报名成功"), title
        assert say(hq, f"报名 {no}").startswith("您已报名"), title
    rows = export(hq)
    assert [r["device"] for r in rows] == ["hq", "hq"], rows
    north, south = sorted(rows, key=lambda r: r["signup_id"])
    linked = [e["id"] for e in a.d.get("/api/v1/events").json["events"] if e["title"] == "北区沙龙"]
    assert north["event_id"] == str(linked[0]) and north["signup_id"] == "1", north
    assert north["event_key"].startswith("branch-a ") and north["event_key"].endswith(" 北区沙龙")
    assert south["event_id"] == "0" and south["event_key"].endswith(" 南区沙龙"), south
    for r in rows:
        assert r["source"] == "bot" and r["status"] == "confirmed", r
        assert r["name"] == NAME and r["phone"] == PHONE, r
        assert re.fullmatch(r"[A-Za-z0-9_-]{8}:" + r["signup_id"], r["entry_id"]), r
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["at"]), r
    a.d.stop()
    hq.stop()


@on_both_backends
def test_a_bot_sign_up_cancelled_at_its_branch_is_cancelled_at_hq(backend):
    """A sign-up HQ's bot took and its branch cancelled: HQ learns it from the branch's
    cancellation entry, exports it as cancelled, and a second 报名 for the event is a new
    sign-up (not merged into the cancelled one) that the branch checks in offline."""
    hq = hq_with_bot(backend)
    a, _ = a_branch_with_an_event(hq)
    say(hq, f"绑定 {PHONE} {bind_code(hq, 'M001')}")
    no = re.search(r"(\d+)\. \S+ \S+ \S+ 北区沙龙", say(hq, "活动")).group(1)
    first = say(hq, f"报名 {no}")
    assert first.startswith("报名成功"), first
    assert "1 sign-ups taken elsewhere" in sync(a)
    (ev,) = [e["id"] for e in a.d.get("/api/v1/events").json["events"] if e["title"] == "北区沙龙"]
    (row,) = a.d.get(f"/api/v1/events/{ev}/roster", headers=auth(a.staff)).json["guests"]
    r = a.d.delete(f"/api/v1/events/{ev}/signups/{row['signup_id']}", headers=auth(a.staff))
    assert r.status in (200, 204), r
    assert [r["status"] for r in export(hq)] == ["confirmed"]  # not pushed yet
    sync(a)
    assert [r["status"] for r in export(hq)] == ["cancelled"]
    again = say(hq, f"报名 {no}")
    assert again.startswith("报名成功"), again  # stands: not merged into the cancelled one
    code = re.search(r"K1\.[A-Za-z0-9._-]+", again).group(0)
    rows = sorted(export(hq), key=lambda r: int(r["signup_id"]))
    assert [(r["signup_id"], r["status"]) for r in rows] == [("1", "cancelled"),
                                                            ("2", "confirmed")], rows
    assert say(hq, f"报名 {no}").startswith("您已报名")  # merged into the second
    out = sync(a)
    assert "1 sign-ups taken elsewhere" in out, out
    hq.stop()
    r = a.checkin(ticket=re.search(r"K1\.[A-Za-z0-9._-]+", first).group(0))
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    r = a.checkin(ticket=code)
    assert r.status == 200 and r.json["status"] == "checked_in", r
    a.d.stop()
