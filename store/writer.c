/*
 * The writer thread and group commit.
 *
 * State of a job: submitted (in q) -> taken (in the writer's batch) ->
 * finished (in done list, rc set) -> completed (done() ran on the loop).
 *   store_submit      : -> submitted       (loop; jobq_submit)
 *   writer_main       : submitted -> taken (jobq_take, up to BATCH_MAX)
 *   writer_batch      : runs the batch and sets every job's rc (writer thread)
 *   writer_main       : taken -> finished (jobq_finish), then notify()
 *   store_complete    : finished -> completed (loop; jobq_complete runs done())
 *
 * One batch = one or more transactions (writer_tx), each:
 *   BEGIN IMMEDIATE; per job SAVEPOINT, run, RELEASE or ROLLBACK TO + RELEASE;
 *   COMMIT (one fsync with synchronous=FULL).
 * Normally one transaction takes the whole batch. SQLite may roll the whole
 * transaction back by itself when a statement meets SQLITE_FULL, IOERR,
 * NOMEM or BUSY (3.40.1 does for FULL, IOERR and NOMEM met by a statement
 * that reads a table, and leaves BUSY to the caller); the writer checks
 * sqlite3_get_autocommit() after every job and the result of every RELEASE
 * and ROLLBACK TO. When the transaction is gone (or a job's savepoint cannot
 * be undone alone), every job of that transaction so far gets the error and
 * the rest of the batch runs in a fresh transaction.
 *
 * Invariants (store/store.h 4):
 *  W1. A job answered 0 was released into a transaction whose COMMIT succeeded.
 *  W2. A job answered with an error left nothing behind: its savepoint was
 *      rolled back, or its whole transaction was.
 *  W3. No job's statement runs in autocommit mode: conn_stmt refuses while
 *      conn.in_job and the transaction is gone, and the commit hook turns any
 *      commit other than writer_tx's own COMMIT into a rollback.
 *  W4. The fault hooks (store_fault_commit, store_fault_job) act only where a
 *      test asked; the job hook fires once.
 */
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/status.h"
#include "store/store.h"
#include "store/store_int.h"

#define BATCH_MAX 512

int64_t store_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double store_mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_rc(struct store *s, const char *sql)
{
    return sqlite3_exec(s->wr.db, sql, NULL, NULL, NULL);
}

/* Gives every job of jobs[from, to) still answered 0 the error rc. */
static void fail_ok_jobs(struct store_job **jobs, int from, int to, int rc)
{
    for (int i = from; i < to; i++)
        if (jobs[i]->rc == 0)
            jobs[i]->rc = rc;
}

static bool tx_gone(struct store *s)
{
    return sqlite3_get_autocommit(s->wr.db) != 0;
}

/* Which job of the batch the job fault hook hits (job 0: none). */
struct batch_fault {
    int job, stmt, rc;
    bool rollback;
};

/* Commit hook: only writer_tx's own COMMIT may commit (W3). */
static int writer_commit_hook(void *arg)
{
    const struct store *s = arg;
    return s->committing ? 0 : 1;
}

/* Runs jobs[from, n) in one transaction and sets each job's rc. Returns the
 * index of the first job it did not settle (n when all were): the transaction
 * was lost at the job before, and the rest need a fresh one. Adds the outbox
 * entries of committed jobs to *added; sets *commit_rc on a failed BEGIN or
 * COMMIT. */
