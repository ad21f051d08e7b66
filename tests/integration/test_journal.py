"""The outbox journal: every entry is a JSON document, whatever guests and managers type."""
import json
import os
import sqlite3

from harness import DROP_AFTER_0008, Daemon, Site, auth

# Names a person may have: letters of any script (4-byte CJK too), the middle
# dot, inner spaces, hyphens and apostrophes, combining marks.
GOOD_NAMES = ["𠀀𠀁", "O'Brien", "阿依古丽·买买提", "Jean-Luc", "Zoë Ødegård", "Ngô Bảo Châu",
              "Ирина", "محمد", "สมชาย", "देवी", "D\u2019Angelo", "张\u3000三"]
# What a name may not contain; each is refused with 422 naming `name`.
BAD_NAMES = ['"Bob\\', 'Bob"', "Bo\\b", "a\tb", "a\nb", "a\rb", "a\u0007b", "a\u001bb",
             "a\u0085b", "a\u2028b", "Bob 😀", "😀", "𝄞", "R2D2", "张3", "a<b>", "a&b",
             "a;b", "a/b", "a{b}", "a\u202eb", "-", "'"]


def db(s):
    return sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))


def outbox(s):
    with db(s) as c:
        return [(kind, json.loads(data)) for kind, data in
                c.execute("SELECT kind, data FROM outbox ORDER BY seq")]


def counts(s):
    with db(s) as c:
        return (c.execute("SELECT count(*) FROM signups").fetchone()[0],
                c.execute("SELECT count(*) FROM outbox").fetchone()[0])


def refused_name(r):
    return (r.status == 422 and r.json["error"]["code"] == "invalid_fields"
            and "name" in r.json["error"]["fields"])


def test_names_that_reach_the_journal_are_letters_and_the_journal_stays_json():
    s = Site()
    ev = s.event(kind="salon", capacity=100)
    before = counts(s)
    walkins = f"/api/v1/events/{ev}/walkins"
    for i, name in enumerate(BAD_NAMES):
        r = s.signup(ev, "1381000%04d" % i, name=name)
        assert refused_name(r), (name, r)
        r = s.d.post(walkins, {"name": name, "phone": "1382000%04d" % i, "consent": True},
                     headers=auth(s.staff))
        assert refused_name(r), (name, r)
    assert counts(s) == before
    masked = {}
    for i, name in enumerate(GOOD_NAMES):
        r = s.signup(ev, "1383000%04d" % i, name=name)
        assert r.status == 201, (name, r)
        masked[r.json["signup_id"]] = r.json["name"] if "name" in r.json else None
        w = s.d.post(walkins, {"name": name, "phone": "1384000%04d" % i, "consent": True},
                     headers=auth(s.staff))
        assert w.status == 201 and w.json["status"] == "checked_in", (name, w)
        masked[w.json["signup_id"]] = w.json["name"]
    roster = s.d.get(f"/api/v1/events/{ev}/roster", headers=auth(s.staff)).json["guests"]
    shown = {g["signup_id"]: g["name"] for g in roster}
    entries = outbox(s)  # json.loads of every row: one bad row fails here
    signups = {d["signup_id"]: d for kind, d in entries if kind == "signup"}
    assert len(signups) == 2 * len(GOOD_NAMES)
    for sid, d in signups.items():
        assert d["name_masked"] == shown[sid], (sid, d)
        if masked[sid] is not None:
            assert d["name_masked"] == masked[sid]
        assert d["name_masked"].endswith("*")
    assert {d["name_masked"] for d in signups.values()} >= {"𠀀*", "O*", "阿*", "J*"}
    checkins = [d for kind, d in entries if kind == "checkin"]
    assert len(checkins) == len(GOOD_NAMES) and all(d["staff_id"] == "S1" for d in checkins)
    s.d.stop()


TEXTS = ['引号"与\\反斜杠', "emoji 😀🎉 and 𠀀𠀁 (4-byte)", "</script>'; DROP TABLE events; --",
         "\\u0000 not an escape", "tab-free \u00b7 mixed Ünïcødé"]


