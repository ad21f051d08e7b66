/*
 * The branch's side of HQ sync in the store: reading the outbox after HQ's
 * cursor, recording what HQ acknowledged, and applying one page of HQ's
 * changes. Knows SQL only: building and reading the protocol's bodies is
 * daemon/sync.c's, sending them is the caller's.
 *
 * Invariants (with store/store.h 3, the outbox seq is contiguous):
 *  S1. meta 'outbox_acked_seq' never goes past the outbox's last seq, and
 *      grows only: every entry at or below it is stored at HQ (H2 in
 *      store/hq.h). One exception: a job with rewind set moves it back to
 *      what HQ acknowledged when that is less (HQ's database was restored
 *      from a backup), so the entries HQ lost are sent again. Entries stay in
 *      the outbox after HQ acknowledges them (nothing deletes them), so they
 *      can be.
 *  S2. One page of changes and the pull cursor after it commit together
 *      (one job), so a page is applied once however the round ends.
 */
#ifndef KIOSKD_STORE_SYNC_H
#define KIOSKD_STORE_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/members.h"
#include "store/products.h"
#include "store/signups.h"
#include "store/store.h"

#define SYNC_CURSOR_MAX 200

/* Where sync stands (read connection). */
struct store_sync_state {
    int64_t acked_seq; /* the outbox cursor */
    int64_t last_seq;  /* the outbox's highest seq (0: empty) */
    int64_t pending;   /* entries after the cursor */
    char pull_cursor[SYNC_CURSOR_MAX + 1];
};
/* 0 or a KIOSKD_E* code. Not on the writer thread. */
int store_sync_state(struct store *s, struct store_sync_state *out);

/* Appends to entries (a JSON array) the outbox entries after seq `after`, in
 * seq order, at most limit, each {"id","seq","kind","at","data"}; *last gets
 * the last seq appended (after, when none). 0 or a KIOSKD_E* code. */
int store_sync_outbox_read(struct store *s, int64_t after, int limit, json_t *entries,
                           int64_t *last);

/* Records that HQ has stored every entry up to acked (capped at sent, the
 * last seq of the push it answered): the cursor moves forward only (S1), or
 * back to acked when rewind is set and acked is below it. */
struct store_sync_ack {
    struct store_job job;
    int64_t acked, sent;
    bool rewind;
    /* out */
    int64_t cursor;   /* the cursor after the job */
    int64_t advanced; /* entries it moved over */
    int64_t rewound;  /* entries it moved back over (rewind only) */
};
void store_sync_ack_init(struct store_sync_ack *j);

/* Another device's public ticket key (kind key). */
struct store_sync_key {
    char kid[16];
    char pem[256];
};

/* A sign-up taken elsewhere (kind signup), its guest sealed with this
 * branch's key. */
struct store_sync_signup {
    char kid[16];
    int64_t origin_id; /* its id where it was taken: what its ticket names */
    int64_t event_id, issued_at;
    char status[12], source[8], consent_version[16], device[65];
    struct store_person who;
};

/* A ticket cancelled elsewhere (kind revocation). */
struct store_sync_revocation {
    char kid[16];
    int64_t signup_id, issued_at;
};

/* Applies one page of HQ's changes and stores the cursor after it (S2). The
 * caller owns the arrays. Keys are added once by kid. A sign-up is applied
 * once by (kid, origin_id), later versions only when issued later (a sign-up
 * taken again after a cancellation); one for an event this branch lacks, or
 * for a phone that holds a sign-up of that event here already (that one
 * stands), is counted in skipped. A revocation is kept, and cancels the
 * sign-up it names unless that one is checked in (the door wins). */
struct store_sync_page {
    struct store_job job;
    const struct store_member *members; /* sealed with this branch's key */
    size_t nmembers;
    const struct store_product *products;
    size_t nproducts;
    const struct store_sync_key *keys;
    size_t nkeys;
    const struct store_sync_signup *signups;
    size_t nsignups;
    const struct store_sync_revocation *revocations;
    size_t nrevocations;
    char own_kid[16]; /* this daemon's key: a revocation of its tickets names its own ids */
    int64_t skipped;  /* changes of kinds this branch does not apply yet */
    char cursor[SYNC_CURSOR_MAX + 1];
    /* out */
    int64_t members_added, members_updated, products_added, products_updated;
    int64_t keys_added, signups_applied, revocations_applied;
};
void store_sync_page_init(struct store_sync_page *j);

#endif
