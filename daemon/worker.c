/* Worker threads and their queues. */
#include "daemon/worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define MAX_WORKERS 8

struct workers {
    struct jobq q;
    int n;
    pthread_t threads[MAX_WORKERS];
    struct worker_ctx ctx[MAX_WORKERS];
    void (*notify)(void *);
    void *notify_arg;
};

static void ctx_free(struct worker_ctx *c)
{
    ticket_key_free(&c->sign_key);
    for (int i = 0; i < c->ring.n; i++)
        ticket_key_free(&c->verify[i]);
    rng_free(&c->rng);
}

static int ctx_init(struct worker_ctx *c, const char *sign_pem, const char *const *verify_pems,
                    size_t nverify, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (rng_init(&c->rng)) {
        snprintf(err, errlen, "cannot seed the random generator");
        return KIOSKD_ECRYPTO;
    }
    if (ticket_key_load_pem(&c->sign_key, sign_pem, strlen(sign_pem) + 1)) {
        snprintf(err, errlen, "cannot load the ticket signing key");
        return KIOSKD_ECRYPTO;
    }
    c->ring.keys[c->ring.n] = &c->sign_key;
    c->ring.n++;
    for (size_t i = 0; i < nverify && c->ring.n < 16; i++) {
        struct ticket_key *k = &c->verify[c->ring.n - 1];
        if (ticket_key_load_pem(k, verify_pems[i], strlen(verify_pems[i]) + 1) == 0) {
            c->ring.keys[c->ring.n] = k;
            c->ring.n++;
        }
    }
    return 0;
}

static struct work *work_of(struct jobq_node *n)
{
    return (struct work *)(void *)((char *)n - offsetof(struct work, node));
}

static void *worker_main(void *arg)
{
    void **pass = arg;
    struct workers *ws = pass[0];
    struct worker_ctx *ctx = pass[1];
    unsigned lanes = (unsigned)(uintptr_t)pass[2];
    free(pass);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    struct jobq_node *n;
    while (jobq_take_lanes(&ws->q, &n, 1, lanes) == 1) {
        struct work *w = work_of(n);
        if (w->gone && atomic_load(w->gone)) {
            w->rc = KIOSKD_EGONE; /* nobody waits for it: not worth the CPU */
        } else {
            w->rc = 0;
            w->run(w, ctx);
        }
        jobq_finish(&ws->q, &n, 1);
        if (ws->notify)
            ws->notify(ws->notify_arg);
    }
    return NULL;
}

struct workers *workers_start(int n, const char *sign_pem, const char *const *verify_pems,
                              size_t nverify, size_t door_max, size_t slow_max,
                              void (*notify)(void *), void *arg, char *err, size_t errlen)
{
    if (n < 1)
        n = 1;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    struct workers *ws = calloc(1, sizeof *ws);
    if (!ws) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    jobq_init(&ws->q, door_max);
    jobq_set_max(&ws->q, WORK_SLOW, slow_max);
    ws->notify = notify;
    ws->notify_arg = arg;
    for (int i = 0; i < n; i++) {
        if (ctx_init(&ws->ctx[i], sign_pem, verify_pems, nverify, err, errlen)) {
            ctx_free(&ws->ctx[i]);
            workers_stop(ws);
            workers_free(ws);
            return NULL;
        }
        void **pass = malloc(3 * sizeof *pass);
        /* with two threads or more, the first one only ever does door work */
        unsigned lanes = n > 1 && i == 0 ? 1u << WORK_DOOR : JOBQ_ALL_LANES;
        if (pass) {
            pass[0] = ws;
            pass[1] = &ws->ctx[i];
            pass[2] = (void *)(uintptr_t)lanes;
        }
        if (!pass || pthread_create(&ws->threads[i], NULL, worker_main, pass) != 0) {
            free(pass);
            ctx_free(&ws->ctx[i]);
            snprintf(err, errlen, "cannot start a worker thread");
            workers_stop(ws);
            workers_free(ws);
            return NULL;
        }
        ws->n++;
    }
    return ws;
}

int worker_submit(struct workers *ws, struct work *w)
{
    return jobq_submit_lane(&ws->q, &w->node, (unsigned)w->cls, false);
}

int worker_submit_committed(struct workers *ws, struct work *w)
{
    return jobq_submit_lane(&ws->q, &w->node, (unsigned)w->cls, true);
}

static void cancelled(struct jobq_node *n)
{
    work_of(n)->rc = KIOSKD_ESHUTDOWN;
}

int workers_cancel_slow(struct workers *ws)
{
    if (!ws)
        return 0;
    size_t n = jobq_cancel(&ws->q, WORK_SLOW, cancelled);
    if (n && ws->notify)
        ws->notify(ws->notify_arg);
    return (int)n;
}

static void complete_one(struct jobq_node *n)
{
    struct work *w = work_of(n);
    w->done(w);
}

int worker_complete(struct workers *ws)
{
    return ws ? jobq_complete(&ws->q, complete_one) : 0;
}

int worker_inflight(struct workers *ws)
{
    return ws ? jobq_inflight(&ws->q) : 0;
}

void workers_stop(struct workers *ws)
{
    if (!ws)
        return;
    jobq_cancel(&ws->q, WORK_SLOW, cancelled);
    jobq_stop(&ws->q);
    for (int i = 0; i < ws->n; i++) {
        pthread_join(ws->threads[i], NULL);
        ctx_free(&ws->ctx[i]);
    }
    ws->n = 0;
}

void workers_free(struct workers *ws)
{
    if (!ws)
        return;
    jobq_destroy(&ws->q);
    free(ws);
}
