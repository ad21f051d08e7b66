/*
 * The store writer: group commit with a savepoint per job, a failing job
 * among good ones, the bounded queue, shutdown with jobs queued, and a
 * commit that fails (disk full) through the fault hook, and a statement of one
 * job that fails (with or without SQLite rolling the transaction back).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/status.h"
#include "store/store.h"

struct tjob {
    struct store_job job;
    int fail;   /* run returns this */
    int gate;   /* run waits until the gate opens */
    int writes; /* outbox entries to append (1 when 0) */
    int ignore; /* carry on after a failed write and return fail */
    int id;     /* written into each entry: {"j":id} */
    int done_calls;
    int rc_seen;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered, notified;
static char dir[64], dbpath[128];

static void notify(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    notified++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int run(struct store_tx *tx, struct store_job *job)
{
    struct tjob *t = (struct tjob *)job;
    if (t->gate) {
        pthread_mutex_lock(&mu);
        gate_entered = 1;
        pthread_cond_broadcast(&cv);
        while (!gate_open)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    for (int i = 0; i < (t->writes ? t->writes : 1); i++) {
        int rc = store_outbox_append(tx, "test", json_pack("{s:i}", "j", t->id));
        if (rc && !t->ignore)
            return rc;
    }
    return t->fail;
}

static void done(struct store_job *job)
{
    struct tjob *t = (struct tjob *)job;
    t->done_calls++;
    t->rc_seen = job->rc;
}

static struct store *open_store(int queue_max)
{
    struct store *s;
    char err[256];
    snprintf(dir, sizeof dir, "%s", "/tmp/kioskd-test-writer-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/db/k.db", dir);
    struct store_opts o = {.path = dbpath,
                           .busy_timeout_ms = 1000,
                           .queue_max = queue_max,
                           .checkpoint_pages = 1000,
                           .notify = notify};
    assert_int_equal(store_open(&s, &o, err, sizeof err), 0);
    assert_int_equal(store_start(s), 0);
    gate_open = gate_entered = notified = 0;
    return s;
}

static void close_store(struct store *s)
{
    char cmd[128];
    store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void wait_gate_entered(void)
{
    pthread_mutex_lock(&mu);
    while (!gate_entered)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void open_gate(void)
{
    pthread_mutex_lock(&mu);
    gate_open = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Runs completions until n jobs have completed. */
static void complete(struct store *s, int n)
{
    int got = 0;
    while (got < n) {
        pthread_mutex_lock(&mu);
        while (!notified)
            pthread_cond_wait(&cv, &mu);
        notified = 0;
        pthread_mutex_unlock(&mu);
        got += store_complete(s);
    }
}

static void outbox_seqs(int *count, int *max_seq)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*), coalesce(max(seq),0) FROM outbox", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *count = sqlite3_column_int(st, 0);
    *max_seq = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_failing_job_rolls_back_alone(void **state)
{
    (void)state;
    struct store *s = open_store(100);
    struct tjob gate = {.job = {.run = run, .done = done}, .gate = 1};
    struct tjob jobs[10];
    assert_int_equal(store_submit(s, &gate.job), 0);
    wait_gate_entered();
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct tjob){.job = {.run = run, .done = done}};
        jobs[i].fail = (i == 2 || i == 7) ? KIOSKD_ECONFLICT : 0;
        assert_int_equal(store_submit(s, &jobs[i].job), 0);
    }
    assert_int_equal(store_inflight(s), 11);
    open_gate();
    complete(s, 11);
    assert_int_equal(store_inflight(s), 0);
    assert_int_equal(gate.done_calls, 1);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(jobs[i].done_calls, 1);
        assert_int_equal(jobs[i].rc_seen, (i == 2 || i == 7) ? KIOSKD_ECONFLICT : 0);
    }
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.batches, 2); /* the gate alone, then the ten together: one commit */
    assert_int_equal(st.jobs, 11);
    assert_int_equal(st.jobs_failed, 2);
    assert_int_equal(st.outbox_pending, 9);
    int count, max_seq;
    outbox_seqs(&count, &max_seq);
    assert_int_equal(count, 9);
    assert_int_equal(max_seq, 9); /* contiguous: the failed jobs' entries were rolled back */
    close_store(s);
}

