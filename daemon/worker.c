/* Worker threads and their queues. */
#include "daemon/worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define MAX_WORKERS 8

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct work *q_head, *q_tail;
    size_t q_len, q_max;
    struct work *done_head, *done_tail;
    int inflight; /* loop only */
    bool stopping;
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

static void *worker_main(void *arg)
{
    void **pass = arg;
    struct workers *ws = pass[0];
    struct worker_ctx *ctx = pass[1];
    free(pass);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&ws->mu);
    for (;;) {
        while (!ws->q_head && !ws->stopping)
            pthread_cond_wait(&ws->cond, &ws->mu);
        if (!ws->q_head)
            break;
        struct work *w = ws->q_head;
        ws->q_head = w->next;
        if (!ws->q_head)
            ws->q_tail = NULL;
        ws->q_len--;
        pthread_mutex_unlock(&ws->mu);

        w->run(w, ctx);

        pthread_mutex_lock(&ws->mu);
        w->next = NULL;
        if (ws->done_tail)
            ws->done_tail->next = w;
        else
            ws->done_head = w;
        ws->done_tail = w;
        pthread_mutex_unlock(&ws->mu);
        if (ws->notify)
            ws->notify(ws->notify_arg);
        pthread_mutex_lock(&ws->mu);
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

struct workers *workers_start(int n, const char *sign_pem, const char *const *verify_pems,
                              size_t nverify, size_t queue_max, void (*notify)(void *),
                              void *arg, char *err, size_t errlen)
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
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cond, NULL);
    ws->q_max = queue_max ? queue_max : 1024;
    ws->notify = notify;
    ws->notify_arg = arg;
    for (int i = 0; i < n; i++) {
        if (ctx_init(&ws->ctx[i], sign_pem, verify_pems, nverify, err, errlen)) {
            ctx_free(&ws->ctx[i]);
            workers_stop(ws);
            workers_free(ws);
            return NULL;
        }
        void **pass = malloc(2 * sizeof *pass);
        if (pass) {
            pass[0] = ws;
            pass[1] = &ws->ctx[i];
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
    int rc = 0;
    w->next = NULL;
    pthread_mutex_lock(&ws->mu);
    if (ws->stopping)
        rc = KIOSKD_ESHUTDOWN;
    else if (ws->q_len >= ws->q_max)
        rc = KIOSKD_EBUSY;
    if (rc == 0) {
        if (ws->q_tail)
            ws->q_tail->next = w;
        else
            ws->q_head = w;
        ws->q_tail = w;
        ws->q_len++;
        ws->inflight++;
        pthread_cond_signal(&ws->cond);
    }
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

int worker_complete(struct workers *ws)
{
    if (!ws)
        return 0;
    pthread_mutex_lock(&ws->mu);
    struct work *w = ws->done_head;
    ws->done_head = ws->done_tail = NULL;
    pthread_mutex_unlock(&ws->mu);
    int n = 0;
    while (w) {
        struct work *next = w->next;
        ws->inflight--;
        w->done(w);
        w = next;
        n++;
    }
    return n;
}

int worker_inflight(struct workers *ws)
{
    return ws ? ws->inflight : 0;
}

void workers_stop(struct workers *ws)
{
    if (!ws)
        return;
    pthread_mutex_lock(&ws->mu);
    ws->stopping = true;
    pthread_cond_broadcast(&ws->cond);
    pthread_mutex_unlock(&ws->mu);
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
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cond);
    free(ws);
}
