"""Starts ./build/kioskd for a test and talks to it over HTTP (Python stdlib only).

    d = harness.Daemon()            # temporary folder, free port, started
    st, body = d.get("/healthz")    # body is parsed JSON when the reply is JSON
    d.stop()                        # SIGTERM; asserts exit code 0
"""
import http.client
import http.server
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("KIOSKD_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "kioskd")
SAN = os.environ.get("SAN") == "1"
# Set by `make test ARCH=arm64` ("arm64 under qemu-aarch64-static"): the binary
# runs emulated, many times slower; tests that need native speed say SKIP.
EMULATED = os.environ.get("KIOSKD_EMULATED", "")
# How much longer the harness waits for a start, a stop or an answer then (emulation is
# 4-13 times slower), and under a sanitizer build (make test SAN=1, 2-3 times slower).
PATIENCE = 6 if EMULATED else 3 if SAN else 1
# The program itself (BIN is then a script that starts it under qemu-user) and
# the command that starts a copy of it (KIOSKD_RUNNER: qemu-user; else none).
EXE = os.environ.get("KIOSKD_EXE") or BIN
RUNNER = shlex.split(os.environ.get("KIOSKD_RUNNER", ""))
_running = []


# What the migrations after 0008 add (drop order: referring tables first), dropped by tests that rebuild a database
# as an earlier release left it (the members table of 0008 last).
DROP_AFTER_0008 = """
    DROP TABLE signup_campaigns; -- added by migration 0015
    DROP TABLE campaign_calls;
    DROP TABLE campaign_members;
    DROP TABLE campaign_steps;
    DROP TABLE campaigns;
    DROP TABLE points_lines;     -- added by migration 0009
    DROP TABLE points_ops;
    DROP TABLE upgrade_products;
    DROP TABLE upgrades;
    DROP TABLE products;
    DROP INDEX signups_phone;
    DROP TABLE bind_codes;       -- added by migration 0010
    DROP TABLE bot_bindings;
    DROP TABLE bind_failures;
    DROP TABLE bot_deliveries;
    DROP TABLE bot_group_stats;
    DROP TABLE messages;         -- added by migration 0011
    DROP TABLE maturities;
    DROP TABLE channel_state;
    DROP INDEX members_birthday_md;
    DROP INDEX signups_created;
    DROP TABLE sync_state;       -- added by migration 0012
    DROP TABLE signup_origins;   -- added by migration 0014 (ticket_event_id: 0019)
    DROP TABLE ticket_revocations;
    DROP TABLE bot_replies;      -- added by migration 0016
    DROP INDEX events_hq_key;    -- added by migration 0017 (points_lines is rebuilt by it)
    ALTER TABLE events DROP COLUMN hq_key;
    ALTER TABLE events DROP COLUMN branch;
    DROP TABLE templates_pulled;
    DROP TABLE points_hq_pending;
    ALTER TABLE signups DROP COLUMN ticket_digest; -- added by migration 0018
"""


def skip_if_emulated(test, why):
    """Under emulation (EMULATED) says SKIP with the reason and returns True."""
    if not EMULATED:
        return False
    print(f"SKIP {test}: {why} ({EMULATED})", flush=True)
    return True


def slow_fsync_env(ms):
    """Environment that makes the daemon's fsync take ms milliseconds (a slow SD card)."""
    lib = os.environ.get("KIOSKD_SLOWFSYNC") or os.path.join(
        os.path.dirname(BIN), "slowfsync.so")
    return {"LD_PRELOAD": _preload(lib), "SLOWFSYNC_MS": str(ms)}


def _preload(lib):
    """LD_PRELOAD for lib (behind ASan's runtime when SAN=1, which must come first)."""
    assert os.path.exists(lib), "build the preload library: make test builds it"
    if not SAN:
        return lib
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    return asan + " " + lib


def failalloc_lib():
    return os.environ.get("KIOSKD_FAILALLOC_LIB") or os.path.join(
        os.path.dirname(BIN), "failalloc.so")


def failalloc_env(spec):
    """Environment that makes the daemon's allocations fail as spec says (tests/failalloc.c)."""
    return {"LD_PRELOAD": _preload(failalloc_lib()), "KIOSKD_FAILALLOC": spec}


# make test-failalloc: allocation failures spread through every daemon the tests start,
# armed once it listens (KIOSKD_FAILALLOC_SPREAD="every=N[,seed=S]").
SPREAD = os.environ.get("KIOSKD_FAILALLOC_SPREAD", "")


def free_port():
    """A port nothing listens on, for a server that must come back on the same port after a
    stop. It is below the kernel's ephemeral range, which the daemons of the tests running
    beside this one (listening on port 0) and every outgoing connection take theirs from."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rnd = random.SystemRandom()
    for _ in range(200):
        port = rnd.randrange(max(1024, low - 20000), max(1025, low))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


def stop_all():
    while _running:
        d = _running.pop()
        d.kill()


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.raw = raw
        ctype = self.headers.get("content-type", "")
        self.json = json.loads(raw) if ctype.startswith("application/json") and raw else None

    def __iter__(self):  # st, body = d.get(...)
        yield self.status
        yield self.json if self.json is not None else self.raw

    def __repr__(self):
        return f"<Reply {self.status} {self.raw[:200]!r}>"


class Daemon:
    command = "serve"

    def __init__(self, config="", env=None, args=(), start=True, dir=None, tls=None):
        self.dir = dir or tempfile.mkdtemp(prefix="kioskd-test-")
        self.own_dir = dir is None
        self.config_path = os.path.join(self.dir, "kioskd.ini")
        # KIOSKD_TEST_EVENT_LOOP=poll|epoll runs every daemon on that [http] event_loop
        loop = os.environ.get("KIOSKD_TEST_EVENT_LOOP", "")
        base = ("[http]\nlisten = 127.0.0.1:0\nrate_limit = 0\n"
                + (f"event_loop = {loop}\n" if loop else "") +
                f"[store]\npath = {self.dir}/kioskd.db\nkey_file = {self.dir}/kioskd.key\n"
                "[staff]\nlogin_per_minute = 0\nlogin_id_per_minute = 0\n"
                "[kiosk]\nsignups_per_minute = 0\n"
                # messages have tests of their own (test_messages.py); elsewhere their
                # background jobs would change the batches the fault tests count
                "[messages]\nchannel = off\n")
        with open(self.config_path, "w") as f:
            f.write(merge_ini(base, config))
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("KIOSKD_"):
                del self.env[k]
        if SAN:
            self.env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99"
            self.env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=98"
        self.env.update(env or {})
        self.spread_ctl = None
        if SPREAD and "KIOSKD_FAILALLOC" not in self.env:
            # armed by SIGUSR2 once the daemon listens (start()), so start-up runs untouched
            lib = failalloc_lib()
            pre = self.env.get("LD_PRELOAD", "")
            self.env["LD_PRELOAD"] = (pre + " " + lib) if pre else _preload(lib)
            self.spread_ctl = os.path.join(self.dir, "failalloc.ctl")
            with open(self.spread_ctl, "w") as f:
                f.write(SPREAD)
            # the plan is read from ctl when armed; the environment carries trace=1 or stats=
            self.env["KIOSKD_FAILALLOC"] = f"ctl={self.spread_ctl},{SPREAD}"
        self.args = list(args)
        self.tls = tls  # an ssl.SSLContext: talk HTTPS to a daemon serving [http] cert/key
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "stderr.log")
        if start:
            self.start()

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.log_offset = self.log.tell()
        self.proc = subprocess.Popen([BIN, self.command, "-c", self.config_path] + self.args,
                                     stdout=subprocess.PIPE, stderr=self.log, env=self.env,
                                     cwd=self.dir)
        _running.append(self)
        deadline = time.monotonic() + timeout * PATIENCE
        while time.monotonic() < deadline:
            m = re.search(r"event=listening .*port=(\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                if self.spread_ctl:
                    self.proc.send_signal(signal.SIGUSR2)
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"kioskd exited with {self.proc.returncode}:\n{self.stderr()}")
            time.sleep(0.01)
        raise AssertionError("kioskd did not start:\n" + self.stderr())

    def stderr(self, since_start=True):
        with open(self.log_path, "rb") as f:
            if since_start:
                f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def all_stderr(self):
        return self.stderr(since_start=False)

    def request(self, method, path, body=None, headers=None, timeout=10, source=None):
        """source: the client address to send from (another 127.x address)."""
        src = (source, 0) if source else None
        if self.tls:
            conn = http.client.HTTPSConnection("localhost", self.port,
                                               timeout=timeout * PATIENCE,
                                               source_address=src, context=self.tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * PATIENCE,
                                              source_address=src)
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return Reply(resp.status, resp.getheaders(), raw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def raw(self, data, timeout=5, read=True):
        """Sends raw bytes on a new connection; returns what came back until close or timeout."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        out = b""
        if read:
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except socket.timeout:
                pass
        s.close()
        return out

    def cli(self, *args, input=None, check=True):
        """Runs `kioskd ARGS -c <this config>` and returns the CompletedProcess."""
        env = {k: v for k, v in self.env.items() if k not in ("LD_PRELOAD", "SLOWFSYNC_MS",
                                                               "KIOSKD_FAILALLOC")}
        p = subprocess.run([BIN] + list(args) + ["-c", self.config_path], input=input,
                           capture_output=True, env=env, cwd=self.dir, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"kioskd {' '.join(args)} exited {p.returncode}: {p.stderr!r}")
        return p

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5):
        """SIGTERM, wait, and check a clean exit (0, and no sanitizer report)."""
        if not self.proc:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * PATIENCE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("kioskd did not stop within %ss after SIGTERM" % (timeout * PATIENCE))
        self.proc.stdout.close()
        self.log.close()
        if self in _running:
            _running.remove(self)
        err = self.stderr()
        assert "ERROR: AddressSanitizer" not in err and "runtime error:" not in err, err
        assert rc == 0, f"exit code {rc}\n{err}"
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL (a power cut, for the process); no checks."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.log.close()
        self.proc = None
        if self in _running:
            _running.remove(self)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.kill()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class HQ(Daemon):
    """`kioskd hq` (the reference HQ server) on a temporary database.

        hq = harness.HQ()                       # admin token hq.admin_token
        secret = hq.device_add("branch-1")      # the device's secret
        st, body = hq.get("/hq/v1/devices", headers=auth(hq.admin_token))
    """
    command = "hq"
    admin_token = "hq-admin-token-0123456789abcdef"

    def __init__(self, config="", backend="sqlite", database_url=None, **kw):
        """backend "pg": on a new PostgreSQL database (tests/integration/pgserver.py), or
        on database_url (another HQ process's database); the caller checks
        pgserver.available() first."""
        base = ("[hqserver]\nlisten = 127.0.0.1:0\n"
                f"admin_token = {self.admin_token}\n")
        dir = kw.pop("dir", None) or tempfile.mkdtemp(prefix="kioskd-hq-")
        base += f"database = {dir}/hq.db\nkey_file = {dir}/hq.key\n"
        self.database_url = None
        if backend == "pg" or database_url:
            import pgserver
            self.database_url = database_url or pgserver.new_database()
            assert self.database_url, "PostgreSQL is not available (pgserver.available())"
            base += f"database_url = {self.database_url}\n"
        super().__init__(config=merge_ini(base, config), dir=dir, **kw)
        self.own_dir = True

    def url(self):
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    def device_add(self, device, area=None):
        p = self.cli("hq", "device", "add", device, *(["--area", area] if area else []))
        lines = p.stdout.decode().splitlines()
        assert len(lines) == 1 and re.fullmatch(r"[0-9a-f]{64}", lines[0]), p.stdout
        return lines[0]

    def db(self):
        """HQ's database, for reads: sqlite3's connection, or one with the same calls on
        PostgreSQL."""
        if self.database_url:
            import pgserver
            return pgserver.Connection(self.database_url)
        import sqlite3
        return sqlite3.connect(os.path.join(self.dir, "hq.db"))


