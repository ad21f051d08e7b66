"""Every route row: the table the binary prints, and its role enforced on real objects."""
import os
import re
import sqlite3
import subprocess

from harness import BIN, Site, add_staff, auth, from_now, login

# The least role of every route, kept here independently of handlers/*.c: a
# changed role in a route row, or a new route, fails test_route_table_is_the_expected_one.
EXPECTED = {
    ("POST", "/api/v1/campaigns"): "manager",
    ("GET", "/api/v1/campaigns"): "manager",
    ("GET", "/api/v1/campaigns/{id}"): "manager",
    ("GET", "/api/v1/campaigns/{id}/calls"): "staff",
    ("POST", "/api/v1/campaigns/{id}/calls/{member_no}/reveal"): "staff",
    ("POST", "/api/v1/campaigns/{id}/calls/{member_no}"): "staff",
    ("GET", "/api/v1/messages"): "manager",
    ("POST", "/api/v1/messages/{id}/retry"): "manager",
    ("POST", "/api/v1/members/{member_no}/unsubscribe"): "staff",
    ("GET", "/healthz"): "none",
    ("GET", "/metrics"): "none",
    ("GET", "/api/v1/events"): "none",
    ("POST", "/api/v1/events"): "manager",
    ("GET", "/api/v1/events/{id}"): "none",
    ("POST", "/api/v1/events/{id}/cancel"): "manager",
    ("GET", "/api/v1/events/{id}/stats"): "staff",
    ("GET", "/api/v1/events/{id}/roster"): "staff",
    ("GET", "/api/v1/events/{id}/no_shows"): "staff",
    ("GET", "/api/v1/events/{id}/export.csv"): "manager",
    ("GET", "/api/v1/staff/events"): "staff",
    ("POST", "/api/v1/events/{id}/signups"): "none",
    ("DELETE", "/api/v1/events/{id}/signups/{signup_id}"): "staff",
    ("GET", "/api/v1/tickets/{code}.svg"): "none",
    ("GET", "/api/v1/tickets/{code}.png"): "none",
    ("DELETE", "/api/v1/tickets/{code}"): "none",
    ("GET", "/api/v1/tickets/{code}"): "none",
    ("POST", "/api/v1/tickets/{code}/sms"): "none",
    ("GET", "/t/{code}"): "none",
    ("POST", "/api/v1/checkins"): "staff",
    ("DELETE", "/api/v1/checkins/{id}"): "staff",
    ("POST", "/api/v1/events/{id}/walkins"): "staff",
    ("POST", "/api/v1/staff/login"): "none",
    ("POST", "/api/v1/staff/logout"): "staff",
    ("GET", "/api/v1/staff/me"): "staff",
    ("DELETE", "/api/v1/staff/{id}/sessions"): "admin",
    ("GET", "/"): "none",
    ("GET", "/staff"): "none",
    ("GET", "/staff/stats"): "none",
    ("GET", "/assets/{name}"): "none",
    ("GET", "/api/v1/kiosk"): "none",
    ("GET", "/api/v1/events/{id}/waitlist"): "staff",
    ("POST", "/api/v1/events/{id}/waitlist/{signup_id}/reveal"): "staff",
    ("GET", "/api/v1/members/{member_no}/points"): "staff",
    ("POST", "/api/v1/members/lookup"): "staff",
    ("POST", "/api/v1/points/redemptions"): "staff",
    ("POST", "/api/v1/points/transfers"): "manager",
    ("POST", "/api/v1/bot/messages"): "none",
    ("GET", "/api/v1/bot/replies/{id}"): "none",
    ("GET", "/api/v1/bot/stats"): "manager",
    ("GET", "/wechat"): "none",
    ("POST", "/wechat"): "none",
    ("POST", "/api/v1/members/{member_no}/bind_code"): "staff",
    ("POST", "/api/v1/upgrades"): "staff",
    ("GET", "/api/v1/upgrades"): "staff",
    ("POST", "/api/v1/upgrades/{id}/approve"): "manager",
    ("POST", "/api/v1/upgrades/{id}/reject"): "manager",
    ("POST", "/api/v1/upgrades/{id}/arrived"): "staff",
    ("GET", "/api/v1/products"): "staff",
    ("GET", "/api/v1/funnel"): "manager",
}
ROLES = ["none", "staff", "manager", "admin"]


