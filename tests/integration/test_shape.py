"""The one handler shape: declared ids, one refusal table, one ticket rule."""
from harness import Site, auth


def test_one_reason_gets_one_answer_from_every_route():
    s = Site()
    ev = s.event()
    # a path id that is not an id, and an id of nothing, give the same answer on every route
    answers = set()
    for bad in ("abc", "0", "-1", "99999"):
        for method, path, body, token in (
                ("GET", f"/api/v1/events/{bad}", None, None),
                ("POST", f"/api/v1/events/{bad}/signups",
                 {"name": "张三", "phone": "13812349999", "consent": True}, None),
                ("POST", f"/api/v1/events/{bad}/cancel", None, s.manager),
                ("GET", f"/api/v1/events/{bad}/stats", None, s.staff),
                ("GET", f"/api/v1/events/{bad}/roster", None, s.staff),
                ("POST", f"/api/v1/events/{bad}/walkins",
                 {"name": "李四", "phone": "13812349998", "consent": True}, s.staff)):
            r = s.d.request(method, path, body, headers=auth(token) if token else None)
            assert r.status == 404, (method, path, r)
            answers.add((r.json["error"]["code"], r.json["error"]["message"]))
    assert answers == {("event_not_found", "no such event")}, answers
    # nothing was created by any of them
    assert s.d.get(f"/api/v1/events/{ev}").json["signed_up"] == 0


def test_checkin_window_message_says_what_the_config_says():
    s = Site(config="[events]\ncheckin_opens = 5400\n")
    later = s.event(starts=120)  # the window opens 90 minutes before
    code = s.signup(later, "13812340101").json["ticket"]["code"]
    r = s.checkin(ticket=code)
    assert r.status == 409 and r.json["error"]["code"] == "not_open_yet", r
    assert "90 minutes" in r.json["error"]["message"], r.json
    soon = s.event(starts=80)  # within 90 minutes: open
    code = s.signup(soon, "13812340102").json["ticket"]["code"]
    assert s.checkin(ticket=code).json["status"] == "checked_in"

    d = Site()
    later = d.event(starts=180)
    code = d.signup(later, "13812340103").json["ticket"]["code"]
    r = d.checkin(ticket=code)
    assert "2 hours" in r.json["error"]["message"], r.json


def test_the_ticket_rule_answers_every_use_of_a_ticket_alike():
    """One rule decides a ticket: check-in, the guest's cancel and the QR images agree."""
    s = Site()
    ev = s.event()
    first = s.signup(ev, "13812340201").json
    old = first["ticket"]["code"]
    r = s.d.delete(f"/api/v1/events/{ev}/signups/{first['signup_id']}", headers=auth(s.staff))
    assert r.status == 200, r
    # cancelled: every use of the ticket is refused as cancelled
    for r in (s.checkin(ticket=old), s.d.delete(f"/api/v1/tickets/{old}"),
              s.d.get(f"/api/v1/tickets/{old}.svg"), s.d.get(f"/api/v1/tickets/{old}.png")):
        assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    # signed up again: the old ticket is replaced, the new one works everywhere
    new = s.signup(ev, "13812340201").json["ticket"]["code"]
    assert new != old
    for r in (s.checkin(ticket=old), s.d.delete(f"/api/v1/tickets/{old}"),
              s.d.get(f"/api/v1/tickets/{old}.svg"), s.d.get(f"/api/v1/tickets/{old}.png")):
        assert r.status == 410 and r.json["error"]["code"] == "ticket_replaced", r
    assert s.d.get(f"/api/v1/tickets/{new}.png").status == 200
    assert s.d.delete(f"/api/v1/tickets/{new}").status == 200
    assert s.d.get(f"/api/v1/events/{ev}").json["signed_up"] == 0