static int writer_tx(struct store *s, struct store_job **jobs, int from, int n, struct rng *rng,
                     const struct batch_fault *f, int *commit_rc, int *added)
{
    int brc = exec_rc(s, "BEGIN IMMEDIATE");
    if (brc != SQLITE_OK) {
        if (!tx_gone(s))
            exec_rc(s, "ROLLBACK");
        fail_ok_jobs(jobs, from, n, store_rc(brc));
        *commit_rc = brc;
        return n;
    }
    int tx_added = 0;
    for (int i = from; i < n; i++) {
        struct store_job *j = jobs[i];
        struct store_tx tx = {.s = s,
                              .c = &s->wr,
                              .rng = rng,
                              .now_us = store_now_us() + atomic_load(&s->clock_shift_us)};
        int rc = exec_rc(s, "SAVEPOINT job");
        if (rc != SQLITE_OK) {
            j->rc = store_rc(rc);
            if (tx_gone(s)) {
                fail_ok_jobs(jobs, from, i, j->rc);
                return i + 1;
            }
            continue;
        }
        if (f->job == i + 1)
            s->wr.fault = (struct conn_fault){
                .countdown = f->stmt, .rc = f->rc, .rollback = f->rollback, .st = s->wr.fault.st};
        s->wr.in_job = true;
        j->rc = j->run(&tx, j);
        s->wr.in_job = false;
        s->wr.fault.countdown = 0;
        if (tx_gone(s)) {
            /* SQLite rolled everything back: this job and those before it are lost. */
            if (j->rc == 0)
                j->rc = KIOSKD_EIO;
            fail_ok_jobs(jobs, from, i, j->rc);
            return i + 1;
        }
        if (j->rc == 0) {
            rc = exec_rc(s, "RELEASE job");
            if (rc == SQLITE_OK) {
                tx_added += tx.outbox_added - tx.outbox_acked;
                continue;
            }
            j->rc = store_rc(rc);
            if (tx_gone(s)) {
                fail_ok_jobs(jobs, from, i, j->rc);
                return i + 1;
            }
        }
        rc = exec_rc(s, "ROLLBACK TO job");
        if (rc == SQLITE_OK)
            rc = exec_rc(s, "RELEASE job");
        if (rc != SQLITE_OK || tx_gone(s)) {
            /* The job's changes cannot be undone alone: undo the transaction. */
            if (!tx_gone(s))
                exec_rc(s, "ROLLBACK");
            fail_ok_jobs(jobs, from, i, store_rc(rc != SQLITE_OK ? rc : SQLITE_IOERR));
            return i + 1;
        }
    }
    int crc;
    pthread_mutex_lock(&s->mu);
    if (s->fault_count > 0) {
        s->fault_count--;
        crc = s->fault_rc;
    } else {
        crc = SQLITE_OK;
    }
    pthread_mutex_unlock(&s->mu);
    if (crc == SQLITE_OK) {
        s->committing = true;
        crc = exec_rc(s, "COMMIT");
        s->committing = false;
    }
    if (crc != SQLITE_OK) {
        if (!tx_gone(s))
            exec_rc(s, "ROLLBACK");
        fail_ok_jobs(jobs, from, n, store_rc(crc));
        *commit_rc = crc;
        return n;
    }
    *added += tx_added;
    return n;
}

/* Runs the jobs of one batch, in as few transactions as SQLite lets it;
 * sets each job's rc. Returns the number of outbox entries the committed
 * jobs appended. */
static int writer_batch(struct store *s, struct store_job **jobs, int n, struct rng *rng,
                        const struct batch_fault *f, int *commit_rc_out)
{
    int added = 0;
    *commit_rc_out = SQLITE_OK;
    for (int i = 0; i < n;) {
        int crc = SQLITE_OK;
        i = writer_tx(s, jobs, i, n, rng, f, &crc, &added);
        if (crc != SQLITE_OK && *commit_rc_out == SQLITE_OK)
            *commit_rc_out = crc;
    }
    return added;
}

struct store_job *store_job_of(struct jobq_node *n)
{
    return (struct store_job *)(void *)((char *)n - offsetof(struct store_job, node));
}

int store_thread_begin(struct rng *rng)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    return rng_init(rng);
}

/* Idle this long, the writer hands its page cache back: a daemon that waits
 * for the next kiosk keeps a few MB less (the pages are in the OS's cache). */
#define IDLE_RELEASE_MS 1000

