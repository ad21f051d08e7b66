/*
 * Worker threads for slow CPU work that must not run on the loop: ticket
 * signatures and verifications (ECDSA), PIN hashing (argon2id), QR images.
 * Same shape as the store writer: submit a struct work, its run() happens on
 * a worker with that worker's own keys and random source, its done() on the
 * loop after the loop is woken.
 */
#ifndef KIOSKD_WORKER_H
#define KIOSKD_WORKER_H

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

struct work {
    work_run_fn run;
    work_done_fn done;
    struct jobq_node node; /* owned by the pool from submit until done() */
};

struct workers;

/* Starts n threads, each loading sign_pem (private) and the public PEMs in
 * verify_pems[0..nverify) into its own keys. notify(arg) is called from a
 * worker when work is done. Returns NULL on failure (err says why). */
struct workers *workers_start(int n, const char *sign_pem, const char *const *verify_pems,
                              size_t nverify, size_t queue_max, void (*notify)(void *), void *arg,
                              char *err, size_t errlen);
/* Queues w; 0 or KIOSKD_EBUSY (queue full) / KIOSKD_ESHUTDOWN. */
int worker_submit(struct workers *ws, struct work *w);
/* On the loop: runs done() of every finished work; returns how many. */
int worker_complete(struct workers *ws);
/* Work submitted whose done() has not run. */
int worker_inflight(struct workers *ws);
/* Stops taking work, finishes what is queued and joins the threads; the
 * finished work waits for a last worker_complete(). Accepts NULL. */
void workers_stop(struct workers *ws);
/* Frees a stopped pool. Accepts NULL. */
void workers_free(struct workers *ws);

#endif