def binary_routes():
    p = subprocess.run([BIN, "routes"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rows = [ln.split(" ") for ln in p.stdout.splitlines()]
    assert all(len(r) == 3 for r in rows), p.stdout
    return rows


def test_route_table_is_the_expected_one():
    rows = binary_routes()
    table = {(m, pat): role for m, pat, role in rows}
    assert len(table) == len(rows), "a route is listed twice:\n" + "\n".join(map(" ".join, rows))
    missing = {k: v for k, v in EXPECTED.items() if k not in table}
    extra = {k: v for k, v in table.items() if k not in EXPECTED}
    changed = {k: (EXPECTED[k], v) for k, v in table.items() if k in EXPECTED and EXPECTED[k] != v}
    assert not missing and not extra and not changed, (missing, extra, changed)


def snapshot(db_path):
    """Every row of the tables a refused request must not touch, and the journal's size."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        out = {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
               for t in ("events", "signups", "checkins", "sessions", "staff", "members",
                         "points_lines", "points_ops")}
        for t in ("outbox", "audit"):
            out[t + "_count"] = db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    finally:
        db.close()
    return out


def test_every_route_refuses_no_token_and_lower_roles_and_changes_nothing():
    s = Site()
    d = s.d
    add_staff(d, "A1", "admin", "333333")
    tokens = {"staff": s.staff, "manager": s.manager, "admin": login(d, "A1", "333333", "desk")}
    # real objects for every parameter, so that a missing check would change something
    ev = s.event(capacity=2)
    first = s.signup(ev, "13812349001").json
    second = s.signup(ev, "13812349002", name="李四").json
    s.signup(ev, "13812349003", name="王五")  # waitlisted behind them
    cid = s.checkin(ticket=first["ticket"]["code"]).json["checkin_id"]
    params = {"signup_id": str(second["signup_id"]), "code": second["ticket"]["code"]}
    bodies = {
        ("POST", "/api/v1/events"): {"title": "路由测试", "kind": "salon", "capacity": 5,
                                     "starts_at": from_now(60), "ends_at": from_now(90),
                                     "venue": "一楼"},
        ("POST", "/api/v1/events/{id}/cancel"): {},
        ("POST", "/api/v1/checkins"): {"ticket": second["ticket"]["code"]},
        ("POST", "/api/v1/events/{id}/walkins"): {"name": "赵六", "phone": "13812349004",
                                                  "consent": True},
        ("POST", "/api/v1/points/redemptions"): {"member_no": "M1", "points": 1, "item": "伞"},
        ("POST", "/api/v1/points/transfers"): {"from": "M1", "to": "M2", "points": 1},
        ("POST", "/api/v1/upgrades/{id}/approve"): {},
        ("POST", "/api/v1/upgrades/{id}/reject"): {"reason": "路由测试"},
    }

    def fill(pattern):
        if pattern == "/api/v1/staff/{id}/sessions":
            ids = {"id": "S1"}
        elif pattern in ("/api/v1/members/{member_no}/points",
                         "/api/v1/members/{member_no}/bind_code",
                         "/api/v1/members/{member_no}/unsubscribe"):
            ids = {"member_no": "M1"}
        elif "{member_no}" in pattern and "campaigns" in pattern:
            ids = {"id": "1", "member_no": "M1"}
        elif pattern == "/api/v1/checkins/{id}":
            ids = {"id": str(cid)}
        else:
            ids = {"id": str(ev)}
        path = re.sub(r"\{(\w+)\}", lambda m: {**params, **ids}[m.group(1)], pattern)
        assert "{" not in path, path
        return path

    db_path = os.path.join(d.dir, "kioskd.db")
    before = snapshot(db_path)
    checked = 0
    # the expected roles, not the printed ones: a lowered role fails here too
    for (method, pattern), role in EXPECTED.items():
        if role == "none":
            continue
        path = fill(pattern)
        body = bodies.get((method, pattern))
        attempts = [("no token", {}, 401), ("garbage token", auth("x" * 43), 401),
                    ("malformed header", {"Authorization": "Basic Uzk6NDI0Mg=="}, 401)]
        attempts += [(f"{lower} token", auth(tokens[lower]), 403)
                     for lower in ROLES[1:ROLES.index(role)]]
        for what, headers, want in attempts:
            r = d.request(method, path, body=body, headers=headers)
            assert r.status == want, (method, pattern, what, r)
            assert r.json["error"]["code"] == ("forbidden" if want == 403 else r.json["error"]["code"])
            after = snapshot(db_path)
            assert after == before, (method, pattern, what, "changed the database")
            checked += 1
    assert checked >= 3 * 11 + 4, checked
    # the same objects are really there for the right role (so the refusals meant something)
    assert d.get(fill("/api/v1/events/{id}/stats"), headers=auth(s.staff)).status == 200
    r = d.delete(fill("/api/v1/staff/{id}/sessions"), headers=auth(tokens["admin"]))
    assert r.status == 200 and r.json["revoked"] >= 1, r
    d.stop()
