/*
 * Worker threads for slow CPU work that must not run on the loop: ticket
 * signatures and verifications (ECDSA), PIN hashing (argon2id), QR images.
 * Same shape as the store writer: submit a struct work, its run() happens on
 * a worker with that worker's own keys and random source, its done() on the
 * loop after the loop is woken.
 *
 * Two classes of work, each with its own queue: door work (ticket signing and
 * checking, QR images) and slow work (PIN hashing). Door work is always taken
 * first, and with two threads or more the first thread never hashes, so a
 * flood of logins cannot hold up a check-in. Work whose client has gone
 * before a worker takes it is not run (its done() still runs), and on
 * shutdown queued slow work is cancelled at once while door work is finished.
 */
#ifndef KIOSKD_WORKER_H
#define KIOSKD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/jobq.h"
#include "core/rng.h"
#include "core/ticket.h"

/* What a worker thread owns; never shared between threads. */
struct worker_ctx {
    struct rng rng;
    struct ticket_key sign_key;   /* this daemon's key */
    struct ticket_key verify[16]; /* every key whose tickets are accepted */
    struct ticket_keyring ring;
};

struct work;
typedef void (*work_run_fn)(struct work *w, struct worker_ctx *ctx);
typedef void (*work_done_fn)(struct work *w);

enum work_class {
    WORK_DOOR = 0, /* signing, verifying, QR images: never waits behind WORK_SLOW */
    WORK_SLOW,     /* PIN hashing */
};

struct work {
    work_run_fn run;
    work_done_fn done;
    enum work_class cls;     /* zero: door work */
    const atomic_bool *gone; /* may be NULL; true when taken: run() is skipped */
    int rc;                  /* set by the pool for done(): 0 ran, KIOSKD_EGONE
                                skipped, KIOSKD_ESHUTDOWN cancelled at shutdown */
    struct jobq_node node;   /* owned by the pool from submit until done() */
};

struct workers;

/* Starts n threads, each loading sign_pem (private) and the public PEMs in
 * verify_pems[0..nverify) into its own keys; door_max and slow_max bound the
 * two queues. notify(arg) is called from a worker when work is done. Returns
 * NULL on failure (err says why). */
struct workers *workers_start(int n, const char *sign_pem, const char *const *verify_pems,
                              size_t nverify, size_t door_max, size_t slow_max,
                              void (*notify)(void *), void *arg, char *err, size_t errlen);
/* Queues w in the queue of its class; 0 or KIOSKD_EBUSY (queue full) /
 * KIOSKD_ESHUTDOWN. */
int worker_submit(struct workers *ws, struct work *w);
/* Queues w even past its queue's bound: for work that finishes a change already
 * committed, which must not be refused. 0 or KIOSKD_ESHUTDOWN. */
int worker_submit_committed(struct workers *ws, struct work *w);
/* Cancels the slow work queued and not yet taken: its done() runs with rc
 * KIOSKD_ESHUTDOWN at the next worker_complete(). Returns how many. */
int workers_cancel_slow(struct workers *ws);
/* On the loop: runs done() of every finished work; returns how many. */
int worker_complete(struct workers *ws);
/* Work submitted whose done() has not run. */
int worker_inflight(struct workers *ws);
/* Stops taking work, cancels queued slow work, finishes queued door work and
 * joins the threads; the finished work waits for a last worker_complete().
 * Accepts NULL. */
void workers_stop(struct workers *ws);
/* Frees a stopped pool. Accepts NULL. */
void workers_free(struct workers *ws);

#endif
