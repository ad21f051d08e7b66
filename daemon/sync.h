/*
 * The branch's side of the HQ sync protocol (docs/sync.md), without the
 * transport: building a signed push from the outbox, reading HQ's answer,
 * and turning a pull's answer into one store job. `kioskd sync --once`
 * (daemon/sync_cli.c) sends them with libcurl's easy interface; the daemon's
 * own rounds (daemon/hqsync.c) send the same bodies from its net thread.
 */
#ifndef KIOSKD_SYNC_H
#define KIOSKD_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/hqsig.h"
#include "daemon/kioskd.h"
#include "store/sync.h"

/* A request ready to send: its path and query, the body as sent, and the
 * headers' values. */
struct sync_request {
    const char *method;
    char path[128];
    struct buf body; /* as sent (gzip when gzip is set) */
    bool gzip;
    char authorization[HQSIG_HEADER_MAX];
};
void sync_request_free(struct sync_request *q);

/* Builds the push of the outbox entries after seq `after` (at most [hq]
 * batch), signed at unix time now. *last gets the batch's last seq and *count
 * its size (0: nothing to push; q is then empty). 0 or a KIOSKD_E* code. */
int sync_push_build(struct kioskd *k, int64_t after, int64_t now, struct sync_request *q,
                    int64_t *last, int *count);
/* The same, off the loop: the entries are read through from (a connection
 * of the caller's thread, not k->store's), their personal data opened with
 * pii (the caller thread's own: core/pii.h, one thread at a time), the body
 * carries nonce (32 hex digits, drawn by the caller), and from k only what
 * is set at start is read (cfg, kid, public_pem). The daemon runs it on a
 * worker (daemon/hqsync.c): nothing in it may use the loop's k->pii,
 * k->rng or k->store. */
int sync_push_build_from(const struct kioskd *k, struct store *from, struct pii *pii,
                         const char *nonce, int64_t after, int64_t now, struct sync_request *q,
                         int64_t *last, int *count);
/* Reads a push's answer {"acked_through": n}. 0 or KIOSKD_EMALFORMED. */
int sync_push_answer(const char *body, size_t len, int64_t *acked);

/* Builds the signed pull of the changes after cursor (limit per page). */
int sync_pull_build(struct kioskd *k, const char *cursor, int limit, int64_t now,
                    struct sync_request *q);

/* One page of changes read from a pull's answer, as a store job. */
struct sync_page {
    struct store_sync_page job;
    struct store_member *members;
    struct store_product *products;
    struct store_sync_key *keys;
    struct store_sync_signup *signups;
    struct store_sync_revocation *revocations;
    struct store_pulled_event *events;
    struct store_pulled_balance *balances;
    struct store_pulled_template *templates;
    bool more;
};
/* Reads a pull's answer {"changes":[{"kind","data"}],"cursor","more"}: members
 * are checked and sealed with this branch's key (tiers from [tiers]),
 * products checked, keys checked (a P-256 public key whose kid is its own;
 * this daemon's own skipped), sign-ups taken elsewhere checked and their
 * guests sealed like members, revocations checked; kinds not applied yet
 * are counted in job.skipped. 0,
 * KIOSKD_EMALFORMED (why says what) or KIOSKD_ENOMEM. */
int sync_pull_read(struct kioskd *k, const char *body, size_t len, struct sync_page *p, char *why,
                   size_t whylen);
/* The same off the loop: members and guests are sealed with pii and rng (the
 * calling thread's own, core/pii.h), and from k only what is set at start is
 * read (cfg, kid); a refused template is logged (daemon/log.h is safe from
 * any thread). The daemon runs it on a worker (daemon/hqsync.c). */
int sync_pull_read_with(const struct kioskd *k, struct pii *pii, struct rng *rng, const char *body,
                        size_t len, struct sync_page *p, char *why, size_t whylen);
/* Frees a page's arrays (wiping the sealed data); accepts a zeroed page. */
void sync_page_free(struct sync_page *p);
/* After a page's job committed (on the loop, before sync_page_free): logs
 * what the branch kept against HQ's word (an event's capacity below its
 * sign-ups, balance lines of members unknown here), refreshes what the page
 * changed; returns the page's changes, applied or skipped. */
int64_t sync_page_applied(struct kioskd *k, const struct sync_page *p);

/* kioskd sync --once: the exit code. */
int cli_sync(struct kioskd *k, int argc, char **argv);

#endif
