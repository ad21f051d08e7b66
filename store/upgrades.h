/*
 * Upgrade registrations (升级确认单): registered by staff for a checked-in
 * guest or a member, approved or rejected by a manager (行长审批), and the
 * arrival of the assets recorded later. Their life:
 *
 *   registered --approve--> approved --arrived--> approved + arrived_us
 *        \--reject--> rejected
 *
 * Invariants (the jobs below keep them; the table's CHECKs hold 1 and 2):
 *  1. decided_us is set exactly when the status is not registered.
 *  2. Only an approved upgrade records an arrival, and at most once.
 *  3. An approval earns every product line's new-business points with the
 *     coefficient in force at the approval, recorded on the line.
 *  4. Amounts (pledged, arrived, the member's AUM) are sealed by the caller:
 *     the store keeps blobs and compares them, it never sees the figures.
 *
 * Jobs follow store/store.h: rc != 0 means nothing was recorded; a refusal is
 * KIOSKD_EREFUSED with job.why naming the rule (store/why.h).
 */
#ifndef KIOSKD_STORE_UPGRADES_H
#define KIOSKD_STORE_UPGRADES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/events.h"
#include "store/ledger.h"
#include "store/members.h"
#include "store/products.h"
#include "store/store.h"

#define UPGRADE_PRODUCTS_MAX 16
#define UPGRADE_REASON_MAX 200 /* characters of a decision's reason */
#define UPGRADE_ENC_MAX 64     /* a sealed amount */

struct upgrade_product {
    char code[PRODUCT_CODE_MAX + 1];
    int64_t amount_fen;
};

/* Registers an upgrade for the member whose phone signed up (signup_id, which
 * must have a check-in in force; the event is the sign-up's) or for member_no.
 * Refusals: WHY_SIGNUP_NOT_FOUND, WHY_NOT_CHECKED_IN, WHY_NOT_A_MEMBER,
 * WHY_MEMBER_NOT_FOUND, WHY_PRODUCT_NOT_FOUND. Audited and journalled
 * (outbox "upgrade", without the pledged amount). */
struct store_upgrade_register {
    struct store_job job;
    int64_t signup_id; /* 0: member_no names the member */
    char member_no[MEMBER_NO_MAX + 1];
    char mode[12]; /* onsite, appointment */
    char target_tier[16];
    unsigned char pledged_enc[UPGRADE_ENC_MAX];
    size_t pledged_enc_len;
    struct upgrade_product products[UPGRADE_PRODUCTS_MAX];
    int nproducts;
    struct store_actor by;
    /* out */
    int64_t upgrade_id, event_id;
    int64_t created_us;
    char out_member_no[MEMBER_NO_MAX + 1];
    char tier[16], trial_tier[16], trial_until[11];
};
void store_upgrade_register_init(struct store_upgrade_register *j);

/* Approves or rejects a registered upgrade. Approval grants the target tier as
 * a trial until today + trial_days (China date) unless the member's tier is
 * at or above it (or a running trial is above it), and earns the new-business
 * points of every product line. Refusals: WHY_UPGRADE_NOT_FOUND,
 * WHY_UPGRADE_DECIDED. */
struct store_upgrade_decide {
    struct store_job job;
    int64_t upgrade_id;
    bool approve;
    char reason[UPGRADE_REASON_MAX * 4 + 1]; /* "" : none */
    struct points_rules rules;
    int64_t trial_days;
    struct store_actor by;
    /* out */
    char member_no[MEMBER_NO_MAX + 1];
    char tier[16], trial_tier[16], trial_until[11]; /* the member after the decision */
    bool trial_granted;
    int64_t points, balance;
    int64_t decided_us;
};
void store_upgrade_decide_init(struct store_upgrade_decide *j);

/* Records the arrival of an approved upgrade's assets: the member's AUM
 * becomes aum_enc (sealed by the caller from the AUM it read as old_aum_enc)
 * and its tier `tier`; a trial the new tier reaches ends. Compare and swap:
 * when the member's AUM is no longer old_aum_enc the job refuses
 * WHY_MEMBER_CHANGED. Refusals also: WHY_UPGRADE_NOT_FOUND,
 * WHY_UPGRADE_NOT_APPROVED, WHY_ALREADY_ARRIVED. */
