/*
 * A bounded, mutex-protected FIFO of intrusive nodes with a done list: the
 * hand-off between the event loop and the threads that work for it (the
 * store writer, the CPU workers). Knows nothing of what a job is; does no I/O.
 *
 * Life of a node: submitted (queue) -> taken (by a thread) -> finished (done
 * list) -> completed (jobq_complete ran fn on it, on the loop).
 *   jobq_submit   : -> submitted              (loop)
 *   jobq_take     : submitted -> taken        (worker thread; a batch or one)
 *   jobq_try_take : the same, never waiting   (a thread with its own poll)
 *   jobq_finish   : taken -> finished         (worker thread)
 *   jobq_complete : finished -> completed     (loop)
 *
 * Invariants:
 *  1. len <= max; a refused submit leaves the node untouched by the queue.
 *  2. A node is in at most one list; its next belongs to the queue from
 *     submit until jobq_complete hands it back (the caller owns the node
 *     itself throughout and must keep it alive).
 *  3. inflight = submitted - completed; changed and read on the loop only.
 *  4. After jobq_stop, submits are refused with KIOSKD_ESHUTDOWN and jobq_take
 *     still returns what is queued, then 0.
 *  5. Nodes wait in one of JOBQ_LANES lanes, each FIFO with its own bound;
 *     a take looks at the lanes it is allowed, lowest lane first, so lane 0
 *     never waits behind a higher lane. len is the sum of the lanes' lengths.
 *  6. A cancelled node goes from its lane straight to the done list, in order,
 *     without being taken (jobq_cancel).
 */
#ifndef KIOSKD_JOBQ_H
#define KIOSKD_JOBQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct jobq_node {
    struct jobq_node *next;
};

#define JOBQ_LANES 2
#define JOBQ_ALL_LANES ((1u << JOBQ_LANES) - 1)

struct jobq_lane {
    struct jobq_node *head, *tail;
    size_t len, max;
};

struct jobq {
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* a node was submitted, or stop */
    pthread_cond_t done_cond; /* nodes were finished (jobq_wait_done) */
    struct jobq_lane lane[JOBQ_LANES];
    size_t len;
    struct jobq_node *done_head, *done_tail;
    int inflight;
    bool stopping;
};

/* Sets up an empty queue whose every lane takes at most max nodes (max 0:
 * 1024), accepting. */
void jobq_init(struct jobq *q, size_t max);
/* Sets the bound of one lane (max 0: 1024); before the queue is shared. */
void jobq_set_max(struct jobq *q, unsigned lane, size_t max);
/* Frees the lock and conditions; the lists must be empty or their nodes abandoned. */
void jobq_destroy(struct jobq *q);
/* Accepts submits again after jobq_stop. */
void jobq_restart(struct jobq *q);
/* Queues n in lane 0; 0, KIOSKD_EBUSY (full) or KIOSKD_ESHUTDOWN (stopped). */
int jobq_submit(struct jobq *q, struct jobq_node *n);
/* Queues n in lane; past the lane's bound only when over_max (work that must
 * not be refused, such as finishing a committed change). Same returns. */
int jobq_submit_lane(struct jobq *q, struct jobq_node *n, unsigned lane, bool over_max);
/* Blocks until nodes are queued, then moves up to max of them, oldest first,
 * into out; returns how many, or 0 once stopped and empty. */
size_t jobq_take(struct jobq *q, struct jobq_node **out, size_t max);
/* The same from the lanes in the bit mask lanes only, lowest lane first; 0
 * once stopped and those lanes are empty. */
size_t jobq_take_lanes(struct jobq *q, struct jobq_node **out, size_t max, unsigned lanes);
/* Waits up to ms milliseconds for a node in any lane or for jobq_stop; true
 * when one came (or was there), false when the time ran out (the queue idle). */
bool jobq_wait_idle(struct jobq *q, int ms);
/* The same without waiting: returns 0 at once when those lanes are empty
 * (for a thread that sleeps elsewhere, such as in curl_multi_poll). */
size_t jobq_try_take(struct jobq *q, struct jobq_node **out, size_t max, unsigned lanes);
/* Takes every node queued in lane out of it, calls fn on each (not under the
 * lock) and puts them on the done list in order; returns how many. */
size_t jobq_cancel(struct jobq *q, unsigned lane, void (*fn)(struct jobq_node *node));
/* Appends the n taken nodes to the done list, in order, and wakes jobq_wait_done. */
void jobq_finish(struct jobq *q, struct jobq_node *const *nodes, size_t n);
/* Blocks until node is on the done list (a thread that is not the loop). */
void jobq_wait_done(struct jobq *q, const struct jobq_node *node);
/* On the loop: takes the whole done list and calls fn on each node in order;
 * returns how many. */
int jobq_complete(struct jobq *q, void (*fn)(struct jobq_node *node));
/* Refuses further submits and wakes every jobq_take. */
void jobq_stop(struct jobq *q);
/* Nodes queued and not yet taken. */
size_t jobq_len(struct jobq *q);
/* Nodes queued in lane and not yet taken. */
size_t jobq_lane_len(struct jobq *q, unsigned lane);
/* Nodes submitted and not yet completed (loop only). */
int jobq_inflight(const struct jobq *q);

#endif
