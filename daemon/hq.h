/*
 * `kioskd hq`: the reference HQ server of the sync protocol (docs/sync.md).
 * The same process shape as a branch daemon (one lws loop, the store's
 * writer thread with group commit) on HQ's own database and routes
 * (handlers/hq.c); the commands `hq device add` and `hq import`.
 */
#ifndef KIOSKD_HQ_H
#define KIOSKD_HQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hqsig.h"
#include "core/pii.h"
#include "core/rng.h"
#include "core/ticket.h"
#include "store/hq.h"

/* What a request's signature is checked against, on the storage thread
 * (struct store_hq_auth's request). */
struct hq_signed {
    char method[8];
    char path[300]; /* path and query as signed */
    char body_hex[HQSIG_HEX + 1];
};

/* Counters for /metrics (the loop's). */
struct hq_counters {
    uint64_t pushes, pulls, entries_received, entries_stored, changes_sent;
    uint64_t refused_malformed, refused_stale, refused_unknown, refused_signature, refused_replayed;
};

struct hq {
    /* the storage thread's own: device secrets and personal data at rest */
    struct pii pii;
    struct rng rng;
    struct store_hq_crypto crypto;
    /* HQ's ticket key ([hqserver] ticket_key_file), for the sign-ups of its
     * bot: loaded by the server only, used on the storage thread */
    struct ticket_key ticket;
    char public_pem[256];
    struct hq_counters n;
};

/* Sets up h's keys from HQ's master key; 0 or a KIOSKD_E* code with err. */
int hq_init(struct hq *h, const char *key_file, char *err, size_t errlen);
void hq_free(struct hq *h);

struct kioskd;
/* Opens HQ's keys (k->hq) and database (k->store, writer started); daemon:
 * for the server (its writer wakes the loop), else a command beside it. 0 or
 * a KIOSKD_E* code with err; either way hq_close undoes it. */
int hq_open(struct kioskd *k, bool daemon, char *err, size_t errlen);
void hq_close(struct kioskd *k);
/* kioskd hq device add ID [--area NAME] | import members|products|events|balances FILE.csv |
 * import templates DIR_OR_FILE | bind-code MEMBER_NO; the exit code. */
int hq_cli(struct kioskd *k, int argc, char **argv);

#endif
