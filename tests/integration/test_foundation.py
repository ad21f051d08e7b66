"""The daemon's life cycle, configuration, routing and error shapes, through the real binary."""
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

import harness
from harness import BIN, Daemon


def test_healthz_answers_ok():
    d = Daemon()
    r = d.get("/healthz")
    assert r.status == 200, r
    assert r.json == {"status": "ok", "db": "ok", "hq": "disabled", "outbox_pending": 0}
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"]
    d.stop()


def test_metrics_count_requests_by_route_and_status():
    d = Daemon()
    d.get("/healthz")
    d.get("/no/such/path")
    r = d.get("/metrics")
    assert r.status == 200
    text = r.raw.decode()
    assert 'kioskd_http_requests_total{route="GET /healthz",status="200"} 1' in text
    assert 'kioskd_http_requests_total{route="unmatched",status="404"} 1' in text
    assert "kioskd_http_request_duration_seconds_bucket" in text
    for gauge in ("kioskd_outbox_pending", "kioskd_signups_total", "kioskd_checkins_total",
                  "kioskd_store_queue_depth", "kioskd_store_batch_size_bucket",
                  "kioskd_store_commit_seconds_bucket", "kioskd_sync_failures_total",
                  "kioskd_messages_sent_total", "kioskd_messages_failed_total"):
        assert gauge in text, gauge
    d.stop()


