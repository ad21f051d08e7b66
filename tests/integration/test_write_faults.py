"""A write job that fails after writing, inside a batch of concurrent sign-ups (the store's
per-job fault hook, armed through the KIOSKD_TEST_FAULT test hook at start)."""
import json
import os
import sqlite3

from harness import Site, parallel, slow_fsync_env

# Statement 4 of a sign-up job comes after its row is written (event, by phone, insert, counts).
AFTER_WRITING = "stmt=4"


def _signups_together(rollback):
    # The first sign-up commits alone while its fsync takes 200 ms; the others queue behind it
    # and share the next batch, whose third job meets SQLITE_FULL after writing its row.
    fault = f"job=3,{AFTER_WRITING},rc=full" + (",rollback=1" if rollback else "")
    s = Site(env=dict(slow_fsync_env(200), KIOSKD_TEST_FAULT=fault))
    assert "event=test_fault_armed" in s.d.stderr()
    ev = s.event(kind="community", capacity=1000)
    phones = [f"1381000{i:04d}" for i in range(12)]
    results = parallel(lambda p: s.signup(ev, p, name="测试"), [(p,) for p in phones])
    return s, ev, phones, results


def _check_store(s, ev, acked_ids, expected_rows):
    s.d.stop()
    db = sqlite3.connect(os.path.join(s.d.dir, "kioskd.db"))
    rows = {r[0] for r in db.execute("SELECT id FROM signups WHERE event_id=?", (ev,))}
    outbox = [json.loads(r[0])["signup_id"]
              for r in db.execute("SELECT data FROM outbox WHERE kind='signup'")]
    confirmed = db.execute("SELECT confirmed FROM events WHERE id=?", (ev,)).fetchone()[0]
    seqs = [r[0] for r in db.execute("SELECT seq FROM outbox ORDER BY seq")]
    db.close()
    assert acked_ids <= rows, (acked_ids, rows)
    assert len(rows) == expected_rows, rows
    assert sorted(outbox) == sorted(rows)  # one outbox entry per row, none for a refused one
    assert confirmed == len(rows)
    assert seqs == list(range(1, len(seqs) + 1))


def _refused_leave_nothing(s, ev, phones, results):
    """Every refusal is the store's disk-full answer and left no sign-up behind."""
    refused = [p for p, r in zip(phones, results) if r.status != 201]
    for p in refused:
        r = results[phones.index(p)]
        assert r.status == 503 and r.json["error"]["code"] == "disk_full", r
        assert r.headers.get("retry-after"), r.headers
    acked = {p: r.json["signup_id"] for p, r in zip(phones, results) if r.status == 201}
    for p, sid in acked.items():
        again = s.signup(ev, p, name="测试")
        assert again.status == 200 and again.json["signup_id"] == sid, (p, again)
    for p in refused:
        again = s.signup(ev, p, name="测试")
        assert again.status == 201, (p, again)  # created anew: nothing was left of the first try
    return refused, set(acked.values())


def test_job_failing_after_writing_fails_alone_in_its_batch():
    s, ev, phones, results = _signups_together(rollback=False)
    refused, acked_ids = _refused_leave_nothing(s, ev, phones, results)
    # the hook fires only in a batch of at least 3 jobs: the others of that batch committed
    assert len(refused) == 1, [r.status for r in results]
    assert len(acked_ids) == len(phones) - 1
    _check_store(s, ev, acked_ids, len(phones))


def test_rolled_back_transaction_fails_its_jobs_and_the_rest_commit():
    s, ev, phones, results = _signups_together(rollback=True)
    refused, acked_ids = _refused_leave_nothing(s, ev, phones, results)
    # SQLite's rollback took the two jobs before the faulted one; the jobs after it ran
    # in a fresh transaction and were acknowledged
    assert len(refused) == 3, [r.status for r in results]
    assert len(acked_ids) == len(phones) - 3
    _check_store(s, ev, acked_ids, len(phones))
