"""The JSON bridge within [bot] reply_within: a command slower than that (a slow store: fsync made
slow) answers 202 {"pending": id}; GET /api/v1/bot/replies/{id} answers 202 while the command
runs, then 200 with its reply, also after a restart; unknown ids are 404, the secret is needed."""
import time

from harness import slow_fsync_env
from test_bot import SECRET, bind_code, rows, say, site

HEADERS = {"X-Bot-Secret": SECRET}


def fetch(s, pending, headers=HEADERS):
    return s.d.get(f"/api/v1/bot/replies/{pending}", headers=headers)


def test_a_slow_command_answers_202_and_its_reply_is_fetched_later_also_after_a_restart():
    s = site("[bot]\nreply_within = 500\n")
    say(s, f"绑定 13812340002 {bind_code(s, 'M002')}", sender="bridge-user")
    s.d.stop()
    s.d.env.update(slow_fsync_env(1500))
    s.d.start()
    t0 = time.monotonic()
    r = s.d.post("/api/v1/bot/messages", {"from": "bridge-user", "text": "退订", "group": "g1",
                                          "msg_id": "m-1"}, headers=HEADERS)
    assert r.status == 202 and time.monotonic() - t0 < 1.4, r
    pending = r.json["pending"]
    assert len(pending) == 32 and int(pending, 16) >= 0
    first = fetch(s, pending)
    assert first.status == 202 and first.json == {"pending": pending}, first  # still committing
    deadline = time.monotonic() + 30
    while (got := fetch(s, pending)).status == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert got.status == 200 and "已退订" in got.json["reply"], got
    assert rows(s, "SELECT opted_out FROM members WHERE member_no = 'M002'") == [(1,)]
    assert fetch(s, pending, headers={}).status == 401
    assert fetch(s, pending, headers={"X-Bot-Secret": "wrong"}).status == 401
    assert fetch(s, "0" * 32).status == 404
    assert fetch(s, "not-an-id").status == 404
    assert fetch(s, pending.upper()).status == 404
    s.d.stop(60)
    for k in ("LD_PRELOAD", "SLOWFSYNC_MS"):
        s.d.env.pop(k, None)
    s.d.start()
    again = fetch(s, pending)
    assert again.status == 200 and again.json["reply"] == got.json["reply"], again
    # the same delivery again: its reply at once, nothing done twice, counted once
    assert say(s, "退订", sender="bridge-user", group="g1", msg_id="m-1") == got.json["reply"]
    assert rows(s, "SELECT commands FROM bot_group_stats") == [(1,)]


def test_a_fast_command_answers_200_at_once():
    s = site("[bot]\nreply_within = 3000\n")
    r = s.d.post("/api/v1/bot/messages", {"from": "x", "text": "帮助", "group": "g1"},
                 headers=HEADERS)
    assert r.status == 200 and "积分" in r.json["reply"], r