static void test_queue_full(void **state)
{
    (void)state;
    struct store *s = open_store(3);
    struct tjob gate = {.job = {.run = run, .done = done}, .gate = 1};
    struct tjob jobs[4];
    assert_int_equal(store_submit(s, &gate.job), 0);
    wait_gate_entered();
    for (int i = 0; i < 3; i++) {
        jobs[i] = (struct tjob){.job = {.run = run, .done = done}};
        assert_int_equal(store_submit(s, &jobs[i].job), 0);
    }
    jobs[3] = (struct tjob){.job = {.run = run, .done = done}};
    assert_int_equal(store_submit(s, &jobs[3].job), KIOSKD_EBUSY);
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.queue_depth, 3);
    open_gate();
    complete(s, 4);
    assert_int_equal(jobs[3].done_calls, 0); /* refused: never run, never completed */
    close_store(s);
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    usleep(50000);
    open_gate();
    return NULL;
}

static void test_stop_commits_queued_jobs(void **state)
{
    (void)state;
    struct store *s = open_store(100);
    struct tjob gate = {.job = {.run = run, .done = done}, .gate = 1};
    struct tjob jobs[5];
    assert_int_equal(store_submit(s, &gate.job), 0);
    wait_gate_entered();
    for (int i = 0; i < 5; i++) {
        jobs[i] = (struct tjob){.job = {.run = run, .done = done}};
        assert_int_equal(store_submit(s, &jobs[i].job), 0);
    }
    pthread_t t;
    pthread_create(&t, NULL, open_gate_later, NULL);
    store_stop(s); /* returns once everything queued is committed */
    pthread_join(t, NULL);
    assert_int_equal(store_complete(s), 6);
    for (int i = 0; i < 5; i++)
        assert_int_equal(jobs[i].rc_seen, 0);
    struct tjob late = {.job = {.run = run, .done = done}};
    assert_int_equal(store_submit(s, &late.job), KIOSKD_ESHUTDOWN);
    int count, max_seq;
    outbox_seqs(&count, &max_seq);
    assert_int_equal(count, 6);
    close_store(s);
}

static void test_commit_failure_fails_the_batch(void **state)
{
    (void)state;
    struct store *s = open_store(100);
    struct tjob a = {.job = {.run = run, .done = done}};
    store_fault_commit(s, SQLITE_FULL, 1);
    assert_int_equal(store_submit(s, &a.job), 0);
    complete(s, 1);
    assert_int_equal(a.rc_seen, KIOSKD_EFULL);
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.commits_failed, 1);
    assert_int_equal(st.last_commit_rc, KIOSKD_EFULL);
    assert_int_equal(st.outbox_pending, 0);
    int count, max_seq;
    outbox_seqs(&count, &max_seq);
    assert_int_equal(count, 0);

    store_fault_commit(s, SQLITE_IOERR, 1);
    struct tjob b = {.job = {.run = run, .done = done}};
    assert_int_equal(store_submit(s, &b.job), 0);
    complete(s, 1);
    assert_int_equal(b.rc_seen, KIOSKD_EIO);

    struct tjob c = {.job = {.run = run, .done = done}}; /* and it recovers */
    assert_int_equal(store_submit(s, &c.job), 0);
    complete(s, 1);
    assert_int_equal(c.rc_seen, 0);
    store_stats(s, &st);
    assert_int_equal(st.last_commit_rc, 0);
    outbox_seqs(&count, &max_seq);
    assert_int_equal(count, 1);
    close_store(s);
}

/* Outbox entries written by job id. */
static int entries_of(int id)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char data[32];
    snprintf(data, sizeof data, "{\"j\":%d}", id);
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE data = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, data, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

#define BATCH 10

struct fault_case {
    int job;      /* 1-based position in the batch */
    int stmt;     /* which of the job's statements fails */
    int rc;       /* SQLite result code */
    int rollback; /* the whole transaction is rolled back */
    int ignore;   /* the faulted job ignores the failure and answers 0 */
};

/* A batch of BATCH jobs (two outbox writes each) behind a gate job, with the
 * job fault hook set to c; checks the writer's invariants: a job answered 0
 * is committed, a job answered with an error left nothing behind. */
