"""[http] cert/key serve HTTPS and WSS through libwebsockets; Strict-Transport-Security only
over TLS; a bad certificate or key is refused at start; `kioskd hq` over TLS with a branch
pinning its CA ([hq] ca_file). The certificates are self-signed, made here with openssl."""
import os
import socket
import ssl
import subprocess
import tempfile

from harness import BIN, HQ, Daemon, Site, WebSocket, merge_ini
from test_hq import busy_branch, hq_count, outbox
from test_hq_daemon import health, metric, wait_for


def make_cert(dir, name="kioskd"):
    """A self-signed certificate for localhost and 127.0.0.1; returns (cert, key) paths."""
    cert, key = os.path.join(dir, name + ".crt"), os.path.join(dir, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    f"/CN=localhost/O=kioskd test {name}", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def pinned(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = True
    return ctx


def tls_config(cert, key, section="http"):
    return f"[{section}]\ncert = {cert}\nkey = {key}\n"


def test_https_and_wss_with_hsts_and_plain_http_refused_cleanly():
    certs = tempfile.mkdtemp(prefix="kioskd-certs-")
    cert, key = make_cert(certs)
    ctx = pinned(cert)
    s = Site(config=tls_config(cert, key), tls=ctx)
    try:
        assert "tls=on" in s.d.stderr()
        r = s.d.get("/healthz")
        assert r.status == 200 and r.json["status"] == "ok", r
        assert r.headers["strict-transport-security"].startswith("max-age="), r.headers
        # a client that does not trust the certificate is refused by the handshake
        with socket.create_connection(("127.0.0.1", s.d.port), timeout=5) as raw:
            try:
                ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
                raise AssertionError("an untrusted certificate was accepted")
            except ssl.SSLCertVerificationError:
                pass
        # plain HTTP to the TLS port gets no HTTP answer, and the daemon keeps serving
        for _ in range(3):
            try:
                out = s.d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
            except ConnectionResetError:
                out = b""  # refused: the bytes were not a TLS handshake
            assert b"HTTP/1.1 200" not in out and b"status" not in out, out[:200]
        assert s.d.get("/healthz").status == 200
        # the live view over WSS: hello, then a sign-up's counts
        ev = s.event()
        ws = WebSocket(s.d.port, f"/api/v1/live?event={ev}&token={s.staff}", tls=ctx)
        assert ws.recv()["type"] == "hello"
        assert s.signup(ev, "13812349901", name="李四").status == 201
        assert ws.recv_until("signup")["counts"]["signed_up"] == 1
        ws.close()
        s.d.stop()
    finally:
        s.d.cleanup()


def test_plain_http_has_no_hsts():
    d = Daemon()
    try:
        r = d.get("/healthz")
        assert r.status == 200 and "strict-transport-security" not in r.headers, r.headers
        d.stop()
    finally:
        d.cleanup()


def test_unreadable_or_mismatched_certificate_is_refused_at_start():
    certs = tempfile.mkdtemp(prefix="kioskd-certs-")
    cert, key = make_cert(certs)
    other_cert, other_key = make_cert(certs, "other")
    garbage = os.path.join(certs, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    cases = [
        (tls_config(os.path.join(certs, "missing.crt"), key), "[http] cert", "cannot read"),
        (tls_config(cert, os.path.join(certs, "missing.key")), "[http] key", "cannot read"),
        (tls_config(garbage, key), "[http] cert", "not a PEM certificate"),
        (tls_config(cert, garbage), "[http] key", "not an unencrypted PEM private key"),
        (tls_config(cert, other_key), "[http] key", "does not match"),
    ]
    for config, what, why in cases:
        d = Daemon(config=config, start=False)
        try:
            p = subprocess.run([BIN, "serve", "-c",
                                d.config_path], capture_output=True, text=True, cwd=d.dir,
                               env=d.env, timeout=30)
            assert p.returncode == 2, (config, p.returncode, p.stderr)
            assert "configuration error" in p.stderr and what in p.stderr and why in p.stderr, \
                p.stderr
            assert not os.path.exists(os.path.join(d.dir, "kioskd.db"))  # nothing was opened
            c = d.cli("check-config", check=False)
            assert c.returncode == 2 and why in c.stderr.decode(), c
        finally:
            d.cleanup()
    hq = HQ(config=tls_config(other_cert, key, "hqserver"), start=False)
    try:
        p = subprocess.run([BIN, "hq", "-c",
                            hq.config_path], capture_output=True, text=True, cwd=hq.dir,
                           env=hq.env, timeout=30)
        assert p.returncode == 2 and "[hqserver] key" in p.stderr, (p.returncode, p.stderr)
    finally:
        hq.cleanup()


def test_branch_syncs_to_hq_over_tls_pinning_its_ca_and_a_wrong_ca_loses_nothing():
    certs = tempfile.mkdtemp(prefix="kioskd-certs-")
    cert, key = make_cert(certs, "hq")
    wrong_ca, _ = make_cert(certs, "wrong")
    hq = HQ(config=tls_config(cert, key, "hqserver"), tls=pinned(cert))
    fast = "interval = 1\nmax_backoff = 2\n"
    bad = good = None
    try:
        assert hq.url().startswith("https://")
        # a branch pinning another CA: every round fails as network, the outbox stays
        secret_bad = hq.device_add("branch-bad")
        bad = Site(config=f"[hq]\nurl = {hq.url()}\ndevice = branch-bad\nsecret = {secret_bad}\n"
                   f"ca_file = {wrong_ca}\n{fast}")
        busy_branch(bad)
        wait_for(lambda: metric(bad, 'kioskd_sync_failures_by_kind_total{kind="network"}'),
                 what="a failed TLS round")
        h = health(bad)
        assert h["hq"] == "offline" and h["outbox_pending"] == len(outbox(bad)), h
        assert hq_count(hq) == 0
        # the right CA: everything goes, once
        secret = hq.device_add("branch-1")
        good = Site(config=f"[hq]\nurl = {hq.url()}\ndevice = branch-1\nsecret = {secret}\n"
                    f"ca_file = {cert}\n{fast}")
        busy_branch(good)
        # the outbox empties at the push's ack; the round is "online" once its pull is done too
        wait_for(lambda: (lambda h: h["outbox_pending"] == 0 and h["hq"] == "online")(
            health(good)), what="an empty outbox and a round done")
        assert hq_count(hq) == len(outbox(good))
        # the bad branch lost nothing: pinned to the right CA, it drains too
        bad.d.stop()
        with open(bad.d.config_path) as f:
            config = merge_ini(f.read(), f"[hq]\nca_file = {cert}\n")
        with open(bad.d.config_path, "w") as f:
            f.write(config)
        bad.d.start()
        wait_for(lambda: health(bad)["outbox_pending"] == 0, what="the bad branch's outbox")
        assert hq_count(hq) == len(outbox(good)) + len(outbox(bad))
        bad.d.stop()
        good.d.stop()
        hq.stop()
    finally:
        for site in (bad, good):
            if site:
                site.d.cleanup()
        hq.cleanup()
