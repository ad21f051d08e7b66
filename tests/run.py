#!/usr/bin/env python3
"""Runs every kioskd test and ends with the line `N passed, N failed`.

Unit tests: each cmocka binary in $KIOSKD_UNIT_DIR (built from tests/unit/), then each
fuzz target built with tests/fuzz/replay.c ($KIOSKD_REPLAY_DIR) over its seed corpus.
Integration tests: each test_* function in tests/integration/test_*.py; they
start the real binary ($KIOSKD_BIN) on a free port with a temporary database.
End-to-end tests: tests/e2e/run.mjs drives the web pages in headless Chromium
(node, playwright-core from tests/e2e/node_modules, /usr/bin/chromium).

Arguments select tests whose name contains any of them (e.g. `make test T=signup`).

Jobs: the unit tests, the end-to-end tests and each integration test file run
as processes of their own, up to `-j N` at once (or $KIOSKD_TEST_JOBS; default
2 per CPU, most tests wait on the daemon); each one's output is printed whole
when it ends. A test file that sets `RUN_ALONE = "why"` at its top runs after
all the others, with nothing beside it. `-j 1` runs everything here, in order,
printing each test as it ends (as before the jobs).

$KIOSKD_RUNNER starts the unit test programs when they are built for another
architecture (`make test ARCH=arm64`: qemu-user); --no-e2e leaves out the
end-to-end tests.
"""
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
IDIR = os.path.join(HERE, "integration")
sys.path.insert(0, IDIR)
JOB_TIMEOUT = 1200  # seconds: a job still running then is killed and counted as failed
RESULT = "run.py-result:"  # a job's last line: RESULT PASSED FAILED


def selected(name, filters):
    return not filters or any(f in name for f in filters)


def run_unit(filters):
    passed = failed = 0
    unit_dir = os.environ.get("KIOSKD_UNIT_DIR", "")
    if not unit_dir or not os.path.isdir(unit_dir):
        print("unit: no unit test directory; build with make test", flush=True)
        return 0, 1
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout")
    runner = shlex.split(os.environ.get("KIOSKD_RUNNER", ""))
    for name in sorted(os.listdir(unit_dir)):
        path = os.path.join(unit_dir, name)
        if not name.startswith("test_") or not os.access(path, os.X_OK):
            continue
        if not selected(name, filters):
            continue
        t0 = time.monotonic()
        proc = subprocess.run(runner + [path], capture_output=True, text=True, env=env, timeout=600)
        out = proc.stdout + proc.stderr
        ok = len(re.findall(r"^\[\s+OK\s+\]", out, re.M))
        bad = len(re.findall(r"^\[\s+(FAILED|ERROR)\s+\]\s+\S+$", out, re.M))
        if proc.returncode != 0 and bad == 0:
            bad = 1
        passed += ok
        failed += bad
        status = "ok" if bad == 0 else "FAILED"
        print(f"unit {name}: {ok} passed, {bad} failed ({time.monotonic() - t0:.1f}s) {status}",
              flush=True)
        if bad:
            print(out)
    p, f = run_replays(filters, runner)
    return passed + p, failed + f


def run_replays(filters, runner):
    """Each fuzz target built with tests/fuzz/replay.c ($KIOSKD_REPLAY_DIR) over its seed
    corpus tests/fuzz/corpus/NAME: one test each, passed when every input ran."""
    replay_dir = os.environ.get("KIOSKD_REPLAY_DIR", "")
    if not replay_dir or not os.path.isdir(replay_dir):
        return 0, 0
    passed = failed = 0
    corpus = os.path.join(os.path.dirname(HERE), "tests", "fuzz", "corpus")
    for name in sorted(os.listdir(replay_dir)):
        path = os.path.join(replay_dir, name)
        if not name.startswith("fuzz_") or not os.access(path, os.X_OK):
            continue
        if not selected(name, filters):
            continue
        t0 = time.monotonic()
        proc = subprocess.run(runner + [path, os.path.join(corpus, name[len("fuzz_"):])],
                              capture_output=True, text=True, timeout=600)
        ok = proc.returncode == 0
        passed += ok
        failed += not ok
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        print(f"replay {name}: {last or 'no output'} ({time.monotonic() - t0:.1f}s) "
              f"{'ok' if ok else 'FAILED'}", flush=True)
        if not ok:
            print(proc.stdout + proc.stderr)
    return passed, failed


def integration_files():
    return sorted(f for f in os.listdir(IDIR) if f.startswith("test_") and f.endswith(".py"))


