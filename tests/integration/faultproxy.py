"""A fault-injecting HTTP proxy between a branch daemon and `kioskd hq`, for the
sync fault tests (tests/integration/test_hq_faults.py). Python stdlib only.

    p = FaultProxy(hq.port)                 # listens on 127.0.0.1:p.port
    p.set("status500")                      # every request from now on
    p.set("hold_answer", only="/sync/v1/push", skip=1)  # the 2nd push only
    p.reached.wait(15); ...; p.release()    # a held request goes on
    p.set("pass")
    status, body = p.replay(p.pushes()[0])  # a recorded request, sent again

Each connection carries one request (answers say `Connection: close`, so the
branch's libcurl never reuses one the proxy is about to cut). Modes:

    pass          forward, relay the answer
    status500     answer 500 without forwarding
    close_mid     forward, relay the first `cut` bytes of the answer, close
                  (cut < 0: all but the last -cut bytes)
    slow          forward, hold the answer `secs` seconds, relay it
    drop          read the request, close without forwarding
    bad_sig       forward with the signature's last hex digit changed
    hold_request  hold the request before forwarding until release()
    hold_answer   forward, hold HQ's answer until release(), relay it

A mode applies to requests whose path starts with `only` (every request when
None), after the first `skip` of them, at most `times` times (None: no
limit); other requests pass. Every request is recorded (self.log) with what
was done to it. `python3 faultproxy.py UPSTREAM_PORT [MODE]` runs one by hand.
"""
import socket
import sys
import threading
import time

MODES = ("pass", "status500", "close_mid", "slow", "drop", "bad_sig", "hold_request",
         "hold_answer")
HEAD_MAX = 64 * 1024
BODY_MAX = 256 * 1024 * 1024


class Request:
    def __init__(self, method, target, headers, body):
        self.method, self.target, self.headers, self.body = method, target, headers, body
        self.mode = "pass"       # what the proxy did to it
        self.forwarded = False   # sent on to HQ
        self.status = None       # HQ's status when it got an answer

    @property
    def path(self):
        return self.target.partition("?")[0]

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def _read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > HEAD_MAX:
            raise ValueError("head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def _read_exact(sock, rest, n):
    if n > BODY_MAX:
        raise ValueError("body too long")
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    return rest[:n]


def _parse_headers(lines):
    out = []
    for line in lines:
        k, _, v = line.partition(":")
        out.append((k.strip(), v.strip()))
    return out


def read_request(sock):
    head, rest = _read_head(sock)
    if head is None:
        return None
    lines = head.split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = _parse_headers(lines[1:])
    n = 0
    for k, v in headers:
        if k.lower() == "content-length":
            n = int(v)
        if k.lower() == "transfer-encoding":
            raise ValueError("chunked requests are not proxied")
    return Request(method, target, headers, _read_exact(sock, rest, n))


def encode_request(r, host):
    drop = {"connection", "keep-alive", "host", "content-length", "proxy-connection"}
    lines = [f"{r.method} {r.target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in r.headers if k.lower() not in drop]
    if r.method != "GET" or r.body:
        lines.append(f"Content-Length: {len(r.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + r.body


def read_answer(sock):
    """HQ's answer as (status, bytes to relay with Connection: close, body)."""
    head, rest = _read_head(sock)
    if head is None:
        raise ConnectionError("no answer")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = _parse_headers(lines[1:])
    n = None
    for k, v in headers:
        if k.lower() == "content-length":
            n = int(v)
    if n is None:  # no length: until HQ closes
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = rest
    else:
        body = _read_exact(sock, rest, n)
    keep = [f"{k}: {v}" for k, v in headers
            if k.lower() not in ("connection", "keep-alive", "content-length",
                                 "transfer-encoding")]
    out = "\r\n".join([lines[0]] + keep + [f"Content-Length: {len(body)}", "Connection: close"])
    return status, (out + "\r\n\r\n").encode("latin-1") + body, body


def send_upstream(r, port, timeout=30, sent=None):
    up = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        up.sendall(encode_request(r, f"127.0.0.1:{port}"))
        if sent:
            sent()
        return read_answer(up)
    finally:
        up.close()


def corrupt_signature(headers):
    out = []
    for k, v in headers:
        if k.lower() == "authorization" and v:
            v = v[:-1] + ("0" if v[-1] != "0" else "1")
        out.append((k, v))
    return out


class FaultProxy:
    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.log = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.reached = threading.Event()  # a request reached a hold
        self._gate = threading.Event()
        self._rule = ("pass", None, 0, None, {})
        self._seen = 0
        self._applied = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode, only=None, skip=0, times=None, **args):
        """The mode for the requests from now on (args: secs for slow, cut for close_mid)."""
        assert mode in MODES, mode
        with self.lock:
            self._rule = (mode, only, skip, times, args)
            self._seen = self._applied = 0
            self.reached.clear()
            self._gate.clear()

    def release(self):
        """Lets held requests go on (the mode stays)."""
        self._gate.set()

    def requests(self, path=None):
        with self.lock:
            return [r for r in self.log if path is None or r.path == path]

    def pushes(self):
        return self.requests("/sync/v1/push")

    def replay(self, r):
        """Sends recorded request r to HQ again, as it was; returns (status, body bytes)."""
        status, _, body = send_upstream(Request(r.method, r.target, r.headers, r.body),
                                        self.upstream)
        return status, body

    def close(self):
        self._closed = True
        self._gate.set()
        self.sock.close()

    # --- inside ---

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _choose(self, r):
        with self.lock:
            mode, only, skip, times, args = self._rule
            if only is not None and not r.path.startswith(only):
                return "pass", {}
            self._seen += 1
            if self._seen <= skip or (times is not None and self._applied >= times):
                return "pass", {}
            self._applied += 1
            return mode, args

    def _serve(self, conn):
        conn.settimeout(60)
        counted = False
        try:
            r = read_request(conn)
            if r is None:
                return
            mode, args = self._choose(r)
            r.mode = mode
            with self.lock:
                self.log.append(r)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                counted = True
            if mode == "drop":
                return
            if mode == "status500":
                body = b'{"error":{"code":"internal","message":"injected by the proxy"}}'
                conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: "
                             b"application/json\r\nConnection: close\r\nContent-Length: " +
                             str(len(body)).encode() + b"\r\n\r\n" + body)
                return
            if mode == "hold_request":
                self.reached.set()
                self._gate.wait()
                if self._closed:
                    return
            out = r
            if mode == "bad_sig":
                out = Request(r.method, r.target, corrupt_signature(r.headers), r.body)
            try:
                status, raw, _ = send_upstream(out, self.upstream,
                                               sent=lambda: setattr(r, "forwarded", True))
            except OSError:
                return  # HQ is gone: the branch sees its connection closed
            with self.lock:
                r.status = status
            if mode == "hold_answer":
                self.reached.set()
                self._gate.wait()
            elif mode == "slow":
                time.sleep(float(args.get("secs", 5)))
            elif mode == "close_mid":
                conn.sendall(raw[:int(args.get("cut", len(raw) // 2))])
                return
            conn.sendall(raw)
        except (OSError, ValueError):
            pass
        finally:
            if counted:
                with self.lock:
                    self.in_flight -= 1
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: faultproxy.py UPSTREAM_PORT [MODE]")
    p = FaultProxy(int(sys.argv[1]))
    p.set(sys.argv[2] if len(sys.argv) > 2 else "pass")
    print(f"listening on 127.0.0.1:{p.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        p.close()


if __name__ == "__main__":
    main()