static void writer_release_memory(struct store *s)
{
    sqlite3_db_release_memory(s->wr.db);
    malloc_trim(0); /* the pages were freed into this thread's arena */
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    struct jobq_node *nodes[BATCH_MAX];
    struct store_job *jobs[BATCH_MAX];
    struct rng rng;
    int rng_rc = store_thread_begin(&rng);
    sqlite3_commit_hook(s->wr.db, writer_commit_hook, s);

    size_t taken;
    bool cached = true; /* pages may sit in the cache since the last release */
    for (;;) {
        if (cached && !jobq_wait_idle(&s->q, IDLE_RELEASE_MS)) {
            writer_release_memory(s);
            cached = false;
        }
        if ((taken = jobq_take(&s->q, nodes, BATCH_MAX)) == 0)
            break;
        cached = true;
        int n = (int)taken;
        for (int i = 0; i < n; i++)
            jobs[i] = store_job_of(nodes[i]);
        struct batch_fault f = {0};
        pthread_mutex_lock(&s->mu);
        if (s->fault_job > 0 && n >= s->fault_job) {
            f = (struct batch_fault){.job = s->fault_job,
                                     .stmt = s->fault_stmt,
                                     .rc = s->fault_job_rc,
                                     .rollback = s->fault_rollback};
            s->fault_job = 0;
        }
        pthread_mutex_unlock(&s->mu);

        double t0 = store_mono_seconds();
        int commit_rc = SQLITE_OK, added = 0;
        /* a folder gone read-only or away is found before SQLite writes: a
         * write to a moved file would be acknowledged and then lost, and one to
         * a read-only one can fail halfway (or fault on the mapped -shm) */
        int dir_rc = store_dir_check_on(s, s->wr.db);
        if (rng_rc != 0 || dir_rc != 0) {
            for (int i = 0; i < n; i++)
                jobs[i]->rc = rng_rc != 0 ? KIOSKD_ECRYPTO : dir_rc;
        } else {
            added = writer_batch(s, jobs, n, &rng, &f, &commit_rc);
        }
        double dt = store_mono_seconds() - t0;

        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < n; i++)
            if (jobs[i]->rc)
                s->stats.jobs_failed++;
        s->stats.jobs += (uint64_t)n;
        s->stats.batches++;
        s->stats.last_commit_rc = dir_rc                   ? dir_rc
                                  : commit_rc == SQLITE_OK ? 0
                                                           : store_rc(commit_rc);
        s->stats.dir_rc = dir_rc;
        if (commit_rc != SQLITE_OK || dir_rc != 0)
            s->stats.commits_failed++;
        s->stats.outbox_pending += added;
        hist_observe(&s->stats.batch_size, n);
        hist_observe(&s->stats.commit_seconds, dt);
        pthread_mutex_unlock(&s->mu);
        jobq_finish(&s->q, nodes, taken);
        if (s->notify)
            s->notify(s->notify_arg);
    }
    sqlite3_commit_hook(s->wr.db, NULL, NULL);
    rng_free(&rng);
    return NULL;
}

int store_start(struct store *s)
{
    if (s->read_only || s->running)
        return 0;
    jobq_restart(&s->q);
    if (pthread_create(&s->thread, NULL, s->pg ? pg_main : writer_main, s) != 0)
        return KIOSKD_ENOMEM;
    s->running = true;
    return 0;
}

void store_stop(struct store *s)
{
    if (!s->running)
        return;
    jobq_stop(&s->q);
    pthread_join(s->thread, NULL);
    s->running = false;
}

/* Lane 0: jobs a request waits for; lane 1: spare work (store_submit_spare),
 * bounded apart so that it never takes a request's place. */
static int submit_lane(struct store *s, struct store_job *job, unsigned lane)
{
    job->rc = 0;
    job->queued_us = store_now_us();
    if (!s->running)
        return KIOSKD_ESHUTDOWN;
    return jobq_submit_lane(&s->q, &job->node, lane, false);
}

int store_submit(struct store *s, struct store_job *job)
{
    return submit_lane(s, job, 0);
}

int store_submit_spare(struct store *s, struct store_job *job)
{
    return submit_lane(s, job, 1);
}

int store_run(struct store *s, struct store_job *job)
{
    store_done_fn done = job->done;
    job->done = NULL;
    int rc = store_submit(s, job);
    if (rc) {
        job->done = done;
        return rc;
    }
    jobq_wait_done(&s->q, &job->node);
    store_complete(s);
    job->done = done;
    return job->rc;
}

static void complete_one(struct jobq_node *n)
{
    struct store_job *j = store_job_of(n);
    if (j->done)
        j->done(j);
}

int store_complete(struct store *s)
{
    int n = jobq_complete(&s->q, complete_one);
    /* counted after the done() callbacks: an answer they queue reaches its
     * client once the loop returns, so no later request reads the old count */
    s->completed += (uint64_t)n;
    return n;
}

uint64_t store_changes(const struct store *s)
{
    return s->completed;
}

int store_inflight(struct store *s)
{
    return jobq_inflight(&s->q);
}

void store_stats(struct store *s, struct store_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
    out->queue_depth = (int)jobq_len(&s->q);
}

void store_fault_commit(struct store *s, int rc, int count)
{
    pthread_mutex_lock(&s->mu);
    s->fault_rc = rc;
    s->fault_count = count;
    pthread_mutex_unlock(&s->mu);
}

void store_clock_shift(struct store *s, int64_t us)
{
    atomic_store(&s->clock_shift_us, us);
}

void store_fault_job(struct store *s, int job, int stmt, int rc, bool rollback)
{
    pthread_mutex_lock(&s->mu);
    s->fault_job = job > 0 && stmt > 0 ? job : 0;
    s->fault_stmt = stmt;
    s->fault_job_rc = rc;
    s->fault_rollback = rollback;
    pthread_mutex_unlock(&s->mu);
}