struct store_upgrade_arrive {
    struct store_job job;
    int64_t upgrade_id;
    unsigned char old_aum_enc[UPGRADE_ENC_MAX], aum_enc[UPGRADE_ENC_MAX],
        arrived_enc[UPGRADE_ENC_MAX];
    size_t old_aum_enc_len, aum_enc_len, arrived_enc_len;
    char tier[16];
    struct store_actor by;
    /* out */
    char member_no[MEMBER_NO_MAX + 1];
    char trial_tier[16], trial_until[11]; /* after the arrival ("" : none) */
    bool trial_ended;
    int64_t arrived_us;
};
void store_upgrade_arrive_init(struct store_upgrade_arrive *j);

/* What the arrival needs to read first (loop): the upgrade's status and the
 * member's sealed AUM. 0, KIOSKD_ENOTFOUND or another KIOSKD_E* code. */
struct store_upgrade_aum {
    int64_t member_id;
    char status[12];
    bool arrived;
    unsigned char aum_enc[UPGRADE_ENC_MAX];
    size_t aum_enc_len;
};
int store_upgrade_aum(struct store *s, int64_t upgrade_id, struct store_upgrade_aum *out);

/* One upgrade as the tablet's lists show it (amounts still sealed). */
struct store_upgrade_row {
    int64_t id, signup_id, event_id; /* 0: none */
    char member_no[MEMBER_NO_MAX + 1];
    char name_mask[64];
    char tier[16], trial_tier[16], trial_until[11];
    char target_tier[16], mode[12], status[12];
    char reason[UPGRADE_REASON_MAX * 4 + 1];
    char created_by[33], decided_by[33];
    int64_t created_us, decided_us, arrived_us; /* 0: not yet */
    unsigned char pledged_enc[UPGRADE_ENC_MAX], arrived_enc[UPGRADE_ENC_MAX];
    size_t pledged_enc_len, arrived_enc_len;
    struct upgrade_product products[UPGRADE_PRODUCTS_MAX];
    int nproducts;
};

/* Reads up to max upgrades of a status ("" : any), newest first, into a new
 * array (caller frees). Loop only. Returns 0 or a KIOSKD_E* code. */
int store_upgrades_list(struct store *s, const char *status, size_t max,
                        struct store_upgrade_row **out, size_t *n);

/* An event's upgrades: all registered (whatever became of them) and approved. */
int store_event_upgrades(struct store *s, int64_t event_id, int64_t *registered, int64_t *approved);

/* The funnel: one row per event (not cancelled) starting in [from, to) and one
 * per China month (YYYY-MM) of those events' starts and of upgrades created in
 * [from, to). signed_up: sign-ups not cancelled, walk-ins aside; checked_in:
 * check-ins in force (walk-ins too); registered: upgrades (any status);
 * approved; arrived. An event row counts the event's upgrades whenever they
 * were made; a month row counts upgrades by the month they were created in,
 * those without an event too. invited: the frozen audiences of the event's
 * campaigns. */
struct store_funnel_counts {
    int64_t invited; /* the audiences of the event's campaigns (store/campaigns.h) */
    int64_t signed_up, checked_in, registered, approved, arrived;
};
struct store_funnel_event {
    int64_t id, starts_at;
    char title[EVENT_TEXT_BUF(EVENT_TITLE_MAX)];
    struct store_funnel_counts c;
};
struct store_funnel_month {
    char month[8]; /* YYYY-MM */
    struct store_funnel_counts c;
};
#define FUNNEL_EVENTS_MAX 1000
#define FUNNEL_MONTHS_MAX 14
struct store_funnel {
    struct store_funnel_event *events; /* owned; store_funnel_free */
    size_t nevents;
    struct store_funnel_month months[FUNNEL_MONTHS_MAX];
    size_t nmonths;
};
/* Fills f for unix seconds [from, to) (at most FUNNEL_MONTHS_MAX months
 * apart). Loop only. Returns 0 or a KIOSKD_E* code; store_funnel_free
 * either way. */
int store_funnel(struct store *s, int64_t from, int64_t to, struct store_funnel *f);
void store_funnel_free(struct store_funnel *f);

#endif
