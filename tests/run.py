#!/usr/bin/env python3
"""Runs every kioskd test and ends with the line `N passed, N failed`.

Unit tests: each cmocka binary in $KIOSKD_UNIT_DIR (built from tests/unit/).
Integration tests: each test_* function in tests/integration/test_*.py; they
start the real binary ($KIOSKD_BIN) on a free port with a temporary database.
End-to-end tests: tests/e2e/run.mjs drives the web pages in headless Chromium
(node, playwright-core from tests/e2e/node_modules, /usr/bin/chromium).

Arguments select tests whose name contains any of them (e.g. `make test T=signup`).
$KIOSKD_RUNNER starts the unit test programs when they are built for another
architecture (`make test ARCH=arm64`: qemu-user); --no-e2e leaves out the
end-to-end tests.
"""
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))


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
    return passed, failed


def run_integration(filters):
    passed = failed = 0
    idir = os.path.join(HERE, "integration")
    for fname in sorted(os.listdir(idir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(idir, fname))
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
                import harness
                harness.stop_all()
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


def main():
    filters = sys.argv[1:]
    # --integration-only: the integration tests alone (make test-failalloc)
    only_integration = "--integration-only" in filters
    no_e2e = only_integration or "--no-e2e" in filters
    filters = [f for f in filters if f not in ("--integration-only", "--no-e2e")]
    t0 = time.monotonic()
    up, uf = run_unit(filters) if not only_integration else (0, 0)
    ip, ifail = run_integration(filters)
    ep, ef = run_e2e(filters) if not no_e2e else (0, 0)
    print(f"tests took {time.monotonic() - t0:.0f}s")
    print(f"{up + ip + ep} passed, {uf + ifail + ef} failed")
    return 1 if uf + ifail + ef else 0


if __name__ == "__main__":
    sys.exit(main())