def test_unknown_path_and_method_get_contract_errors():
    d = Daemon()
    r = d.get("/nope")
    assert r.status == 404 and r.json["error"]["code"] == "not_found"
    assert set(r.json["error"]) >= {"code", "message"}
    r = d.request("PUT", "/healthz", body=b"")
    assert r.status == 405 and r.json["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == "GET"
    r = d.get("/" + "a" * 400)
    assert r.status == 414
    d.stop()


def test_malformed_requests_never_crash():
    d = Daemon()
    out = d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", timeout=2)
    assert out.startswith(b"HTTP/1.1 400"), out
    out = d.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                timeout=2)
    assert out.startswith(b"HTTP/1.1 405"), out
    d.raw(b"\x00\x01\x02garbage\r\n\r\n", timeout=2)
    d.raw(b"GET /healthz HTTP/1.1\r\n" + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n", timeout=2)
    assert d.get("/healthz").status == 200
    d.stop()


def test_slow_client_is_timed_out_and_does_not_block_others():
    d = Daemon(config="[http]\nrequest_timeout = 1\n")
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    t0 = time.monotonic()
    assert d.get("/healthz").status == 200  # the loop is not blocked meanwhile
    s.settimeout(8)
    data = s.recv(100)  # the daemon hangs up on it
    assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
    assert time.monotonic() - t0 < 8
    s.close()
    d.stop()


def test_log_has_one_line_per_request_with_fields():
    d = Daemon()
    d.get("/healthz")
    d.stop()
    lines = [ln for ln in d.stderr().splitlines() if "event=request " in ln]
    assert len(lines) == 1, lines
    ln = lines[0]
    for key in ("method=GET", "path=/healthz", "status=200", "bytes=", "us=", "id="):
        assert key in ln, ln
    assert re.match(r"^ts=\S+ level=info event=request ", ln)


def test_rate_limit_answers_429_with_retry_after():
    d = Daemon(config="[http]\nrate_limit = 1\nrate_burst = 3\n")
    statuses = [d.get("/healthz").status for _ in range(6)]
    assert statuses[:3] == [200, 200, 200], statuses
    r = d.get("/healthz")
    assert r.status == 429 and r.json["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    # /metrics is rate limited too: ask until a token has come back, counting its 429s
    refused = statuses.count(429) + 1
    for _ in range(50):
        m = d.get("/metrics")
        if m.status == 200:
            break
        assert m.status == 429, m
        refused += 1
        time.sleep(0.2)
    assert m.status == 200, m
    line = re.search(r"^kioskd_rate_limited_total (\d+)$", m.raw.decode(), re.M)
    assert line and int(line.group(1)) == refused, (refused, line)
    d.stop()


def test_sigterm_exits_zero_within_two_seconds():
    d = Daemon()
    d.get("/healthz")
    t0 = time.monotonic()
    d.stop(timeout=5)
    assert time.monotonic() - t0 < 2.0
    assert "event=stopped" in d.stderr()


def test_sigint_also_stops_cleanly():
    d = Daemon()
    d.signal(signal.SIGINT)
    assert d.proc.wait(5) == 0
    d.kill()


def test_sighup_reopens_log_file():
    d = Daemon(start=False)
    log = os.path.join(d.dir, "kioskd.log")
    with open(d.config_path, "a") as f:
        f.write(f"[log]\nfile = {log}\n")
    # the harness waits for the listening line on stderr: log to the file and watch it instead
    d.proc = subprocess.Popen([BIN, "serve", "-c", d.config_path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=d.env, cwd=d.dir)
    for _ in range(500):
        if os.path.exists(log) and "event=listening" in open(log).read():
            break
        time.sleep(0.01)
    d.port = int(re.search(r"port=(\d+)", open(log).read()).group(1))
    os.rename(log, log + ".1")
    d.proc.send_signal(signal.SIGHUP)
    for _ in range(200):
        if os.path.exists(log):
            break
        time.sleep(0.01)
    d.get("/healthz")
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(5) == 0
    d.proc.stdout.close()
    d.proc.stderr.close()
    d.proc = None
    assert "event=request" in open(log).read()
    assert "event=listening" in open(log + ".1").read()


def test_second_instance_on_same_database_fails_clearly():
    d = Daemon()
    p = subprocess.run([BIN, "serve", "-c", d.config_path], env=dict(d.env, KIOSKD_HTTP_LISTEN="127.0.0.1:0"),
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "in use by another kioskd" in p.stderr, p.stderr
    d.stop()


def test_second_instance_on_same_port_fails_clearly():
    d = Daemon()
    other = Daemon(start=False, config=f"[http]\nlisten = 127.0.0.1:{d.port}\n")
    p = subprocess.run([BIN, "serve", "-c", other.config_path], env=other.env, capture_output=True,
                       text=True, timeout=10)
    assert p.returncode != 0
    assert f"cannot listen on 127.0.0.1:{d.port}" in p.stderr and "in use" in p.stderr, p.stderr
    d.stop()


def test_config_errors_name_file_line_and_key():
    d = Daemon(start=False)
    with open(d.config_path, "a") as f:
        f.write("[http]\nlisten_port = 9\n")
    p = d.cli("check-config", check=False)
    assert p.returncode == 2
    err = p.stderr.decode()
    assert f"{d.config_path}:" in err and "listen_port" in err and "unknown key" in err, err
    line = int(re.search(r"kioskd.ini:(\d+):", err).group(1))
    assert open(d.config_path).read().splitlines()[line - 1].startswith("listen_port")

    with open(d.config_path, "w") as f:
        f.write("[http]\nrate_limit = lots\n")
    p = d.cli("check-config", check=False)
    assert p.returncode == 2 and ":2: [http] rate_limit: must be a whole number" in p.stderr.decode()

    with open(d.config_path, "w") as f:
        f.write("[store]\npath = /tmp/x.db\n[http]\nlisten = 127.0.0.1:99999\n")
    p = d.cli("check-config", check=False)
    assert p.returncode == 2 and "port must be" in p.stderr.decode()
    # the daemon refuses to start with it, too
    p = subprocess.run([BIN, "serve", "-c", d.config_path], env=d.env, capture_output=True,
                       timeout=10)
    assert p.returncode == 2 and b"listen" in p.stderr


def test_environment_overrides_and_unknown_keys():
    d = Daemon(start=False)
    p = subprocess.run([BIN, "check-config", "-c", d.config_path],
                       env=dict(d.env, KIOSKD_HTTP_RATE_LIMIT="7"), capture_output=True, text=True)
    assert p.returncode == 0 and "rate_limit = 7" in p.stdout, p
    p = subprocess.run([BIN, "check-config", "-c", d.config_path],
                       env=dict(d.env, KIOSKD_HTTP_RATE_LIMT="7"), capture_output=True, text=True)
    assert p.returncode == 2 and "KIOSKD_HTTP_RATE_LIMT: unknown key" in p.stderr, p
    p = subprocess.run([BIN, "check-config", "-c", d.config_path],
                       env=dict(d.env, KIOSKD_STORE_QUEUE_MAX="0"), capture_output=True, text=True)
    assert p.returncode == 2 and "KIOSKD_STORE_QUEUE_MAX" in p.stderr, p


def test_docs_config_matches_the_option_table():
    p = subprocess.run([BIN, "check-config", "--doc"], capture_output=True, text=True)
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "config.md")).read()
    assert p.stdout.strip() in doc, "docs/config.md is out of date: regenerate its table with " \
                                    "`kioskd check-config --doc`"


def test_every_subcommand_has_help():
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    cmds = re.findall(r"^  (\S+)\s", p.stdout, re.M)
    assert "serve" in cmds and "check-config" in cmds and "backup" in cmds
    for c in cmds:
        q = subprocess.run([BIN, c, "--help"], capture_output=True, text=True)
        assert q.returncode == 0 and q.stdout.startswith(f"usage: kioskd {c}"), (c, q)
    q = subprocess.run([BIN, "frobnicate"], capture_output=True, text=True)
    assert q.returncode == 2 and "unknown command" in q.stderr


def test_database_created_with_wal_and_migrated():
    d = Daemon()
    d.stop()
    db = sqlite3.connect(os.path.join(d.dir, "kioskd.db"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox", "audit", "meta"} <= tables
    db.close()


def test_newer_schema_is_refused():
    d = Daemon()
    d.stop()
    db = sqlite3.connect(os.path.join(d.dir, "kioskd.db"))
    db.execute("PRAGMA user_version = 9999")
    db.commit()
    db.close()
    p = subprocess.run([BIN, "serve", "-c", d.config_path], env=d.env, capture_output=True,
                       text=True, timeout=10)
    assert p.returncode != 0 and "newer than this kioskd" in p.stderr, p.stderr


def test_backup_copies_a_running_database():
    d = Daemon()
    dest = os.path.join(d.dir, "backup.db")
    p = d.cli("backup", dest)
    assert p.returncode == 0 and os.path.exists(dest)
    db = sqlite3.connect(dest)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM meta").fetchone()[0] >= 1
    db.close()
    p = d.cli("backup", check=False)
    assert p.returncode == 2
    d.stop()


def test_bare_kioskd_serves():
    d = Daemon(start=False)
    p = subprocess.Popen([BIN, "-c", d.config_path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=d.env, cwd=d.dir)
    line = b""
    deadline = time.monotonic() + 10
    while b"event=listening" not in line and time.monotonic() < deadline:
        line = p.stderr.readline()
    assert b"event=listening" in line
    p.send_signal(signal.SIGTERM)
    assert p.wait(5) == 0
    p.stdout.close()
    p.stderr.close()


def _read_answers(sock, timeout=3):
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def test_keep_alive_serves_deferred_answers_in_turn():
    s = harness.Site()
    ev = s.event(kind="community", capacity=100)
    sock = socket.create_connection(("127.0.0.1", s.d.port))
    for i in range(5):  # one request at a time on one connection
        body = ('{"name":"测试","phone":"1391111%04d","consent":true}' % i).encode()
        sock.sendall(b"POST /api/v1/events/%d/signups HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n" % (ev, len(body)) + body)
        head = b""
        sock.settimeout(5)
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 201"), head
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
        got = b""
        while len(got) < length:
            got += sock.recv(length - len(got))
    sock.close()
    s.d.stop()


def test_pipelined_requests_behind_a_waiting_answer_never_wedge_the_loop():
    s = harness.Site()
    ev = s.event(kind="community", capacity=100)
    for n in (2, 6):
        reqs = b""
        for i in range(n):
            body = ('{"name":"测试","phone":"1392222%02d%02d","consent":true}' % (n, i)).encode()
            reqs += (b"POST /api/v1/events/%d/signups HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n" % (ev, len(body)) + body)
        sock = socket.create_connection(("127.0.0.1", s.d.port))
        sock.sendall(reqs)
        data = _read_answers(sock)
        sock.close()
        # the first is answered; the connection then closes (the client retries the rest)
        assert data.startswith(b"HTTP/1.1 201"), data[:200]
        assert b"HTTP/1.1 4" not in data and b"HTTP/1.1 5" not in data, data
    t0 = time.monotonic()
    assert s.d.get("/healthz").status == 200
    assert time.monotonic() - t0 < 1
    # every answered sign-up is recorded; the unanswered ones were never read
    st = s.d.get(f"/api/v1/events/{ev}/stats", headers=harness.auth(s.staff)).json
    assert st["signed_up"] >= 2
    s.d.stop()  # and it still stops cleanly


def test_version_names_the_libraries_it_runs_with():
    p = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert re.fullmatch(r"kioskd \d+\.\d+\.\d+ \(schema \d+\)", lines[0]), lines
    assert re.fullmatch(r"sqlite 3\.\d+\.\d+", lines[1]), lines
    assert re.fullmatch(r"mbed TLS 2\.\d+\.\d+", lines[2]), lines
    assert re.match(r"libwebsockets 4\.\d+\.\d+", lines[3]), lines
    assert re.fullmatch(r"libcurl \d+\.\d+\.\d+", lines[4]), lines
