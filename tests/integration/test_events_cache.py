"""GET /api/v1/events is served from a cached body: every change shows at once.

The list is kept as one JSON text and rebuilt only when an event changes (or
after 1 s); these requests follow each change at once, so a change that did
not drop the cached body would show the old list.
"""
import re
import socket

from harness import Site, auth


def listed(d):
    r = d.get("/api/v1/events")
    assert r.status == 200, r
    return r, {e["id"]: e for e in r.json["events"]}


def test_the_cached_list_follows_every_change_at_once():
    s = Site()
    a = s.event(kind="community", capacity=2)
    first, evs = listed(s.d)
    assert evs[a]["signed_up"] == 0 and evs[a]["status"] == "open"
    again, _ = listed(s.d)
    assert again.raw == first.raw  # nothing changed: the same bytes

    assert s.signup(a, "13812340001").status == 201
    _, evs = listed(s.d)
    assert evs[a]["signed_up"] == 1, evs[a]
    assert s.signup(a, "13812340002").status == 201
    _, evs = listed(s.d)
    assert evs[a]["signed_up"] == 2 and evs[a]["status"] == "full", evs[a]

    b = s.event(title="新的活动", kind="community", starts=60, capacity=10)
    _, evs = listed(s.d)
    assert b in evs and evs[b]["title"] == "新的活动"

    r = s.d.post(f"/api/v1/events/{a}/cancel", {}, headers=auth(s.manager))
    assert r.status == 200, r
    _, evs = listed(s.d)
    assert a not in evs or evs[a]["status"] == "cancelled", evs.get(a)
    assert b in evs
    s.d.stop()


def test_the_cached_list_is_whole_on_keep_alive_and_head():
    s = Site()
    for i in range(30):  # a body past lws' 4 KiB default send size
        s.event(title=f"活动{i:02d}" + "长" * 40, kind="community", starts=30 + i, capacity=10)
    full, evs = listed(s.d)
    assert len(evs) == 30 and len(full.raw) > 4096
    sock = socket.create_connection(("127.0.0.1", s.d.port), timeout=10)
    for method in (b"GET", b"HEAD", b"GET"):
        sock.sendall(method + b" /api/v1/events HTTP/1.1\r\nHost: k\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, "the connection closed"
            head += chunk
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        assert length == len(full.raw)
        body = b""
        while method == b"GET" and len(body) < length:
            body += sock.recv(length - len(body))
        assert method == b"HEAD" or body == full.raw
    sock.close()
    s.d.stop()