def run_integration_file(fname, filters):
    """Runs the selected tests of one file here, in the order they are written."""
    import harness
    passed = failed = 0
    spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(IDIR, fname))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for attr in sorted(dir(mod), key=lambda a: getattr(getattr(mod, a), "__code__", None)
                       and getattr(mod, a).__code__.co_firstlineno or 0):
        fn = getattr(mod, attr)
        if not attr.startswith("test_") or not callable(fn):
            continue
        full = f"{fname[:-3]}.{attr}"
        if not selected(full, filters):
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"ok     {full} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001 - a test failure of any kind is reported
            failed += 1
            print(f"FAILED {full} ({time.monotonic() - t0:.1f}s)", flush=True)
            traceback.print_exc()
            sys.stdout.flush()
        finally:
            harness.stop_all()
    return passed, failed


def run_integration(filters):
    passed = failed = 0
    for fname in integration_files():
        p, f = run_integration_file(fname, filters)
        passed += p
        failed += f
    return passed, failed


def run_e2e(filters):
    """tests/e2e/run.mjs prints one line per test, then `e2e: N passed, N failed`."""
    script = os.path.join(HERE, "e2e", "run.mjs")
    if not os.path.isdir(os.path.join(HERE, "e2e", "node_modules")):
        print("FAILED e2e (no tests/e2e/node_modules: make test runs npm ci --prefix tests/e2e)",
              flush=True)
        return 0, 1
    try:
        proc = subprocess.Popen(["node", script] + filters, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        print(f"FAILED e2e (cannot run node: {e}; make test installs it)", flush=True)
        return 0, 1
    counts = None
    for line in proc.stdout:
        print(line, end="", flush=True)
        m = re.match(r"e2e: (\d+) passed, (\d+) failed$", line.strip())
        if m:
            counts = int(m.group(1)), int(m.group(2))
    rc = proc.wait()
    if counts is None:
        print(f"FAILED e2e (the runner exited with {rc} without a result)", flush=True)
        return 0, 1
    return counts[0], counts[1] or (1 if rc else 0)


# --- jobs ------------------------------------------------------------------

class Job:
    def __init__(self, name, args, alone=False, filters=None):
        self.name, self.args, self.alone = name, args, alone
        self.filters = filters  # this job's own (the tests of an e2e share), else the run's
        self.passed = self.failed = 0
        self.took = self.cpu = 0.0
        self.out = ""


def may_select(fname, filters):
    """Whether a filter can select a test of fname (its functions, also as NAME_sqlite and
    NAME_pg of harness.on_both_backends), so that a file with none is not started."""
    if not filters:
        return True
    with open(os.path.join(IDIR, fname), encoding="utf-8") as f:
        names = re.findall(r"^def (test_\w+)", f.read(), re.M)
    return any(selected(f"{fname[:-3]}.{n}{suffix}", filters)
               for n in names for suffix in ("", "_sqlite", "_pg"))


def e2e_jobs(filters, shares):
    """The end-to-end tests (`test('NAME', ...)` in run.mjs) the filters select, dealt in turn
    to up to `shares` jobs, each with a browser and a daemon of its own; none if none is
    selected."""
    try:
        with open(os.path.join(HERE, "e2e", "run.mjs"), encoding="utf-8") as f:
            names = [f"e2e.{n}" for n in re.findall(r"^test\('(\w+)'", f.read(), re.M)]
    except OSError:
        return [Job("e2e", ["--job-e2e"])]  # the job says what is missing
    names = [n for n in names if selected(n, filters)]
    shares = max(1, min(shares, len(names) // 8))
    if shares == 1:
        return [Job("e2e", ["--job-e2e"])] if names else []
    return [Job(f"e2e-{k + 1}", ["--job-e2e"], filters=names[k::shares]) for k in range(shares)]


def run_alone_reason(fname):
    """A test file's RUN_ALONE (the reason it cannot share the machine), or None."""
    with open(os.path.join(IDIR, fname), encoding="utf-8") as f:
        m = re.search(r"^RUN_ALONE\s*=\s*(.+)$", f.read(), re.M)
    return m.group(1).strip() if m else None


def times_path():
    """Where the last durations of the jobs are kept (beside the binary under test): the
    longest start first."""
    binary = os.environ.get("KIOSKD_BIN") or os.path.join(HERE, "..", "build", "kioskd")
    return os.path.join(os.path.dirname(os.path.abspath(binary)), "test-times.json")


def load_times():
    try:
        with open(times_path()) as f:
            t = json.load(f)
        return t if isinstance(t, dict) else {}
    except (OSError, ValueError):
        return {}


def save_times(jobs):
    t = load_times()
    t.update({j.name: round(j.took, 1) for j in jobs if j.passed + j.failed})
    try:
        with open(times_path() + ".tmp", "w") as f:
            json.dump(t, f, indent=0, sort_keys=True)
        os.replace(times_path() + ".tmp", times_path())
    except OSError:
        pass


def run_job(job, filters):
    """Runs job in a process of its own (its own session, so a timeout ends its daemons too)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as out:
        proc = subprocess.Popen([sys.executable, "-u", os.path.abspath(__file__)] + job.args +
                                ["--"] + (filters if job.filters is None else job.filters),
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        rc = None
        while rc is None:  # wait4: the CPU time of the job and of the daemons it waited for
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = proc.returncode = os.waitstatus_to_exitcode(status)
                job.cpu = usage.ru_utime + usage.ru_stime
            elif time.monotonic() - t0 > JOB_TIMEOUT:
                os.killpg(proc.pid, signal.SIGKILL)
                out.write(f"\nFAILED {job.name} (killed after {JOB_TIMEOUT} s)\n")
            else:
                time.sleep(0.2)
        out.seek(0)
        text = out.read()
    job.took = time.monotonic() - t0
    m = re.search(rf"^{re.escape(RESULT)} (\d+) (\d+)$", text, re.M)
    if m:
        job.passed, job.failed = int(m.group(1)), int(m.group(2))
        text = text[:m.start()] + text[m.end() + 1:]
    if not m or (rc != 0 and job.failed == 0):
        job.failed += 1
        text += f"FAILED {job.name} (exited with {rc} without a result)\n"
    job.out = text


def run_jobs(jobs, filters, n):
    """Runs jobs up to n at once, longest first by the last run's times; prints each one's
    output whole when it ends."""
    last = load_times()
    queue = sorted(jobs, key=lambda j: -last.get(j.name, 1e9 if j.name.startswith("e2e")
                                                   else 30.0))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop(0)
            run_job(job, filters)
            with lock:
                status = "ok" if not job.failed else "FAILED"
                head = f"=== {job.name}: {job.passed} passed, {job.failed} failed " \
                       f"({job.took:.1f}s, cpu {job.cpu:.1f}s) {status}"
                print(f"{head}\n{job.out}", end="" if job.out.endswith("\n") or not job.out
                      else "\n", flush=True)
    threads = [threading.Thread(target=worker) for _ in range(max(1, n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def default_jobs():
    v = os.environ.get("KIOSKD_TEST_JOBS", "")
    if v:
        return int(v)
    return min(8, max(2, 2 * (os.cpu_count() or 1)))


def parse_args(argv):
    """Returns (filters, jobs, only_integration, no_e2e, mode, mode_arg)."""
    filters, jobs, only_integration, mode, mode_arg = [], default_jobs(), False, None, None
    no_e2e = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            filters += argv[i + 1:]
            break
        if a in ("-j", "--jobs"):
            i += 1
            jobs = int(argv[i])
        elif re.fullmatch(r"-j\d+", a):
            jobs = int(a[2:])
        elif a == "--integration-only":  # the integration tests alone (make test-failalloc)
            only_integration = True
        elif a == "--no-e2e":  # make test ARCH=arm64: the pages are not the architecture's
            no_e2e = True
        elif a in ("--job-unit", "--job-e2e"):
            mode = a
        elif a == "--job-file":
            mode, mode_arg = a, argv[i + 1]
            i += 1
        else:
            filters.append(a)
        i += 1
    return filters, jobs, only_integration, only_integration or no_e2e, mode, mode_arg


def main():
    filters, jobs, only_integration, no_e2e, mode, mode_arg = parse_args(sys.argv[1:])
    if mode:  # one job of a parallel run, in its own process
        if mode == "--job-unit":
            p, f = run_unit(filters)
        elif mode == "--job-e2e":
            p, f = run_e2e(filters)
        else:
            p, f = run_integration_file(mode_arg, filters)
        print(f"{RESULT} {p} {f}", flush=True)
        return 0
    t0 = time.monotonic()
    if jobs <= 1:
        up, uf = run_unit(filters) if not only_integration else (0, 0)
        ip, ifail = run_integration(filters)
        ep, ef = run_e2e(filters) if not no_e2e else (0, 0)
        passed, failed = up + ip + ep, uf + ifail + ef
    else:
        # the e2e tests in two shares: one alone is the longest job of all
        todo = [] if only_integration else [Job("unit", ["--job-unit"])]
        todo += [] if no_e2e else e2e_jobs(filters, 2 if jobs >= 3 else 1)
        todo += [Job(f[:-3], ["--job-file", f], alone=run_alone_reason(f) is not None)
                 for f in integration_files() if may_select(f, filters)]
        print(f"tests: {len(todo)} jobs, up to {jobs} at once "
              f"({sum(j.alone for j in todo)} alone at the end)", flush=True)
        run_jobs([j for j in todo if not j.alone], filters, jobs)
        run_jobs([j for j in todo if j.alone], filters, 1)
        if not filters:
            save_times(todo)
        passed, failed = sum(j.passed for j in todo), sum(j.failed for j in todo)
        print(f"jobs: {sum(j.took for j in todo):.0f}s of their own in all, "
              f"cpu {sum(j.cpu for j in todo):.0f}s")
    print(f"tests took {time.monotonic() - t0:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
