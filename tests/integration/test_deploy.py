"""The systemd unit and the Debian package (deploy/, tools/mkdeb.sh).

The unit passes `systemd-analyze verify` and its `systemd-analyze security`
rating is printed. The package is built from $KIOSKD_BIN (under SAN=1 from the
release build: tools/mkdeb.sh refuses a sanitizer build) and always checked
with dpkg-deb (files, modes, owners, control fields, conffiles, scripts); its
extracted binary runs with the shipped configuration (paths moved to a
temporary folder) and answers /healthz.

As root, where the kernel allows private namespaces and an overlay of /, the
package is installed with dpkg into a throw-away copy of this system (every
change lands in a tmpfs) with systemd booted in it: the maintainer scripts
start the unit, and its sandbox, journal, reload, restart, upgrade, remove and
purge are checked. Where systemd cannot boot, the package is installed there
without it, started the way the unit starts it (as kioskd), removed, installed
again and purged. What the machine cannot do is skipped with the reason
printed (tests/run.py has no skip state, so a skip counts as passed).
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import BIN, EXE, PATIENCE, RUNNER, SAN, free_port, skip_if_emulated

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = os.path.join(TOP, "deploy", "kioskd.service")
CONF = os.path.join(TOP, "deploy", "kioskd.conf")
_deb = {}

# tests/run.py runs this file with nothing beside it: it boots systemd in a copy of this whole
# system (an overlay of /) and gives each step of the package's life a bounded time
RUN_ALONE = "boots systemd over a copy of the system"


def packaged_binary():
    """The binary under test, or under SAN=1 the release build (made here): a package never
    holds a sanitizer build, whose leak checker dies with status 1 under the unit's seccomp
    filter."""
    if not SAN:
        return EXE
    p = subprocess.run(["make", "--no-print-directory", "-C", TOP, "SAN=0", "build/rel/kioskd"],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout + p.stderr
    return os.path.join(TOP, "build", "rel", "kioskd")


def package():
    """Builds the package once per run from the binary under test (for arm64, make
    test ARCH=arm64 gives mkdeb.sh DEB_ARCH, STRIP and KIOSKD_RUNNER)."""
    if "path" not in _deb:
        binary = packaged_binary()
        # beside the binary, replaced on each run
        out = os.path.join(os.path.dirname(os.path.abspath(binary)), "deb-test")
        shutil.rmtree(out, ignore_errors=True)
        p = subprocess.run(["sh", os.path.join(TOP, "tools", "mkdeb.sh"), binary, out],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        _deb["path"] = p.stdout.strip().splitlines()[-1]
    return _deb["path"]


def healthz(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def test_unit_verifies_and_its_security_is_reported():
    tool = shutil.which("systemd-analyze")
    if not tool:
        print("SKIP test_deploy: systemd-analyze is missing (tools/deps.sh test installs systemd)")
        return
    d = tempfile.mkdtemp(prefix="kioskd-unit-")
    try:
        # the unit as shipped, its ExecStart pointing at the binary under test
        # (the package test below verifies it unchanged where it is installed)
        with open(UNIT) as f:
            text = f.read()
        assert re.search(r"^ExecStart=/usr/bin/kioskd serve -c /etc/kioskd/kioskd.conf$", text, re.M)
        for line in ("User=kioskd", "ProtectSystem=strict", "ReadWritePaths=/var/lib/kioskd",
                     "NoNewPrivileges=yes", "PrivateTmp=yes", "Restart=on-failure",
                     "StartLimitIntervalSec=0", "RestartPreventExitStatus=2",
                     "StandardError=journal", "ExecReload=/bin/kill -HUP $MAINPID"):
            assert re.search("^" + re.escape(line) + "$", text, re.M), line
        unit = os.path.join(d, "kioskd.service")
        with open(unit, "w") as f:
            f.write(text.replace("ExecStart=/usr/bin/kioskd", "ExecStart=" + os.path.abspath(BIN)))
        # --man=no: the man page of Documentation= is installed by the package only
        p = subprocess.run([tool, "verify", "--man=no", unit], capture_output=True, text=True, timeout=30)
        if p.returncode != 0 and re.search(r"Failed to (connect|initialize)|not been booted",
                                           p.stderr):
            print(f"SKIP test_deploy: systemd-analyze verify cannot run here: {p.stderr.strip()}")
            return
        assert p.returncode == 0 and p.stderr.strip() == "", p.stderr
        p = subprocess.run([tool, "security", "--offline=true", unit], capture_output=True,
                           text=True, timeout=30)
        m = re.search(r"Overall exposure level for kioskd.service: ([0-9.]+) (\w+)", p.stdout)
        assert m, p.stdout + p.stderr
        print(f"systemd-analyze security kioskd.service: {m.group(1)} {m.group(2)}")
        for line in p.stdout.splitlines():
            if line.startswith("\u2717"):
                print("  " + re.sub(r"\s{2,}", "  ", line.strip()))
        assert float(m.group(1)) <= 2.0, m.group(0)
    finally:
        shutil.rmtree(d)


def test_a_sanitizer_build_is_never_packaged():
    """Under the unit's seccomp filter (no ptrace) ASan's leak checker dies at exit with status 1,
    so a configuration error (exit 2) would be restarted every 2 s instead of failing the unit:
    tools/mkdeb.sh refuses such a binary and says why."""
    d = tempfile.mkdtemp(prefix="kioskd-san-")
    try:
        src, exe = os.path.join(d, "main.c"), os.path.join(d, "kioskd")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\nint main(void) { puts("kioskd 0.0.1"); return 0; }\n')
        cc = subprocess.run(["cc", "-fsanitize=address,undefined", "-o", exe, src],
                            capture_output=True, text=True)
        if cc.returncode != 0:
            print(f"SKIP test_deploy: no sanitizer runtime to build with: {cc.stderr.strip()}")
            return
        out = os.path.join(d, "out")
        p = subprocess.run(["sh", os.path.join(TOP, "tools", "mkdeb.sh"), exe, out],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "is a sanitizer build" in p.stderr, (p.returncode, p.stderr)
        assert not os.path.exists(out) or not os.listdir(out), os.listdir(out)
    finally:
        shutil.rmtree(d)


def test_package_contents_and_control():
    deb = package()
    print(f"package {os.path.basename(deb)}: {os.path.getsize(deb)} bytes")
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                             check=True).stdout
    files = {}
    for line in listing.splitlines():
        mode, owner, _size, _day, _time, path = line.split(None, 5)
        files[path.removeprefix(".")] = (mode, owner)
    want = {
        "/usr/bin/kioskd": "-rwxr-xr-x",
        "/lib/systemd/system/kioskd.service": "-rw-r--r--",
        "/etc/kioskd/kioskd.conf": "-rw-r--r--",
        "/usr/share/doc/kioskd/copyright": "-rw-r--r--",
        "/usr/share/doc/kioskd/changelog.gz": "-rw-r--r--",
        "/usr/share/doc/kioskd/operations.md.gz": "-rw-r--r--",
        "/usr/share/man/man8/kioskd.8.gz": "-rw-r--r--",
    }
    for path, mode in want.items():
        assert path in files, (path, sorted(files))
        assert files[path][0] == mode, (path, files[path])
    for path, (mode, owner) in files.items():
        assert owner == "root/root", (path, owner)
        assert not path.startswith(("/var", "/tmp", "/home")), path
        assert mode[0] in "-d", (path, mode)

    def field(name):
        return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert field("Package") == "kioskd"
    assert field("Architecture") == (os.environ.get("DEB_ARCH") or subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip())
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout
    assert version.startswith(f"kioskd {field('Version')} "), (version, field("Version"))
    depends = [d.split()[0] for d in field("Depends").split(", ")]
    for lib in ("libc6", "libsqlite3-0", "libwebsockets17", "libcurl4", "libjansson4",
                "libexpat1", "libmbedcrypto7", "adduser"):
        assert lib in depends, (lib, depends)
    info = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"], capture_output=True, text=True,
                          check=True).stdout
    assert info.split() == ["/etc/kioskd/kioskd.conf"], info
    d = tempfile.mkdtemp(prefix="kioskd-ctl-")
    try:
        subprocess.run(["dpkg-deb", "-e", deb, d], check=True)
        for s in ("postinst", "prerm", "postrm"):
            p = os.path.join(d, s)
            assert os.access(p, os.X_OK), s
            assert subprocess.run(["sh", "-n", p]).returncode == 0, s
        with open(os.path.join(d, "postinst")) as f:
            assert "adduser --system" in f.read()
        with open(os.path.join(d, "postrm")) as f:
            text = f.read()
            assert "rm -rf /var/lib/kioskd" in text and "deluser" in text
    finally:
        shutil.rmtree(d)


def test_packaged_binary_serves_with_the_shipped_config():
    deb = package()
    d = tempfile.mkdtemp(prefix="kioskd-x-")
    proc = None
    try:
        root = os.path.join(d, "root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        kioskd = os.path.join(root, "usr", "bin", "kioskd")
        p = subprocess.run(RUNNER + [kioskd, "--version"], capture_output=True, text=True,
                           timeout=10 * PATIENCE)
        assert p.returncode == 0 and p.stdout.startswith("kioskd "), p
        with open(os.path.join(root, "etc", "kioskd", "kioskd.conf")) as f:
            shipped = f.read()
        with open(CONF) as f:
            assert shipped == f.read()
        assert "./var" not in shipped
        # every path the shipped file sets or leaves at its default: none under the cwd
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSKD_")}
        cfg = os.path.join(root, "etc", "kioskd", "kioskd.conf")
        dump = subprocess.run(RUNNER + [kioskd, "check-config", "-c", cfg], capture_output=True,
                              text=True, env=env, timeout=10 * PATIENCE)
        assert dump.returncode == 0, dump.stderr
        paths = re.findall(r"^(?:path|key_file|database) = (.*)$", dump.stdout, re.M)
        assert len(paths) == 5 and all(p.startswith("/var/lib/kioskd/") for p in paths), paths
        # the same file with its data folder moved to this test's folder
        data = os.path.join(d, "var-lib-kioskd")
        conf = os.path.join(d, "kioskd.conf")
        with open(conf, "w") as f:
            f.write(shipped.replace("/var/lib/kioskd", data))
        env["KIOSKD_HTTP_LISTEN"] = "127.0.0.1:0"
        log = os.path.join(d, "stderr.log")
        with open(log, "wb") as err:
            proc = subprocess.Popen(RUNNER + [kioskd, "serve", "-c", conf], stdout=subprocess.DEVNULL,
                                    stderr=err, env=env, cwd=d)
        port = None
        deadline = time.monotonic() + 15 * PATIENCE
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            with open(log) as f:
                m = re.search(r"event=listening .*port=(\d+)", f.read())
            port = int(m.group(1)) if m else None
            time.sleep(0.02)
        with open(log) as f:
            assert port, f.read()
        st, body = healthz(port)
        assert st == 200 and body["status"] == "ok" and body["db"] == "ok", body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        proc = None
        for name in ("kioskd.db", "kioskd.key", "ticket-key.pem"):
            assert os.path.exists(os.path.join(data, name)), (name, os.listdir(data))
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(d)


# The start of both scripts that run in a throw-away system: `fact KEY VALUE`
# prints a fact; `request METHOD PATH [JSON]` prints "STATUS BODY" from the
# daemon on $PORT (retried while it is not listening yet), or "none";
# `installed`, `files`, `removed` and `purged` print what dpkg left in place.
PRELUDE = r"""
set -u
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
fact() { printf '%s=%s\n' "$1" "$2"; }
request() {
    python3 - "$PORT" "$@" <<'PY'
import http.client, sys, time
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = sys.argv[4] if len(sys.argv) > 4 else None
for _ in range(100):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request(method, path, body, {"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        print(r.status, r.read().decode())
        break
    except OSError:
        time.sleep(0.1)
else:
    print("none")
PY
}
dpkg_do() {
    dpkg "$@" >/tmp/dpkg.log 2>&1 || { fact dpkg "failed: $*"; cat /tmp/dpkg.log; exit 1; }
}
installed() {
    fact status "$(dpkg-query -W -f='${Status}' kioskd)"
    fact user "$(getent passwd kioskd | cut -d: -f1,6,7)"
    fact group "$(getent group kioskd | cut -d: -f1)"
    fact datadir "$(stat -c %U:%G:%a /var/lib/kioskd)"
    fact conf "$(stat -c %U:%G:%a /etc/kioskd/kioskd.conf)"
    fact bin "$(stat -c %U:%G:%a /usr/bin/kioskd)"
    fact enabled "$(readlink /etc/systemd/system/multi-user.target.wants/kioskd.service || echo no)"
    fact version "$(/usr/bin/kioskd --version | head -n 1)"
    if command -v systemd-analyze >/dev/null; then
        systemd-analyze verify /lib/systemd/system/kioskd.service >/tmp/verify.log 2>&1
        fact verify "$? $(tr '\n' ' ' </tmp/verify.log)"
    fi
}
files() {
    fact files "$(cd /var/lib/kioskd && stat -c %n:%U:%a kioskd.db kioskd.key ticket-key.pem | tr '\n' ' ')"
}
kept() { if "$@" >/dev/null; then echo kept; else echo gone; fi; }
removed() {
    fact removed "bin:$(kept test -e /usr/bin/kioskd) data:$(kept test -e /var/lib/kioskd/kioskd.db)\
 user:$(kept getent passwd kioskd) conf:$(kept test -e /etc/kioskd/kioskd.conf)"
}
purged() {
    left=""
    for p in /usr/bin/kioskd /lib/systemd/system/kioskd.service /etc/kioskd /var/lib/kioskd \
        /etc/systemd/system/multi-user.target.wants/kioskd.service /usr/share/doc/kioskd; do
        if [ -e "$p" ] || [ -L "$p" ]; then left="$left $p"; fi
    done
    fact left "${left:-none}"
    fact after_user "$(getent passwd kioskd || echo none)"
    fact after_group "$(getent group kioskd || echo none)"
    fact after_status "$(dpkg-query -W -f='${Status}' kioskd 2>/dev/null || echo none)"
}
"""


def check_installed(facts, report):
    assert facts["status"] == "install ok installed", report
    assert facts["user"] == "kioskd:/var/lib/kioskd:/usr/sbin/nologin", report
    assert facts["group"] == "kioskd", report
    assert facts["datadir"] == "kioskd:kioskd:700", report
    assert facts["conf"] == "root:kioskd:640", report
    assert facts["bin"] == "root:root:755", report
    assert facts["enabled"] == "/lib/systemd/system/kioskd.service", report
    assert facts["version"].startswith("kioskd "), report
    if "verify" in facts:
        assert facts["verify"].strip() == "0", report
    assert facts["files"].split() == ["kioskd.db:kioskd:600", "kioskd.key:kioskd:600",
                                      "ticket-key.pem:kioskd:600"], report
    # remove keeps the data, the user and the configuration; a new install carries on
    assert facts["removed"] == "bin:gone data:kept user:kept conf:kept", report
    # purge leaves nothing
    assert facts["left"] == "none", report
    assert facts["after_user"] == "none" and facts["after_group"] == "none", report
    assert facts["after_status"] in ("none", ""), report


# Without systemd: started the way the unit starts it (its ExecStart, as
# kioskd, in /var/lib/kioskd), then removed, installed again and purged.
INNER = PRELUDE + r"""
dpkg_do -i /root/kioskd.deb
installed
cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/kioskd.service)
cd /var/lib/kioskd
KIOSKD_HTTP_LISTEN=127.0.0.1:$PORT setpriv --reuid=kioskd --regid=kioskd --init-groups \
    --inh-caps=-all -- $cmd 2>/tmp/kioskd.log &
pid=$!
fact healthz "$(request GET /healthz)"
kill -TERM "$pid"
wait "$pid"
fact exit "$?"
cd /
files
grep -q 'event=listening' /tmp/kioskd.log || cat /tmp/kioskd.log
dpkg_do -r kioskd
removed
dpkg_do -i /root/kioskd.deb
fact reinstalled "data:$(kept test -e /var/lib/kioskd/kioskd.db)"
dpkg_do --purge kioskd
purged
"""

# With systemd booted: the maintainer scripts start, restart and stop the unit.
INNER_SYSTEMD = PRELUDE + r"""
PORT=8080
# wait_for COMMAND: up to 20 s
wait_for() {
    i=0
    while [ $i -lt 200 ]; do
        if sh -c "$1" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "timed out waiting for: $1"
    return 1
}
main() { systemctl show -p MainPID --value kioskd.service; }
# wait_for_new PID: another main process is active
wait_for_new() {
    wait_for "[ \"\$(systemctl show -p MainPID --value kioskd.service)\" != $1 ] && \
    [ \"\$(systemctl show -p MainPID --value kioskd.service)\" != 0 ] && \
    systemctl is-active -q kioskd.service"
}
dpkg_do -i /root/kioskd.deb
installed
wait_for 'systemctl is-active -q kioskd.service'
fact active "$(systemctl is-active kioskd.service)"
h=$(request GET /healthz)
fact healthz "$h"
case $h in
200*) ;;
*) systemctl status --no-pager kioskd.service; journalctl -u kioskd.service -n 20 --no-pager; exit 1 ;;
esac
files
pid=$(main)
fact process "user:$(stat -c %U /proc/$pid) \
$(grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/$pid/status | tr -s '\t\n' '  ')"
fact rootfs "$(awk '$5 == "/" { print $6 }' /proc/$pid/mountinfo | cut -d, -f1)"
fact journal "$(journalctl -u kioskd.service -o cat | grep -c 'event=listening')"
systemctl reload kioskd.service
wait_for 'journalctl -u kioskd.service -o cat | grep -q event=log_reopened'
fact reload "$(journalctl -u kioskd.service -o cat | grep -c 'event=log_reopened')"
kill -KILL "$pid"
wait_for_new "$pid"
fact restarted "$(systemctl show -p NRestarts --value kioskd.service) $(systemctl is-active kioskd.service)"
fact healthz_after "$(request GET /healthz)"
# a staff account added as the docs say, then an upgrade: restarted, the account kept
echo 583920 | setpriv --reuid=kioskd --regid=kioskd --init-groups -- kioskd staff add M1 \
    --name "Test Manager" --role manager -c /etc/kioskd/kioskd.conf >/tmp/staff.log 2>&1
