/*
 * Check-ins: a guest checked in by ticket, by phone or as a walk-in, and undo.
 * A sign-up has at most one check-in in force. Jobs here follow
 * store/store.h: rc != 0 means nothing was recorded; a refusal is
 * KIOSKD_EREFUSED with job.why naming the rule (store/why.h).
 */
#ifndef KIOSKD_STORE_CHECKINS_H
#define KIOSKD_STORE_CHECKINS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/events.h"
#include "store/ledger.h"
#include "store/signups.h"
#include "store/store.h"

/* Checks a guest in, by ticket (signup_id + issued_at from the verified code)
 * or by phone (phone_hash), or by the sign-up's 6-digit short code, or as a
 * walk-in (creates a sign-up from who).
 * Refusals: the ticket rule's (WHY_UNKNOWN_TICKET, WHY_TICKET_REPLACED,
 * WHY_TICKET_CANCELLED), WHY_WRONG_EVENT, WHY_NO_SIGNUP, WHY_NO_CODE, WHY_SIGNUP_CANCELLED,
 * WHY_EVENT_NOT_FOUND, WHY_EVENT_CANCELLED, WHY_CHECKIN_NOT_OPEN,
 * WHY_CHECKIN_CLOSED, WHY_WAITLISTED, and by_digest's WHY_BAD_TICKET and
 * WHY_TICKET_UNVERIFIED. Out: already = a check-in was in force;
 * for WHY_WRONG_EVENT, out_event_id and (when it could be read) out_title and
 * out_starts_at are the ticket's event; for WHY_CHECKIN_NOT_OPEN,
 * out_starts_at is the event's start. */
enum store_checkin_by { CHECKIN_TICKET, CHECKIN_PHONE, CHECKIN_WALKIN, CHECKIN_CODE };
struct store_checkin {
    struct store_job job;
    enum store_checkin_by method;
    int64_t event_id; /* the event the tablet is on; 0: the ticket's */
    int64_t ticket_event_id;
    int64_t signup_id;
    int64_t issued_at;
    char ticket_kid[16]; /* CHECKIN_TICKET: the key that signed it; another than kid:
                            the sign-up was taken elsewhere (store/sync.h) */
    bool by_digest;      /* CHECKIN_TICKET of this key, signature not verified: digest
                            (core/ticket.h ticket_digest of the scanned code) must equal the
                            one kept with the sign-up; WHY_BAD_TICKET when it does not,
                            WHY_TICKET_UNVERIFIED when none is kept (verify, then again) */
    unsigned char digest[STORE_HASH_LEN];
    struct store_person who; /* CHECKIN_PHONE: phone_hash; CHECKIN_WALKIN: all */
    char short_code[7];      /* CHECKIN_CODE: the sign-up's 6 digits */
    char consent_version[16];
    char kid[16];
    struct store_actor by;
    int64_t opens_before; /* seconds before starts_at the window opens */
    struct points_rules rules;
    /* out */
    bool already;
    int64_t checkin_id;
    int64_t at_us; /* this check-in, or the one in force */
    char first_device[65];
    char name_mask[64];
    int64_t out_event_id;
    int64_t out_signup_id;
    bool walkin_created;
    char out_title[EVENT_TEXT_BUF(EVENT_TITLE_MAX)]; /* WHY_WRONG_EVENT; "" if unread */
    int64_t out_starts_at;                           /* WHY_WRONG_EVENT, WHY_CHECKIN_NOT_OPEN */
    /* a new check-in of a member's phone: the member after what it earned */
    bool member;
    char member_no[MEMBER_NO_MAX + 1];
    char tier[16], trial_tier[16], trial_until[11];
    int64_t balance, earned, referral_earned;
};
void store_checkin_init(struct store_checkin *j);

/* Undoes a check-in and takes back the points it earned (store/ledger.h).
 * Refusals: WHY_CHECKIN_NOT_FOUND, WHY_ALREADY_UNDONE, WHY_POINTS_SPENT (a
 * member's balance is short of what the check-in earned them). */
struct store_checkin_undo {
    struct store_job job;
    int64_t checkin_id;
    struct store_actor by;
    /* out */
    int64_t out_event_id;
    int64_t out_signup_id;
};
void store_checkin_undo_init(struct store_checkin_undo *j);

#endif
