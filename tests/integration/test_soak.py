"""The soak in short: two minutes of mixed load with the daemon's RSS and open descriptors
sampled every 5 s, flat after warm-up by soak.flat()'s rule (bench/soak.py runs it for 30
minutes and docs/operations.md has that run's series). The first 30 s are a burst of sign-ups at
full speed, so that SQLite's page caches reach their bound within the warm-up third."""
import harness
import soak


def test_the_flatness_rule_catches_steady_growth_and_passes_noise():
    steady = [(i * 5, 20000, 9000, 20 + (i % 3) * 3) for i in range(24)]
    assert soak.flat(steady) == []
    # warm-up growth (caches filling) then level: flat
    warming = [(i * 5, 15000 + min(i, 6) * 1000, 9000, 20) for i in range(24)]
    assert soak.flat(warming) == []
    # 150 KiB and one descriptor more every sample: both caught
    leaking = [(i * 5, 20000 + i * 150, 9000 + i * 150, 20 + i) for i in range(24)]
    problems = soak.flat(leaking)
    assert len(problems) == 2 and problems[0].startswith("RSS grew"), problems
    assert problems[1].startswith("descriptors grew"), problems


def test_two_minutes_of_mixed_load_keep_rss_and_descriptors_flat():
    if harness.SAN:  # ASan's quarantine holds freed memory back on purpose
        print("SKIP test_soak: RSS under ASan (SAN=1) is the quarantine's, not kioskd's",
              flush=True)
        return
    series, counts, sent = soak.run(120, 5, burst=30)
    table = "\n".join(f"{t:4d}s rss={rss} anon={anon} fds={fds}" for t, rss, anon, fds in series)
    ok = {k: v for k, v in counts.items() if k.split()[1] in ("200", "201", "101")}
    for what in ("signup", "checkin", "points", "redeem", "bot", "wechat", "page", "live"):
        assert any(k.startswith(what + " ") for k in ok), (what, counts)
    assert sent > 0, "no SMS confirmation reached the gateway"
    assert soak.flat(series) == [], (soak.flat(series), table, counts)
