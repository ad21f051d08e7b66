/* The loop's hand-off queue (see core/jobq.h for its states and invariants). */
#include "core/jobq.h"

#include <errno.h>
#include <time.h>

#include "core/status.h"

void jobq_init(struct jobq *q, size_t max)
{
    *q = (struct jobq){.len = 0};
    for (unsigned i = 0; i < JOBQ_LANES; i++)
        q->lane[i].max = max ? max : 1024;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    pthread_cond_init(&q->done_cond, NULL);
}

void jobq_set_max(struct jobq *q, unsigned lane, size_t max)
{
    if (lane < JOBQ_LANES)
        q->lane[lane].max = max ? max : 1024;
}

void jobq_destroy(struct jobq *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cond);
    pthread_cond_destroy(&q->done_cond);
}

void jobq_restart(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = false;
    pthread_mutex_unlock(&q->mu);
}

int jobq_submit_lane(struct jobq *q, struct jobq_node *n, unsigned lane, bool over_max)
{
    if (lane >= JOBQ_LANES)
        return KIOSKD_EINVAL;
    int rc = 0;
    struct jobq_lane *l = &q->lane[lane];
    pthread_mutex_lock(&q->mu);
    if (q->stopping)
        rc = KIOSKD_ESHUTDOWN;
    else if (l->len >= l->max && !over_max)
        rc = KIOSKD_EBUSY;
    if (rc == 0) {
        n->next = NULL;
        if (l->tail)
            l->tail->next = n;
        else
            l->head = n;
        l->tail = n;
        l->len++;
        q->len++;
        q->inflight++;
        /* every taker wakes: some may not take from this lane */
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int jobq_submit(struct jobq *q, struct jobq_node *n)
{
    return jobq_submit_lane(q, n, 0, false);
}

static bool any_queued(const struct jobq *q, unsigned lanes)
{
    for (unsigned i = 0; i < JOBQ_LANES; i++)
        if ((lanes & (1u << i)) && q->lane[i].head)
            return true;
    return false;
}

static size_t take_locked(struct jobq *q, struct jobq_node **out, size_t max, unsigned lanes);

size_t jobq_take_lanes(struct jobq *q, struct jobq_node **out, size_t max, unsigned lanes)
{
    pthread_mutex_lock(&q->mu);
    while (!any_queued(q, lanes) && !q->stopping)
        pthread_cond_wait(&q->cond, &q->mu);
    size_t n = take_locked(q, out, max, lanes);
    pthread_mutex_unlock(&q->mu);
    return n;
}

bool jobq_wait_idle(struct jobq *q, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the condition's clock */
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    while (!any_queued(q, JOBQ_ALL_LANES) && !q->stopping && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&q->cond, &q->mu, &until);
    bool woke = any_queued(q, JOBQ_ALL_LANES) || q->stopping;
    pthread_mutex_unlock(&q->mu);
    return woke;
}

size_t jobq_try_take(struct jobq *q, struct jobq_node **out, size_t max, unsigned lanes)
{
    pthread_mutex_lock(&q->mu);
    size_t n = take_locked(q, out, max, lanes);
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Moves up to max queued nodes of lanes into out, lowest lane first (under the lock). */
static size_t take_locked(struct jobq *q, struct jobq_node **out, size_t max, unsigned lanes)
{
    size_t n = 0;
    for (unsigned i = 0; i < JOBQ_LANES && n < max; i++) {
        struct jobq_lane *l = &q->lane[i];
        if (!(lanes & (1u << i)))
            continue;
        size_t from = n;
        while (l->head && n < max) {
            out[n++] = l->head;
            l->head = l->head->next;
        }
        if (!l->head)
            l->tail = NULL;
        l->len -= n - from;
    }
    q->len -= n;
    return n;
}

size_t jobq_take(struct jobq *q, struct jobq_node **out, size_t max)
{
    return jobq_take_lanes(q, out, max, JOBQ_ALL_LANES);
}

static void done_append(struct jobq *q, struct jobq_node *n)
{
    n->next = NULL;
    if (q->done_tail)
        q->done_tail->next = n;
    else
        q->done_head = n;
    q->done_tail = n;
}

size_t jobq_cancel(struct jobq *q, unsigned lane, void (*fn)(struct jobq_node *node))
{
    if (lane >= JOBQ_LANES)
        return 0;
    struct jobq_lane *l = &q->lane[lane];
    pthread_mutex_lock(&q->mu);
    struct jobq_node *j = l->head;
    size_t n = l->len;
    l->head = l->tail = NULL;
    l->len = 0;
    q->len -= n;
    pthread_mutex_unlock(&q->mu);
    for (struct jobq_node *c = j; c; c = c->next)
        if (fn)
            fn(c);
    pthread_mutex_lock(&q->mu);
    while (j) {
        struct jobq_node *next = j->next;
        done_append(q, j);
        j = next;
    }
    pthread_cond_broadcast(&q->done_cond);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void jobq_finish(struct jobq *q, struct jobq_node *const *nodes, size_t n)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < n; i++)
        done_append(q, nodes[i]);
    pthread_cond_broadcast(&q->done_cond);
    pthread_mutex_unlock(&q->mu);
}

void jobq_wait_done(struct jobq *q, const struct jobq_node *node)
{
    pthread_mutex_lock(&q->mu);
    for (;;) {
        bool finished = false;
        for (const struct jobq_node *j = q->done_head; j && !finished; j = j->next)
            finished = j == node;
        if (finished)
            break;
        pthread_cond_wait(&q->done_cond, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
}

int jobq_complete(struct jobq *q, void (*fn)(struct jobq_node *node))
{
    pthread_mutex_lock(&q->mu);
    struct jobq_node *j = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->mu);
    int n = 0;
    while (j) {
        struct jobq_node *next = j->next;
        q->inflight--;
        fn(j);
        j = next;
        n++;
    }
    return n;
}

void jobq_stop(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

size_t jobq_len(struct jobq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t jobq_lane_len(struct jobq *q, unsigned lane)
{
    if (lane >= JOBQ_LANES)
        return 0;
    pthread_mutex_lock(&q->mu);
    size_t n = q->lane[lane].len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int jobq_inflight(const struct jobq *q)
{
    return q->inflight;
}
