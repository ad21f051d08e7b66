#!/usr/bin/env python3
"""Peak RSS (VmHWM) of every kioskd process the benchmarks start.

As a module: stop(proc, name) sends SIGTERM and waits, wait(proc, name) waits for a subprocess.Popen like proc.wait()
and notes the process's peak RSS, its VmHWM in /proc read every 10 ms until
it exits (not wait4's ru_maxrss: a child started by vfork, as subprocess
does, counts the Python parent's own peak in it); run(args, name) is
subprocess.run(args, capture_output=True, text=True) with the same note. Each note is printed ("bench: NAME: peak RSS
X MiB") and, when BENCH_RSS_LOG names a file, appended to it as "KIB NAME".
The shell benchmarks note theirs with peakrss.sh.

As a script, `peakrss.py LOG` prints the notes of LOG grouped by name and the
peak over them all beside the target (at most 64 MB).
"""
import os
import subprocess
import sys
import tempfile
import time

TARGET_MB = 64


def note(name, kib):
    print(f"bench: {name}: peak RSS {kib / 1024:.1f} MiB", file=sys.stderr, flush=True)
    path = os.environ.get("BENCH_RSS_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{kib} {name}\n")


def hwm_kib(pid):
    """VmHWM of a running process in KiB (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait(proc, name, timeout=None, kib=0):
    """proc.wait(timeout) that also notes proc's peak RSS (at least kib, read
    before it was signalled); returns its exit status."""
    if proc.returncode is not None:
        return proc.returncode  # already reaped elsewhere: nothing to measure
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        kib = max(kib, hwm_kib(proc.pid))  # VmHWM only grows: the last read is the peak
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if kib:
        note(name, kib)
    return proc.returncode


def stop(proc, name, timeout=10):
    """Reads proc's peak RSS, sends it SIGTERM if it still runs, then wait():
    a process that exits at once is no longer in /proc when wait() looks."""
    kib = hwm_kib(proc.pid) if proc.returncode is None else 0
    if proc.poll() is None:
        proc.terminate()
    return wait(proc, name, timeout, kib)


def run(args, name):
    """subprocess.run(args, capture_output=True, text=True) that notes the peak RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, text=True)
        rc = wait(proc, name)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, rc, out.read(), err.read())


def summary(path):
    peaks = {}
    try:
        with open(path) as f:
            for line in f:
                kib, _, name = line.strip().partition(" ")
                if name:
                    n, top = peaks.get(name, (0, 0))
                    peaks[name] = (n + 1, max(top, int(kib)))
    except FileNotFoundError:
        pass
    if not peaks:
        print("peak RSS over the benchmarks: nothing noted")
        return
    print("\nPeak RSS (VmHWM) of the kioskd processes the benchmarks started")
    for name, (n, top) in sorted(peaks.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:<44} {n:4d} x  {top / 1024:7.1f} MiB")
    worst = max(peaks.items(), key=lambda kv: kv[1][1])
    kib = worst[1][1]
    print(f"peak RSS over the benchmarks: {kib / 1024:.1f} MiB ({kib * 1024 / 1e6:.1f} MB, "
          f"{worst[0]}); target at most {TARGET_MB} MB ({TARGET_MB * 1e6 / 2**20:.1f} MiB): "
          + ("met" if kib * 1024 <= TARGET_MB * 1e6 else "NOT met"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    summary(sys.argv[1])
