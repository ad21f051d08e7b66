"""The kiosk's "send the ticket to my phone" (POST /api/v1/tickets/{code}/sms) through a loopback
SMS gateway: one signed SMS carrying the ticket's link, at most two sends, refusals for a wrong
code, a cancelled ticket and a late ask, and nothing queued when no gateway is configured."""
from harness import Site
from test_messages import Gateway, rows, sms_config, wait_for

PUBLIC = "https://kiosk.example"
PHONE = "13811112222"


def site(gw, extra=""):
    return Site(config=sms_config(gw) + f"[bot]\npublic_url = {PUBLIC}\n" + extra)


def ticket_link_uids(d):
    return [u for (u,) in rows(d.d, "SELECT uid FROM messages WHERE kind = 'ticket_link'")]


def sent_ticket_links(gw, d):
    uids = set(ticket_link_uids(d))
    return [g for g in gw.got if g[1]["id"] in uids]


def test_one_signed_sms_with_the_link_then_a_second_and_no_third():
    gw = Gateway()
    s = site(gw)
    assert s.d.get("/api/v1/kiosk").json["sms"] is True
    ev = s.event(starts=60 * 30)
    r = s.signup(ev, PHONE)
    assert r.status == 201, r
    code = r.json["ticket"]["code"]
    r = s.d.post(f"/api/v1/tickets/{code}/sms")  # no body
    assert r.status == 202, r
    assert r.json == {"phone": "138****2222", "sends_left": 1}, r
    assert PHONE.encode() not in r.raw
    wait_for(lambda: rows(s.d, "SELECT status FROM messages WHERE kind = 'ticket_link'")
             == [("sent",)])
    got = sent_ticket_links(gw, s)
    assert len(got) == 1, got
    _, body, signed, _ = got[0]
    assert signed and body["phone"] == PHONE
    assert f"{PUBLIC}/t/{code}" in body["text"], body
    r = s.d.post(f"/api/v1/tickets/{code}/sms", {})
    assert r.status == 202 and r.json["sends_left"] == 0, r
    r = s.d.post(f"/api/v1/tickets/{code}/sms", {})
    assert r.status == 429 and r.json["error"]["code"] == "ticket_sms_limit", r
    assert len(ticket_link_uids(s)) == 2
    wait_for(lambda: len(sent_ticket_links(gw, s)) == 2)
    log = s.d.all_stderr()
    assert PHONE not in log and code not in log
    s.d.stop()
    gw.close()


def test_wrong_cancelled_and_late_tickets_are_refused_and_queue_nothing():
    gw = Gateway()
    s = site(gw)
    ev = s.event(starts=60 * 30)
    code = s.signup(ev, PHONE).json["ticket"]["code"]
    tampered = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    for bad in (tampered, "K1.nope", "x" * 150):
        r = s.d.post(f"/api/v1/tickets/{bad}/sms")
        assert r.status == 404 and r.json["error"]["code"] == "ticket_not_found", (bad, r)
    r = s.d.post(f"/api/v1/tickets/{code}/sms", "[1]", headers={"Content-Type": "text/plain"})
    assert r.status == 415, r
    # asked for a quarter of an hour after the sign-up: too late
    s.d.stop()
    s.d.env["KIOSKD_TEST_CLOCK"] = str(16 * 60)
    s.d.start()
    r = s.d.post(f"/api/v1/tickets/{code}/sms")
    assert r.status == 410 and r.json["error"]["code"] == "ticket_sms_closed", r
    # a cancelled ticket
    code2 = s.signup(ev, "13811113333").json["ticket"]["code"]
    assert s.d.delete(f"/api/v1/tickets/{code2}").status == 200
    r = s.d.post(f"/api/v1/tickets/{code2}/sms")
    assert r.status == 410 and r.json["error"]["code"] == "ticket_cancelled", r
    assert ticket_link_uids(s) == []
    s.d.stop()
    gw.close()


def test_the_ticket_link_is_sent_even_in_quiet_hours_once_per_ask():
    gw = Gateway()
    # quiet all day but a minute: the ticket link is transactional and goes at once
    s = site(gw, "[messages]\nquiet_hours = 00:00-23:59\n")
    code = s.signup(s.event(starts=60 * 30), PHONE).json["ticket"]["code"]
    assert s.d.post(f"/api/v1/tickets/{code}/sms").status == 202
    wait_for(lambda: len(sent_ticket_links(gw, s)) == 1)
    s.d.stop()
    gw.close()


def test_without_an_sms_gateway_the_kiosk_offers_nothing_and_nothing_is_queued():
    s = Site(config="[messages]\nchannel = auto\n[bot]\npublic_url = https://kiosk.example\n")
    assert s.d.get("/api/v1/kiosk").json["sms"] is False
    code = s.signup(s.event(starts=60 * 30), PHONE).json["ticket"]["code"]
    r = s.d.post(f"/api/v1/tickets/{code}/sms")
    assert r.status == 404 and r.json["error"]["code"] == "sms_off", r
    assert ticket_link_uids(s) == []
    s.d.stop()


def test_an_sms_gateway_without_a_public_url_offers_nothing():
    gw = Gateway()
    s = Site(config=sms_config(gw))
    assert s.d.get("/api/v1/kiosk").json["sms"] is False
    code = s.signup(s.event(starts=60 * 30), PHONE).json["ticket"]["code"]
    assert s.d.post(f"/api/v1/tickets/{code}/sms").status == 404
    s.d.stop()
    gw.close()