static void run_fault_case(const struct fault_case *c)
{
    struct store *s = open_store(100);
    struct tjob gate = {.job = {.run = run, .done = done}, .gate = 1, .id = 100};
    struct tjob jobs[BATCH];
    assert_int_equal(store_submit(s, &gate.job), 0);
    wait_gate_entered();
    store_fault_job(s, c->job, c->stmt, c->rc, c->rollback != 0);
    for (int i = 0; i < BATCH; i++) {
        jobs[i] = (struct tjob){.job = {.run = run, .done = done}, .writes = 2, .id = i + 1};
        jobs[i].ignore = c->ignore && i + 1 == c->job;
        assert_int_equal(store_submit(s, &jobs[i].job), 0);
    }
    open_gate();
    complete(s, BATCH + 1);
    assert_int_equal(gate.rc_seen, 0); /* the gate's batch was taken before the hook was set */
    int lost = c->rollback;
    int answered_ok = 0, entries = 0;
    for (int i = 0; i < BATCH; i++) {
        int pos = i + 1;
        assert_int_equal(jobs[i].done_calls, 1);
        if (pos == c->job)
            assert_int_not_equal(jobs[i].rc_seen, 0); /* the faulted job never reports success */
        else if (pos < c->job && lost)
            assert_int_equal(jobs[i].rc_seen, jobs[c->job - 1].rc_seen); /* lost with it */
        else
            assert_int_equal(jobs[i].rc_seen, 0);
        assert_int_equal(entries_of(pos), jobs[i].rc_seen == 0 ? 2 : 0);
        answered_ok += jobs[i].rc_seen == 0;
        entries += entries_of(pos);
    }
    assert_int_equal(answered_ok, lost ? BATCH - c->job : BATCH - 1);
    int count, max_seq;
    outbox_seqs(&count, &max_seq);
    assert_int_equal(count, 1 + entries);
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.outbox_pending, count);
    assert_int_equal(st.batches, 2);

    struct tjob after = {.job = {.run = run, .done = done}, .id = 200}; /* and it goes on */
    assert_int_equal(store_submit(s, &after.job), 0);
    complete(s, 1);
    assert_int_equal(after.rc_seen, 0);
    assert_int_equal(entries_of(200), 1);
    close_store(s);
}

static void test_job_fault_first_middle_last(void **state)
{
    (void)state;
    static const struct fault_case cases[] = {
        /* the statement fails, the transaction stays open: only the job fails */
        {1, 1, SQLITE_FULL, 0, 0},
        {5, 2, SQLITE_FULL, 0, 0},
        {BATCH, 2, SQLITE_FULL, 0, 0},
        {5, 2, SQLITE_BUSY, 0, 0},
        /* the transaction is rolled back: the jobs before are lost, the rest run anew */
        {1, 1, SQLITE_FULL, 1, 0},
        {5, 2, SQLITE_FULL, 1, 0},
        {BATCH, 2, SQLITE_FULL, 1, 0},
        {5, 1, SQLITE_NOMEM, 1, 0},
        {5, 2, SQLITE_BUSY, 1, 0},
        {1, 2, SQLITE_IOERR_WRITE, 1, 0},
        {5, 2, SQLITE_IOERR, 1, 0},
        {BATCH, 1, SQLITE_IOERR_FSYNC, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("case %zu: job %d stmt %d rc %d rollback %d\n", i, cases[i].job,
                      cases[i].stmt, cases[i].rc, cases[i].rollback);
        run_fault_case(&cases[i]);
    }
}

/* A job that ignores a failure after SQLite's rollback must not go on to write in
 * autocommit mode, nor be answered 0. */
static void test_job_never_runs_in_autocommit(void **state)
{
    (void)state;
    static const struct fault_case cases[] = {
        {1, 1, SQLITE_FULL, 1, 1},
        {5, 1, SQLITE_FULL, 1, 1},
        {BATCH, 1, SQLITE_IOERR, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_fault_case(&cases[i]);
}

static void test_second_open_is_refused(void **state)
{
    (void)state;
    struct store *s = open_store(10), *s2 = NULL;
    char err[256];
    struct store_opts o = {.path = dbpath, .busy_timeout_ms = 100, .queue_max = 10};
    assert_int_equal(store_open(&s2, &o, err, sizeof err), KIOSKD_ELOCKED);
    assert_non_null(strstr(err, "in use by another kioskd"));
    assert_null(s2);
    close_store(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_job_rolls_back_alone),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_stop_commits_queued_jobs),
        cmocka_unit_test(test_commit_failure_fails_the_batch),
        cmocka_unit_test(test_job_fault_first_middle_last),
        cmocka_unit_test(test_job_never_runs_in_autocommit),
        cmocka_unit_test(test_second_open_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
