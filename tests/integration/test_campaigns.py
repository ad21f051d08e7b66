"""Campaigns (CONTRACT.md "Campaigns"): audiences, steps through the message queue,
attribution of sign-ups, the call list and the results."""
import sqlite3

from harness import Site


def test_the_schema_takes_call_signups_and_invitation_messages():
    s = Site()
    s.d.stop()
    db = sqlite3.connect(f"{s.d.dir}/kioskd.db")
    sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'signups'").fetchone()[0]
    assert "'call'" in sql and "'walkin'" in sql, sql
    sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'messages'").fetchone()[0]
    assert "'invitation'" in sql and "'festival'" in sql and "'chat_reply'" in sql, sql
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert {"campaigns", "campaign_steps", "campaign_members", "campaign_calls",
            "signup_campaigns"} <= tables
    db.close()
    s.d.start()
    assert s.d.get("/healthz").status == 200
