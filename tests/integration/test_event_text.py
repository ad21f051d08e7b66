"""An event's free text (title, venue, description) is limited in characters and kept whole."""
import json
import os
import sqlite3

from harness import Site, auth, from_now

FOUR = "𠀀"  # 4 bytes in UTF-8 (CJK Extension B)
THREE = "财"  # 3 bytes


def body(**kw):
    b = {"title": "客户财富升级会", "kind": "salon", "capacity": 30, "venue": "二楼贵宾室",
         "starts_at": from_now(60), "ends_at": from_now(100)}
    b.update(kw)
    return b


def outbox_created(d):
    db = sqlite3.connect(os.path.join(d.dir, "kioskd.db"))
    rows = db.execute("SELECT data FROM outbox WHERE kind = 'event_created' ORDER BY seq").fetchall()
    db.close()
    return [json.loads(r[0]) for r in rows]


def test_texts_at_the_limit_round_trip_everywhere():
    s = Site()
    cases = []
    for ch in (FOUR, THREE):
        cases.append(body(title=ch * 100, venue=ch * 100, description=ch * 500))
    cases.append(body(title="客" * 87, venue="室" * 87))  # the title, no description
    ids = []
    for b in cases:
        r = s.d.post("/api/v1/events", b, headers=auth(s.manager))
        assert r.status == 201, r
        assert r.json["title"] == b["title"] and r.json["venue"] == b["venue"]
        assert r.json.get("description") == b.get("description")
        ids.append(r.json["id"])
    listed = {e["id"]: e for e in s.d.get("/api/v1/events").json["events"]}
    recent = {e["id"]: e for e in s.d.get("/api/v1/staff/events", headers=auth(s.staff)).json["events"]}
    for i, b in zip(ids, cases):
        one = s.d.get(f"/api/v1/events/{i}")
        assert one.status == 200, one
        for got in (listed[i], recent[i], one.json):
            assert got["title"] == b["title"] and got["venue"] == b["venue"], got
            assert got.get("description") == b.get("description"), got
    s.d.stop()
    sent = outbox_created(s.d)
    for data, b in zip(sent, cases):
        assert data["title"] == b["title"] and data["venue"] == b["venue"], data
        assert data.get("description") == b.get("description")
    s.d.cleanup()


def test_one_character_more_is_422_naming_the_field():
    s = Site()
    for ch in (FOUR, THREE, "a"):
        for field, limit in (("title", 100), ("venue", 100), ("description", 500)):
            r = s.d.post("/api/v1/events", body(**{field: ch * (limit + 1)}), headers=auth(s.manager))
            assert r.status == 422, (field, r)
            assert set(r.json["error"]["fields"]) == {field}, r.json
            assert r.json["error"]["code"] and r.json["error"]["message"]
    r = s.d.post("/api/v1/events", body(description=""), headers=auth(s.manager))
    assert r.status == 201 and "description" not in r.json, r
    assert s.d.get("/api/v1/events").json["events"][0]["title"] == "客户财富升级会"
    s.d.stop()
    s.d.cleanup()


def test_a_damaged_event_row_is_left_out_of_the_lists_and_answered_in_the_error_shape():
    s = Site()
    good = s.event(title="好的活动")
    bad = s.event(title="坏的活动")
    long_ = s.event(title="长的活动")
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    db.execute("UPDATE events SET title = CAST(X'E5AE' AS TEXT) WHERE id = ?", (bad,))
    db.execute("UPDATE events SET venue = ? WHERE id = ?", ("室" * 200, long_))
    db.commit()
    db.close()
    for path, hdrs in (("/api/v1/events", None), ("/api/v1/staff/events", auth(s.staff))):
        r = s.d.get(path, headers=hdrs)
        assert r.status == 200, r
        assert [e["id"] for e in r.json["events"]] == [good], r.json
    for i in (bad, long_):
        r = s.d.get(f"/api/v1/events/{i}")
        assert r.status == 500 and r.json["error"]["code"] == "event_unreadable", r
    assert s.d.get(f"/api/v1/events/{good}").status == 200
    err = s.d.stderr()
    assert f"event=event_unreadable event_id={bad}" in err, err
    assert f"event=event_unreadable event_id={long_} reason=text_too_long" in err, err
    s.d.stop()
    s.d.cleanup()


def test_import_keeps_long_titles_whole_and_refuses_one_character_more():
    from harness import Daemon
    d = Daemon(start=False)
    title, venue = FOUR * 100, THREE * 100
    good = os.path.join(d.dir, "events.csv")
    with open(good, "w", encoding="utf-8") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity\n"
                f"{title},salon,2030-01-02T14:00:00+08:00,2030-01-02T15:00:00+08:00,{venue},30\n")
    d.cli("import", "events", good)
    bad = os.path.join(d.dir, "bad.csv")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("title,kind,starts_at,ends_at,venue,capacity\n"
                f"{title}{FOUR},salon,2030-01-03T14:00:00+08:00,2030-01-03T15:00:00+08:00,X,30\n")
    p = d.cli("import", "events", bad, check=False)
    assert p.returncode == 1 and b"line 2" in p.stderr and b"title" in p.stderr, p.stderr
    d.start()
    events = d.get("/api/v1/events").json["events"]
    assert [(e["title"], e["venue"]) for e in events] == [(title, venue)]
    d.stop()
    d.cleanup()
