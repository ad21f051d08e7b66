#!/usr/bin/env python3
"""The benchmarks of `make bench` on the arm64 build under qemu-user, each
figure beside the native build's from the same run, with the slowdown.

    arm64.py [--native KIOSKD] [--arm64 KIOSKD_QEMU] [--only NAME,...] [--rounds N]

`make bench ARCH=arm64` (or `make -C bench arm64` once both builds exist)
runs it under `nice -n 10`. Each benchmark runs on the native build, then on
the arm64 one (build/arm64/kioskd-qemu, which starts build/arm64/kioskd
under qemu-aarch64-static), with the same knobs on both sides, so that the
machine's load hits both; the small programs (render_rate, ticket_rate)
alternate native, arm64, native, arm64 for --rounds (2) rounds. The run
lengths are shorter than `make bench`'s so that the whole takes about 15
minutes (bench/README.md, "arm64"). A rate's slowdown is native / arm64, a
time's (latency, start-up, import, drain) arm64 / native.

Everything each script printed stays in bench/out/arm64.XXXXXX/ (the table as
table.txt). Fails (exit 1) only when a benchmark broke on either side; the
table then says which.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The same knobs on both sides: shorter runs than `make bench`, since the
# emulated daemon is 4 to 13 times slower and every benchmark runs twice.
RUN_ENV = {"BENCH_SECONDS": "5", "BENCH_GET_SECONDS": "3"}
# Tickets per check-in run: enough for 5 s of check-ins on each side (the
# loader signs every one with ECDSA, which is about 13 times slower emulated).
TICKETS = {"native": "20000", "arm64": "1500"}
POINTS_ENV = {"MEMBERS": "20000", "BENCH_SECONDS": "5"}
WECHAT_ENV = {"WX_SECONDS": "3"}
IDLE_ARGS = ["--conns", "2000", "--seconds", "3", "--rounds", "1"]
HQ_ENTRIES = "50000"

# Not run under emulation, and why (printed under the table; bench/README.md).
LEFT_OUT = [
    "nginx and node (the peers in run.sh and wechat.sh) run natively on both sides: only kioskd "
    "is emulated, so their figures are not compared here",
    "hq_drain.py on PostgreSQL and hq_branches.py: they time a native PostgreSQL server as much "
    "as kioskd (the SQLite side of hq_drain.py is here)",
    "the disk's own rate (commit_rate) is the same native program on both sides: not kioskd",
    "AB_PERF profiles (bench/ab.py): perf sees qemu's translated code, not kioskd's functions",
]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def num(text):
    """The first number in text (commas allowed), or None."""
    m = re.search(r"-?[0-9][0-9,]*\.?[0-9]*", text or "")
    return float(m.group(0).replace(",", "")) if m else None


class Side:
    """One build: its label, the kioskd to start, and how to run a helper."""

    def __init__(self, name, kioskd, runner, slowlib, helpers):
        self.name, self.kioskd, self.runner = name, kioskd, runner
        self.slowlib, self.helpers = slowlib, helpers


class Bench:
    def __init__(self, a):
        self.a = a
        os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
        self.run = tempfile.mkdtemp(prefix="arm64.", dir=os.path.join(HERE, "out"))
        self.rows = []  # (section, label, native, arm64, kind)
        self.sections = {}  # key -> (title, the 1-minute load average before each side)
        self.broken = []
        self.notes = []
        self.t0 = time.monotonic()

    def say(self, msg):
        print(f"arm64 bench [{time.monotonic() - self.t0:5.0f} s, load {loadavg()}]: {msg}",
              file=sys.stderr, flush=True)

    def script(self, name, side, cmd, env):
        """Runs cmd for side; returns its output, or None if it failed."""
        out = os.path.join(self.run, f"{name}.{side.name}.txt")
        full = dict(os.environ, **env)
        t = time.monotonic()
        self.say(f"{name} on {side.name}")
        with open(out, "w") as f:
            p = subprocess.run(cmd, env=full, stdout=subprocess.PIPE, stderr=f, text=True,
                               cwd=HERE)
            f.write(p.stdout)
        self.say(f"{name} on {side.name}: {time.monotonic() - t:.0f} s, exit {p.returncode}")
        if p.returncode != 0:
            self.broken.append(f"{name} on {side.name} exited {p.returncode}: see {out}")
            return None
        return p.stdout

    def pair(self, key, title, fn):
        """Runs fn(side) on native, then arm64; records the load before each."""
        out, loads = {}, []
        for side in self.sides:
            loads.append(f"{side.name} {loadavg().split()[0]}")
            out[side.name] = fn(side)
        self.sections[key] = (title, ", ".join(loads))
        return out

    def add(self, section, label, values, kind):
        """kind: rate (slowdown native/arm64), time (arm64/native), info (no ratio)."""
        self.rows.append((section, label, values.get("native"), values.get("arm64"), kind))


def parse_table(text):
    """run.sh's table: {(heading, label): [values]}, heading the last row
    label that is not indented."""
    rows, heading = {}, ""
    for line in (text or "").splitlines():
        if not line.startswith("  ") or len(line) < 47:
            continue
        label, rest = line[2:46].rstrip(), line[46:].strip()
        if not label.startswith(" "):
            heading = label
        values = re.split(r"\s{2,}", rest) if rest else []
        rows.setdefault((heading, label.strip()), values)
    return rows


def pick(tables, heading, label, index, unit=""):
    """The index-th value of a row on each side, as a number (None when absent)."""
    out = {}
    for side, t in tables.items():
        for (h, lab), values in (t or {}).items():
            if h.startswith(heading) and lab == label and len(values) > index:
                v = values[index]
                if unit == "second":  # "p50 / p99"
                    v = v.split(" / ")[-1]
                elif unit == "batch":  # "commits/s, avg batch"
                    v = v.split(", ")[-1]
                out[side] = num(v)
                break
    return out


# The figures taken from run.sh's table: (title here, the row's heading (the
# last unindented label above it; a prefix), the row's label, which value
# (0: first column, 1: second), which part of it, kind).
SIGNUPS, CHECKINS = "sign-ups/s", "check-ins/s"
RUN_ROWS = [
    ("binary size, stripped (KiB)", "binary size", "binary size (stripped)", 1, "", "info"),
    ("RSS idle after start (MiB, qemu's own included)", "RSS idle",
     "RSS idle after start / after the loads", 0, "", "time"),
    ("RSS peak with a staff login (MiB)", "RSS peak", "RSS peak: sign-ups / with a staff login", 1,
     "", "time"),
    ("start-up, fresh folder (ms, median of 3)", "start-up",
     "start-up to first /healthz: fresh / existing", 0, "", "time"),
    ("start-up, existing database (ms)", "start-up", "start-up to first /healthz: fresh / existing",
     1, "", "time"),
    ("GET /healthz req/s (wrk -c32, best of 2)", "GET /healthz", "requests/s", 0, "", "rate"),
    ("GET /healthz p99 (ms)", "GET /healthz", "p99 latency (ms)", 0, "", "time"),
    ("GET /api/v1/events req/s", "GET /api/v1/events", "requests/s", 0, "", "rate"),
    ("GET /api/v1/events p99 (ms)", "GET /api/v1/events", "p99 latency (ms), non-2xx", 0, "",
     "time"),
]
for _col, _disk in ((0, "normal disk"), (1, "+20 ms/fsync")):
    RUN_ROWS += [
        (f"sign-ups/s, 64 conns, {_disk}", SIGNUPS, SIGNUPS, _col, "", "rate"),
        (f"  sign-up p99 (ms), {_disk}", SIGNUPS, "latency p50 / p99 (ms)", _col, "second", "time"),
        (f"  /healthz beside p99 (ms), {_disk}", SIGNUPS,
         "/healthz beside (-c4) p99 ms (goal: <10)", _col, "", "time"),
        (f"  avg batch (jobs/commit), {_disk}", SIGNUPS, "commits/s, avg batch (jobs/commit)", _col,
         "batch", "info"),
    ]
for _col, _disk in ((0, "normal disk"), (1, "+20 ms/fsync")):
    RUN_ROWS += [
        (f"check-ins/s, 64 conns, {_disk}", CHECKINS, CHECKINS, _col, "", "rate"),
        (f"  check-in p99 (ms), {_disk}", CHECKINS, "latency p50 / p99 (ms)", _col, "second",
         "time"),
    ]
# Rows whose values must all be 0 on both sides: errors (the run is listed as
# broken), and re-used tickets (the loader made too few in its 2 minutes on a
# loaded machine: that side's check-ins include already_checked_in answers).
RUN_ZERO = [(SIGNUPS, "non-2xx answers / socket errors"),
            (CHECKINS, "non-2xx answers / socket errors")]
REUSED = (CHECKINS, "already_checked_in answers (expect 0)")
LOADER = "tickets pre-created (normal disk)"


def bench_run(b):
    def one(side):
        env = dict(RUN_ENV, KIOSKD=side.kioskd, BENCH_TICKETS=TICKETS[side.name],
                   KIOSKD_SLOWLIB=side.slowlib, KIOSKD_FILE=side.helpers["file"],
                   BENCH_STRIP=side.helpers["strip"])
        out = b.script("run.sh", side, ["sh", "run.sh"], env)
        return parse_table(out) if out else None

    t = b.pair("run.sh", f"run.sh (BENCH_SECONDS={RUN_ENV['BENCH_SECONDS']}, "
               f"BENCH_GET_SECONDS={RUN_ENV['BENCH_GET_SECONDS']})", one)
    for title, heading, label, index, part, kind in RUN_ROWS:
        b.add("run.sh", title, pick(t, heading, label, index, part), kind)
    made = {}
    for side, tab in t.items():
        v = (tab or {}).get((LOADER, LOADER))
        m = re.match(r"([0-9]+) \(([0-9.]+) s\)", v[0]) if v else None
        if m and float(m.group(2)) > 0:
            made[side] = int(m.group(1)) / float(m.group(2))
    b.add("run.sh", "ticket loader: sign-ups/s (64 conns, no side load)", made, "rate")
    for side, tab in t.items():
        for key in RUN_ZERO + [REUSED]:
            v = (tab or {}).get(key)
            if v and any(num(x) for x in " / ".join(v).split(" / ")):
                (b.notes if key == REUSED else b.broken).append(
                    f"run.sh on {side}: {key[1]}: {' | '.join(v)}"
                    + (" (too few tickets: those check-ins include re-used ones)"
                       if key == REUSED else ""))


def bench_points(b):
    def one(side):
        out = b.script("points.sh", side, ["sh", "points.sh"], dict(POINTS_ENV, KIOSKD=side.kioskd))
        if not out:
            return None
        imp = re.search(r"imported .* in ([0-9.]+) s", out)
        look = re.search(r"lookups: ([0-9.]+)/s, p50 ([0-9.]+) ms, p99 ([0-9.]+) ms", out)
        return {"import": float(imp.group(1)) if imp else None,
                "rps": float(look.group(1)) if look else None,
                "p99": float(look.group(3)) if look else None}

    r = b.pair("points.sh", f"points.sh (MEMBERS={POINTS_ENV['MEMBERS']}, "
               f"BENCH_SECONDS={POINTS_ENV['BENCH_SECONDS']})", one)
    for key, label, kind in (("import", f"import {POINTS_ENV['MEMBERS']} members (s)", "time"),
                             ("rps", "points lookups/s (wrk -c32)", "rate"),
                             ("p99", "points lookup p99 (ms)", "time")):
        b.add("points.sh", label, {k: (v or {}).get(key) for k, v in r.items()}, kind)


def bench_wechat(b):
    def one(side):
        out = b.script("wechat.sh", side, ["sh", "wechat.sh"], dict(WECHAT_ENV, KIOSKD=side.kioskd))
        got = {}
        for m in re.finditer(r"^\s+(plain|safe)\s+kioskd\s+([0-9.]+)\s+([0-9.]+) ms", out or "",
                             re.M):
            got[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        return got

    r = b.pair("wechat.sh", f"wechat.sh (WX_SECONDS={WECHAT_ENV['WX_SECONDS']}, best of 2)", one)
    for mode in ("plain", "safe"):
        b.add("wechat.sh", f"POST /wechat 积分 {mode} req/s",
              {k: v[mode][0] for k, v in r.items() if v and mode in v}, "rate")
        b.add("wechat.sh", f"POST /wechat 积分 {mode} p99 (ms)",
              {k: v[mode][1] for k, v in r.items() if v and mode in v}, "time")


def bench_idle(b):
    def one(side):
        out = b.script("idle_conns.py", side,
                       [sys.executable, "idle_conns.py", "--bin", side.kioskd] + IDLE_ARGS, {})
        got = {}
        row = r"^\s+(\d+ idle open|none open), round 1\s+\d+\s+([0-9.]+)\s+([0-9.]+)"
        for m in re.finditer(row, out or "", re.M):
            got["idle" if "idle" in m.group(1) else "none"] = (float(m.group(2)), float(m.group(3)))
        return got

    r = b.pair("idle_conns.py", "idle_conns.py " + " ".join(IDLE_ARGS), one)
    for key, what in (("idle", "2,000 idle open"), ("none", "none open")):
        for i, p in ((0, "p50"), (1, "p99")):
            b.add("idle_conns.py", f"GET /healthz {p} (ms), {what}",
                  {k: v[key][i] for k, v in r.items() if v and key in v}, "time")


def bench_hq(b):
    def one(side):
        out = b.script("hq_drain.py", side,
                       [sys.executable, "hq_drain.py", "--bin", side.kioskd, "--backend", "sqlite",
                        "--entries", HQ_ENTRIES], {})
        m = re.search(r"^\s+SQLite\s+([0-9.]+)\s+([0-9,]+)", out or "", re.M)
        return (float(m.group(1)), num(m.group(2))) if m else None

    r = b.pair("hq_drain.py", f"hq_drain.py --backend sqlite --entries {HQ_ENTRIES}", one)
    b.add("hq_drain.py", f"drain {HQ_ENTRIES} entries to kioskd hq, SQLite (s)",
          {k: v[0] for k, v in r.items() if v}, "time")
    b.add("hq_drain.py", "  entries/s", {k: v[1] for k, v in r.items() if v}, "rate")


def helper(b, name, side, args):
    """One run of a small program: {key: rate} from its key=value lines."""
    exe = os.path.join(side.helpers["dir"], name)
    out = b.script(name, side, side.runner + [exe] + args, {})
    got = {}
    for line in (out or "").splitlines():
        kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
        if "rate" in kv:
            got[kv.get("op", name)] = float(kv["rate"])
    return got


def bench_helpers(b):
    secs = "3"
    tpl, data = "render/confirmation.mustache", "render/data.json"
    best = {}  # (program, op, side) -> best rate
    b.sections["helpers"] = (f"render_rate, ticket_rate ({b.a.rounds} rounds alternating, "
                             f"{secs} s / 1 s each, cross-built)", loadavg().split()[0])
    for _ in range(b.a.rounds):
        for side in b.sides:
            for prog, args in (("render_rate", [tpl, data, secs]), ("ticket_rate", ["1"])):
                for op, rate in helper(b, prog, side, args).items():
                    k = (prog, op, side.name)
                    best[k] = max(best.get(k, 0.0), rate)
    ops = sorted({(p, o) for p, o, _ in best})
    for prog, op in ops:
        label = "confirmation template renders/s" if prog == "render_rate" else f"ticket {op}/s"
        b.add("helpers", label, {s.name: best.get((prog, op, s.name)) for s in b.sides}, "rate")


BENCHES = {"run": bench_run, "points": bench_points, "wechat": bench_wechat, "idle": bench_idle,
           "hq": bench_hq, "helpers": bench_helpers}


def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def table(b, qemu):
    lines = [f"kioskd arm64 under qemu-user ({qemu}) beside native amd64, same run, "
             f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M %Z')}",
             f"load average: {b.load0} before, {loadavg()} after; whole run "
             f"{(time.monotonic() - b.t0) / 60:.1f} min; raw output: bench/out/"
             f"{os.path.basename(b.run)}",
             "slowdown: native / arm64 for a rate, arm64 / native for a time or a size", ""]
    last = None
    for section, label, nat, arm, kind in b.rows:
        if section != last:
            name, la = b.sections.get(section, (section, "?"))
            lines.append(f"{name}   [load average before: {la}]")
            lines.append(f"  {'':52} {'native':>12} {'arm64 (qemu)':>13} {'slowdown':>9}")
            last = section
        ratio = "-"
        if nat and arm and kind != "info":
            ratio = f"{(nat / arm if kind == 'rate' else arm / nat):.1f}x"
        lines.append(f"  {label:52} {fmt(nat):>12} {fmt(arm):>13} {ratio:>9}")
    lines.append("")
    lines.append("Not compared under emulation:")
    lines += [f"  - {x}" for x in LEFT_OUT]
    if b.notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  - {x}" for x in b.notes]
    if b.broken:
        lines.append("")
        lines.append("BROKEN:")
        lines += [f"  - {x}" for x in b.broken]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--native", default=os.path.join(ROOT, "build", "rel", "kioskd"))
    ap.add_argument("--arm64", default=os.path.join(ROOT, "build", "arm64", "kioskd-qemu"))
    ap.add_argument("--only", default=",".join(BENCHES),
                    help="comma-separated, from: " + ", ".join(BENCHES))
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    qemu = os.environ.get("QEMU", "qemu-aarch64-static")
    arm_dir = os.path.dirname(os.path.abspath(a.arm64))
    for path in (a.native, a.arm64, os.path.join(arm_dir, "kioskd"),
                 os.path.join(arm_dir, "slowfsync.so")):
        if not os.path.exists(path):
            sys.exit(f"arm64 bench: {path} is missing; run make bench ARCH=arm64 at the top level")
    b = Bench(a)
    b.load0 = loadavg()
    b.sides = [
        Side("native", os.path.abspath(a.native), [], os.path.join(HERE, "out", "slowfsync.so"),
             {"dir": os.path.join(HERE, "out"), "file": os.path.abspath(a.native),
              "strip": "strip"}),
        Side("arm64", os.path.abspath(a.arm64), ["env", "QEMU_LD_PREFIX=/", qemu],
             os.path.join(arm_dir, "slowfsync.so"),
             {"dir": os.path.join(HERE, "out", "arm64"), "file": os.path.join(arm_dir, "kioskd"),
              "strip": "aarch64-linux-gnu-strip"}),
    ]
    b.say(f"output in {b.run}")
    for name in a.only.split(","):
        if name not in BENCHES:
            sys.exit(f"arm64 bench: unknown benchmark {name!r}; known: {', '.join(BENCHES)}")
        BENCHES[name](b)
    text = table(b, subprocess.run([qemu, "--version"], capture_output=True,
                                   text=True).stdout.split("\n")[0] or qemu)
    with open(os.path.join(b.run, "table.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    print("command: " + " ".join(shlex.quote(x) for x in sys.argv))
    sys.exit(1 if b.broken else 0)


if __name__ == "__main__":
    main()
