/* The loop's hand-off queue (see core/jobq.h for its states and invariants). */
#include "core/jobq.h"

#include "core/status.h"

void jobq_init(struct jobq *q, size_t max)
{
    *q = (struct jobq){.max = max ? max : 1024};
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    pthread_cond_init(&q->done_cond, NULL);
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

int jobq_submit(struct jobq *q, struct jobq_node *n)
{
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    if (q->stopping)
        rc = KIOSKD_ESHUTDOWN;
    else if (q->len >= q->max)
        rc = KIOSKD_EBUSY;
    if (rc == 0) {
        n->next = NULL;
        if (q->tail)
            q->tail->next = n;
        else
            q->head = n;
        q->tail = n;
        q->len++;
        q->inflight++;
        pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

size_t jobq_take(struct jobq *q, struct jobq_node **out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->stopping)
        pthread_cond_wait(&q->cond, &q->mu);
    while (q->head && n < max) {
        out[n++] = q->head;
        q->head = q->head->next;
    }
    if (!q->head)
        q->tail = NULL;
    q->len -= n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void jobq_finish(struct jobq *q, struct jobq_node *const *nodes, size_t n)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < n; i++) {
        nodes[i]->next = NULL;
        if (q->done_tail)
            q->done_tail->next = nodes[i];
        else
            q->done_head = nodes[i];
        q->done_tail = nodes[i];
    }
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

int jobq_inflight(const struct jobq *q)
{
    return q->inflight;
}
