/*
 * The writer thread and group commit.
 *
 * State of a job: submitted (in q) -> taken (in the writer's batch) ->
 * finished (in done list, rc set) -> completed (done() ran on the loop).
 *   store_submit      : -> submitted       (loop)
 *   writer_batch      : submitted -> taken -> finished (writer thread)
 *   store_complete    : finished -> completed (loop)
 *
 * One batch = BEGIN IMMEDIATE; per job SAVEPOINT, run, RELEASE or ROLLBACK TO;
 * COMMIT (one fsync with synchronous=FULL). If the COMMIT fails, every job of
 * the batch that had succeeded gets the commit's error instead.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/status.h"
#include "store/store.h"
#include "store/store_int.h"

#define BATCH_MAX 512

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_rc(struct store *s, const char *sql)
{
    return sqlite3_exec(s->wr.db, sql, NULL, NULL, NULL);
}

/* Runs the jobs of one batch in one transaction; sets each job's rc.
 * Returns the number of outbox entries the committed jobs appended. */
static int writer_batch(struct store *s, struct store_job **jobs, int n, struct rng *rng,
                        int *commit_rc_out)
{
    int committed_outbox = 0;
    int brc = exec_rc(s, "BEGIN IMMEDIATE");
    if (brc != SQLITE_OK) {
        for (int i = 0; i < n; i++)
            jobs[i]->rc = store_rc(brc);
        *commit_rc_out = brc;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        struct store_tx tx = {.s = s, .c = &s->wr, .rng = rng, .now_us = now_us()};
        int rc = exec_rc(s, "SAVEPOINT job");
        if (rc != SQLITE_OK) {
            jobs[i]->rc = store_rc(rc);
            continue;
        }
        jobs[i]->rc = jobs[i]->run(&tx, jobs[i]);
        if (jobs[i]->rc == 0) {
            rc = exec_rc(s, "RELEASE job");
            if (rc != SQLITE_OK)
                jobs[i]->rc = store_rc(rc);
            else
                committed_outbox += tx.outbox_added;
        }
        if (jobs[i]->rc != 0) {
            exec_rc(s, "ROLLBACK TO job");
            exec_rc(s, "RELEASE job");
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
    if (crc == SQLITE_OK)
        crc = exec_rc(s, "COMMIT");
    if (crc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(s->wr.db))
            exec_rc(s, "ROLLBACK");
        for (int i = 0; i < n; i++)
            if (jobs[i]->rc == 0)
                jobs[i]->rc = store_rc(crc);
        committed_outbox = 0;
    }
    *commit_rc_out = crc;
    return committed_outbox;
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    struct store_job *jobs[BATCH_MAX];
    struct rng rng;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int rng_rc = rng_init(&rng);

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->q_head && !s->stopping)
            pthread_cond_wait(&s->cond, &s->mu);
        if (!s->q_head && s->stopping)
            break;
        int n = 0;
        while (s->q_head && n < BATCH_MAX) {
            jobs[n++] = s->q_head;
            s->q_head = s->q_head->next;
        }
        if (!s->q_head)
            s->q_tail = NULL;
        s->q_len -= n;
        pthread_mutex_unlock(&s->mu);

        double t0 = mono_seconds();
        int commit_rc = SQLITE_OK, added = 0;
        if (rng_rc != 0) {
            for (int i = 0; i < n; i++)
                jobs[i]->rc = KIOSKD_ECRYPTO;
        } else {
            added = writer_batch(s, jobs, n, &rng, &commit_rc);
        }
        double dt = mono_seconds() - t0;

        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < n; i++) {
            jobs[i]->next = NULL;
            if (s->done_tail)
                s->done_tail->next = jobs[i];
            else
                s->done_head = jobs[i];
            s->done_tail = jobs[i];
            if (jobs[i]->rc)
                s->stats.jobs_failed++;
        }
        s->stats.jobs += (uint64_t)n;
        s->stats.batches++;
        s->stats.last_commit_rc = commit_rc == SQLITE_OK ? 0 : store_rc(commit_rc);
        if (commit_rc != SQLITE_OK)
            s->stats.commits_failed++;
        s->stats.outbox_pending += added;
        hist_observe(&s->stats.batch_size, n);
        hist_observe(&s->stats.commit_seconds, dt);
        pthread_cond_broadcast(&s->done_cond);
        pthread_mutex_unlock(&s->mu);
        if (s->notify)
            s->notify(s->notify_arg);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    rng_free(&rng);
    return NULL;
}

int store_start(struct store *s)
{
    if (s->read_only || s->running)
        return 0;
    s->stopping = false;
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0)
        return KIOSKD_ENOMEM;
    s->running = true;
    return 0;
}

void store_stop(struct store *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = false;
}

int store_submit(struct store *s, struct store_job *job)
{
    int rc = 0;
    job->next = NULL;
    job->rc = 0;
    job->queued_us = now_us();
    pthread_mutex_lock(&s->mu);
    if (s->stopping || !s->running)
        rc = KIOSKD_ESHUTDOWN;
    else if (s->q_len >= s->queue_max)
        rc = KIOSKD_EBUSY;
    if (rc == 0) {
        if (s->q_tail)
            s->q_tail->next = job;
        else
            s->q_head = job;
        s->q_tail = job;
        s->q_len++;
        s->inflight++;
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
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
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool finished = false;
        for (struct store_job *j = s->done_head; j && !finished; j = j->next)
            finished = j == job;
        if (finished)
            break;
        pthread_cond_wait(&s->done_cond, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    store_complete(s);
    job->done = done;
    return job->rc;
}

int store_complete(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    struct store_job *j = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    int n = 0;
    while (j) {
        struct store_job *next = j->next;
        s->inflight--;
        if (j->done)
            j->done(j);
        j = next;
        n++;
    }
    return n;
}

int store_inflight(struct store *s)
{
    return s->inflight;
}

void store_stats(struct store *s, struct store_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->queue_depth = s->q_len;
    pthread_mutex_unlock(&s->mu);
}

void store_fault_commit(struct store *s, int rc, int count)
{
    pthread_mutex_lock(&s->mu);
    s->fault_rc = rc;
    s->fault_count = count;
    pthread_mutex_unlock(&s->mu);
}
