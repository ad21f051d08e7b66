"""bench/arm64.py reads the figures it compares out of run.sh's table: the rows it
names must be the rows run.sh prints, and the slowdown must point the right way."""
import importlib.util
import os
import re
import time
import types

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _arm64():
    path = os.path.join(ROOT, "bench", "arm64.py")
    spec = importlib.util.spec_from_file_location("bench_arm64", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(label, a, b=""):
    """One line as run.sh's row() prints it."""
    return "  %-44s %18s %18s" % (label, a, b)


def test_every_row_arm64_reads_is_a_row_run_sh_prints():
    a = _arm64()
    with open(os.path.join(ROOT, "bench", "run.sh"), encoding="utf-8") as f:
        src = f.read()
    # row "LABEL" ... and printf '...' "LABEL" ...: the labels run.sh prints (indent kept)
    labels = {m.strip() for m in re.findall(r'^\s*(?:row|printf \'[^\']*\') "([^"$]*)', src, re.M)}
    headings = re.findall(r'^\s*(?:row|printf \'[^\']*\') "([^"]*)', src, re.M)
    missing = []
    for title, heading, label, _, _, _ in a.RUN_ROWS:
        if label not in labels:
            missing.append(f"{title}: row {label!r}")
        if not any(h.startswith(heading) for h in headings):
            missing.append(f"{title}: heading {heading!r}")
    for heading, label in a.RUN_ZERO + [a.REUSED, (a.LOADER, a.LOADER)]:
        if label not in labels or not any(h.startswith(heading) for h in headings):
            missing.append(f"{heading} / {label}")
    assert not missing, missing


def test_figures_are_read_per_side_and_the_slowdown_points_the_right_way():
    a = _arm64()
    def table(signups, p99, checkins, already):
        return "\n".join([
            _row("RSS idle after start / after the loads", "15.1 MiB", "20.7 MiB"),
            _row("sign-ups/s", signups, "45"),
            _row("  latency p50 / p99 (ms)", f"90.0 / {p99}", "1322.2 / 1427.4"),
            _row("check-ins/s", checkins, "575"),
            _row("  latency p50 / p99 (ms)", "10.0 / 40.0", "76.5 / 866.7"),
            _row("  already_checked_in answers (expect 0)", already, "0"),
        ])

    native, arm = table("600", "300.0", "4000", "0"), table("60", "900.0", "500", "12")
    tables = {"native": a.parse_table(native), "arm64": a.parse_table(arm)}
    assert a.pick(tables, "sign-ups/s", "sign-ups/s", 0) == {"native": 600.0, "arm64": 60.0}
    # the check-ins' latency row, not the sign-ups' of the same label
    assert a.pick(tables, "check-ins/s", "latency p50 / p99 (ms)", 0, "second") == {
        "native": 40.0, "arm64": 40.0}
    assert a.pick(tables, "sign-ups/s", "latency p50 / p99 (ms)", 0, "second") == {
        "native": 300.0, "arm64": 900.0}
    assert a.pick(tables, "RSS idle", "RSS idle after start / after the loads", 1) == {
        "native": 20.7, "arm64": 20.7}

    b = types.SimpleNamespace(rows=[], sections={"run.sh": ("run.sh (test)", "1.00 1.00 1.00")},
                              broken=[], notes=[], t0=time.monotonic(), load0="1.00 1.00 1.00",
                              run="/tmp/arm64.test")
    b.add = lambda section, label, values, kind: b.rows.append(
        (section, label, values.get("native"), values.get("arm64"), kind))
    b.add("run.sh", "sign-ups/s", a.pick(tables, "sign-ups/s", "sign-ups/s", 0), "rate")
    b.add("run.sh", "sign-up p99 (ms)",
          a.pick(tables, "sign-ups/s", "latency p50 / p99 (ms)", 0, "second"), "time")
    b.add("run.sh", "batch", {"native": 57.0, "arm64": 30.0}, "info")
    b.add("run.sh", "absent on arm64", {"native": 5.0}, "rate")
    for side, tab in tables.items():
        v = tab.get(a.REUSED)
        if v and any(a.num(x) for x in v):
            b.notes.append(f"{side}: {a.REUSED[1]}")
    text = a.table(b, "qemu-test")
    lines = {ln.split("  ")[1].strip(): ln.split() for ln in text.splitlines()
             if ln.startswith("  ") and "  " in ln[2:]}
    assert lines["sign-ups/s"][-1] == "10.0x", text  # a rate: native / arm64
    assert lines["sign-up p99 (ms)"][-1] == "3.0x", text  # a time: arm64 / native
    assert lines["batch"][-1] == "-", text
    assert lines["absent on arm64"][-2:] == ["-", "-"], text
    assert "BROKEN" not in text and "arm64: already_checked_in" in text, text
    assert "native: already_checked_in" not in text, text
