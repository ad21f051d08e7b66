"""The live view ends with its token: logout, an admin's revocation and expiry close it."""
import socket

import harness
from harness import Daemon, Site, WebSocket, add_staff, auth, login, merge_ini


def assert_closed(ws):
    """The next thing the connection gives is its end, not a message."""
    try:
        m = ws.recv()
    except socket.timeout:
        raise AssertionError("the connection stayed open") from None
    except (ConnectionError, OSError):
        return
    raise AssertionError(f"still receiving: {m}")


def test_logout_closes_that_tokens_live_view_only():
    s = Site()
    ev = s.event()
    other = login(s.d, "S1", "222222", "tablet-2")
    mine = WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={s.staff}")
    theirs = WebSocket(s.d.port, f"/api/v1/live?event={ev}", headers=auth(other))
    assert mine.recv()["type"] == "hello" and theirs.recv()["type"] == "hello"
    r = s.d.post("/api/v1/staff/logout", headers=auth(s.staff))
    assert r.status == 200, r
    s.signup(ev, "13812340101", name="李四")
    assert_closed(mine)
    m = theirs.recv_until("signup")
    assert m["counts"]["signed_up"] == 1
    assert "event=live_closed" in s.d.stderr() and "reason=logout" in s.d.stderr()
    # the logged-out token cannot open a new view
    try:
        WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={s.staff}", timeout=10)
        raise AssertionError("a logged-out token opened the live view")
    except ConnectionError:
        pass
    s.signup(ev, "13812340102", name="王五")
    assert theirs.recv_until("signup")["counts"]["signed_up"] == 2
    theirs.close()
    mine.close()
    s.d.stop()


def test_admin_revocation_closes_every_live_view_of_that_staff_member():
    d = Daemon(start=False)
    add_staff(d, "A1", "admin", "333333")
    add_staff(d, "S1", "staff", "222222")
    add_staff(d, "S2", "staff", "444444")
    d.start()
    admin = login(d, "A1", "333333", "office")
    s1a = login(d, "S1", "222222", "tablet-1")
    s1b = login(d, "S1", "222222", "tablet-2")
    s2 = login(d, "S2", "444444", "tablet-3")
    s = Site.__new__(Site)
    s.d, s.manager = d, admin
    ev = s.event()
    lost = [WebSocket(d.port, f"/api/v1/live?event={ev}&token={t}") for t in (s1a, s1b)]
    kept = WebSocket(d.port, f"/api/v1/live?event={ev}&token={s2}")
    for ws in lost + [kept]:
        assert ws.recv()["type"] == "hello"
    r = d.delete("/api/v1/staff/S1/sessions", headers=auth(admin))
    assert r.status == 200 and r.json["revoked"] == 2, r
    s.signup(ev, "13812340103", name="赵六")
    for ws in lost:
        assert_closed(ws)
    assert kept.recv_until("signup")["counts"]["signed_up"] == 1
    assert "reason=sessions_revoked" in d.stderr()
    for ws in lost + [kept]:
        ws.close()
    d.stop()


def test_expiry_closes_the_live_view_when_it_comes():
    s = Site()
    ev = s.event()
    # from now on tokens last 2 s (longer where PIN hashing is slow: SAN): the staff member
    # logs in just before the live view opens (the manager's login and the event above may
    # take longer on a busy machine)
    s.d.stop()
    with open(s.d.config_path) as f:
        conf = merge_ini(f.read(), f"[staff]\ntoken_ttl = {2 * harness.PATIENCE}\n")
    with open(s.d.config_path, "w") as f:
        f.write(conf)
    s.d.start()
    staff = login(s.d, "S1", "222222", "tablet-1")
    ws = WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={staff}", timeout=15)
    assert ws.recv()["type"] == "hello"
    # nothing is published: the connection ends on its own once the token has expired
    assert_closed(ws)
    assert "reason=token_expired" in s.d.stderr()
    # a fresh token of the same staff member is still served
    fresh = login(s.d, "S1", "222222", "tablet-2")
    ws2 = WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={fresh}")
    assert ws2.recv()["type"] == "hello"
    ws.close()
    ws2.close()
    s.d.stop()
