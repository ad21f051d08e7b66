#!/usr/bin/env python3
"""Soak: SOAK_MIN (30) minutes of mixed load on one kioskd (tests/integration/soak.py: sign-ups
with SMS confirmations to a loopback gateway, check-ins, points lookups and redemptions, the chat
bridge, the WeChat callback, live WebSockets, the kiosk pages, /healthz, /metrics), the first
SOAK_BURST (30) seconds at full speed, then paced; its RSS and open descriptors are read from /proc
every SOAK_EVERY seconds (60; 24 samples in a run under 10 minutes). Prints one line per sample
and the answers by status, writes bench/out/soak.json, and exits 1 when the series is not flat
after warm-up (soak.flat()). Under 2 minutes the warm-up third ends inside the burst, while the
caches still fill: too short to judge.

  SOAK_MIN=30 nice -n 10 python3 bench/soak.py             (make soak)
  SOAK_MIN=2 SOAK_EVERY=5 python3 bench/soak.py --leak     the daemon under build/rel/leak.so,
                                                           which leaks on purpose: must fail
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("KIOSKD_BIN", os.path.join(HERE, "..", "build", "rel", "kioskd"))

import soak  # noqa: E402 - after the path is set


def main():
    minutes = float(os.environ.get("SOAK_MIN", "30"))
    # each minute; a run shorter than 10 minutes gets 24 samples
    every = float(os.environ.get("SOAK_EVERY") or (60 if minutes >= 10 else minutes * 60 / 24))
    burst = float(os.environ.get("SOAK_BURST", "30"))
    env = None
    if "--leak" in sys.argv[1:]:
        lib = os.path.join(os.path.dirname(os.environ["KIOSKD_BIN"]), "leak.so")
        assert os.path.exists(lib), f"{lib} is missing: make build/rel/leak.so"
        env = {"LD_PRELOAD": lib}
    print(f"soak: {minutes:g} min, a sample every {every:g} s", flush=True)
    series, counts, sent = soak.run(minutes * 60, every, burst, env=env, say=lambda s: print(
        f"  {s[0]:5d} s  rss={s[1]} KiB  anon={s[2]} KiB  fds={s[3]}", flush=True))
    print("answers: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    print(f"SMS messages at the gateway: {sent}")
    problems = soak.flat(series)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "soak.json"), "w") as f:
        json.dump({"minutes": minutes, "every": every, "series": series, "counts": counts,
                   "sent": sent, "problems": problems}, f, indent=1)
    for p in problems:
        print("soak: " + p)
    print("soak: flat after warm-up" if not problems else "soak: NOT flat")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
