"""A throwaway PostgreSQL for the tests of `kioskd hq` on PostgreSQL.

    import pgserver
    url = pgserver.new_database()   # None (and one SKIP line) when PostgreSQL cannot run
    pgserver.psql(url, "SELECT 1")  # rows as lists of strings

One server per test run, started on first use from Debian's packages
(`postgresql`; `make test` installs it): initdb in a temporary directory,
listening only on a Unix socket there, run as the `postgres` user when the
tests run as root (initdb and postgres refuse root). Each caller gets a fresh
database. The server is stopped when the test run ends (atexit)."""
import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

_state = {"dir": None, "bin": None, "error": None, "said": False, "n": 0}


def _bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "postgres")):
            return d
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


def _as_owner():
    """The command prefix that runs a PostgreSQL server program here."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _start():
    bindir = _bindir()
    if not bindir:
        return "PostgreSQL is not installed (Debian package postgresql; make test installs it)"
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            return "there is no postgres user to run PostgreSQL as"
    d = tempfile.mkdtemp(prefix="kioskd-pg-")
    data = os.path.join(d, "data")
    if os.geteuid() == 0:
        os.chmod(d, 0o755)
        os.chown(d, owner.pw_uid, owner.pw_gid)
    # --no-sync: initdb's closing flush of every file (seconds on a busy disk) buys nothing for
    # a throwaway server; the server itself still syncs its commits
    p = subprocess.run(_as_owner() + [os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                                      "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                                      "--no-sync"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        return f"initdb failed: {p.stderr.strip()[-300:]}"
    _state["bin"] = bindir
    p = subprocess.run(_pg_ctl_start(d), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        log = open(os.path.join(d, "log")).read()[-300:] if os.path.exists(
            os.path.join(d, "log")) else p.stderr
        shutil.rmtree(d, ignore_errors=True)
        return f"PostgreSQL did not start: {log.strip()}"
    _state["dir"], _state["bin"] = d, bindir
    atexit.register(stop)
    return None


def _pg_ctl_start(d):
    return _as_owner() + [
        os.path.join(_state["bin"], "pg_ctl"), "-D", os.path.join(d, "data"), "-l",
        os.path.join(d, "log"), "-w", "-t", "60",
        "-o", f"-k {d} -c listen_addresses='' -c max_connections=200", "start"]


def stop():
    """Stops the server and removes its directory."""
    d = _state["dir"]
    if not d:
        return
    subprocess.run(_as_owner() + [os.path.join(_state["bin"], "pg_ctl"), "-D",
                                  os.path.join(d, "data"), "-m", "immediate", "-w", "stop"],
                   capture_output=True, timeout=60)
    shutil.rmtree(d, ignore_errors=True)
    _state["dir"] = None


def server_dir():
    return _state["dir"]


def available():
    """True when the server runs (started now if need be); else prints why once."""
    if _state["dir"] is None and _state["error"] is None:
        _state["error"] = _start()
    if _state["error"] and not _state["said"]:
        print(f"SKIP the PostgreSQL tests of kioskd hq: {_state['error']}", flush=True)
        _state["said"] = True
    return _state["error"] is None


def url(db):
    return f"postgresql:///{db}?host={_state['dir']}&user=postgres"


def psql(url_or_db, sql):
    """Runs sql; returns its rows as lists of strings."""
    db = url_or_db.split("///", 1)[1].split("?", 1)[0] if "///" in url_or_db else url_or_db
    p = subprocess.run([os.path.join(_state["bin"], "psql"), "-h", _state["dir"], "-U", "postgres",
                        "-d", db, "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                        "-c", sql], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"psql {sql!r}: {p.stderr}")
    return [line.split("\x1f") for line in p.stdout.splitlines()]


def new_database():
    """A new empty database's URL, or None when PostgreSQL cannot run here."""
    if not available():
        return None
    _state["n"] += 1
    name = f"kioskd_hq_{os.getpid()}_{_state['n']}"
    psql("postgres", f"CREATE DATABASE {name}")
    return url(name)


class Connection:
    """Enough of sqlite3's connection for the tests' reads: execute().fetchone()/fetchall()/iter.
    Values come back as int when they look like one, else as text."""

    def __init__(self, url_):
        self.url = url_

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def close(self):
        pass

    def execute(self, sql, params=()):
        assert not params, "pgserver.Connection takes no parameters"
        return _Rows([[_value(v) for v in row] for row in psql(self.url, sql)])


def _value(v):
    try:
        return int(v)
    except ValueError:
        return v


class _Rows(list):
    def fetchone(self):
        return tuple(self[0]) if self else None

    def fetchall(self):
        return [tuple(r) for r in self]

    def __iter__(self):
        return (tuple(r) for r in list.__iter__(self))


def pause():
    """Stops the server as a crash would (its data stays); resume() starts it again."""
    subprocess.run(_as_owner() + [os.path.join(_state["bin"], "pg_ctl"), "-D",
                                  os.path.join(_state["dir"], "data"), "-m", "immediate", "-w",
                                  "stop"], capture_output=True, timeout=60, check=True)


def resume():
    subprocess.run(_pg_ctl_start(_state["dir"]), capture_output=True, timeout=120, check=True)