def on_both_backends(fn):
    """Registers fn(backend) as two tests of the calling module, NAME_sqlite and NAME_pg
    (the latter says SKIP once and passes when PostgreSQL cannot run here); same assertions."""
    import sys
    import pgserver
    g = sys._getframe(1).f_globals

    def make(backend):
        def test():
            if backend == "pg" and not pgserver.available():
                return
            fn(backend)
        test.__name__ = f"{fn.__name__}_{backend}"
        test.__code__ = test.__code__.replace(co_firstlineno=fn.__code__.co_firstlineno)
        return test
    for backend in ("sqlite", "pg"):
        t = make(backend)
        g[t.__name__] = t
    return None


class Loopback:
    """An HTTP server on 127.0.0.1 playing the far side of a test (a gateway, WeChat's API,
    HQ). handle(method, path, headers, body) returns (status, reply): bytes as they are,
    anything else as JSON. A client that left before its answer is ignored."""

    def __init__(self, handle):
        class H(http.server.BaseHTTPRequestHandler):
            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, reply = handle(self.command, self.path, self.headers, body)
                raw = reply if isinstance(reply, bytes) else \
                    json.dumps(reply, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    if not isinstance(reply, bytes):
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass

            do_GET = do_POST = answer

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_port}"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def merge_ini(base, extra):
    """Merges INI text extra into base (extra's keys win)."""
    def parse(text):
        out, sec = {}, ""
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in ";#":
                continue
            if line.startswith("["):
                sec = line[1:line.index("]")]
                out.setdefault(sec, {})
            else:
                k, _, v = line.partition("=")
                out.setdefault(sec, {})[k.strip()] = v.strip()
        return out
    merged = parse(base)
    for sec, kv in parse(extra).items():
        merged.setdefault(sec, {}).update(kv)
    return "".join(f"[{s}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items())
                   for s, kv in merged.items())


