/*
 * Campaigns (migration 0015): the audience's candidates (a read), the
 * creation that freezes the audience (one job), the steps' invitations
 * derived by the message scheduler, and the reads of results.
 *
 * Invariants:
 *  C1. A campaign's audience is written once, in the job that creates it,
 *      and never changes: members opted out or already signed up for the
 *      event at that moment are left out.
 *  C2. A step queues its invitations once (ran_at set in the same
 *      transaction), each through the message queue's dedup key; only
 *      members of the audience who have not signed up for the event (any
 *      sign-up not cancelled, found by phone or member number) are invited.
 */
#ifndef KIOSKD_STORE_CAMPAIGNS_H
#define KIOSKD_STORE_CAMPAIGNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/campaign.h"
#include "store/members.h"
#include "store/store.h"

#define CAMPAIGN_STEPS_MAX 8
#define CAMPAIGN_NAME_MAX 100 /* characters */
#define CAMPAIGN_CODE_TRIES 4
#define CAMPAIGN_TIER_BITS 4 /* 长尾 1, 潜力 2, 中高端 4, 财私 8 */

/* The audience's filters the store applies (AUM is sealed: the caller filters
 * the candidates by it). */
struct campaign_filter {
    int64_t event_id;
    unsigned tiers;           /* bits as CAMPAIGN_TIER_BITS; 0: any tier */
    char sleeping_before[11]; /* YYYY-MM-DD: last_txn before it; "": any */
    int birthday_month;       /* 1-12; 0: any */
};

/* A member who passes the filters, with the sealed AUM (aad "aum"). */
struct campaign_candidate {
    int64_t id;
    unsigned char aum_enc[64];
    size_t aum_enc_len;
};
/* Reads the members who pass f, are not opted out and hold no sign-up (not
 * cancelled) for the event, into a new array (caller frees). Loop only. */
int store_campaign_candidates(struct store *s, const struct campaign_filter *f,
                              struct campaign_candidate **out, size_t *n);

struct campaign_step {
    char channel[8]; /* sms, call, wechat */
    char at[CAMPAIGN_AT_MAX + 1];
    int64_t offset;    /* seconds from the event's start (<= 0) */
    char template[32]; /* "" for a call */
    /* out */
    int64_t id, run_at;
};

/* Creates a campaign for event_id with the audience member_ids (C1: each is
 * checked again), its steps and the first of codes not taken yet. Refusals:
 * WHY_EVENT_NOT_FOUND, WHY_EVENT_CANCELLED. Audited (campaign_create). */
struct store_campaign_create {
    struct store_job job;
    int64_t event_id;
    char name[CAMPAIGN_NAME_MAX * 4 + 1];
    char codes[CAMPAIGN_CODE_TRIES][CAMPAIGN_CODE_LEN + 1];
    const char *audience; /* the filters as given, JSON (the caller's) */
    const int64_t *member_ids;
    size_t nmembers;
    struct campaign_step steps[CAMPAIGN_STEPS_MAX];
    int nsteps;
    struct store_actor by;
    /* out */
    int64_t id, audience_size, created_at;
    char code[CAMPAIGN_CODE_LEN + 1];
};
void store_campaign_create_init(struct store_campaign_create *j);

/* For the message scheduler (writer thread): runs the steps whose time has
 * come (C2), at most CAMPAIGN_INVITE_BATCH members per call so that a large
 * audience does not hold the writer: *more is set when some are left for the
 * next call. SMS steps queue on person_channel ("sms" or "log"); WeChat
 * steps reach bound members only, and only when wechat is on. Adds the
 * messages queued to *queued. */
#define CAMPAIGN_INVITE_BATCH 2000
struct store_tx;
int campaign_steps_run(struct store_tx *tx, const char *person_channel, bool wechat,
                       int64_t *queued, bool *more);
/* For the message scheduler: on a festival in mask (today, YYYY-MM-DD
 * China), queues one greeting (kind festival, slot today) per member not
 * opted out, due at due_at, on person_channel. Adds them to *queued. */
int campaign_festival_run(struct store_tx *tx, const char *person_channel, unsigned mask,
                          const char *today, int64_t due_at, int64_t *queued);
