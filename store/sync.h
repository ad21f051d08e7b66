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

#include "store/events.h"
#include "store/members.h"
#include "store/products.h"
#include "store/signups.h"
#include "store/store.h"

#define SYNC_CURSOR_MAX 200
#define SYNC_KEY_MAX 200    /* bytes of HQ's key of a change */
#define SYNC_BRANCH_MAX 64  /* bytes of a device id */
#define SYNC_LINE_ID_MAX 64 /* bytes of HQ's id of a points line */
#define SYNC_NOTE_MAX 100   /* characters of HQ's reason for a points line */
#define SYNC_TEMPLATE_NAME_MAX 63

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
    /* the event id its ticket names when not event_id (HQ's ticket for an
     * event its branch had not linked: 0); -1: event_id */
    int64_t ticket_event_id;
    char status[12], source[8], consent_version[16], device[65];
    struct store_person who;
};

/* A ticket cancelled elsewhere (kind revocation). */
struct store_sync_revocation {
    char kid[16];
    int64_t signup_id, issued_at;
};

/* An event imported at HQ: this branch's own (branch "") or another
 * branch's of its area. Applied by hq_key: added, or its title, kind, times,
 * venue and capacity replaced (HQ wins), except a capacity below the
 * sign-ups the event has here: the branch's capacity is kept (capacity_kept,
 * with confirmed, for the log). A raised capacity promotes the waitlist.
 * Cancelled at HQ, it is cancelled here as a manager cancels it (sign-ups
 * refused, tickets no longer check in, its sign-ups kept for the record,
 * audited); a cancellation is final: a later "open" does not reopen it. */
struct store_pulled_event {
    char hq_key[SYNC_KEY_MAX + 1];
    char branch[SYNC_BRANCH_MAX + 1];
    struct store_event ev; /* title, kind, starts_at, ends_at, venue, capacity */
    bool cancel;           /* HQ's status is cancelled */
    /* out */
    bool cancelled; /* this page cancelled it */
    int64_t id;
    bool capacity_kept;
    int64_t kept_capacity, confirmed;
    int64_t promoted; /* waitlisted sign-ups given the places a raised capacity made */
};

/* A points line earned at HQ, merged into the ledger by hq_id (once); kept
 * aside while the branch lacks its member, and merged by the page that
 * brings the member. */
struct store_pulled_balance {
    char hq_id[SYNC_LINE_ID_MAX + 1];
    char member_no[MEMBER_NO_MAX + 1];
    int64_t points; /* > 0 */
    char note[SYNC_NOTE_MAX * 4 + 1];
    int64_t at; /* unix seconds */
};

/* A message template pulled from HQ, checked already (daemon/templates.h):
 * stored by name, replacing the one before. */
struct store_pulled_template {
    char name[SYNC_TEMPLATE_NAME_MAX + 1]; /* KIND.CHANNEL.mustache */
    char *text;                            /* owned by the caller */
    size_t len;
};

/* The templates pulled from HQ, in name order (read connection): each(arg,
 * name, text, len) per template. 0 or a KIOSKD_E* code. */
int store_templates_pulled(struct store *s,
                           void (*each)(void *arg, const char *name, const char *text, size_t len),
                           void *arg);

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
    struct store_pulled_event *events; /* out fields filled in */
    size_t nevents;
    const struct store_pulled_balance *balances;
    size_t nbalances;
    const struct store_pulled_template *templates;
    size_t ntemplates;
    int64_t refused;  /* changes refused by the branch's checks (a bad template) */
    int expiry_years; /* [points] expiry_years, for the balances' lots */
    int64_t skipped;  /* changes of kinds this branch does not apply yet */
    char cursor[SYNC_CURSOR_MAX + 1];
    /* out */
    int64_t members_added, members_updated, products_added, products_updated;
    int64_t keys_added, signups_applied, revocations_applied;
    int64_t events_added, events_updated;
    int64_t balances_added, balances_known; /* known: the line was merged before */
    int64_t balances_pending; /* kept for a member not here yet, merged when it comes */
};
void store_sync_page_init(struct store_sync_page *j);
/* The changes a page holds, applied or skipped. */
int64_t store_sync_page_changes(const struct store_sync_page *j);

#endif