# --- domain helpers -------------------------------------------------------

import base64
import datetime
import struct
import threading

CN = datetime.timezone(datetime.timedelta(hours=8))


def iso(dt):
    return dt.astimezone(CN).isoformat(timespec="seconds")


def from_now(minutes=0, seconds=0):
    return iso(datetime.datetime.now(CN) + datetime.timedelta(minutes=minutes, seconds=seconds))


def eventually(fn, timeout=10):
    """fn()'s first truthy value, asked again until timeout seconds have passed (then its last
    value). For what the daemon commits after it has answered: a read's audit line is queued
    for the writer's next group commit ([store] read_audit = queued)."""
    end = time.monotonic() + timeout * PATIENCE
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.01)


def add_staff(d, staff_id, role="staff", pin="123456", name="Test Staff"):
    p = d.cli("staff", "add", staff_id, "--name", name, "--role", role, input=(pin + "\n").encode(),
              check=False)
    assert p.returncode == 0, p.stderr
    return pin


def import_csv(d, kind, text):
    """Writes text to a file in d's folder and runs `kioskd import KIND FILE` on it."""
    path = os.path.join(d.dir, f"{kind}.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return d.cli("import", kind, path)


def login(d, staff_id, pin="123456", device="tablet-1"):
    r = d.post("/api/v1/staff/login", {"staff_id": staff_id, "pin": pin, "device": device})
    assert r.status == 200, r
    return r.json["token"]


def auth(token):
    return {"Authorization": "Bearer " + token}


class Site:
    """A daemon with a manager and a staff member logged in."""

    def __init__(self, config="", **kw):
        self.d = Daemon(config=config, start=False, **kw)
        add_staff(self.d, "M1", "manager", "111111")
        add_staff(self.d, "S1", "staff", "222222")
        self.d.start()
        self.manager = login(self.d, "M1", "111111", "office")
        self.staff = login(self.d, "S1", "222222", "tablet-1")

    def event(self, title="客户财富升级会", kind="upgrade", starts=30, minutes=40, capacity=None,
              venue="二楼贵宾室", starts_seconds=0):
        body = {"title": title, "kind": kind, "starts_at": from_now(starts, starts_seconds),
                "ends_at": from_now(starts + minutes, starts_seconds), "venue": venue}
        if capacity is not None:
            body["capacity"] = capacity
        r = self.d.post("/api/v1/events", body, headers=auth(self.manager))
        assert r.status == 201, r
        return r.json["id"]

    def signup(self, event_id, phone, name="张三丰", **extra):
        body = {"name": name, "phone": phone, "consent": True}
        body.update(extra)
        return self.d.post(f"/api/v1/events/{event_id}/signups", body)

    def checkin(self, token=None, **body):
        return self.d.post("/api/v1/checkins", body, headers=auth(token or self.staff))


class WebSocket:
    """A minimal RFC 6455 client: connect, read text messages."""

    def __init__(self, port, path, headers=None, timeout=5, tls=None):
        """tls: an ssl.SSLContext for WSS."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """Returns the next text message as parsed JSON (answers pings)."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 1:
                return json.loads(payload)
            if op == 8:
                raise ConnectionError("closed by server")
            if op == 9:
                self._send(0xA, payload)

    def _send(self, op, payload):
        mask = os.urandom(4)
        head = bytes([0x80 | op, 0x80 | len(payload)]) + mask
        self.sock.sendall(head + bytes(p ^ mask[i % 4] for i, p in enumerate(payload)))

    def recv_until(self, kind, limit=20):
        for _ in range(limit):
            m = self.recv()
            if m.get("type") == kind:
                return m
        raise AssertionError(f"no {kind} message")

    def close(self):
        self.sock.close()


def parallel(fn, args_list):
    """Runs fn(*args) for each args in threads at once; returns the results in order."""
    results = [None] * len(args_list)
    barrier = threading.Barrier(len(args_list))

    def run(i, args):
        barrier.wait()
        try:
            results[i] = fn(*args)
        except Exception as e:  # noqa: BLE001 - the caller inspects
            results[i] = e
    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