fact staff "$? $(tr '\n' ' ' </tmp/staff.log)"
pid=$(main)
dpkg_do -i /root/kioskd-next.deb
wait_for_new "$pid"
fact upgraded "$(dpkg-query -W -f='${Version}' kioskd) $(systemctl is-active kioskd.service)"
fact login "$(request POST /api/v1/staff/login \
    '{"staff_id": "M1", "pin": "583920", "device": "tablet-1"}')"
# a configuration error: failed at once, not restarted over and over
mkdir -p /etc/systemd/system/kioskd.service.d
printf '[Service]\nEnvironment=KIOSKD_HTTP_LISTEN=nowhere\n' >/etc/systemd/system/kioskd.service.d/bad.conf
systemctl daemon-reload
systemctl restart kioskd.service
wait_for 'systemctl is-failed -q kioskd.service'
fact bad_config "$(systemctl is-active kioskd.service) \
$(systemctl show -p ExecMainStatus --value kioskd.service) \
$(journalctl -u kioskd.service -o cat | grep -c 'configuration error')"
rm -r /etc/systemd/system/kioskd.service.d
systemctl daemon-reload
systemctl restart kioskd.service
wait_for 'systemctl is-active -q kioskd.service'
# removed: stopped, the data kept; then purged
dpkg_do -r kioskd
removed
fact removed_unit "$(systemctl is-active kioskd.service)"
dpkg_do --purge kioskd
fact purged_unit "$(systemctl show -p LoadState --value kioskd.service) $(systemctl is-active kioskd.service)"
purged
"""

# The start of both throw-away copies (run in a private mount namespace):
# $w/m is / overlaid with a tmpfs, where every change lands; the packages of $w
# are copied to its /root. Exit 77: this machine cannot do it.
OVERLAY = r"""
set -eu
w=$1
m=$w/m
mount -t tmpfs -o size=512m,mode=0755 kioskd-deploy-test "$w/t" || exit 77
mkdir "$w/t/upper" "$w/t/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$w/t/upper,workdir=$w/t/work" "$m" || exit 77
[ -x "$m/usr/bin/dpkg" ] || { echo "/usr is not on the root filesystem" >&2; exit 77; }
cp "$w"/*.deb "$m/root/"
rm -f "$m/usr/sbin/policy-rc.d"   # an image's "do not start services" policy
rm -f "$m/var/lib/man-db/auto-update"   # no man-db index rebuild on each dpkg run
"""

# The throw-away copy with the host's /proc, /dev and /sys; runs inner.sh there.
OUTER = OVERLAY + r"""
mount --rbind /proc "$m/proc" && mount --rbind /dev "$m/dev" && mount --rbind /sys "$m/sys" || exit 77
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
cp "$w/inner.sh" "$m/tmp/inner.sh"
exec chroot "$m" /bin/sh /tmp/inner.sh
"""

# Boots systemd in a throw-away copy: its own mount, PID, network, UTS and IPC
# namespaces, /sys and /proc/sys read-only (no device or kernel setting of the
# host is touched), basic.target only.
OUTER_SYSTEMD = OVERLAY + r"""
[ -x "$m/lib/systemd/systemd" ] || { echo "systemd is not installed" >&2; exit 77; }
mount -t proc proc "$m/proc" || exit 77
mount --bind "$m/proc/sys" "$m/proc/sys" && mount -o remount,bind,ro "$m/proc/sys"
mount --rbind /sys "$m/sys" && mount -o remount,bind,ro "$m/sys" || exit 77
mount --rbind /dev "$m/dev" || exit 77
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
echo kioskd-test >"$m/etc/hostname"
exec chroot "$m" env container=kioskd-test /lib/systemd/systemd --system --unit=basic.target \
    --log-target=journal
"""

NEXT_SUFFIX = "+upgrade1"


def facts_of(p):
    return dict(re.findall(r"^(\w+)=(.*)$", p.stdout, re.M)), \
        f"rc={p.returncode}\n{p.stdout}\n{p.stderr}"


def without_systemd(w, deb):
    """Installs, starts, removes, reinstalls and purges; False if this machine cannot."""
    with open(os.path.join(w, "inner.sh"), "w") as f:
        f.write(INNER)
    env = dict(os.environ, PORT=str(free_port()))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", OUTER,
                        "outer", w], capture_output=True, text=True, env=env, timeout=50)
    if p.returncode == 77 or (p.returncode != 0 and "unshare: " in p.stderr):
        print("SKIP test_deploy: cannot make a throw-away copy of the system here "
              f"(mount namespace and overlay of /): {p.stderr.strip()}")
        return False
    facts, report = facts_of(p)
    assert p.returncode == 0, report
    check_installed(facts, report)
    st, _, body = facts["healthz"].partition(" ")
    assert st == "200" and json.loads(body)["status"] == "ok", report
    assert facts["exit"] == "0", report
    assert facts["reinstalled"] == "data:kept", report
    print(f"without systemd: {os.path.basename(deb)} installed, /healthz ok as kioskd, "
          "removed, installed again, purged")
    return True


def under_systemd(w, deb, version):
    """The whole life of the package under systemd; False if systemd cannot boot here."""
    if not shutil.which("nsenter"):
        print("systemd not tried: no nsenter")
        return False
    boot = init = None
    try:
        t0 = time.monotonic()
        with open(os.path.join(w, "boot.log"), "wb") as log:
            boot = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--net", "--uts",
                                     "--ipc", "--propagation", "private", "sh", "-c",
                                     OUTER_SYSTEMD, "outer", w],
                                    stdout=log, stderr=subprocess.STDOUT)
        children = f"/proc/{boot.pid}/task/{boot.pid}/children"
        deadline = time.monotonic() + 10
        while init is None and time.monotonic() < deadline and boot.poll() is None:
            try:
                with open(children) as f:
                    init = int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                time.sleep(0.02)
        enter = ["nsenter", "-t", str(init or 0), "-m", "-p", "-n", "-u", "-i", "-r", "-w"]
        state = None
        # "offline" (or no bus) until systemd has exec'd and opened its socket
        while init and time.monotonic() < deadline + 20 and boot.poll() is None:
            state = subprocess.run(enter + ["systemctl", "is-system-running", "--wait"],
                                   capture_output=True, text=True, timeout=30)
            if state.stdout.strip() not in ("offline", ""):
                break
            time.sleep(0.1)
        if not state or state.stdout.strip() not in ("running", "degraded"):
            with open(os.path.join(w, "boot.log")) as f:
                why = f.read().strip()
            print("systemd does not boot in a throw-away system here "
                  f"({state.stdout.strip() + state.stderr.strip() if state else 'no init'}; "
                  f"{why[-300:]}); installing without it")
            return False
        booted = time.monotonic()
        # a guard against a hang, not a time limit: two installs, an upgrade and a purge
        # take over 60 s on a shared machine at a load average of 20 or more
        try:
            p = subprocess.run(enter + ["sh", "-c", INNER_SYSTEMD], capture_output=True,
                               text=True, timeout=300)
        except subprocess.TimeoutExpired as e:
            said = e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout
            raise AssertionError(f"the checks did not end in 300 s; the facts so far:\n{said}")
        print(f"systemd booted in {booted - t0:.1f} s; "
              f"the checks took {time.monotonic() - booted:.1f} s")
    finally:
        if init:
            try:
                os.kill(init, signal.SIGKILL)  # the namespace's init: everything in it ends
            except ProcessLookupError:
                pass
        if boot:
            try:
                boot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                boot.kill()
                boot.wait()
    facts, report = facts_of(p)
    assert p.returncode == 0, report
    check_installed(facts, report)
    # the maintainer scripts started the unit; it serves as the kioskd user, sandboxed
    assert facts["active"] == "active", report
    st, _, body = facts["healthz"].partition(" ")
    assert st == "200" and json.loads(body)["db"] == "ok", report
    proc = facts["process"].split()
    assert proc[0] == "user:kioskd", report
    assert dict(zip(proc[1::2], proc[2::2])) == {"NoNewPrivs:": "1", "Seccomp:": "2",
                                                 "CapEff:": "0000000000000000"}, report
    assert facts["rootfs"] == "ro", report
    # its log is in the journal; reload reopens it; a crash is restarted
    assert int(facts["journal"]) >= 1 and int(facts["reload"]) >= 1, report
    assert facts["restarted"] == "1 active", report
    assert facts["healthz_after"].startswith("200 "), report
    # an upgrade restarts it on the same data
    assert facts["staff"].startswith("0"), report
    assert facts["upgraded"] == f"{version}{NEXT_SUFFIX} active", report
    st, _, body = facts["login"].partition(" ")
    assert st == "200" and json.loads(body)["token"], report
    # a configuration error is not restarted, and the journal says why
    assert facts["bad_config"] == "failed 2 1", report
    # remove stopped it; purge took the unit away
    assert facts["removed_unit"] == "inactive", report
    assert facts["purged_unit"] == "not-found inactive", report
    print(f"under systemd: {os.path.basename(deb)} installed and started, /healthz ok as "
          "kioskd (read-only /, seccomp, no capabilities), journal, reload, restart after "
          "SIGKILL, upgrade on the same data, no restart after a configuration error, "
          "remove, purge")
    return True


def test_package_in_a_throwaway_system():
    """Under systemd where it boots, else without it."""
    if skip_if_emulated("test_deploy.test_package_in_a_throwaway_system",
                        "an arm64 package cannot be installed into this amd64 system"):
        return
    deb = package()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("SKIP test_deploy: installing the package in a throw-away system needs root "
              "(dpkg, adduser, mounts) and unshare")
        return
    w = tempfile.mkdtemp(prefix="kioskd-inst-")
    try:
        os.mkdir(os.path.join(w, "t"))
        os.mkdir(os.path.join(w, "m"))
        shutil.copy(deb, os.path.join(w, "kioskd.deb"))
        # the same package as the next version, for the upgrade
        version = subprocess.run(["dpkg-deb", "-f", deb, "Version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        raw = os.path.join(w, "next")
        subprocess.run(["dpkg-deb", "-R", deb, raw], check=True)
        control = os.path.join(raw, "DEBIAN", "control")
        with open(control) as f:
            text = f.read()
        with open(control, "w") as f:
            f.write(text.replace(f"\nVersion: {version}\n", f"\nVersion: {version}{NEXT_SUFFIX}\n"))
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "-b", raw,
                        os.path.join(w, "kioskd-next.deb")], check=True, capture_output=True)
        shutil.rmtree(raw)
        if not under_systemd(w, deb, version):
            without_systemd(w, deb)
    finally:
        shutil.rmtree(w, ignore_errors=True)