/* For the claim of an invitation (step id in slot): sets "link" (the path
 * /?event=N&c=CODE) in d; returns 1 with *why when the member has signed up
 * since (the message is skipped), 0, or an error. */
int campaign_invitation_vars(struct store_tx *tx, const char *slot, int64_t member_id, json_t *d,
                             const char **why);

/* For a new sign-up's job (writer thread): credits it to a campaign of its
 * event, the one of code (an invitation link's; "" when none) or else the
 * newest whose steps reached the person (by phone or member number), and to
 * the last step that reached them before now (calls: reached, declined or
 * appointment). No campaign to credit: nothing is written. */
int campaign_attribute(struct store_tx *tx, int64_t signup_id, int64_t event_id, const char *code,
                       const unsigned char phone_hash[STORE_HASH_LEN], const char *member_no);

/* The call list (GET /api/v1/campaigns/{id}/calls): invitees not signed up,
 * with their latest outcome ("" when none). */
#define CAMPAIGN_OUTCOME_MAX 16
struct campaign_call_row {
    char member_no[MEMBER_NO_MAX + 1], name_mask[64], phone_last4[5], tier[16];
    char outcome[CAMPAIGN_OUTCOME_MAX];
    unsigned char aum_enc[64];
    size_t aum_enc_len;
};
/* Reads the call list of campaign id into a new array (caller frees), in
 * audience order; KIOSKD_ENOTFOUND for no such campaign. *due is false (and
 * the list empty) until a call step's time (run_at <= now) has come. */
int store_campaign_calls(struct store *s, int64_t id, int64_t now, bool *due,
                         struct campaign_call_row **rows, size_t *n);

/* One invitee of a campaign, for the reveal and the outcome. */
struct campaign_invitee {
    int64_t member_id, event_id;
    char code[CAMPAIGN_CODE_LEN + 1];
    bool calls_due; /* a call step's time has come */
    unsigned char phone_enc[64];
    size_t phone_enc_len;
};
/* 0, KIOSKD_ENOTFOUND (no such campaign: *campaign_found false; or the
 * member is not in its audience) or another KIOSKD_E* code. Loop only. */
int store_campaign_invitee(struct store *s, int64_t id, const char *member_no, int64_t now,
                           bool *campaign_found, struct campaign_invitee *out);

/* Records a call's outcome for an invitee; an appointment also runs signup
 * (a sign-up with source call, in the same transaction; idempotent as every
 * sign-up: the same member again gets the same sign-up). Refusals:
 * WHY_NOT_INVITED, and the sign-up's. Audited (campaign_call). */
struct store_campaign_call {
    struct store_job job;
    int64_t campaign_id, member_id;
    char outcome[CAMPAIGN_OUTCOME_MAX];
    char note[200 * 4 + 1]; /* "" when none */
    struct store_actor by;
    struct store_signup_new *signup; /* appointment only, else NULL */
};
void store_campaign_call_init(struct store_campaign_call *j);

/* A campaign with its steps and results (GET /api/v1/campaigns/{id}). */
struct campaign_step_view {
    int64_t id;
    char channel[8], at[CAMPAIGN_AT_MAX + 1], template[32];
    int64_t run_at, ran_at; /* ran_at 0: waiting */
    int64_t reached, failed, signed_up;
};
struct campaign_view {
    int64_t id, event_id, audience_size, created_at;
    char name[CAMPAIGN_NAME_MAX * 4 + 1], code[CAMPAIGN_CODE_LEN + 1];
    struct campaign_step_view steps[CAMPAIGN_STEPS_MAX];
    int nsteps;
    int64_t reached, signed_up, checked_in, registered, approved;
};
/* Reads campaign id: 0, KIOSKD_ENOTFOUND or another KIOSKD_E* code. Loop only. */
int store_campaign_get(struct store *s, int64_t id, struct campaign_view *out);
/* The ids of up to max campaigns, newest first, into ids; *n set. */
int store_campaign_ids(struct store *s, int64_t *ids, size_t max, size_t *n);
/* The campaign with code (its id and event) for a sign-up's attribution:
 * 0, KIOSKD_ENOTFOUND or another KIOSKD_E* code. Loop only. */
int store_campaign_by_code(struct store *s, const char *code, int64_t *id, int64_t *event_id);

#endif