def test_event_text_reaches_the_journal_as_json():
    s = Site()
    for t in TEXTS:
        r = s.d.post("/api/v1/events", {"title": t, "venue": t[::-1], "kind": "salon",
                                         "capacity": 5, "starts_at": "2031-01-01T10:00:00+08:00",
                                         "ends_at": "2031-01-01T11:00:00+08:00"},
                     headers=auth(s.manager))
        assert r.status == 201, (t, r)
        assert r.json["title"] == t
    for ctl in ["a\tb", "a\nb", "a\u001fb", "a\u2028b"]:
        r = s.d.post("/api/v1/events", {"title": ctl, "venue": "x", "kind": "salon",
                                         "capacity": 5, "starts_at": "2031-01-01T10:00:00+08:00",
                                         "ends_at": "2031-01-01T11:00:00+08:00"},
                     headers=auth(s.manager))
        assert r.status == 422 and "title" in r.json["error"]["fields"], (ctl, r)
    created = [d for kind, d in outbox(s) if kind == "event_created"]
    assert [d["title"] for d in created] == TEXTS
    assert [d["venue"] for d in created] == [t[::-1] for t in TEXTS]
    assert all(d["kind"] == "salon" and d["capacity"] == 5 for d in created)
    assert all(isinstance(d["starts_at"], int) and d["ends_at"] > d["starts_at"] for d in created)
    s.d.stop()


def test_the_database_refuses_an_outbox_entry_that_is_not_json():
    s = Site()
    s.event()
    s.d.stop()
    with db(s) as c:
        for bad in ['{"name_masked":""*"}', "", "{", "not json"]:
            try:
                c.execute("INSERT INTO outbox(id, kind, at, data) VALUES (?, 'x', 'now', ?)",
                          ("bad-" + bad, bad))
            except sqlite3.IntegrityError:
                continue
            raise AssertionError(f"outbox took {bad!r}")
        c.execute("INSERT INTO outbox(id, kind, at, data) VALUES ('ok', 'x', 'now', '{}')")


def test_a_version_2_database_with_a_broken_outbox_row_opens():
    # Build a database as the previous release left it: schema version 2 with
    # one outbox row the hand-written JSON broke, and an acked prefix.
    s = Site()
    ev = s.event()
    s.signup(ev, "13812345678")
    s.d.stop()
    path = os.path.join(s.d.dir, "kioskd.db")
    with db(s) as c:
        c.executescript(DROP_AFTER_0008 + """
            DROP TABLE outbox;
            CREATE TABLE outbox (
                seq     INTEGER PRIMARY KEY AUTOINCREMENT,
                id      TEXT NOT NULL UNIQUE,
                kind    TEXT NOT NULL,
                at      TEXT NOT NULL,
                data    TEXT NOT NULL
            ) STRICT;
            ALTER TABLE events DROP COLUMN description;  -- added by migration 0004
            ALTER TABLE signups DROP COLUMN name_hash;  -- added by migration 0005
            DROP TABLE login_failures;                  -- added by migration 0006
            DROP INDEX signups_event_code;              -- added by migration 0007
            ALTER TABLE signups DROP COLUMN short_code; -- added by migration 0007
            DROP TABLE members;                         -- added by migration 0008
            PRAGMA user_version = 2;
        """)
        c.execute("INSERT INTO outbox(seq, id, kind, at, data) VALUES "
                  "(1, 'u1', 'event_created', 't', '{\"event_id\":1}')")
        c.execute("INSERT INTO outbox(seq, id, kind, at, data) VALUES "
                  "(7, 'u7', 'signup', 't', ?)", ('{"signup_id":1,"name_masked":""*"}',))
        c.execute("DELETE FROM outbox WHERE seq = 7")  # leave sqlite_sequence at 7
        c.execute("INSERT INTO outbox(seq, id, kind, at, data) VALUES "
                  "(5, 'u5', 'signup', 't', ?)", ('{"signup_id":1,"name_masked":""*"}',))
        c.execute("UPDATE meta SET value = '1' WHERE key = 'outbox_acked_seq'")
    d = Daemon(dir=s.d.dir)
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] >= 3
        rows = c.execute("SELECT seq, id, kind, data FROM outbox ORDER BY seq").fetchall()
        assert [r[:3] for r in rows] == [(1, "u1", "event_created"), (5, "u5", "signup")]
        assert json.loads(rows[0][3]) == {"event_id": 1}
        assert json.loads(rows[1][3]) == {"invalid_json": '{"signup_id":1,"name_masked":""*"}'}
        assert c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()[0] == 7
        sql = c.execute("SELECT sql FROM sqlite_master WHERE name = 'outbox'").fetchone()[0]
        assert "json_valid(data)" in sql
    assert d.get("/healthz").json["outbox_pending"] == 1
    r = d.post(f"/api/v1/events/{ev}/signups",
               {"name": "王五", "phone": "13912345678", "consent": True})
    assert r.status == 201, r
    d.stop()
    with sqlite3.connect(path) as c:
        seqs = [r[0] for r in c.execute("SELECT seq FROM outbox ORDER BY seq")]
        [json.loads(r[0]) for r in c.execute("SELECT data FROM outbox")]
    assert seqs[:2] == [1, 5] and len(seqs) > 2 and all(q > 7 for q in seqs[2:]), seqs
